"""How other programs read our calendars: icalendar's own expansion of the VTIMEZONE (not
its look-up of the TZID in zoneinfo, which would ignore what we wrote) and vobject, in one
process: vobject keeps the first VTIMEZONE it meets for a TZID and uses it for every later
calendar with that TZID, as Radicale's process does.
"""

from bisect import bisect_right
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import functools
import icalendar
import pytest
import re
import vobject


@pytest.fixture
def one_vobject_process():
    """vobject's TZID registry as a fresh process has it; shared by the whole test."""
    registry = vars(vobject.icalendar)["__tzidMap"]
    kept = dict(registry)
    registry.clear()
    registry["UTC"] = kept["UTC"]
    yield
    registry.clear()
    registry.update(kept)


def icalendar_offsets(vtimezone: icalendar.Timezone):
    """The UTC offset at an instant by icalendar's expansion of the VTIMEZONE."""
    times, infos = vtimezone.get_transitions()

    def offset(instant: datetime) -> timedelta:
        index = bisect_right(times, instant.astimezone(UTC).replace(tzinfo=None)) - 1
        assert index >= 0, f"{instant} is before the VTIMEZONE's first onset"
        return infos[index][0]

    return offset


@functools.cache
def changes(zone: str, year: int) -> tuple[datetime, ...]:
    """The instants the zone changes its offset in ``year`` (on the hour for these zones)."""
    tz = ZoneInfo(zone)
    found, moment = [], datetime(year, 1, 1, tzinfo=UTC)
    while moment.year == year:
        later = moment + timedelta(hours=1)
        if later.astimezone(tz).utcoffset() != moment.astimezone(tz).utcoffset():
            found.append(later)
        moment = later
    return tuple(found)


def assert_read_alike(text: str, zone: str, start: datetime) -> None:
    """icalendar and vobject put DTSTART at the meeting's instant and change the offset
    exactly when zoneinfo does (RFC 5545 onsets, not an hour off)."""
    tz, instant = ZoneInfo(zone), start.astimezone(UTC)
    calendar = icalendar.Calendar.from_ical(text)
    (vtz,) = calendar.walk("VTIMEZONE")
    offset_at = icalendar_offsets(vtz)
    wall = calendar.walk("VEVENT")[0]["DTSTART"].dt.replace(tzinfo=None)
    assert wall - offset_at(instant) == instant.replace(tzinfo=None), text
    read = vobject.readOne(text).vevent.dtstart.value
    assert read.astimezone(UTC) == instant, (zone, start, read)
    for change in changes(zone, start.year):
        for moment in (change - timedelta(minutes=1), change):
            expected = moment.astimezone(tz).utcoffset()
            assert offset_at(moment) == expected, (zone, moment)
            assert moment.astimezone(read.tzinfo).utcoffset() == expected, (zone, moment)


def assert_yearly_rules(text: str) -> None:
    """The VTIMEZONE has yearly rules (or one block for a zone without changes) and no
    comma-separated RDATE list."""
    vtz = text[text.index("BEGIN:VTIMEZONE") : text.index("END:VTIMEZONE")]
    assert "RRULE:FREQ=YEARLY" in vtz or vtz.count("BEGIN:") == 2, vtz
    assert not re.search(r"^RDATE[^\r\n]*,", vtz, re.MULTILINE), vtz
    assert "only works" not in vtz
