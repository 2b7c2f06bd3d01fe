"""Extra participants in the clinician's calendar: each an ATTENDEE of the event, written
from the journal, kept through a round trip and changed when people are added."""

from datetime import datetime
from datetime import timedelta
from factories import book_at
from plone import api
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.events import from_ical
from prorenata.videomote.caldav_bridge.events import to_ical
from prorenata.videomote.content import participants
from test_sync_with_journal import _sync
from test_sync_with_journal import journal  # noqa: F401 - a fixture
from zoneinfo import ZoneInfo

import icalendar
import requests
import transaction

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


def _attendees(journal) -> list[tuple[str, str]]:  # noqa: F811 - the fixture's value
    (item,) = journal["calendar"].changes_since(None).changed.values()
    body = requests.get(item.href, auth=("sara", "x")).text
    vevent = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    found = vevent.get("ATTENDEE")
    found = found if isinstance(found, list) else [found]
    return [(str(a)[len("mailto:") :], str(a.params["CN"])) for a in found]


def test_each_participant_is_an_attendee_in_the_clinicians_calendar(journal, smtp_sink):  # noqa: F811
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    start = datetime(day.year, day.month, day.day, 9, 0)
    meeting = book_at(journal["alva"], start, "Uppföljning", extra_participants=[TOLK])
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
