"""Reading calendar events as clients write them: durations, all-day events, broken ones."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.caldav_bridge.events import UnreadableEvent
from prorenata.videomote.caldav_bridge.events import from_ical

import pytest


def _calendar(*lines: str) -> str:
    body = "\r\n".join(("UID:e1@client", "DTSTAMP:20261201T080000Z", *lines))
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Client//EN\r\n"
        f"BEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def test_an_event_with_a_duration_ends_after_it():
    event = from_ical(_calendar("DTSTART:20261201T080000Z", "DURATION:PT45M", "SUMMARY:Samtal"))
    assert event.end - event.start == timedelta(minutes=45)


def test_an_all_day_event_lasts_the_day():
    event = from_ical(_calendar("DTSTART;VALUE=DATE:20261201", "SUMMARY:Studiedag"))
    assert event.end - event.start == timedelta(days=1)


def test_an_event_at_a_moment_without_an_end_ends_when_it_starts():
    event = from_ical(_calendar("DTSTART:20261201T080000Z", "SUMMARY:Påminnelse"))
    assert event.start == event.end == datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.mark.parametrize(
    "times",
    [
        ("DTEND:20261201T083000Z",),
        ("DTSTART:20261301T250000Z", "DTEND:20261201T083000Z"),
        ("DTSTART:20261201T080000Z", "DTEND:imorgon"),
        ("DTSTART:20261201T080000Z", "DURATION:en timme"),
    ],
    ids=["no start", "no such date", "broken end", "broken duration"],
)
def test_an_event_without_readable_times_is_unreadable_and_can_be_named(times):
    with pytest.raises(UnreadableEvent) as caught:
        from_ical(_calendar(*times, "SUMMARY:Samtal med Alva\\, klass 7"))
    assert caught.value.uid == "e1@client"
    assert caught.value.title == "Samtal med Alva, klass 7"


def test_an_odd_sequence_written_by_a_client_is_read_as_zero():
    event = from_ical(_calendar("DTSTART:20261201T080000Z", "DTEND:20261201T083000Z", "SEQUENCE:x"))
    assert event.sequence == 0


def test_a_task_is_no_event():
    text = _calendar("SUMMARY:x").replace("VEVENT", "VTODO")
    assert from_ical(text) is None


@pytest.mark.parametrize(
    "repeated",
    [
        ("SUMMARY:Samtal", "SUMMARY:Föräldrasamtal"),
        ("DESCRIPTION:Första anteckning", "DESCRIPTION:Andra"),
        ("STATUS:CONFIRMED", "STATUS:CANCELLED"),
        ("UID:e2@client",),
        ("X-VIDEOMOTE-UID:a", "X-VIDEOMOTE-UID:b"),
        ("DTSTART:20261201T090000Z",),
    ],
    ids=["summary", "description", "status", "uid", "meeting", "start"],
)
def test_a_property_given_twice_that_an_event_has_once_makes_it_unreadable(repeated):
    """Which of two titles or statuses the clinician meant is not guessed (it was read as
    Python's list text, ``[vText(b'Samtal'), …]``, and became a meeting's title)."""
    with pytest.raises(UnreadableEvent) as caught:
        from_ical(_calendar("DTSTART:20261201T080000Z", "DTEND:20261201T083000Z", *repeated))
    assert caught.value.uid == "e1@client"
