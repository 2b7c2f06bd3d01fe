"""The VTIMEZONE we write, in the form Outlook and Thunderbird write (plain Python).

One STANDARD and one DAYLIGHT block, each with the yearly rule in force around the
meeting (``RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU``) and its first onset in 1970 as
DTSTART, the local time *before* the change (RFC 5545 3.6.5: DTSTART is read with
TZOFFSETFROM). Why not icalendar's ``Timezone.from_tzid``: it writes each change of a
window of years as a comma-separated RDATE list, and Radicale (vobject) keeps only the
first date of such a list, vobject reuses the first VTIMEZONE it met for a TZID for the
whole process, and Outlook reads only the latest STANDARD block: a meeting outside the
window, or in its later years, moved by an hour.

The rule is derived from the zone's own transitions (zoneinfo), for any IANA zone: a
zone without changes gets one STANDARD block; transitions that fit no yearly
nth-weekday rule (a zone changing its rules just then) get one block per change, each
change its own DTSTART and never a list.
"""

from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import icalendar

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: Coarse scan step: no zone changes twice within it.
_STEP = timedelta(hours=6)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class _Block:
    """One STANDARD or DAYLIGHT block: an onset (local wall time before it), offsets,
    and the yearly rule (month, nth weekday) when there is one."""

    daylight: bool
    start: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str
    month: int = 0
    weekday: int = 0
    nth: int = 0


def vtimezone(tzid: str, around: datetime) -> icalendar.Timezone:
    """The VTIMEZONE for ``tzid`` as in force around ``around`` (the meeting's start).

    The rule is checked against the year before the meeting's, its own and the next,
    so a meeting's end or a move by some months is covered by the same rule.
    """
    zone = icalendar.Timezone()
    zone.add("tzid", tzid)
    for block in _blocks(tzid, around.year):
        part = icalendar.TimezoneDaylight() if block.daylight else icalendar.TimezoneStandard()
        part.add("dtstart", block.start)
        if block.month:
            rule = {
                "freq": "YEARLY",
                "bymonth": block.month,
                "byday": f"{block.nth}{_WEEKDAYS[block.weekday]}",
            }
            part.add("rrule", rule)
        part.add("tzoffsetfrom", block.offset_from)
        part.add("tzoffsetto", block.offset_to)
        part.add("tzname", block.name)
        zone.add_component(part)
    return zone


@lru_cache(maxsize=256)
def _blocks(tzid: str, year: int) -> tuple[_Block, ...]:
    zone = ZoneInfo(tzid)
    years = (year - 1, year, year + 1)
    first = datetime(years[0], 1, 1, tzinfo=UTC)
    changes = _transitions(zone, first, datetime(years[-1] + 1, 1, 1, tzinfo=UTC))
    before = first.astimezone(zone)
    if not changes:
        # No change around the meeting: one offset (Asia/Tokyo, or a zone that gave up DST).
        offset = before.utcoffset()
        return (_Block(False, _EPOCH, offset, offset, before.tzname() or ""),)
    yearly = _yearly(zone, changes, years)
    if yearly:
        return yearly
    # Rare: the rules change around the meeting. Each change its own block, with the
    # offset before the first as the base; dates before 1970 mean nothing to anyone.
    offset = before.utcoffset()
    base = _Block(changes[0][2] < offset, _EPOCH, offset, offset, before.tzname() or "")
    return (base, *(_block(zone, *change) for change in changes))


def _transitions(
    zone: ZoneInfo, first: datetime, last: datetime
) -> list[tuple[datetime, timedelta, timedelta]]:
    """(UTC instant, offset before, offset after) of each change in [first, last)."""
    found = []
    moment, offset = first, first.astimezone(zone).utcoffset()
    while moment < last:
        later = moment + _STEP
        after = later.astimezone(zone).utcoffset()
        if after != offset:
            low, high = 0, int(_STEP.total_seconds())  # seconds after moment: old, new offset
            while high - low > 1:
                middle = (low + high) // 2
                if (moment + timedelta(seconds=middle)).astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append((moment + timedelta(seconds=high), offset, after))
        moment, offset = later, after
    return found


def _block(zone: ZoneInfo, instant: datetime, before: timedelta, after: timedelta) -> _Block:
    """One change as its own block; DTSTART in the local time before it.

    The larger offset is DAYLIGHT, as with the yearly rules: dateutil (vobject, Radicale,
    icalendar) reads the hour a clock goes back right only so, and zoneinfo's own flag
    says "daylight" for Casablanca's Ramadan hour, which is the smaller offset."""
    wall = (instant + before).replace(tzinfo=None)
    return _Block(after > before, wall, before, after, instant.astimezone(zone).tzname() or "")


def _yearly(
    zone: ZoneInfo, changes: list[tuple[datetime, timedelta, timedelta]], years: tuple[int, ...]
) -> tuple[_Block, ...] | None:
    """Two yearly rules (to and from daylight saving time) that give exactly these changes."""
    if len(changes) != 2 * len(years):
        return None
    groups: dict[tuple[timedelta, timedelta], list[tuple[datetime, datetime]]] = {}
    for instant, before, after in changes:
        wall = (instant + before).replace(tzinfo=None)
        groups.setdefault((before, after), []).append((instant, wall))
    if len(groups) != 2:
        return None
    (one, two) = groups
    if one != (two[1], two[0]):
        return None  # not back and forth between the same two offsets
    blocks = []
    for (before, after), onsets in groups.items():
        walls = [wall for _instant, wall in onsets]
        if sorted(wall.year for wall in walls) != list(years):
            return None
        rule = _rule(walls)
        if rule is None:
            return None
        month, weekday, nth = rule
        name = onsets[-1][0].astimezone(zone).tzname() or ""
        blocks.append(
            _Block(
                after > before,  # the larger offset is the daylight one, as Outlook sees it
                _onset_in(1970, month, weekday, nth, walls[0]),
                before,
                after,
                name,
                month,
                weekday,
                nth,
            )
        )
    blocks.sort(key=lambda block: block.daylight)  # STANDARD first, as Outlook writes it
    return tuple(blocks)


def _rule(walls: list[datetime]) -> tuple[int, int, int] | None:
    """(month, weekday, nth) shared by all these local times, or None.

    The last weekday of the month (-1) is preferred when it fits: most zones' rule."""
    if len({(wall.month, wall.weekday(), wall.time()) for wall in walls}) != 1:
        return None
    from_start = {(wall.day - 1) // 7 + 1 for wall in walls}
    from_end = {-((monthrange(wall.year, wall.month)[1] - wall.day) // 7 + 1) for wall in walls}
    for candidates in ({-1} if from_end == {-1} else set(), from_start, from_end):
        if len(candidates) == 1:
            return walls[0].month, walls[0].weekday(), candidates.pop()
    return None


def _onset_in(year: int, month: int, weekday: int, nth: int, wall: datetime) -> datetime:
    """The rule's date in ``year`` at the change's local time of day."""
    days = monthrange(year, month)[1]
    if nth > 0:
        first = (weekday - datetime(year, month, 1).weekday()) % 7 + 1
        day = first + 7 * (nth - 1)
    else:
        last = days - (datetime(year, month, days).weekday() - weekday) % 7
        day = last + 7 * (nth + 1)
    return datetime(year, month, day, wall.hour, wall.minute, wall.second)
