"""Reminders before a meeting: planned with the booking, moved with it, dropped when it is
cancelled or has begun, sent once at their time (real SMTP sink, the demo's SMS outbox
or a local 46elks), shown to staff and over REST, and outside the one-time-code limits.

The delivery runs here on the test's connection with a fixed clock (``now``), as the
worker's round does with the real one; the layer's own worker is stopped first.
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import book_at
from factories import session_as
from mail_quiet import nothing_due
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.booking import reminders as rules
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.content.scheduling import move_meeting
from prorenata.videomote.notify import reminders
from prorenata.videomote.notify.delivery import stop_all
from prorenata.videomote.notify.outbox import CLAIM_SECONDS
from prorenata.videomote.notify.reminders import deliver_reminders
from prorenata.videomote.notify.reminders import reminder_outbox
from prorenata.videomote.notify.reminders import reminders_of
from prorenata.videomote.notify.sms import sms_outbox
from record_conflict import deliver_through_a_conflict
from ZODB.POSException import ConflictError
from zoneinfo import ZoneInfo
from zope.component.hooks import getSite
from zope.component.hooks import setSite

import pytest
import re
import requests
import time
import transaction

DAY = 24 * 60
STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def patient(mail_portal):
    """Alva with her own e-mail and mobile; the meeting's organiser is Sara Svensson."""
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Svensson", access_to=folder)
    patient = add_student(folder, title="Alva", guardians=[])
    transaction.commit()
    return patient


def _book(patient, minutes_from_now=3 * DAY):
    """A meeting at 12.00 (Stockholm) on the day ``minutes_from_now`` ahead: its reminders
    a day and an hour before fall in daytime on the day before and on its own day ("i
    dag"), whatever the hour the test runs (booked "now + 3 days" at 00.12, the hour-before
    SMS said "i morgon")."""
    day = (datetime.now(STOCKHOLM) + timedelta(minutes=minutes_from_now)).date()
    start = datetime(day.year, day.month, day.day, 12)
    return book_at(
        patient, start, "Uppföljande samtal", "student", "sara", booked_by=SITE_OWNER_NAME
    )


def _invitation_code(smtp_sink) -> str:
    """The meeting code from the invitation at the SMTP sink (then stops the worker, so
    that only this test's connection delivers from here on)."""
    (invitation,) = smtp_sink.wait_for(1)
    stop_all()
    smtp_sink.messages.clear()
    text = invitation.get_body(("plain",)).get_content()
    return re.search(r"(?:möteskoden|meeting code): (\S+)", text).group(1)


def _deliver(now) -> tuple[int, int]:
    transaction.begin()
    return deliver_reminders(api.portal.get(), transaction.commit, now=now)


def _quiet():
    """Ends a "no further mail" wait once nothing is left to send (mail_quiet.py)."""
    return nothing_due(api.portal.get())


def _start(meeting):
    return meeting.start.astimezone(UTC)


def _sms_texts() -> list[str]:
    transaction.begin()
    return [message["text"] for message in sms_outbox(api.portal.get())]


def _statuses(meeting) -> list[tuple]:
    transaction.begin()
    return [(r["channel"], r["status"]) for r in reminders_of(meeting)]


def _actions(meeting) -> list[str]:
    return [e.action for e in audit_log(api.portal.get()).query(meeting_uid=meeting.UID())]


def test_booking_plans_an_email_a_day_before_and_an_sms_an_hour_before_shown_over_rest(
    patient, smtp_sink
):
    response = session_as("sara", json=True).get(
        f"{_book(patient).absolute_url()}/@videomote-meeting"
    )
    assert response.status_code == 200
    meeting = response.json()
    start = datetime.fromisoformat(meeting["start"])
    assert meeting["reminders"] == [
        {
            "channel": "email",
            "due": (start - timedelta(hours=24)).isoformat(),
            "status": "planned",
            "attempts": 0,
        },
        {
            "channel": "sms",
            "due": (start - timedelta(hours=1)).isoformat(),
            "status": "planned",
            "attempts": 0,
        },
    ]


def test_reminders_go_out_at_their_time_once_saying_who_when_and_how_without_codes(
    patient, smtp_sink
):
    meeting = _book(patient)
    code = _invitation_code(smtp_sink)
    start = _start(meeting)

    assert _deliver(start - timedelta(hours=25)) == (0, 0)  # not yet
    assert _deliver(start - timedelta(hours=24)) == (1, 0)
    (reminder,) = smtp_sink.wait_for(1)
    assert reminder["To"].addresses[0].addr_spec == "alva@example.se"
    assert reminder["Subject"].startswith("Påminnelse: Uppföljande samtal – ")
    assert reminder["Auto-Submitted"] == "auto-generated"
    text = reminder.get_body(("plain",)).get_content()
    html = reminder.get_body(("html",)).get_content()
    assert "Hej Alva," in text
    assert "påminnelse om ditt säkra videomöte med Sara Svensson" in text
    assert f"{api.portal.get().absolute_url()}/videomote" in text
    assert "möteskoden som står i inbjudan" in text
    for body in (text, html):
        assert code not in body and "logga-in" not in body
    assert not [p for p in reminder.walk() if p.get_content_type() == "text/calendar"]
    assert _sms_texts() == []

    assert _deliver(start - timedelta(minutes=59)) == (1, 0)
    (sms,) = _sms_texts()
    local = meeting.start.strftime("%H.%M")
    assert sms == (
        f"Påminnelse: videomöte med Sara Svensson (Plone site) i dag kl. {local}. "
        "Anslut från en dator med länken i e-postinbjudan."
    )
    assert code not in sms and "Uppföljande" not in sms and not re.search(r"\d{6}", sms)

    # Later rounds, and the layer's worker, send nothing again.
    assert _deliver(start - timedelta(minutes=30)) == (0, 0)
    assert len(smtp_sink.messages) == 1 and len(_sms_texts()) == 1
    assert _statuses(meeting) == [("email", "sent"), ("sms", "sent")]
    assert _actions(meeting).count("reminder_sent") == 2


def test_moving_a_meeting_plans_its_reminders_again_for_the_new_time(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    old = _start(meeting)
    with api.env.adopt_user(SITE_OWNER_NAME):
        local = meeting.start.replace(tzinfo=None)
        move_meeting(meeting, local + timedelta(days=1), local + timedelta(days=1, minutes=30))
    transaction.commit()
    new = _start(meeting)
    assert [r["due"] for r in reminders_of(meeting)] == [
        (new - timedelta(hours=24)).astimezone(meeting.start.tzinfo).isoformat(),
        (new - timedelta(hours=1)).astimezone(meeting.start.tzinfo).isoformat(),
    ]
    smtp_sink.wait_for(1)  # the update e-mail
    stop_all()
    smtp_sink.messages.clear()

    assert _deliver(old - timedelta(minutes=59)) == (0, 0)  # the old time's: gone
    assert _sms_texts() == []
    assert len(reminders_of(meeting)) == 2  # the new time's only
    assert _deliver(new - timedelta(minutes=59)) == (2, 0)
    (sms,) = _sms_texts()
    assert sms.endswith("Anslut från en dator med länken i e-posten om den nya tiden.")
    (mail,) = smtp_sink.wait_for(1)
    assert "e-postmeddelandet om den nya tiden" in mail.get_body(("plain",)).get_content()


def test_cancelling_drops_the_reminders_and_nothing_is_sent(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    start = _start(meeting)
    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()
    assert _statuses(meeting) == [("email", "dropped"), ("sms", "dropped")]
    assert {r["reason"] for r in reminders_of(meeting)} == {"cancelled"}
    smtp_sink.wait_for(1)  # the cancellation
    stop_all()
    smtp_sink.messages.clear()
    assert _deliver(start - timedelta(hours=23)) == (0, 0)
    assert _deliver(start - timedelta(minutes=30)) == (0, 0)
    assert smtp_sink.messages == [] and _sms_texts() == []


def test_no_reminder_for_a_meeting_that_has_begun(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    start = _start(meeting)
    meeting.state = STATE_STARTED  # staff opened the room early
    transaction.commit()
    assert _deliver(start - timedelta(minutes=59)) == (0, 0)
    assert _sms_texts() == [] and smtp_sink.messages == []
    assert _statuses(meeting) == [("email", "dropped"), ("sms", "dropped")]
    assert "reminder_dropped" in _actions(meeting)


def test_a_reminder_whose_worker_was_down_until_the_meeting_began_is_not_sent(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    assert _deliver(_start(meeting) + timedelta(minutes=1)) == (0, 0)
    assert _sms_texts() == [] and smtp_sink.messages == []
    assert {r["reason"] for r in reminders_of(meeting)} == {"started"}


def test_a_meeting_booked_half_an_hour_ahead_gets_its_sms_two_minutes_later_and_no_email(
    patient, smtp_sink
):
    """The SMS an hour before is already late: it goes two minutes after the booking
    (a booking corrected at once texts nobody); the invitation is the e-mail."""
    booked = datetime.now(UTC)
    meeting = book(patient, 30, organiser="sara")
    _invitation_code(smtp_sink)
    (reminder,) = reminders_of(meeting)
    assert reminder["channel"] == "sms"
    due = datetime.fromisoformat(reminder["due"])
    assert timedelta(minutes=2) <= due - booked < timedelta(minutes=2, seconds=10)
    assert _deliver(due - timedelta(seconds=1)) == (0, 0)
    assert _deliver(due) == (1, 0)
    (sms,) = _sms_texts()
    # "i morgon" when the half hour runs past midnight (a test run at 23.30–24.00)
    local = meeting.start.astimezone(meeting.start.tzinfo)
    day = "i dag" if local.date() == due.astimezone(local.tzinfo).date() else "i morgon"
    assert sms.startswith(f"Påminnelse: videomöte med Sara Svensson (Plone site) {day} kl.")
    assert smtp_sink.messages == []  # no e-mail reminder


def test_no_sms_reminder_when_switched_off_even_for_those_already_planned(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    api.portal.set_registry_record("prorenata.videomote.reminder_sms_enabled", False)
    transaction.commit()
    assert _deliver(_start(meeting) - timedelta(minutes=59)) == (1, 0)  # the e-mail
    assert _sms_texts() == []
    assert _statuses(meeting) == [("email", "sent"), ("sms", "dropped")]
    later = _book(patient, 4 * DAY)
    assert _statuses(later) == [("email", "planned")]


def test_the_email_reminder_time_is_the_control_panels(patient, smtp_sink):
    api.portal.set_registry_record("prorenata.videomote.reminder_email_hours", 48)
    api.portal.set_registry_record("prorenata.videomote.reminder_sms_minutes", 15)
    transaction.commit()
    meeting = _book(patient)
    start = _start(meeting)
    assert [r["due"] for r in reminders_of(meeting)] == [
        (start - timedelta(hours=48)).astimezone(meeting.start.tzinfo).isoformat(),
        (start - timedelta(minutes=15)).astimezone(meeting.start.tzinfo).isoformat(),
    ]


def test_a_booking_request_retried_after_a_conflict_plans_its_reminders_once(
    patient, smtp_sink, monkeypatch
):
    """Zope publishes a request again after a database conflict: what the first attempt
    planned is aborted with it."""
    real_plan, conflicts = reminders.plan, []

    def plan_then_conflict(meeting, *args, **kwargs):
        planned = real_plan(meeting, *args, **kwargs)
        if not conflicts:
            conflicts.append(True)
            raise ConflictError("another request wrote the outbox at the same time")
        return planned

    day = (_start(_book(patient)) + timedelta(days=1)).date().isoformat()
    before = len(reminder_outbox(api.portal.get()).messages)
    monkeypatch.setattr(reminders, "plan", plan_then_conflict)
    response = session_as("sara", json=True).post(
        f"{api.portal.get().absolute_url()}/@videomote-meetings",
        json={
            "title": "Samtal",
            "start": f"{day}T10:00",
            "end": f"{day}T10:30",
            "patient": patient.UID(),
            "contact_choice": "student",
        },
    )
    assert response.status_code == 201, response.text
    assert conflicts
    transaction.begin()
    assert len(reminder_outbox(api.portal.get()).messages) == before + 2
    assert [r["channel"] for r in response.json()["reminders"]] == ["email", "sms"]


def _connection(portal):
    """A connection of its own on the portal's database, as another Zope instance has."""
    manager = transaction.TransactionManager()
    connection = portal._p_jar.db().open(transaction_manager=manager)
    manager.begin()
    site = connection.root()["Application"][portal.getId()]
    list(reminder_outbox(site).pending.values())  # both have read the queue
    return manager, connection, site


def test_two_instances_that_see_the_same_reminder_due_send_it_once(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    due = _start(meeting) - timedelta(hours=23)
    previous = getSite()
    first_manager, first, first_site = _connection(api.portal.get())
    second_manager, second, second_site = _connection(api.portal.get())
    try:
        setSite(first_site)
        assert deliver_reminders(first_site, first_manager.commit, now=due) == (1, 0)
        setSite(second_site)
        with pytest.raises(ConflictError):
            deliver_reminders(second_site, second_manager.commit, now=due)
        second_manager.abort()
        second_manager.begin()
        assert deliver_reminders(second_site, second_manager.commit, now=due) == (0, 0)
    finally:
        setSite(previous)
        for manager, connection in ((first_manager, first), (second_manager, second)):
            manager.abort()
            connection.close()
    assert len(smtp_sink.wait_for(2, timeout=2, settled=_quiet())) == 1


@pytest.mark.parametrize("gateway", ["46elks", "outbox"])
def test_a_sent_sms_reminder_whose_record_conflicts_is_sent_once(patient, smtp_sink, elks, gateway):
    """As the outbox's mail (test_delivery_claim.py): another instance commits a write
    the record of a sent SMS reminder conflicts with. The record is written again and
    the reminder is not sent again when its claim runs out: the operator gets it once,
    and the demo's SMS outbox, whose copy went with the aborted attempt, keeps it once."""
    url, operator = elks
    for name, value in (
        ("sms_gateway", gateway),
        ("sms_api_url", url),
        ("sms_api_username", "u123"),
        ("sms_api_password", "secret"),
    ):
        api.portal.set_registry_record(f"prorenata.videomote.{name}", value)
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    due = _start(meeting) - timedelta(minutes=59)
    (sms_id,) = [
        m.id for m in reminder_outbox(api.portal.get()).messages.values() if m.channel == "sms"
    ]
    worker = _connection(api.portal.get())
    before = len(sms_outbox(worker[2]))

    def sent() -> int:
        return len(operator.received) + len(sms_outbox(worker[2])) - before

    conflicts, sent_in_all = deliver_through_a_conflict(
        lambda site, commit, now=due: deliver_reminders(site, commit, now=now),
        worker,
        _connection(api.portal.get()),
        went_out=lambda: sent() > 0,
        same_object=lambda other_site: reminder_outbox(other_site).messages[sms_id],
        claim_ran_out=due + timedelta(seconds=CLAIM_SECONDS + 1),
        observe=sent,
    )
    assert sent_in_all == 1
    assert conflicts
    assert ("sms", "sent") in _statuses(meeting)


def test_a_reminder_the_worker_reaches_while_the_meeting_is_cancelled_is_not_sent(
    patient, smtp_sink
):
    """The worker read the meeting as booked; the cancel commits before its claim does.
    Both write the reminder, so the claim fails and the next round sees it dropped."""
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    due = _start(meeting) - timedelta(minutes=59)
    previous = getSite()
    manager, connection, site = _connection(api.portal.get())
    try:
        setSite(site)
        worker_meeting = site.unrestrictedTraverse("/".join(meeting.getPhysicalPath()[2:]))
        assert worker_meeting.state == "booked"  # what the worker sees
        setSite(previous)
        with api.env.adopt_user(SITE_OWNER_NAME):
            cancel_meeting(meeting)
        transaction.commit()
        setSite(site)
        with pytest.raises(ConflictError):
            deliver_reminders(site, manager.commit, now=due)
        manager.abort()
        manager.begin()
        assert deliver_reminders(site, manager.commit, now=due) == (0, 0)
    finally:
        setSite(previous)
        manager.abort()
        connection.close()
    assert _sms_texts() == []


def test_a_reminder_sms_is_outside_the_one_time_code_limits(patient, smtp_sink):
    api.portal.set_registry_record("prorenata.videomote.sms_per_meeting_per_hour", 1)
    api.portal.set_registry_record("prorenata.videomote.sms_per_hour", 1)
    transaction.commit()
    meeting = book(patient, 20, organiser="sara")
    code = _invitation_code(smtp_sink)
    assert _deliver(datetime.now(UTC) + timedelta(minutes=3)) == (1, 0)
    assert _sms_texts()[0].startswith("Påminnelse")  # the reminder went out
    participant = requests.Session()
    url = f"{api.portal.get().absolute_url()}/videomote"
    assert participant.post(url, data={"code": code}).url.endswith("/videomote/logga-in")
    page = participant.post(f"{url}/logga-in", data={"send_code": "1"}).text
    assert "Vi har skickat en engångskod" in page
    assert re.fullmatch(r"Din inloggningskod till Prorenata Videomöte är \d{6}", _sms_texts()[-1])
    assert _statuses(meeting) == [("sms", "sent")]


def test_a_failing_sms_gateway_is_retried_and_staff_see_it(patient, smtp_sink, elks):
    url, operator = elks
    for name, value in (
        ("sms_gateway", "46elks"),
        ("sms_api_url", url),
        ("sms_api_username", "u123"),
        ("sms_api_password", "secret"),
    ):
        api.portal.set_registry_record(f"prorenata.videomote.{name}", value)
    transaction.commit()
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    due = _start(meeting) - timedelta(minutes=59)
    operator.answer = (500, "Internal error")
    assert _deliver(due) == (1, 1)  # the e-mail went, the SMS did not
    assert _statuses(meeting)[-1] == ("sms", "failed")
    page = _dialog(meeting)
    assert "Kunde inte skickas ännu – nya försök görs automatiskt" in page
    operator.answer = (200, None)
    assert _deliver(due + timedelta(seconds=5)) == (0, 0)  # backing off
    assert _deliver(due + timedelta(minutes=1)) == (1, 0)
    assert [m["message"][:11] for m in operator.received] == ["Påminnelse:"] * 2
    assert _statuses(meeting)[-1] == ("sms", "sent")


def _dialog(meeting) -> str:
    staff = requests.Session()
    staff.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    response = staff.get(meeting.absolute_url())
    assert response.status_code == 200
    return response.text


def test_the_meeting_dialog_shows_the_reminders(patient, smtp_sink):
    meeting = _book(patient)
    page = _dialog(meeting)
    assert "Påminnelser" in page
    assert re.search(r"E-post\s+\d{4}-\d\d-\d\d kl\. \d\d\.\d\d:\s*<span[^>]*>Planerad", page)
    assert re.search(r"SMS\s+\d{4}-\d\d-\d\d kl\. \d\d\.\d\d:\s*<span[^>]*>Planerad", page)
    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()
    assert "Skickas inte: mötet är avbokat" in _dialog(meeting)


def test_on_an_english_site_the_reminders_are_in_english(patient, smtp_sink):
    api.portal.set_registry_record("plone.default_language", "en")
    transaction.commit()
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    start = _start(meeting)
    assert _deliver(start - timedelta(hours=23)) == (1, 0)
    (mail,) = smtp_sink.wait_for(1)
    assert mail["Subject"].startswith("Reminder: Uppföljande samtal – ")
    text = mail.get_body(("plain",)).get_content()
    assert "This is a reminder of your secure video meeting with Sara Svensson" in text
    assert "How to join:" in text
    assert _deliver(start - timedelta(minutes=59)) == (1, 0)
    (sms,) = _sms_texts()
    assert sms == (
        f"Reminder: video meeting with Sara Svensson (Plone site) today at "
        f"{meeting.start:%H:%M}. Join from a computer with the link in the e-mail invitation."
    )


def test_the_delivery_worker_sends_a_due_reminder_by_itself(patient, smtp_sink, monkeypatch):
    """Zope's own worker (the one that sends the invitation) sends reminders in its round."""
    monkeypatch.setattr(rules, "SMS_AT_ONCE_DELAY", timedelta(0))
    meeting = book(patient, 30, organiser="sara")
    deadline = time.monotonic() + 30
    while not _sms_texts() and time.monotonic() < deadline:
        time.sleep(0.2)
    (sms,) = _sms_texts()
    assert sms.startswith("Påminnelse: videomöte med Sara Svensson")
    assert _statuses(meeting) == [("sms", "sent")]


def test_a_new_title_alone_keeps_the_reminders_planned(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    before = [(r["channel"], r["due"]) for r in reminders_of(meeting)]
    with api.env.adopt_user(SITE_OWNER_NAME):
        local = meeting.start.replace(tzinfo=None)
        move_meeting(meeting, local, local + timedelta(minutes=30), title="Nytt samtal")
    transaction.commit()
    assert [(r["channel"], r["due"]) for r in reminders_of(meeting)] == before
    assert len(reminder_outbox(api.portal.get()).messages) == 2
    assert _deliver(_start(meeting) - timedelta(hours=23)) == (1, 0)
    subjects = [m["Subject"] for m in smtp_sink.wait_for(2)]  # the update and the reminder
    reminder = [s for s in subjects if s.startswith("Påminnelse: ")]
    assert len(subjects) == 2 and len(reminder) == 1
    assert reminder[0].startswith("Påminnelse: Nytt samtal – ")


def test_deleting_a_meeting_drops_its_reminders(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    uid, start = meeting.UID(), _start(meeting)
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.content.delete(meeting, check_linkintegrity=False)
    transaction.commit()
    stored = reminder_outbox(api.portal.get()).for_meeting(uid)
    assert [(m.status, m.last_error) for m in stored] == [("dropped", "gone")] * 2
    stop_all()
    assert _deliver(start - timedelta(minutes=59)) == (0, 0)
    assert _sms_texts() == []


def test_a_meeting_moved_away_and_back_lists_one_plan(patient, smtp_sink):
    meeting = _book(patient)
    local = meeting.start.replace(tzinfo=None)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, local + timedelta(hours=2), local + timedelta(hours=2, minutes=30))
        move_meeting(meeting, local, local + timedelta(minutes=30))
    transaction.commit()
    assert _statuses(meeting) == [("email", "planned"), ("sms", "planned")]


TINA = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}


def _patch_people(meeting, people):
    response = session_as("sara", json=True).patch(
        f"{meeting.absolute_url()}/@videomote-meeting", json={"extra_participants": people}
    )
    assert response.status_code == 200, response.text
    transaction.begin()
    return response.json()["extra_participants"]


def test_an_interpreter_added_later_gets_her_own_reminders_by_mail_and_sms(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    (tina,) = _patch_people(meeting, [TINA])
    rows = session_as("sara", json=True).get(f"{meeting.absolute_url()}/@videomote-meeting")
    assert sorted((r["channel"], r.get("person", "")) for r in rows.json()["reminders"]) == [
        ("email", ""),
        ("email", tina["id"]),
        ("sms", ""),
        ("sms", tina["id"]),
    ]
    start = _start(meeting)

    assert _deliver(start - timedelta(hours=24)) == (2, 0)
    # her invitation may be at the sink too; nothing else is still to come
    smtp_sink.wait_for(len(smtp_sink.messages) + 1, timeout=1, settled=_quiet())
    mails = {
        m["To"].addresses[0].addr_spec: m
        for m in list(smtp_sink.messages)
        if str(m["Subject"]).startswith("Påminnelse")
    }
    assert set(mails) == {"alva@example.se", "tina@tolk.se"}
    assert "Hej Tina Tolk," in mails["tina@tolk.se"].get_body(("plain",)).get_content()
    assert _deliver(start - timedelta(hours=1)) == (2, 0)
    transaction.begin()
    sent = sorted(message["to"] for message in sms_outbox(api.portal.get()))
    assert len(sent) == 2 and "+46701112233" in sent  # hers and Alva's


def test_a_person_removed_from_the_meeting_gets_no_reminder(patient, smtp_sink):
    meeting = _book(patient)
    _invitation_code(smtp_sink)
    _patch_people(meeting, [TINA])
    _patch_people(meeting, [])
    start = _start(meeting)
    assert _deliver(start - timedelta(hours=24)) == (1, 0)
    # Tina's invitation and cancellation may be at the sink too; nothing else is to come
    smtp_sink.wait_for(len(smtp_sink.messages) + 1, timeout=1, settled=_quiet())
    reminded = [
        m["To"].addresses[0].addr_spec
        for m in list(smtp_sink.messages)
        if str(m["Subject"]).startswith("Påminnelse")
    ]
    assert reminded == ["alva@example.se"]
    transaction.begin()
    hers = [r["status"] for r in reminders_of(meeting) if r.get("person")]
    assert hers == ["dropped", "dropped"]
