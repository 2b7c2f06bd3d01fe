"""A meeting ends (staff end it, or its end plus grace passes): its outcome comes from
the join/leave events the media server reported, a draft visit note is written into the
student's record with what the journal knows, the clinician signs it; REST, the meeting
page, the calendar, "Dagens aktiviteter" and the statistics show it."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from factories import staff_clock_at
from factories import start_room
from plone import api
from plone.api.exc import InvalidParameterError
from plone.app.testing import SITE_OWNER_NAME
from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.access.jointoken import media_secret
from prorenata.videomote.access.jointoken import verify_join_token
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.access.media_room import join_token_for
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.media.attendance import SIGNATURE_HEADER
from prorenata.videomote.media.attendance import event
from prorenata.videomote.media.attendance import sign_body
from prorenata.videomote.visit import ending
from prorenata.videomote.visit import store
from prorenata.videomote.visit import timer

import hashlib
import json
import pytest
import re
import requests
import transaction


@pytest.fixture
def clinic(mail_portal):
    now = datetime.now(UTC)
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    add_staff("tove", "Tove Kurator", access_to=folder)
    add_staff("olle", "Olle Utan Åtkomst")
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.create(
            username="admina",
            email="admina@example.se",
            password="secret-pw-1",
            roles=["Member", "Site Administrator"],
        )
    alva = add_student(folder, personnummer="20100101-1234")
    transaction.commit()
    meeting = book(alva, 10, "guardian", "Uppföljande samtal", organiser="sara")
    if (meeting.start.astimezone(UTC) - now) > timedelta(minutes=11):
        pytest.skip("clock moved")
    return {
        "portal": mail_portal,
        "url": mail_portal.absolute_url(),
        "alva": alva,
        "folder": folder,
        "meeting": meeting,
    }


def staff_who(userid: str) -> str:
    return hashlib.sha256(f"staff|{userid}".encode()).hexdigest()[:16]


def report(portal, meeting, *items, sign=True):
    """POST what the media server would, signed with the media secret."""
    events = [
        event(meeting.UID(), 0, who, name, role, kind, reason, now=at)
        for who, name, role, kind, reason, at in items
    ]
    body = json.dumps({"events": events}).encode()
    secret = media_secret(secret_key(portal))
    headers = {"Content-Type": "application/json"}
    if sign:
        headers[SIGNATURE_HEADER] = sign_body(body, secret)
    return requests.post(
        f"{portal.absolute_url()}/@@videomote-narvaro", data=body, headers=headers
    ), events


def sara(kind, at, reason=""):
    return (staff_who("sara"), "Sara Skolsköterska", "staff", kind, reason, at)


def anna(kind, at, reason=""):
    return ("invitee", "Anna Andersson", "participant", kind, reason, at)


def participant_signed_in(meeting):
    """What the participant's room does when it opens: a join token for the invitee
    (the SMS sign-in's identification is kept for the note)."""
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        join_token_for(meeting, "participant", meeting.invitee_name)
    transaction.commit()


def end_by_staff(meeting):
    staff = session_as("sara")
    room = f"{meeting.absolute_url()}/@@videomote-rum"
    page = staff.get(room).text
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)
    response = staff.post(room, data={"end_meeting": "1", "_authenticator": token})
    assert response.status_code == 200
    transaction.begin()


def attendance_of(meeting) -> dict:
    """The meeting's attendance as the clinician reads it over REST."""
    url = f"{meeting.absolute_url()}/@videomote-meeting"
    return session_as("sara", json=True).get(url).json()["attendance"]


def report_and_settle(portal, meeting, *items, after=timedelta(minutes=16)) -> bool:
    """What the media server reported, then the meeting's end plus ``after`` passing with
    nobody looking (the timer's round): whether the meeting ended then."""
    report(portal, meeting, *items)
    transaction.begin()
    ended = ending.settle_if_overdue(meeting, meeting.end + after)
    transaction.commit()
    return ended


def the_note(meeting):
    transaction.begin()
    uid = store.record_of(meeting).note_uid
    return uuidToObject(uid, unrestricted=True)


def refused(session, url: str) -> bool:
    """Plone answers a signed-in user without access with 401/403, or sends them to log in."""
    response = session.get(url, allow_redirects=False)
    if response.status_code == 302:
        return "require_login" in response.headers["Location"]
    return response.status_code in (401, 403)


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_staff_ending_with_the_guardian_in_the_room_is_genomfort_with_a_draft_note(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start_room(session_as("sara"), meeting)
    session_as("sara").get(f"{meeting.absolute_url()}/@@videomote-rum")
    participant_signed_in(meeting)
    now = datetime.now(UTC)
    response, _ = report(
        portal,
        meeting,
        sara("join", now - timedelta(seconds=90)),
        anna("join", now - timedelta(seconds=60)),
    )
    assert response.status_code == 200 and response.json() == {"stored": 2}
    end_by_staff(meeting)
    report(portal, meeting, anna("leave", datetime.now(UTC) + timedelta(seconds=1), "ended"))

    attendance = attendance_of(meeting)
    assert (attendance["outcome"], attendance["outcome_title"]) == ("completed", "Genomfört")
    assert attendance["ended_by"] == "staff"
    people = {p["name"]: p for p in attendance["participants"]}
    assert set(people) == {"Sara Skolsköterska", "Anna Andersson"}
    assert people["Anna Andersson"]["role"] == "participant"
    assert 55 <= people["Anna Andersson"]["seconds"] <= 75
    assert people["Anna Andersson"]["reconnects"] == 0
    assert people["Anna Andersson"]["joined"] < people["Anna Andersson"]["left"]
    assert people["Anna Andersson"]["identification"] == {"method": "sms-otp", "level": "low"}
    assert people["Sara Skolsköterska"]["identification"]["method"] == "journal-login"

    shown = text_of(session_as("sara").get(meeting.absolute_url()).text)
    assert "Närvaro och utfall" in shown and "Utfall Genomfört" in shown
    assert "Anna Andersson Deltagare" in shown

    note = the_note(meeting)
    assert attendance["note"] == note.absolute_url()
    assert note.aq_parent.UID() == clinic["alva"].UID()  # in the student's record
    assert api.content.get_state(note) == "draft"
    assert (
        note.visit_date
        == meeting.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Stockholm")).date()
    )
    assert (note.clinician, note.clinician_name) == ("sara", "Sara Skolsköterska")
    assert note.outcome == "completed"
    assert "Anna Andersson (deltagare): engångskod via SMS (sms-otp), tillitsnivå låg" in (
        note.participants
    )
    assert "Sara Skolsköterska (personal): inloggad i journalen (journal-login)" in (
        note.participants
    )
    assert note.actual_start is not None and note.actual_end > note.actual_start
    assert not note.text  # nothing from the chat, nothing written for the clinician
    actions = [e.action for e in audit_log(portal).query(meeting_uid=meeting.UID())]
    assert audit.ENDED in actions and audit.NOTE_CREATED in actions


def test_the_note_is_seen_by_whoever_sees_the_record_and_nobody_else(clinic):
    meeting = clinic["meeting"]
    ending.end_meeting(meeting)
    transaction.commit()
    url = the_note(meeting).absolute_url()
    assert session_as("sara").get(url).status_code == 200
    assert refused(session_as("olle"), url)
    assert session_as("olle", json=True).get(url).status_code in (401, 403)
    found = (
        session_as("olle", json=True)
        .get(f"{clinic['url']}/@search", params={"portal_type": "VisitNote"})
        .json()
    )
    assert found["items_total"] == 0
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.revoke_roles(
            username="sara", obj=clinic["folder"], roles=["Reader", "Contributor", "Editor"]
        )
    transaction.commit()
    assert refused(session_as("sara"), url)


def test_no_one_joining_until_end_plus_grace_is_uteblev_without_anyone_looking(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    later = meeting.end.astimezone(UTC) + timedelta(minutes=14)
    assert timer.end_overdue(portal, transaction.manager, later) == 0  # grace: 15 min
    assert meeting.state == "booked"
    later = meeting.end.astimezone(UTC) + timedelta(minutes=16)
    assert timer.end_overdue(portal, transaction.manager, later) == 1
    transaction.begin()
    assert meeting.state == "ended"
    kept = store.record_of(meeting)
    assert (kept.outcome, kept.ended_by) == ("no_show", "time")
    assert the_note(meeting).outcome == "no_show"
    entries = [
        e for e in audit_log(portal).query(meeting_uid=meeting.UID()) if e.action == audit.ENDED
    ]
    assert entries[-1].actor == "system" and "by=time" in entries[-1].detail


def test_a_connection_lost_before_the_end_and_never_back_is_avbrutet(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start = meeting.start.astimezone(UTC)
    assert report_and_settle(
        portal,
        meeting,
        sara("join", start),
        anna("join", start + timedelta(minutes=1)),
        anna("leave", start + timedelta(minutes=8), "lost"),
        sara("leave", start + timedelta(minutes=12), "left"),
        after=timedelta(minutes=20),
    )
    assert store.record_of(meeting).outcome == "interrupted"
    assert "Avbrutet" in session_as("sara").get(meeting.absolute_url()).text


def test_someone_still_in_the_room_keeps_the_meeting_on_until_they_leave(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start = meeting.start.astimezone(UTC)
    report(portal, meeting, sara("join", start), anna("join", start))
    transaction.begin()
    assert not ending.settle_if_overdue(meeting, meeting.end + timedelta(minutes=30))
    assert ending.settle_if_overdue(meeting, meeting.end + timedelta(hours=5))  # hard stop
    assert store.record_of(meeting).outcome == "completed"


def test_reports_arriving_after_the_end_refresh_the_draft_but_not_a_signed_note(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start = meeting.start.astimezone(UTC)
    ending.settle_if_overdue(meeting, meeting.end + timedelta(minutes=16))
    transaction.commit()
    assert the_note(meeting).outcome == "no_show"
    report(
        portal,
        meeting,
        sara("join", start),
        anna("join", start + timedelta(minutes=1)),
        anna("leave", start + timedelta(minutes=29), "left"),
    )
    note = the_note(meeting)
    assert note.outcome == "completed"
    assert any(line.startswith("Anna Andersson") for line in note.participants)
    with api.env.adopt_user("sara"):
        api.content.transition(note, "sign")
    transaction.commit()
    report(
        portal,
        meeting,
        anna("join", start + timedelta(minutes=30)),
        anna("leave", start + timedelta(minutes=31), "lost"),
    )
    note = the_note(meeting)
    assert api.content.get_state(note) == "signed" and note.outcome == "completed"


def test_the_clinician_signs_the_note_which_is_then_closed_and_audited(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    ending.end_meeting(meeting)
    transaction.commit()
    note = the_note(meeting)
    url = note.absolute_url()
    with api.env.adopt_user("tove"):  # a colleague with access to the record
        assert api.user.has_permission("Modify portal content", obj=note)
        with pytest.raises(InvalidParameterError):  # "sign" is not among tove's transitions
            api.content.transition(note, "sign")
    staff = session_as("sara")
    edit = staff.get(f"{url}/edit").text
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', edit).group(1)
    staff.post(
        f"{url}/edit",
        data={
            "form.widgets.IVisitNote.text": "Samtal om sömn. Uppföljning om fyra veckor.",
            "form.widgets.text": "Samtal om sömn. Uppföljning om fyra veckor.",
            "form.widgets.title": note.title,
            "form.buttons.save": "Spara",
            "_authenticator": token,
        },
    )
    signed = staff.post(
        f"{url}/content_status_modify", data={"workflow_action": "sign", "_authenticator": token}
    )
    assert signed.status_code == 200
    note = the_note(meeting)
    assert note.text == "Samtal om sömn. Uppföljning om fyra veckor."
    assert api.content.get_state(note) == "signed"
    assert note.signed_by == "sara" and note.signed_at is not None
    with api.env.adopt_user("sara"):
        assert not api.user.has_permission("Modify portal content", obj=note)
    assert refused(staff, f"{url}/edit")
    signed_entries = [
        e
        for e in audit_log(portal).query(meeting_uid=meeting.UID())
        if e.action == audit.NOTE_SIGNED
    ]
    assert [e.actor for e in signed_entries] == ["sara"]


def test_the_facts_of_a_note_cannot_be_changed_through_the_edit_form(clinic):
    meeting = clinic["meeting"]
    ending.end_meeting(meeting)
    transaction.commit()
    note = the_note(meeting)
    response = session_as("sara", json=True).patch(
        note.absolute_url(),
        json={"outcome": "completed", "clinician": "tove"},
        headers={"Content-Type": "application/json"},
    )
    note = the_note(meeting)
    assert (note.outcome, note.clinician) == ("no_show", "sara")
    assert response.status_code in (204, 400, 401, 403)


def test_the_media_servers_reports_are_refused_unsigned_and_stored_once(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    now = datetime.now(UTC)
    assert report(portal, meeting, anna("join", now), sign=False)[0].status_code == 403
    response, events = report(portal, meeting, anna("join", now))
    assert response.json() == {"stored": 1}
    body = json.dumps({"events": events}).encode()
    headers = {SIGNATURE_HEADER: sign_body(body, media_secret(secret_key(portal)))}
    again = requests.post(f"{clinic['url']}/@@videomote-narvaro", data=body, headers=headers)
    assert again.json() == {"stored": 0}
    forged = requests.post(
        f"{clinic['url']}/@@videomote-narvaro",
        data=body,
        headers={SIGNATURE_HEADER: sign_body(body, b"not-the-secret")},
    )
    assert forged.status_code == 403
    big = b"{" + b" " * 300_000 + b"}"
    huge = requests.post(
        f"{clinic['url']}/@@videomote-narvaro",
        data=big,
        headers={SIGNATURE_HEADER: sign_body(big, b"x")},
    )
    assert huge.status_code == 413
    transaction.begin()
    assert len(store.events(meeting)) == 1


def test_a_meeting_keeps_a_bounded_number_of_events(clinic):
    meeting = clinic["meeting"]
    now = datetime.now(UTC)
    items = [
        event(
            meeting.UID(),
            0,
            "invitee",
            "Anna",
            "participant",
            "join",
            now=now + timedelta(seconds=i),
        )
        for i in range(store.MAX_EVENTS + 5)
    ]
    assert store.add_events(meeting, items) == store.MAX_EVENTS
    assert store.record_of(meeting).dropped == 5
    other_time = event(meeting.UID(), 3, "invitee", "Anna", "participant", "leave", "left")
    assert store.add_events(meeting, [other_time]) == 0


def test_join_tokens_name_where_the_media_server_reports(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    with api.env.adopt_user("sara"):
        token = join_token_for(meeting, "staff", "Sara")
    claims = verify_join_token(token, media_secret(secret_key(portal)), meeting.UID())
    assert claims["a"] == f"{clinic['url']}/@@videomote-narvaro"


def test_calendar_and_todays_activities_show_the_outcome(clinic, monkeypatch):
    meeting = clinic["meeting"]
    ending.end_meeting(meeting)
    transaction.commit()
    staff_clock_at(monkeypatch, meeting.start)  # its day, also when it began before midnight
    day = meeting.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Stockholm")).date()
    calendar = session_as("sara").get(
        f"{clinic['url']}/@@videomote-kalender", params={"view": "day", "day": day.isoformat()}
    )
    assert "Uteblev" in text_of(calendar.text)
    home = session_as("sara").get(clinic["url"]).text
    section = home[home.index('class="videomote-today"') :]
    assert "Uteblev" in text_of(section[: section.index("</section>")])


def test_statistics_per_month_and_clinician_for_administrators_with_csv(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start = meeting.start.astimezone(UTC)
    report_and_settle(
        portal,
        meeting,
        sara("join", start),
        anna("join", start + timedelta(minutes=1)),
        anna("leave", start + timedelta(minutes=3), "lost"),
        anna("join", start + timedelta(minutes=4)),
        anna("leave", start + timedelta(minutes=21), "left"),
        sara("leave", start + timedelta(minutes=22), "left"),
    )
    other = book(clinic["alva"], 60, "student", "Andra samtalet", organiser="sara")
    ending.settle_if_overdue(other, other.end + timedelta(minutes=16))
    transaction.commit()
    admin = requests.Session()
    admin.auth = ("admina", "secret-pw-1")
    page = admin.get(f"{clinic['url']}/@@videomote-statistik")
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "Videomöten – statistik" in shown
    month = f"{meeting.start.astimezone(__import__('zoneinfo').ZoneInfo('Europe/Stockholm')):%Y-%m}"
    # held 1 (20 min together: 1–3 and 4–21 → 1 to 21), no-shows 1, interrupted 0, 1 reconnect
    assert f"{month} Sara Skolsköterska sara 1 1 0 20,0 1" in shown
    csv = admin.get(f"{clinic['url']}/@@videomote-statistik", params={"format": "csv"})
    assert csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Månad;Behandlare;Användar-id;Genomförda;Uteblivna")
    assert lines[1] == f"{month};Sara Skolsköterska;sara;1;1;0;20,0;1"
    assert "20100101" not in csv.text and "Alva" not in csv.text
    assert refused(session_as("sara"), f"{clinic['url']}/@@videomote-statistik")


def test_a_meeting_moved_to_a_new_time_counts_only_who_came_at_the_new_time(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    start = meeting.start.astimezone(UTC)
    report(portal, meeting, sara("join", start), anna("join", start))
    transaction.begin()
    assert len(store.events(meeting)) == 2
    meeting.room_generation = 1  # what a move to a new time does (close_room_if_moved)
    assert store.events(meeting) == []
    assert ending.settle_if_overdue(meeting, meeting.end + timedelta(minutes=16))
    assert store.record_of(meeting).outcome == "no_show"


def test_the_timers_round_ends_an_overdue_meeting_on_its_own_connection(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    # The meeting was yesterday: its end plus grace passed long ago, nobody came.
    meeting.start -= timedelta(days=1)
    meeting.end -= timedelta(days=1)
    meeting.reindexObject()
    transaction.commit()
    assert timer.end_overdue_in_all_sites(portal._p_jar.db()) == 1
    transaction.begin()
    assert meeting.state == "ended"
    assert store.record_of(meeting).outcome == "no_show"
    assert api.content.get_state(the_note(meeting)) == "draft"
    catalog = portal.portal_catalog.unrestrictedSearchResults
    assert len(catalog(UID=meeting.UID(), meeting_state="ended")) == 1
    assert len(catalog(portal_type="VisitNote")) == 1
    assert timer.end_overdue_in_all_sites(portal._p_jar.db()) == 0


TINA = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}


def with_interpreter(meeting) -> str:
    """Invite an interpreter through REST as the clinician would; their join-token id."""
    response = session_as("sara", json=True).patch(
        f"{meeting.absolute_url()}/@videomote-meeting", json={"extra_participants": [TINA]}
    )
    assert response.status_code == 200, response.text
    transaction.begin()
    return response.json()["extra_participants"][0]["id"]


def tina(who, kind, at, reason=""):
    return (who, "Tina Tolk (tolk)", "participant", kind, reason, at)


def test_an_interpreter_alone_in_the_room_is_a_no_show(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    who = with_interpreter(meeting)
    now = datetime.now(UTC)
    report(portal, meeting, sara("join", now - timedelta(seconds=90)))
    report(portal, meeting, tina(who, "join", now - timedelta(seconds=60)))
    end_by_staff(meeting)

    attendance = attendance_of(meeting)
    assert (attendance["outcome"], attendance["outcome_title"]) == ("no_show", "Uteblev")
    people = {p["name"]: p for p in attendance["participants"]}
    assert people["Tina Tolk (tolk)"]["role"] == "tolk"


def test_the_guardian_with_an_interpreter_is_genomfort(clinic):
    meeting, portal = clinic["meeting"], clinic["portal"]
    who = with_interpreter(meeting)
    now = datetime.now(UTC)
    report(
        portal,
        meeting,
        sara("join", now - timedelta(seconds=90)),
        tina(who, "join", now - timedelta(seconds=80)),
        anna("join", now - timedelta(seconds=60)),
    )
    end_by_staff(meeting)
    attendance = attendance_of(meeting)
    assert attendance["outcome"] == "completed"
    assert {p["role"] for p in attendance["participants"]} == {"staff", "participant", "tolk"}
