"""Extra participants over REST: each person their own invitation, link, meeting code,
SMS code and cancellation; the same refusals as for the invitee, naming the person."""

from datetime import date
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import booking_json
from factories import session_as
from mail_quiet import nothing_due
from plone import api
from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.notify.sms import sms_outbox

import pytest
import re
import requests
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()
TOLK = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}
BERTIL = {
    "name": "Bertil Andersson",
    "mobile": "+46701234503",
    "email": "bertil@example.se",
    "role": "vardnadshavare",
}


@pytest.fixture
def site(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder, roles=("Reader", "Contributor"))
    anna = {"name": "Anna Andersson", "email": "anna@example.se", "mobile": "+46701234502"}
    bertil = {"name": "Bertil Andersson", "email": "bertil@example.se", "mobile": "+46701234503"}
    alva = add_student(folder, guardians=[dict(anna, primary=True), dict(bertil, primary=False)])
    transaction.commit()
    return {"url": mail_portal.absolute_url(), "alva": alva.UID(), "portal": mail_portal}


def _post(site, **changes):
    return session_as("sara", json=True).post(
        f"{site['url']}/@videomote-meetings", json=booking_json(site["alva"], TOMORROW, **changes)
    )


def _patch(meeting_url, body):
    return session_as("sara", json=True).patch(f"{meeting_url}/@videomote-meeting", json=body)


def _by_recipient(messages) -> dict:
    return {m["To"].addresses[0].addr_spec: m for m in messages}


def _plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def _code(message) -> str:
    return re.search(r"möteskoden: (\S+)", _plain(message)).group(1)


def test_guardian_and_interpreter_each_get_their_own_invitation(site, smtp_sink):
    response = _post(site, contact_choice="guardian", extra_participants=[TOLK])
    assert response.status_code == 201, response.text
    meeting = response.json()
    (tolk,) = meeting["extra_participants"]
    assert {k: tolk[k] for k in ("name", "mobile", "email", "role")} == {
        "name": "Tina Tolk",
        "mobile": "+46701112233",
        "email": "tina@tolk.se",
        "role": "tolk",
    }
    assert tolk["id"] and "code_hash" not in tolk and "token_hash" not in tolk
    mails = _by_recipient(smtp_sink.wait_for(2))
    assert set(mails) == {"anna@example.se", "tina@tolk.se"}
    assert "Hej Tina Tolk," in _plain(mails["tina@tolk.se"])
    # Each their own code and link: none of the interpreter's is the guardian's.
    assert _code(mails["tina@tolk.se"]) != _code(mails["anna@example.se"])
    links = [re.search(r"logga-in#(\S+)", _plain(m)).group(1) for m in mails.values()]
    assert links[0] != links[1]
    # Only its own recipient is an ATTENDEE of each calendar invitation.
    calendar = mails["tina@tolk.se"].get_body(("plain",))  # noqa: F841 - the message parsed
    raw = mails["tina@tolk.se"].as_string()
    assert "anna@example.se" not in raw


def test_an_extra_participants_bad_mobile_is_refused_naming_person_and_field(site, smtp_sink):
    bad = dict(TOLK, mobile="12")
    response = _post(site, extra_participants=[bad])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "extra_participants.0.mobile"
    assert error["message"].startswith("Deltagare 2: Ogiltigt mobilnummer.")
    missing = _post(site, extra_participants=[TOLK, {"name": "Olle", "role": "annan"}])
    error = missing.json()["error"]
    assert error["field"] == "extra_participants.1.mobile"
    assert error["message"] == "Deltagare 3: fyll i Mobilnummer, E-postadress."
    role = _post(site, extra_participants=[dict(TOLK, role="doktor")]).json()["error"]
    assert role["field"] == "extra_participants.0.role"
    assert role["message"] == "Deltagare 2: välj roll: Tolk, Vårdnadshavare eller Annan."
    long_name = _post(site, extra_participants=[dict(TOLK, name="T" * 101)]).json()["error"]
    assert long_name["message"] == "Deltagare 2: Namn får vara högst 100 tecken."
    three = _post(site, extra_participants=[TOLK, BERTIL, dict(TOLK, mobile="0701112299")])
    assert three.status_code == 400
    assert three.json()["error"]["field"] == "extra_participants"
    same = _post(site, extra_participants=[dict(TOLK, mobile="+46701234501")]).json()["error"]
    assert same["message"].startswith("Deltagare 2: Mobilnumret är redan inbjudet")
    transaction.begin()
    assert (
        smtp_sink.wait_for(1, timeout=1, settled=nothing_due(site["portal"])) == []
    )  # nothing booked, nothing sent


def test_both_guardians_fills_in_the_second_guardian(site, smtp_sink):
    response = _post(site, contact_choice="guardian", both_guardians=True)
    assert response.status_code == 201, response.text
    (bertil,) = response.json()["extra_participants"]
    assert (bertil["name"], bertil["role"]) == ("Bertil Andersson", "vardnadshavare")
    assert set(_by_recipient(smtp_sink.wait_for(2))) == {"anna@example.se", "bertil@example.se"}
    student = _post(site, both_guardians=True).json()
    assert [p["name"] for p in student["extra_participants"]] == [
        "Anna Andersson",
        "Bertil Andersson",
    ]


def test_patch_adds_and_removes_people_and_each_is_mailed(site, smtp_sink):
    meeting = _post(site, extra_participants=[TOLK]).json()
    smtp_sink.wait_for(2)
    (tolk,) = meeting["extra_participants"]
    smtp_sink.messages.clear()
    # The interpreter is replaced by the second guardian.
    response = _patch(meeting["@id"], {"extra_participants": [BERTIL]})
    assert response.status_code == 200, response.text
    assert [p["name"] for p in response.json()["extra_participants"]] == ["Bertil Andersson"]
    mails = _by_recipient(smtp_sink.wait_for(2))
    assert set(mails) == {"tina@tolk.se", "bertil@example.se"}
    assert "METHOD:CANCEL" in mails["tina@tolk.se"].as_string()
    assert "METHOD:REQUEST" in mails["bertil@example.se"].as_string()
    # Kept by id, nobody is mailed again.
    bertil = response.json()["extra_participants"][0]
    smtp_sink.messages.clear()
    kept = _patch(meeting["@id"], {"extra_participants": [{"id": bertil["id"]}]})
    assert kept.status_code == 200
    assert smtp_sink.wait_for(1, timeout=1, settled=nothing_due(site["portal"])) == []
    unknown = _patch(meeting["@id"], {"extra_participants": [{"id": tolk["id"]}]})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Deltagare 2 finns inte i mötet."
    transaction.begin()
    entries = [(e.action, e.actor, e.detail) for e in audit_log(site["portal"]).query()]
    assert (log.PARTICIPANT_REMOVED, "sara", "person=Tina Tolk, person_role=tolk") in entries
    invited = [e for e in entries if e[0] == log.PARTICIPANT_INVITED]
    assert [e[2] for e in invited] == [
        "person=Tina Tolk, person_role=tolk",
        "person=Bertil Andersson, person_role=vardnadshavare",
    ]


def test_a_move_mails_everyone_new_codes_and_a_cancellation_mails_everyone(site, smtp_sink):
    meeting = _post(site, extra_participants=[TOLK]).json()
    smtp_sink.wait_for(2)
    smtp_sink.messages.clear()
    moved = _patch(meeting["@id"], {"start": f"{TOMORROW}T10:00", "end": f"{TOMORROW}T10:30"})
    assert moved.status_code == 200
    mails = _by_recipient(smtp_sink.wait_for(2))
    assert set(mails) == {"alva@example.se", "tina@tolk.se"}
    assert _code(mails["tina@tolk.se"]) != _code(mails["alva@example.se"])
    smtp_sink.messages.clear()
    session_as("sara", json=True).delete(f"{meeting['@id']}/@videomote-meeting")
    mails = _by_recipient(smtp_sink.wait_for(2))
    assert set(mails) == {"alva@example.se", "tina@tolk.se"}
    assert all("METHOD:CANCEL" in m.as_string() for m in mails.values())


def test_stock_serializer_does_not_show_extra_participants_contacts(site, smtp_sink):
    meeting = _post(site, extra_participants=[TOLK]).json()
    stock = session_as("sara", json=True).get(meeting["@id"])
    assert stock.status_code == 200
    assert "tina@tolk.se" not in stock.text and "46701112233" not in stock.text


# -- sign-in: each person with their own code and SMS ----------------------------------


def _soon(site, **changes):
    """A meeting starting in ten minutes (inside the join window)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    start = datetime.now(ZoneInfo("Europe/Stockholm")).replace(tzinfo=None, second=0)
    start += timedelta(minutes=10)
    end = start + timedelta(minutes=30)
    body = booking_json(site["alva"], TOMORROW, **changes)
    body.update(start=start.isoformat(timespec="minutes"), end=end.isoformat(timespec="minutes"))
    response = session_as("sara", json=True).post(f"{site['url']}/@videomote-meetings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _sign_in(site, code: str, mobile: str) -> requests.Session:
    browser = requests.Session()
    entered = browser.post(f"{site['url']}/videomote", data={"code": code})
    assert entered.url.endswith("/videomote/logga-in"), entered.text[:300]
    sent = browser.post(f"{site['url']}/videomote/logga-in", data={"send_code": "1"})
    transaction.begin()
    last = list(sms_outbox(site["portal"]))[-1]
    assert last["to"] == mobile
    assert "Vi har skickat en engångskod till 070-*** **" in sent.text
    done = browser.post(
        f"{site['url']}/videomote/logga-in",
        data={"continue": "1", "one_time_code": last["text"][-6:]},
    )
    assert done.url.endswith("/videomote/vantrum"), done.text[:300]
    return browser


def test_each_person_signs_in_with_an_sms_to_their_own_mobile(site, smtp_sink):
    meeting = _soon(site, contact_choice="guardian", extra_participants=[TOLK])
    mails = _by_recipient(smtp_sink.wait_for(2))
    _sign_in(site, _code(mails["anna@example.se"]), "+46701234502")
    _sign_in(site, _code(mails["tina@tolk.se"]), "+46701112233")
    transaction.begin()
    entries = audit_log(site["portal"]).query(meeting_uid=meeting["UID"])
    accepted = [(e.actor, e.detail) for e in entries if e.action == log.CODE_ACCEPTED]
    assert accepted == [
        ("deltagare:guardian", "assurance=low, method=sms-otp"),
        ("deltagare:tolk", "assurance=low, method=sms-otp, person=Tina Tolk"),
    ]


def test_removing_a_person_voids_their_code_and_session_only(site, smtp_sink):
    meeting = _soon(site, contact_choice="guardian", extra_participants=[TOLK])
    mails = _by_recipient(smtp_sink.wait_for(2))
    tolk = _sign_in(site, _code(mails["tina@tolk.se"]), "+46701112233")
    assert _patch(meeting["@id"], {"extra_participants": []}).status_code == 200
    waiting = tolk.get(f"{site['url']}/videomote/vantrum")
    assert "Du är inte inloggad till något pågående videomöte." in waiting.text
    again = requests.post(f"{site['url']}/videomote", data={"code": _code(mails["tina@tolk.se"])})
    assert "Möteskoden stämmer inte" in again.text
    # The guardian's code still works.
    _sign_in(site, _code(mails["anna@example.se"]), "+46701234502")


def test_a_persons_sms_quota_is_their_own(site, smtp_sink):
    api.portal.set_registry_record("prorenata.videomote.sms_per_meeting_per_hour", 2)
    transaction.commit()
    _soon(site, contact_choice="guardian", extra_participants=[TOLK])
    mails = _by_recipient(smtp_sink.wait_for(2))
    for _ in range(2):
        browser = requests.Session()
        browser.post(f"{site['url']}/videomote", data={"code": _code(mails["tina@tolk.se"])})
        browser.post(f"{site['url']}/videomote/logga-in", data={"send_code": "1"})
    refused = browser.post(f"{site['url']}/videomote/logga-in", data={"send_code": "1"})
    assert "Det har skickats för många SMS-koder till det här mötet" in refused.text
    # Whoever used up the interpreter's codes has not used up the guardian's.
    _sign_in(site, _code(mails["anna@example.se"]), "+46701234502")


def test_an_interpreter_can_be_added_to_a_meeting_under_way(site, smtp_sink):
    """Adding a person is no move: a meeting that began ten minutes ago takes them."""
    meeting = _soon(site)
    smtp_sink.wait_for(1)
    smtp_sink.messages.clear()
    transaction.begin()
    catalog = api.portal.get_tool("portal_catalog")
    (brain,) = catalog.unrestrictedSearchResults(UID=meeting["UID"])
    stored = brain._unrestrictedGetObject()
    twenty = timedelta(minutes=20)  # from ten minutes ahead to ten minutes ago
    stored.start, stored.end = stored.start - twenty, stored.end - twenty
    stored._room_times = (stored.start.isoformat(), stored.end.isoformat())
    stored.last_told = (*stored._room_times, stored.title)
    transaction.commit()
    response = _patch(meeting["@id"], {"extra_participants": [TOLK]})
    assert response.status_code == 200, response.text
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "tina@tolk.se"
