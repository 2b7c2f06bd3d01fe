"""Every text has a maximum length and a meeting a maximum length and date range
(plain rules: the dialog, REST, the edit form and CalDAV share them)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.jointoken import verify_join_token
from prorenata.videomote.booking.rules import MAX_ATTENDEES
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.booking.rules import check_length_of_meeting
from prorenata.videomote.booking.rules import check_not_too_far_ahead
from prorenata.videomote.caldav_bridge.events import UnreadableEvent
from prorenata.videomote.caldav_bridge.events import from_ical
from zope.i18n import translate

import pytest
import tracemalloc

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _swedish(refusal: BookingRefused) -> str:
    return translate(refusal.message, target_language="sv")


@pytest.mark.parametrize("length", [timedelta(days=365), timedelta(days=36500)])
def test_a_meeting_longer_than_the_maximum_is_refused_on_end(length):
    with pytest.raises(BookingRefused) as refused:
        check_length_of_meeting(NOW, NOW + length, 240)
    assert refused.value.field == "end"
    assert _swedish(refused.value) == "Ett videomöte får vara högst 4 h."
    check_length_of_meeting(NOW, NOW + timedelta(hours=4), 240)  # the maximum itself is fine


def test_a_meeting_more_than_two_years_ahead_is_refused_on_start():
    with pytest.raises(BookingRefused) as refused:
        check_not_too_far_ahead(NOW + timedelta(days=731), NOW)
    assert refused.value.field == "start"
    assert "730 dagar framåt" in _swedish(refused.value)
    check_not_too_far_ahead(NOW + timedelta(days=700), NOW)


def test_the_display_name_in_a_join_token_is_bounded():
    key = b"k" * 32
    token = issue_join_token("m", "staff", "Anna " * 200_000, key, NOW)
    claims = verify_join_token(token, key, "m", NOW)
    assert len(claims["n"]) == MAX_NAME and claims["n"].startswith("Anna Anna")
    assert len(token) < 1000


def _event(*lines: str, attendees: int = 1) -> str:
    people = [f"ATTENDEE;CN=Anna:mailto:anna{i}@example.se" for i in range(attendees)]
    body = "\r\n".join(
        ("UID:e1@client", "DTSTAMP:20261201T080000Z", "DTSTART:20261202T080000Z")
        + ("DTEND:20261202T083000Z", *people, *lines)
    )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Client//EN\r\n"
        f"BEGIN:VEVENT\r\n{body}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    "text",
    [
        _event("SUMMARY:" + "S" * (MAX_TITLE + 1)),
        _event("SUMMARY:Samtal", "DESCRIPTION:" + "d" * 20_000),
        _event("SUMMARY:Samtal", attendees=MAX_ATTENDEES + 1),
        _event("SUMMARY:Samtal", "ATTENDEE;CN=" + "N" * 500 + ":mailto:n@example.se"),
        _event("SUMMARY:Samtal", "ATTENDEE:mailto:" + "a" * 300 + "@example.se"),
        _event("SUMMARY:Samtal", "X-VIDEOMOTE-UID:" + "u" * 500),
        _event("SUMMARY:Samtal").replace("UID:e1@client", "UID:" + "u" * 300),
    ],
    ids=["summary", "description", "attendees", "attendee name", "address", "meeting", "uid"],
)
def test_an_event_with_an_over_long_text_is_unreadable(text):
    with pytest.raises(UnreadableEvent) as unreadable:
        from_ical(text)
    assert str(unreadable.value) == "EventTooLarge"
    assert len(unreadable.value.title) <= MAX_TITLE and len(unreadable.value.uid) <= 255


def test_a_5_mb_event_is_unreadable_without_being_parsed():
    text = _event("SUMMARY:Stort möte", "DESCRIPTION:" + "x" * 5_000_000).encode()
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableEvent) as unreadable:
            from_ical(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(unreadable.value) == "EventTooLarge"
    assert (unreadable.value.uid, unreadable.value.title) == ("e1@client", "Stort möte")
    assert peak < 2 * 2**20  # parsing it would take hundreds of MB


def test_an_ordinary_event_is_still_read():
    assert from_ical(_event("SUMMARY:Samtal", "DESCRIPTION:Hej")).title == "Samtal"
