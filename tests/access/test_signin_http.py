"""The sign-in pages over HTTP: limits, failures and what is written down."""

from factories import add_student
from factories import book
from factories import start_room
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.notify.sms import sms_outbox
from zoneinfo import ZoneInfo

import logging
import pytest
import re
import requests
import time
import transaction

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _book(portal, patient, minutes_from_now=10):
    return book(patient, minutes_from_now)


@pytest.fixture
def patient(mail_portal):
    patient = add_student(mail_portal, title="Alva", personnummer="19811218-9876", guardians=[])
    transaction.commit()
    return patient


def _code(smtp_sink, index=0) -> str:
    text = smtp_sink.wait_for(index + 1)[index].get_body(("plain",)).get_content()
    return re.search(r"möteskoden: (\S+)", text).group(1)


def _entered(portal, code):
    browser = requests.Session()
    response = browser.post(f"{portal.absolute_url()}/videomote", data={"code": code})
    assert response.url.endswith("/videomote/logga-in"), response.text[:500]
    return browser


def _sms(browser, portal):
    return browser.post(f"{portal.absolute_url()}/videomote/logga-in", data={"send_code": "1"})


def _try(browser, portal, code):
    return browser.post(
        f"{portal.absolute_url()}/videomote/logga-in", data={"continue": "1", "one_time_code": code}
    )


def _signed_in(portal, smtp_sink):
    """A participant's browser session, signed in with the e-mail's code and the SMS."""
    browser = _entered(portal, _code(smtp_sink))
    _sms(browser, portal)
    _try(browser, portal, _last_sms(portal))
    return browser


def _last_sms(portal):
    transaction.begin()
    return list(sms_outbox(portal))[-1]["text"][-6:]


def test_sixth_wrong_try_is_refused_and_a_new_code_is_needed(mail_portal, patient, smtp_sink):
    _book(mail_portal, patient)
    browser = _entered(mail_portal, _code(smtp_sink))
    _sms(browser, mail_portal)
    right = _last_sms(mail_portal)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    pages = [_try(browser, mail_portal, wrong).text for _ in range(5)]
    assert "Fel kod. Du har 4 försök kvar." in pages[0]
    assert "För många felaktiga försök" in pages[4]
    assert "För många felaktiga försök" in _try(browser, mail_portal, right).text
    _sms(browser, mail_portal)
    response = _try(browser, mail_portal, _last_sms(mail_portal))
    assert response.url.endswith("/videomote/vantrum")


def test_a_used_code_cannot_sign_in_again(mail_portal, patient, smtp_sink):
    _book(mail_portal, patient)
    code = _code(smtp_sink)
    first = _entered(mail_portal, code)
    _sms(first, mail_portal)
    sms = _last_sms(mail_portal)
    assert _try(first, mail_portal, sms).url.endswith("/vantrum")
    second = _entered(mail_portal, code)
    assert "Klicka först på Skicka engångskod via SMS" in _try(second, mail_portal, sms).text


def test_sms_quota_per_invitee(mail_portal, patient, smtp_sink):
    _book(mail_portal, patient)
    browser = _entered(mail_portal, _code(smtp_sink))
    for _ in range(5):
        assert "Vi har skickat en engångskod" in _sms(browser, mail_portal).text
    assert "Du har fått för många SMS-koder" in _sms(browser, mail_portal).text
    transaction.begin()
    assert len(list(sms_outbox(mail_portal))) == 5


def test_sms_gateway_failure_is_shown_and_consumes_no_quota(mail_portal, patient, smtp_sink):
    _book(mail_portal, patient)
    api.portal.set_registry_record("prorenata.videomote.sms_gateway", "46elks")
    api.portal.set_registry_record("prorenata.videomote.sms_api_url", "http://127.0.0.1:9/a1/sms")
    api.portal.set_registry_record("prorenata.videomote.sms_api_username", "u")
    api.portal.set_registry_record("prorenata.videomote.sms_api_password", "p")
    transaction.commit()
    browser = _entered(mail_portal, _code(smtp_sink))
    for _ in range(6):
        assert "SMS kunde inte skickas, försök igen" in _sms(browser, mail_portal).text
    api.portal.set_registry_record("prorenata.videomote.sms_gateway", "outbox")
    transaction.commit()
    assert "Vi har skickat en engångskod" in _sms(browser, mail_portal).text


def test_outside_the_join_window_the_time_is_shown(mail_portal, patient, smtp_sink):
    _book(mail_portal, patient, minutes_from_now=24 * 60)
    browser = _entered(mail_portal, _code(smtp_sink))
    page = browser.get(f"{mail_portal.absolute_url()}/videomote/logga-in").text
    assert "Mötet har inte börjat än. Du kan logga in från kl." in page
    assert "Skicka engångskod via SMS" not in page


def test_unknown_code_and_cancelled_meeting_get_the_same_answer(mail_portal, patient, smtp_sink):
    meeting = _book(mail_portal, patient)
    code = _code(smtp_sink)
    unknown = requests.post(
        f"{mail_portal.absolute_url()}/videomote", data={"code": "ZZZZ-ZZZZ-ZZZZ"}
    )
    from prorenata.videomote.content.scheduling import cancel_meeting

    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()
    cancelled = requests.post(f"{mail_portal.absolute_url()}/videomote", data={"code": code})
    message = "Möteskoden stämmer inte."
    assert message in unknown.text and message in cancelled.text


def test_no_code_token_or_personnummer_in_audit_or_server_log(
    mail_portal, patient, smtp_sink, caplog
):
    caplog.set_level(logging.DEBUG)
    _book(mail_portal, patient)
    text = smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()
    code = re.search(r"möteskoden: (\S+)", text).group(1)
    token = re.search(r"logga-in#(\S+)", text).group(1)
    browser = requests.Session()
    browser.post(f"{mail_portal.absolute_url()}/videomote/logga-in", data={"token": token})
    _sms(browser, mail_portal)
    sms = _last_sms(mail_portal)
    _try(browser, mail_portal, sms)
    time.sleep(0.3)
    transaction.begin()
    entries = audit_log(mail_portal).query(meeting_uid=None)
    actions = [e.action for e in entries]
    assert {"link_opened", "sms_sent", "code_accepted"} <= set(actions)
    accepted = next(e for e in entries if e.action == "code_accepted")
    assert "method=sms-otp" in accepted.detail and "assurance=low" in accepted.detail
    # Everything the server logged (the test's own SMTP sink logs what it receives).
    server_log = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")
    )
    written = repr(entries) + server_log
    for secret in (code, code.replace("-", ""), token, sms, "19811218-9876"):
        assert secret not in written


def test_one_client_is_limited_on_the_code_page(mail_portal):
    from prorenata.videomote.browser.participant import PAGE_LIMIT

    url = f"{mail_portal.absolute_url()}/videomote"
    statuses = [
        requests.post(url, data={"code": "ZZZZ-ZZZZ-ZZZZ"}).status_code
        for _ in range(PAGE_LIMIT.limit + 1)
    ]
    assert statuses[:-1] == [200] * PAGE_LIMIT.limit
    assert statuses[-1] == 429


def test_staff_ending_the_meeting_ends_it_for_the_waiting_participant(
    mail_portal, patient, smtp_sink
):
    meeting = _book(mail_portal, patient)
    browser = _signed_in(mail_portal, smtp_sink)
    status_url = f"{mail_portal.absolute_url()}/videomote/status"
    assert browser.get(status_url).json() == {"state": "booked", "started": False}
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    room = f"{meeting.absolute_url()}/@@videomote-rum"
    page = start_room(staff, meeting)
    assert browser.get(status_url).json()["started"] is True
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page.text) or re.search(
        r'value="([^"]+)"[^>]*name="_authenticator"', page.text
    )
    staff.post(room, data={"end_meeting": "1", "_authenticator": token.group(1)})
    assert browser.get(status_url).json()["state"] == "ended"
    left = browser.post(f"{mail_portal.absolute_url()}/videomote/lamna")
    assert "Du har lämnat mötet" in left.text
    transaction.begin()
    actions = [e.action for e in audit_log(mail_portal).query(meeting_uid=meeting.UID())]
    assert {"staff_opened", "started", "ended", "left"} <= set(actions)


def test_room_pages_get_fresh_join_tokens_while_the_meeting_runs_and_not_after(
    mail_portal, patient, smtp_sink
):
    from prorenata.videomote.access.jointoken import media_secret
    from prorenata.videomote.access.jointoken import verify_join_token
    from prorenata.videomote.access.keys import secret_key

    meeting = _book(mail_portal, patient)
    browser = _signed_in(mail_portal, smtp_sink)
    token_url = f"{mail_portal.absolute_url()}/videomote/rum-token"
    assert browser.post(token_url).status_code == 409  # not started yet
    assert requests.post(token_url).status_code == 401  # no session
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    room = f"{meeting.absolute_url()}/@@videomote-rum"
    page = start_room(staff, meeting)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    assert browser.get(token_url).status_code == 401  # POST only

    transaction.begin()
    key = media_secret(secret_key(mail_portal))
    participant = browser.post(token_url).json()["token"]
    claims = verify_join_token(participant, key, meeting.UID())
    assert (claims["r"], claims["n"]) == ("participant", "Alva")
    staff_url = f"{meeting.absolute_url()}/@@videomote-rum-token"
    assert staff.post(staff_url).status_code == 403  # no CSRF token
    fresh = staff.post(staff_url, headers={"X-CSRF-TOKEN": csrf}).json()["token"]
    assert verify_join_token(fresh, key, meeting.UID())["r"] == "staff"

    authenticator = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page.text)
    staff.post(room, data={"end_meeting": "1", "_authenticator": authenticator.group(1)})
    assert browser.post(token_url).status_code == 409
    assert staff.post(staff_url, headers={"X-CSRF-TOKEN": csrf}).status_code == 409
    reopened = staff.get(room)  # an ended meeting is not started again
    assert reopened.url == meeting.absolute_url()
    assert "avbokat eller avslutat och kan inte öppnas" in reopened.text
    assert "data-csrf" not in reopened.text
    transaction.begin()
    assert meeting.state == "ended"
    actions = [e.action for e in audit_log(mail_portal).query(meeting_uid=meeting.UID())]
    assert actions.count("reconnected") == 2


def test_a_wrong_meeting_code_or_dead_link_is_written_down_with_the_address_only(mail_portal):
    url = mail_portal.absolute_url()
    requests.post(f"{url}/videomote", data={"code": "QWER-TYUI-OPAS"})
    requests.post(f"{url}/videomote/logga-in", data={"token": "gammal-länk-123"})
    transaction.begin()
    entries = audit_log(mail_portal).query()
    assert sorted((e.action, e.actor, e.ip, e.meeting_uid) for e in entries) == [
        ("code_unknown", "okänd", "127.0.0.1", ""),
        ("link_unknown", "okänd", "127.0.0.1", ""),
    ]
    assert "QWER" not in repr(entries) and "gammal" not in repr(entries)


def test_a_failed_sms_leaves_the_code_sent_before_working(mail_portal, patient, smtp_sink):
    meeting = _book(mail_portal, patient)
    browser = _entered(mail_portal, _code(smtp_sink))
    _sms(browser, mail_portal)
    first = _last_sms(mail_portal)
    api.portal.set_registry_record("prorenata.videomote.sms_gateway", "46elks")
    api.portal.set_registry_record("prorenata.videomote.sms_api_url", "http://127.0.0.1:9/a1/sms")
    api.portal.set_registry_record("prorenata.videomote.sms_api_username", "u")
    api.portal.set_registry_record("prorenata.videomote.sms_api_password", "p")
    transaction.commit()
    assert "SMS kunde inte skickas, försök igen" in _sms(browser, mail_portal).text
    assert _try(browser, mail_portal, first).url.endswith("/videomote/vantrum")
    transaction.begin()
    actions = [e.action for e in audit_log(mail_portal).query(meeting_uid=meeting.UID())]
    assert actions[-2:] == ["code_accepted", "waiting_room"]


def test_no_sms_is_sent_for_a_meeting_cancelled_after_the_code_was_entered(
    mail_portal, patient, smtp_sink
):
    from prorenata.videomote.content.scheduling import cancel_meeting

    meeting = _book(mail_portal, patient)
    browser = _entered(mail_portal, _code(smtp_sink))
    transaction.begin()  # see the sign-in the participant's request saved
    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()
    page = _sms(browser, mail_portal).text
    assert "är avslutat eller inställt" in page
    assert "Skicka engångskod via SMS" not in page
    transaction.begin()
    assert list(sms_outbox(mail_portal)) == []


def test_a_link_refused_by_the_rate_limit_says_why(mail_portal):
    from prorenata.videomote.browser.participant import PAGE_LIMIT

    url = f"{mail_portal.absolute_url()}/videomote/logga-in"
    for _ in range(PAGE_LIMIT.limit):
        requests.post(url, data={"token": "x"})
    refused = requests.post(url, data={"token": "x"})
    assert refused.status_code == 429
    assert "För många försök från din dator" in refused.text


def test_sign_ins_nobody_can_continue_are_not_kept(mail_portal, patient):
    """Every link or code entry starts a sign-in on the meeting; only a finished one
    removes itself. Those whose cookie has expired go, and there is a ceiling."""
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta
    from prorenata.videomote.access import signins
    from prorenata.videomote.access.otp import PendingSignIn

    meeting = _book(mail_portal, patient)
    now, lifetime = datetime.now(UTC), timedelta(minutes=30)

    def start(signin_id, at):
        signins.start_pending(
            meeting, PendingSignIn(meeting.UID(), "invitee", signin_id), at, lifetime
        )

    start("abandoned", now - timedelta(minutes=31))
    start("recent", now - timedelta(minutes=5))
    start("new", now)
    assert signins.pending(meeting, "abandoned") is None
    assert signins.pending(meeting, "recent") is not None
    for i in range(signins.MAX_PENDING + 20):
        start(f"many-{i}", now + timedelta(seconds=i))
    kept = signins._store(meeting)["pending"]
    assert len(kept) == signins.MAX_PENDING
    assert f"many-{signins.MAX_PENDING + 19}" in kept and "recent" not in kept


def _ask_for_sms_through_one_conflict(browser, portal, monkeypatch) -> None:
    """Ask for the SMS code in a request whose first attempt ends in a database conflict
    (Zope publishes it again); the page says the code was sent."""
    from prorenata.videomote.access import signins
    from ZODB.POSException import ConflictError

    real_save_quota, conflicts = signins.save_quota, []

    def save_quota_once_in_conflict(meeting, quota, *person):
        if not conflicts:
            conflicts.append(True)
            raise ConflictError("another request wrote the meeting at the same time")
        return real_save_quota(meeting, quota, *person)

    monkeypatch.setattr(signins, "save_quota", save_quota_once_in_conflict)
    assert "Vi har skickat en engångskod" in _sms(browser, portal).text
    assert conflicts  # the conflict did happen


def test_a_request_retried_after_a_database_conflict_texts_one_code(
    mail_portal, patient, smtp_sink, elks, monkeypatch
):
    """Zope publishes a request again after a conflict. The SMS of the first attempt has
    gone out: the retry must not text another code (the first would then fail)."""
    url, operator = elks
    _book(mail_portal, patient)
    for name, value in (
        ("sms_gateway", "46elks"),
        ("sms_api_url", url),
        ("sms_api_username", "u123"),
        ("sms_api_password", "secret"),
    ):
        api.portal.set_registry_record(f"prorenata.videomote.{name}", value)
    transaction.commit()
    browser = _entered(mail_portal, _code(smtp_sink))
    _ask_for_sms_through_one_conflict(browser, mail_portal, monkeypatch)
    (sms,) = operator.received
    assert _try(browser, mail_portal, sms["message"][-6:]).url.endswith("/videomote/vantrum")


def test_a_request_retried_after_a_database_conflict_keeps_its_sms_in_the_outbox(
    mail_portal, patient, smtp_sink, monkeypatch
):
    """With the outbox as the SMS service (the demo's phone) the first attempt's SMS was a
    write in the attempt's transaction, rolled back with the conflict: the retry keeps it
    again, once, and its code works (found by 50 sign-ins at one instant on the cluster)."""
    from prorenata.videomote.notify.sms import sms_outbox

    _book(mail_portal, patient)
    transaction.commit()
    browser = _entered(mail_portal, _code(smtp_sink))
    before = len(sms_outbox(mail_portal))
    _ask_for_sms_through_one_conflict(browser, mail_portal, monkeypatch)
    transaction.begin()
    messages = sms_outbox(mail_portal)[before:]
    assert len(messages) == 1
    code = re.search(r"\b(\d{6})\b", messages[0]["text"]).group(1)
    assert _try(browser, mail_portal, code).url.endswith("/videomote/vantrum")


def test_ending_in_plone_tells_the_media_server_with_its_own_signed_call(
    mail_portal, patient, fake_media_server
):
    """The staff page's own "end" may not have gone (its connection was down): Plone
    tells the media server itself, once the end is committed, with a call signed for
    ending (no join token: the media server refuses those there)."""
    from prorenata.videomote.access.jointoken import media_secret
    from prorenata.videomote.access.jointoken import verify_control_token
    from prorenata.videomote.access.keys import secret_key

    meeting = _book(mail_portal, patient)
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    room = f"{meeting.absolute_url()}/@@videomote-rum"
    page = start_room(staff, meeting).text
    authenticator = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)
    staff.post(room, data={"end_meeting": "1", "_authenticator": authenticator})
    ((path, payload),) = fake_media_server
    assert path == "/end" and payload["meeting"] == meeting.UID()
    transaction.begin()
    claims = verify_control_token(
        payload["token"], media_secret(secret_key(mail_portal)), meeting.UID(), "end"
    )
    assert claims is not None and "reason" not in claims


# -- whoever else holds the meeting code (a forwarded invitation, a shared mailbox) -------
def _many_sign_ins(portal, code, count):
    """``count`` posts of the meeting code, as from several addresses (the per-address
    page limit would stop one address first)."""
    from prorenata.videomote.browser.participant import PAGE_LIMIT

    def forget_addresses():
        transaction.begin()
        PAGE_LIMIT.clear(portal)
        transaction.commit()

    for number in range(count):
        if number % 50 == 0:
            forget_addresses()
        _entered(portal, code)
    forget_addresses()


def test_a_sign_in_sent_an_sms_survives_any_number_of_other_attempts(
    mail_portal, patient, smtp_sink
):
    from prorenata.videomote.access.signins import MAX_PENDING

    _book(mail_portal, patient)
    code = _code(smtp_sink)
    participant = _entered(mail_portal, code)
    _sms(participant, mail_portal)
    sms = _last_sms(mail_portal)
    _many_sign_ins(mail_portal, code, MAX_PENDING + 1)
    assert _try(participant, mail_portal, sms).url.endswith("/videomote/vantrum")


def test_others_with_the_meeting_code_cannot_keep_the_participant_from_a_code(
    mail_portal, patient, smtp_sink
):
    """Each browser has its own SMS quota, the meeting a higher one; when that is spent,
    staff see it in the meeting dialog and lift it."""
    meeting = _book(mail_portal, patient)
    code = _code(smtp_sink)
    participant = _entered(mail_portal, code)
    for _ in range(4):  # four browsers of someone else, five codes each
        other = _entered(mail_portal, code)
        for _ in range(5):
            assert "Vi har skickat en engångskod" in _sms(other, mail_portal).text
        assert "Du har fått för många SMS-koder" in _sms(other, mail_portal).text
    refused = _sms(participant, mail_portal).text
    assert "Det har skickats för många SMS-koder till det här mötet." in refused
    assert "Kontakta den som bjöd in dig" in refused

    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    dialog = staff.get(meeting.absolute_url()).text
    assert "SMS-koder senaste timmen" in dialog and "<span>20 av högst 20</span>" in dialog
    assert "Gränsen är nådd" in dialog
    lift = f"{meeting.absolute_url()}/@@videomote-sms-grans"
    assert staff.post(lift, data={"reset_limit": "1"}).status_code == 403  # no CSRF token
    assert "Det har skickats för många SMS-koder" in _sms(participant, mail_portal).text
    authenticator = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', dialog).group(1)
    lifted = staff.post(lift, data={"reset_limit": "1", "_authenticator": authenticator})
    assert "SMS-gränsen är återställd. Alva kan få en ny engångskod." in lifted.text
    assert "Gränsen är nådd" not in lifted.text

    assert "Vi har skickat en engångskod" in _sms(participant, mail_portal).text
    assert _try(participant, mail_portal, _last_sms(mail_portal)).url.endswith("/vantrum")
    transaction.begin()
    actions = [e.action for e in audit_log(mail_portal).query(meeting_uid=meeting.UID())]
    assert actions.count("sms_refused") == 6 and actions.count("sms_limit_lifted") == 1


def test_a_browser_that_used_its_own_quota_leaves_other_browsers_their_codes(
    mail_portal, patient, smtp_sink
):
    _book(mail_portal, patient)
    code = _code(smtp_sink)
    first = _entered(mail_portal, code)
    for _ in range(5):
        _sms(first, mail_portal)
    assert "Du kan få en ny kod kl." in _sms(first, mail_portal).text
    second = _entered(mail_portal, code)
    assert "Vi har skickat en engångskod" in _sms(second, mail_portal).text


# -- a meeting moved to a new time ----------------------------------------------------------
def _move(meeting, minutes=15):
    from datetime import timedelta
    from prorenata.videomote.content.scheduling import move_meeting

    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(
            meeting,
            meeting.start + timedelta(minutes=minutes),
            meeting.end + timedelta(minutes=minutes),
        )
    transaction.commit()


def test_moving_a_started_meeting_ends_the_room_and_every_session_for_the_old_time(
    mail_portal, patient, smtp_sink
):
    from prorenata.videomote.access.jointoken import media_secret
    from prorenata.videomote.access.jointoken import verify_join_token
    from prorenata.videomote.access.keys import secret_key

    meeting = _book(mail_portal, patient)
    participant = _signed_in(mail_portal, smtp_sink)
    waiting = _entered(mail_portal, _code(smtp_sink))  # another sign-in, texted, not done
    _sms(waiting, mail_portal)
    waiting_sms = _last_sms(mail_portal)
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    start_room(staff, meeting)
    url = mail_portal.absolute_url()
    assert participant.post(f"{url}/videomote/rum-token").status_code == 200

    _move(meeting)

    transaction.begin()
    assert meeting.state == "booked"  # the room is closed; staff start it again
    moved = participant.post(f"{url}/videomote/rum-token")
    assert (moved.status_code, moved.json()) == (410, {"state": "moved"})
    page = participant.get(f"{url}/videomote/vantrum").text
    assert "Mötet har flyttats till en ny tid. Använd länken eller möteskoden" in page
    assert participant.get(f"{url}/videomote/status").json() == {"state": "moved"}
    assert "Mötet har flyttats" in _try(waiting, mail_portal, waiting_sms).text

    # The update e-mail's code signs in anew, and the room starts again at the new time.
    again = _entered(mail_portal, _code(smtp_sink, index=1))
    _sms(again, mail_portal)
    assert _try(again, mail_portal, _last_sms(mail_portal)).url.endswith("/vantrum")
    start_room(staff, meeting)
    token = again.post(f"{url}/videomote/rum-token").json()["token"]
    transaction.begin()
    claims = verify_join_token(token, media_secret(secret_key(mail_portal)), meeting.UID())
    assert claims["g"] == 1  # the media server's room for the new time
    actions = [e.action for e in audit_log(mail_portal).query(meeting_uid=meeting.UID())]
    assert "room_closed_by_move" in actions and "old_time_refused" in actions


def test_a_new_time_by_the_edit_form_also_signs_out_the_old_time(mail_portal, patient):
    """Not only ``move_meeting``: any change of time (the edit form fires the same
    event) counts the room generation up."""
    from datetime import timedelta
    from prorenata.videomote.access.signins import generation
    from zope.event import notify
    from zope.lifecycleevent import ObjectModifiedEvent

    meeting = _book(mail_portal, patient)
    notify(ObjectModifiedEvent(meeting))  # nothing changed: nothing happens
    assert generation(meeting) == 0
    meeting.start += timedelta(hours=1)
    meeting.end += timedelta(hours=1)
    notify(ObjectModifiedEvent(meeting))
    assert generation(meeting) == 1
    meeting.title = "Nytt namn"  # a new title is no new time
    notify(ObjectModifiedEvent(meeting))
    assert generation(meeting) == 1
    transaction.abort()


def test_moving_tells_the_media_server_to_end_the_old_times_room(
    mail_portal, patient, smtp_sink, fake_media_server
):
    from prorenata.videomote.access.jointoken import media_secret
    from prorenata.videomote.access.jointoken import verify_control_token
    from prorenata.videomote.access.keys import secret_key

    meeting = _book(mail_portal, patient)
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    start_room(staff, meeting)
    _move(meeting)
    ((path, payload),) = fake_media_server
    assert path == "/end" and payload["reason"] == "moved"
    transaction.begin()
    claims = verify_control_token(
        payload["token"], media_secret(secret_key(mail_portal)), meeting.UID(), "end"
    )
    assert claims["reason"] == "moved" and "g" not in claims  # the old time's room


# -- starting the meeting: a POST with the CSRF token, never a GET ---------------------------
def test_opening_the_staff_room_by_get_never_starts_the_meeting(mail_portal, patient, smtp_sink):
    meeting = _book(mail_portal, patient)
    participant = _signed_in(mail_portal, smtp_sink)
    status = f"{mail_portal.absolute_url()}/videomote/status"
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    room = f"{meeting.absolute_url()}/@@videomote-rum"

    # A link on another site: the page offers the button and does not press it itself.
    cross_site = staff.get(room, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 200
    assert "Starta mötet" in cross_site.text and 'data-autostart="false"' in cross_site.text
    assert "data-join-token" not in cross_site.text
    # From the journal itself, the page's script presses it; the GET still starts nothing.
    same_origin = staff.get(room, headers={"Sec-Fetch-Site": "same-origin"})
    assert 'data-autostart="true"' in same_origin.text
    assert participant.get(status).json()["started"] is False

    assert staff.post(room, data={"start_meeting": "1"}).status_code == 403  # no CSRF token
    assert participant.get(status).json()["started"] is False
    started = start_room(staff, meeting)
    assert started.url == room and "data-join-token" in started.text
    assert participant.get(status).json()["started"] is True
