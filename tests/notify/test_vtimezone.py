"""The VTIMEZONE in invitations and pushed events, as icalendar and vobject read it
(see calendar_readers: vobject in one process keeps the first VTIMEZONE per TZID)."""

from calendar_readers import assert_read_alike
from calendar_readers import assert_yearly_rules
from calendar_readers import one_vobject_process  # noqa: F401 - a fixture
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.events import to_ical
from prorenata.videomote.calendar_zone import vtimezone
from prorenata.videomote.notify.imip import INVITATION
from prorenata.videomote.notify.imip import MeetingNotice
from prorenata.videomote.notify.imip import build_message
from zoneinfo import ZoneInfo

import email
import email.policy
import pytest
import re
import vobject

ZONES = ("Europe/Stockholm", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
YEARS = range(2026, 2031)
ROOM = "https://journal.example.se/elever/elev-1/mote-1/@@videomote-rum"
JOIN = "https://journal.example.se/videomote/logga-in#" + "t" * 43
CODE = "ABCD-EFGH-JKLM"


def _invitation_ics(zone: str, start: datetime) -> str:
    """The invite.ics attachment, as the recipient's mail program gets it."""
    notice = MeetingNotice(
        kind=INVITATION,
        uid=f"{start.isoformat()}@videomote",
        sequence=0,
        title="Uppföljande samtal",
        start=start,
        end=start + timedelta(minutes=30),
        timezone=zone,
        organiser_name="Sara Svensson",
        invitee_name="Anna Andersson",
        invitee_email="anna@example.se",
        code_page_url="https://journal.example.se/videomote",
        service_address="noreply@journal.example.se",
        sender_name="Prorenata Videomöte",
        join_url=JOIN,
        meeting_code=CODE,
    )
    sent = build_message(notice, now=datetime(2026, 1, 5, tzinfo=UTC)).as_bytes()
    received = email.message_from_bytes(sent, policy=email.policy.default)
    (part,) = [p for p in received.walk() if p.get_filename() == "invite.ics"]
    return part.get_content().decode("utf-8")


def _pushed_ics(zone: str, start: datetime) -> str:
    event = CalendarEvent(
        uid=f"{start.isoformat()}@videomote",
        title="Uppföljande samtal",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_email="anna@example.se",
        meeting_uid="plone-uid-1",
    )
    return to_ical(event, zone, ROOM)


BUILDERS = {"invitation": _invitation_ics, "pushed event": _pushed_ics}


@pytest.mark.parametrize("build", BUILDERS.values(), ids=BUILDERS.keys())
@pytest.mark.usefixtures("one_vobject_process")
def test_meetings_in_several_zones_and_years_are_read_at_their_instant_in_one_process(build):
    for zone in ZONES:
        for year in YEARS:
            for month, day in ((1, 14), (6, 10), (11, 20)):
                start = datetime(year, month, day, 10, 0, tzinfo=ZoneInfo(zone))
                text = build(zone, start)
                assert_yearly_rules(text)
                assert_read_alike(text, zone, start)


@pytest.mark.usefixtures("one_vobject_process")
def test_a_june_2027_stockholm_meeting_is_read_at_eight_utc_after_an_earlier_one():
    """What Radicale's process did: a 2026 invitation first, then one for 2027-06-10."""
    stockholm = ZoneInfo("Europe/Stockholm")
    vobject.readOne(_invitation_ics("Europe/Stockholm", datetime(2026, 3, 2, 9, tzinfo=stockholm)))
    text = _invitation_ics("Europe/Stockholm", datetime(2027, 6, 10, 10, tzinfo=stockholm))
    read = vobject.readOne(text).vevent.dtstart.value
    assert read.astimezone(UTC) == datetime(2027, 6, 10, 8, tzinfo=UTC)


def test_stockholm_is_written_as_outlook_and_thunderbird_write_it():
    text = vtimezone("Europe/Stockholm", datetime(2027, 6, 10, 10)).to_ical().decode()
    assert text.count("BEGIN:STANDARD") == 1 and text.count("BEGIN:DAYLIGHT") == 1
    daylight = text[text.index("BEGIN:DAYLIGHT") : text.index("END:DAYLIGHT")]
    standard = text[text.index("BEGIN:STANDARD") : text.index("END:STANDARD")]
    for block, dtstart, month, offsets in (
        (daylight, "19700329T020000", "3", ("+0100", "+0200")),
        (standard, "19701025T030000", "10", ("+0200", "+0100")),
    ):
        assert f"DTSTART:{dtstart}" in block
        rule = re.search(r"RRULE:(\S+)", block).group(1)
        assert set(rule.split(";")) == {"FREQ=YEARLY", f"BYMONTH={month}", "BYDAY=-1SU"}
        assert f"TZOFFSETFROM:{offsets[0]}" in block and f"TZOFFSETTO:{offsets[1]}" in block
    assert "RDATE" not in text


@pytest.mark.parametrize(
    ("zone", "daylight", "standard"),
    [
        ("America/New_York", "BYDAY=2SU;BYMONTH=3", "BYDAY=1SU;BYMONTH=11"),
        ("Australia/Sydney", "BYDAY=1SU;BYMONTH=10", "BYDAY=1SU;BYMONTH=4"),
    ],
)
def test_other_zones_get_their_own_yearly_rules(zone, daylight, standard):
    text = vtimezone(zone, datetime(2028, 2, 1)).to_ical().decode()
    assert text.index(daylight) > text.index("BEGIN:DAYLIGHT")
    assert text.index(standard) < text.index("END:STANDARD")


def test_a_zone_without_daylight_saving_time_has_one_standard_block():
    text = vtimezone("Asia/Tokyo", datetime(2027, 6, 10)).to_ical().decode()
    assert text.count("BEGIN:STANDARD") == 1 and "DAYLIGHT" not in text
    assert "TZOFFSETFROM:+0900" in text and "TZOFFSETTO:+0900" in text


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        # Iran gave up daylight saving time after 2022.
        ("Asia/Tehran", datetime(2022, 6, 1, 10)),
        # Morocco's changes follow Ramadan: no yearly rule.
        ("Africa/Casablanca", datetime(2027, 2, 20, 10)),
    ],
)
@pytest.mark.usefixtures("one_vobject_process")
def test_changes_that_fit_no_yearly_rule_get_one_block_each(zone, start):
    start = start.replace(tzinfo=ZoneInfo(zone))
    for build in BUILDERS.values():
        text = build(zone, start)
        vtz = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE")]
        assert "RRULE" not in vtz and "RDATE" not in vtz
        assert vtz.count("DTSTART") > 2  # the base and one per change
        assert_read_alike(text, zone, start)
