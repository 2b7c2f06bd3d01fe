"""The CalDAV client against a real Radicale: push, incremental pull, If-Match."""

from calendar_readers import assert_read_alike
from calendar_readers import assert_yearly_rules
from calendar_readers import one_vobject_process  # noqa: F401 - a fixture
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.caldav_bridge.client import CalendarAccount
from prorenata.videomote.caldav_bridge.client import PreconditionFailed
from prorenata.videomote.caldav_bridge.client import ServerUnavailable
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.events import from_ical
from prorenata.videomote.caldav_bridge.events import to_ical
from zoneinfo import ZoneInfo

import icalendar
import pytest
import requests
import vobject

ROOM = "http://localhost:8080/Plone/elever/elev-1/mote-1/@@videomote-rum"
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _meeting(uid="m1@videomote", hour=0, sequence=0):
    start = START + timedelta(hours=hour)
    return CalendarEvent(
        uid=uid,
        title="Samtal",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_email="anna@example.se",
        attendee_name="Anna",
        meeting_uid="plone-uid-1",
        sequence=sequence,
    )


@pytest.fixture
def account(caldav_server):
    return CalendarAccount(caldav_server["url"], "sara", "app-token")


def test_pushed_meeting_shows_the_staff_room_and_never_the_participant_link(account):
    href, etag = account.put("m1@videomote", to_ical(_meeting(), "Europe/Stockholm", ROOM))
    assert etag
    body = requests.get(href, auth=("sara", "x")).text
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["LOCATION"]) == ROOM
    assert str(event["X-VIDEOMOTE-UID"]) == "plone-uid-1"
    assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"
    assert event["ATTENDEE"].params["SCHEDULE-AGENT"] == "CLIENT"
    assert int(event["SEQUENCE"]) == 0
    assert "logga-in" not in body and "möteskod" not in body.lower()


@pytest.mark.usefixtures("one_vobject_process")
def test_a_pushed_meeting_keeps_its_instant_in_the_copy_the_server_keeps(account):
    """Radicale keeps what vobject makes of our text (it kept only the first date of an
    RDATE list); a reader in one process keeps the first VTIMEZONE it met per TZID."""
    meetings = {
        "earlier@videomote": (datetime(2026, 12, 1, 9, tzinfo=STOCKHOLM), 8),
        "summer@videomote": (datetime(2027, 6, 10, 10, tzinfo=STOCKHOLM), 8),
        "winter@videomote": (datetime(2027, 1, 14, 10, tzinfo=STOCKHOLM), 9),
        "later@videomote": (datetime(2030, 6, 10, 10, tzinfo=STOCKHOLM), 8),
    }
    for uid, (start, utc_hour) in meetings.items():
        event = replace(_meeting(uid), start=start, end=start + timedelta(minutes=30))
        href, _etag = account.put(uid, to_ical(event, "Europe/Stockholm", ROOM))
        stored = requests.get(href, auth=("sara", "x")).text
        assert_yearly_rules(stored)
        read = vobject.readOne(stored).vevent.dtstart.value
        assert read.astimezone(UTC) == start.replace(hour=utc_hour, tzinfo=UTC)
        assert_read_alike(stored, "Europe/Stockholm", start)
    listing = account.changes_since(None).changed
    assert {uid: item.event.start for uid, item in listing.items()} == {
        uid: start for uid, (start, _hour) in meetings.items()
    }


def test_calendar_is_created_once_and_found_again(account, caldav_server):
    first = account.calendar().url
    again = CalendarAccount(caldav_server["url"], "sara", "app-token").calendar().url
    assert first == again


def test_incremental_sync_returns_only_what_changed(account):
    for i in range(3):
        account.put(
            f"m{i}@videomote", to_ical(_meeting(f"m{i}@videomote", i), "Europe/Stockholm", ROOM)
        )
    first = account.changes_since(None)
    assert first.full and len(first.changed) == 3
    # Thunderbird moves one event and deletes another, by plain HTTP.
    moved = first.changed["m1@videomote"]
    text = to_ical(_meeting("m1@videomote", 6), "Europe/Stockholm", ROOM)
    requests.put(
        moved.href,
        data=text.encode(),
        auth=("sara", "x"),
        headers={"Content-Type": "text/calendar"},
    ).raise_for_status()
    gone = first.changed["m2@videomote"]
    requests.delete(gone.href, auth=("sara", "x")).raise_for_status()
    second = account.changes_since(first.token)
    assert not second.full
    assert list(second.changed) == ["m1@videomote"]
    assert second.changed["m1@videomote"].event.start == START + timedelta(hours=6)
    assert second.deleted_hrefs == {gone.href}
    third = account.changes_since(second.token)
    assert third.changed == {} and third.deleted_hrefs == set()


def test_write_with_a_stale_etag_is_refused(account):
    href, etag = account.put("m1@videomote", to_ical(_meeting(), "Europe/Stockholm", ROOM))
    account.put("m1@videomote", to_ical(_meeting(hour=1), "Europe/Stockholm", ROOM), etag=etag)
    with pytest.raises(PreconditionFailed):
        account.put("m1@videomote", to_ical(_meeting(hour=2), "Europe/Stockholm", ROOM), etag=etag)


def test_server_down_is_an_error_to_retry_not_an_empty_calendar(account, caldav_server):
    account.calendar()
    caldav_server["process"].terminate()
    caldav_server["process"].wait(timeout=10)
    with pytest.raises(ServerUnavailable):
        account.changes_since(None)


def test_event_from_a_client_is_read_back():
    text = to_ical(_meeting(), "Europe/Stockholm", ROOM)
    event = from_ical(text)
    assert event.is_video and event.attendee_email == "anna@example.se"
    assert event.fingerprint() == _meeting().fingerprint()


def test_a_calendar_deleted_in_the_client_is_made_again_on_the_next_read(account):
    """A kept account (borrow_account) must not go on reading a calendar that is gone."""
    account.put("m1@videomote", to_ical(_meeting(), "Europe/Stockholm", ROOM))
    first = account.changes_since(None)
    requests.delete(str(account.calendar().url), auth=("sara", "x")).raise_for_status()
    again = account.changes_since(first.token)
    assert again.full and again.changed == {}
    href, _etag = account.put("m1@videomote", to_ical(_meeting(), "Europe/Stockholm", ROOM))
    assert requests.get(href, auth=("sara", "x")).status_code == 200


def _thunderbird_moves_and_deletes(first):
    """Thunderbird moves m1 by six hours and deletes m2, by plain HTTP."""
    moved = first.changed["m1@videomote"]
    requests.put(
        moved.href,
        data=to_ical(_meeting("m1@videomote", 6), "Europe/Stockholm", ROOM).encode(),
        auth=("sara", "x"),
        headers={"Content-Type": "text/calendar"},
    ).raise_for_status()
    gone = first.changed["m2@videomote"]
    requests.delete(gone.href, auth=("sara", "x")).raise_for_status()
    return gone.href


def _three_meetings(account):
    for i in range(3):
        account.put(
            f"m{i}@videomote", to_ical(_meeting(f"m{i}@videomote", i), "Europe/Stockholm", ROOM)
        )
    first = account.changes_since(None)
    return first, {item.href: item.etag for item in first.changed.values()}


def test_a_full_listing_fetches_only_what_changed_since_the_stored_status(account):
    """Without a token (lost after a 412, or never had one) the stored ETags tell what
    is unchanged: only the moved event is read, the deleted one is reported gone."""
    first, known = _three_meetings(account)
    gone = _thunderbird_moves_and_deletes(first)
    again = account.changes_since(None, known=known)
    assert again.full
    assert list(again.changed) == ["m1@videomote"]
    assert again.changed["m1@videomote"].event.start == START + timedelta(hours=6)
    assert again.deleted_hrefs == {gone}
    known = {h: e for h, e in known.items() if h != gone}
    known[again.changed["m1@videomote"].href] = again.changed["m1@videomote"].etag
    quiet = account.changes_since(None, known=known)
    assert quiet.changed == {} and quiet.deleted_hrefs == set()


def test_our_own_write_leaves_nothing_to_read_in_a_full_listing(account):
    """The ETag a PUT answers with is the one the listing shows: what the bridge wrote
    itself is not read back."""
    first, known = _three_meetings(account)
    item = first.changed["m0@videomote"]
    href, etag = account.put(
        item.event.uid,
        to_ical(_meeting("m0@videomote", 5), "Europe/Stockholm", ROOM),
        etag=item.etag,
        href=item.href,
    )
    known[href] = etag
    listing = account.changes_since(None, known=known)
    assert listing.changed == {} and listing.deleted_hrefs == set()


def test_a_token_the_server_no_longer_knows_falls_back_to_a_listing(account):
    first, known = _three_meetings(account)
    gone = _thunderbird_moves_and_deletes(first)
    expired = account.changes_since("http://radicale.org/ns/sync/" + "0" * 64, known=known)
    assert expired.full and expired.token
    assert list(expired.changed) == ["m1@videomote"]
    assert expired.deleted_hrefs == {gone}
