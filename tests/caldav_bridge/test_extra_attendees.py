"""Extra participants in the clinician's calendar: each an ATTENDEE of the event, written
from the journal, kept through a round trip and changed when people are added."""

from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from plone import api
from prorenata.videomote.access.keys import seal
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.client import CalendarAccount
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.events import from_ical
from prorenata.videomote.caldav_bridge.events import to_ical
from prorenata.videomote.content import participants
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from zoneinfo import ZoneInfo

import icalendar
import pytest
import requests
import transaction

SECRET = "worker-secret-for-tests"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
TOLK = {"name": "Tina Tolk", "mobile": "0701112233", "email": "tina@tolk.se", "role": "tolk"}


def test_extra_attendees_are_written_after_the_invitee_and_read_back():
    start = datetime(2026, 12, 1, 9, tzinfo=STOCKHOLM)
    event = CalendarEvent(
        uid="u1@videomote",
        title="Samtal",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_email="anna@example.se",
        attendee_name="Anna Andersson",
        extra_attendees=(("tina@tolk.se", "Tina Tolk", "tolk"),),
    )
    text = to_ical(event, "Europe/Stockholm", "https://journal/rum")
    vevent = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    attendees = vevent["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:anna@example.se", "mailto:tina@tolk.se"]
    assert str(attendees[1].params["CN"]) == "Tina Tolk (tolk)"
    read = from_ical(text)
    assert read.attendee_email == "anna@example.se"
    assert read.fingerprint() == event.fingerprint()
    # Without extra participants the fingerprint is what it always was.
    plain = CalendarEvent(**{**event.__dict__, "extra_attendees": ()})
    assert plain.fingerprint() != event.fingerprint()
    assert from_ical(to_ical(plain, "Europe/Stockholm", "x")).fingerprint() == plain.fingerprint()


@pytest.fixture
def journal(mail_portal, caldav_server, monkeypatch):
    monkeypatch.setenv("VIDEOMOTE_WORKER_SECRET", SECRET)
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder)
    alva = add_student(folder)
    accounts(mail_portal)["sara"] = CalDAVAccountRecord(
        "sara", caldav_server["url"], "sara", seal(mail_portal, "tok")
    )
    transaction.commit()
    return {
        "portal": mail_portal,
        "alva": alva,
        "calendar": CalendarAccount(caldav_server["url"], "sara", "tok"),
    }


def _sync(portal):
    response = requests.post(
        f"{portal.absolute_url()}/@@videomote-caldav-sync", headers={"X-Videomote-Worker": SECRET}
    )
    assert response.status_code == 200, response.text
    transaction.begin()


def _attendees(journal) -> list[tuple[str, str]]:
    (item,) = journal["calendar"].changes_since(None).changed.values()
    body = requests.get(item.href, auth=("sara", "x")).text
    vevent = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    found = vevent.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return [(str(a)[len("mailto:") :], str(a.params["CN"])) for a in found]


def test_each_participant_is_an_attendee_in_the_clinicians_calendar(journal, smtp_sink):
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 9, 0)
    with api.env.adopt_user(username="sara"):
        meeting = book_meeting(
            Booking(
                title="Uppföljning",
                start=start,
                end=start + timedelta(minutes=30),
                patient_uid=journal["alva"].UID(),
                contact_choice="guardian",
                extra_participants=[TOLK],
            ),
            organiser="sara",
        )
    transaction.commit()
    _sync(journal["portal"])
    assert _attendees(journal) == [
        ("anna@example.se", "Anna Andersson"),
        ("tina@tolk.se", "Tina Tolk (tolk)"),
    ]
    # A person added in the journal is written to the calendar at the next round.
    with api.env.adopt_user(username="sara"):
        change = participants.plan(
            meeting,
            [
                {"id": participants.people(meeting)[0]["id"]},
                {
                    "name": "Olle Ombud",
                    "mobile": "0702223344",
                    "email": "olle@example.se",
                    "role": "annan",
                },
            ],
        )
        participants.add_all(meeting, change)
    transaction.commit()
    _sync(journal["portal"])
    assert [email for email, _name in _attendees(journal)] == [
        "anna@example.se",
        "tina@tolk.se",
        "olle@example.se",
    ]
    assert _attendees(journal)[2][1] == "Olle Ombud (annan deltagare)"
