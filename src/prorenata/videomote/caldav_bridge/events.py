"""The calendar event as both sides see it, and its iCalendar form (plain Python)."""

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import lru_cache
from prorenata.videomote.booking.rules import MAX_ATTENDEES
from prorenata.videomote.booking.rules import MAX_DESCRIPTION
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_EVENT_BYTES
from prorenata.videomote.booking.rules import MAX_ICAL_UID
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.calendar_zone import vtimezone
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

import hashlib
import icalendar
import re

CATEGORY = "Videomöte"
MEETING_PROPERTY = "X-VIDEOMOTE-UID"
#: The ATTENDEE parameter that marks a meeting's extra participant (its role).
EXTRA_PARAMETER = "X-VIDEOMOTE-ROLE"
PRODID = "-//Prorenata//Säkert Videomöte CalDAV//SV"
_TZID = re.compile(r";TZID=\"?([^:;\"]+)")
_LINE = r"^{}(?:;[^:\r\n]*)?:([^\r\n]*)"
_SERIES = ("RRULE", "RDATE", "RECURRENCE-ID")


class UnreadableEvent(ValueError):
    """A VEVENT that cannot be read as a meeting (no start time, a broken date, ...).

    ``uid`` and ``title`` are what a plain look at the text found (may be empty): enough
    to keep track of the item and to name it to the clinician.
    """

    def __init__(self, reason: str, uid: str = "", title: str = ""):
        super().__init__(reason)
        self.uid = uid
        self.title = title


class EventTooLarge(ValueError):
    """An event larger, or with a text longer, than the limits of ``booking/rules.py``:
    it is not parsed (or not used), so that one calendar item cannot exhaust memory or
    put an unbounded text into the journal, an e-mail or the room."""


def _raw_value(name: str, text: str) -> str:
    found = re.search(_LINE.format(name), text, re.MULTILINE | re.IGNORECASE)
    return found.group(1).strip().replace("\\,", ",") if found else ""


def _raw_names(text: str | bytes) -> tuple[str, str]:
    """UID and SUMMARY found by a plain look at an item, within the limits (a UID too
    long to keep is dropped: the item is then known by its address). Searches the text
    as it is, bytes or not, without copying it (a 5 MB item stays one 5 MB item)."""
    found = []
    for name in ("UID", "SUMMARY"):
        pattern = _LINE.format(name)
        if isinstance(text, bytes):
            begin = text.find(b"BEGIN:VEVENT")
            match = re.compile(pattern.encode(), re.MULTILINE | re.IGNORECASE).search(
                text, max(begin, 0)
            )
            value = match.group(1)[: 4 * MAX_ICAL_UID].decode("utf-8", "replace") if match else ""
        else:
            begin = text.find("BEGIN:VEVENT")
            match = re.compile(pattern, re.MULTILINE | re.IGNORECASE).search(text, max(begin, 0))
            value = match.group(1) if match else ""
        found.append(value.strip().replace("\\,", ","))
    uid, title = found
    return (uid if len(uid) <= MAX_ICAL_UID else ""), title[:MAX_TITLE]


@dataclass(frozen=True)
class CalendarEvent:
    """What sync compares: title, time, cancellation, invitee; and how to find the meeting."""

    uid: str
    title: str
    start: datetime
    end: datetime
    cancelled: bool = False
    attendee_email: str = ""
    attendee_name: str = ""
    is_video: bool = False
    meeting_uid: str = ""
    sequence: int = 0
    #: Every ATTENDEE's address (``attendee_email`` is the first): the booking looks for
    #: the one person among them the journal knows.
    attendee_emails: tuple[str, ...] = ()
    #: A series (RRULE, RDATE) or one occurrence of one (RECURRENCE-ID): not a meeting.
    recurring: bool = False
    #: The meeting's extra participants as (e-mail, name, role), written after the
    #: invitee as ATTENDEEs of their own (not compared: the journal decides who they are).
    extra_attendees: tuple[tuple[str, str, str], ...] = ()

    def fingerprint(self) -> str:
        """Changes here are changes someone made; re-serialisation by a server is not."""
        parts = (
            self.title.strip(),
            self.start.astimezone(UTC).isoformat(),
            self.end.astimezone(UTC).isoformat(),
            "cancelled" if self.cancelled else "",
            self.attendee_email.lower(),
        )
        if self.extra_attendees:
            # Only then: events without extra participants keep their stored fingerprints.
            parts += tuple(sorted(email.lower() for email, _name, _role in self.extra_attendees))
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def to_ical(event: CalendarEvent, zone: str, room_url: str) -> str:
    """The event as written to the clinician's calendar.

    LOCATION carries the staff room address (Thunderbird and Outlook show it as a link;
    RFC 7986 CONFERENCE alone is shown by neither); the participant's link and code are
    never written here. SCHEDULE-AGENT=CLIENT keeps a scheduling server from mailing.
    """
    tz = ZoneInfo(zone)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(vtimezone(zone, event.start.astimezone(tz)))
    vevent = icalendar.Event()
    vevent.add("uid", event.uid)
    vevent.add("dtstamp", datetime.now(UTC))
    vevent.add("sequence", event.sequence)
    vevent.add("summary", event.title)
    vevent.add("dtstart", event.start.astimezone(tz))
    vevent.add("dtend", event.end.astimezone(tz))
    vevent.add("status", "CANCELLED" if event.cancelled else "CONFIRMED")
    vevent.add("location", room_url)
    vevent.add("url", room_url)
    vevent.add("description", f"Säkert Videomöte. Öppna mötet: {room_url}")
    conference = icalendar.vUri(room_url)
    vevent.add(
        "conference",
        conference,
        parameters={"value": "URI", "feature": "VIDEO", "label": "Säkert Videomöte"},
    )
    vevent.add("categories", [CATEGORY])
    if event.meeting_uid:
        vevent.add(MEETING_PROPERTY, event.meeting_uid)
    if event.attendee_email:
        vevent.add("attendee", _attendee(event.attendee_email, event.attendee_name))
    for email, name, role in event.extra_attendees:
        attendee = _attendee(email, f"{name} ({role})" if role else name)
        # Marks the journal's extra participants, read back by :func:`from_ical`.
        attendee.params[EXTRA_PARAMETER] = icalendar.vText(role or "-")
        vevent.add("attendee", attendee)
    calendar.add_component(vevent)
    return calendar.to_ical().decode("utf-8")


def _attendee(email: str, name: str) -> icalendar.vCalAddress:
    """One ATTENDEE; SCHEDULE-AGENT=CLIENT: the journal mails them, not the server."""
    attendee = icalendar.vCalAddress(f"mailto:{email}")
    attendee.params["cn"] = icalendar.vText(name or email)
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    attendee.params["schedule-agent"] = icalendar.vText("CLIENT")
    return attendee


def _as_datetime(value, zone: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))
    return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone))


@lru_cache(maxsize=256)
def _known_zone(tzid: str) -> bool:
    try:
        ZoneInfo(tzid)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return False
    return True


def _first_vevent(raw: str):
    begin = raw.find("BEGIN:VEVENT")
    end = raw.find("END:VEVENT", begin)
    if begin < 0 or end < 0:
        return None
    part = raw[begin : end + len("END:VEVENT")]
    # Fast path: with IANA zone names only, the VTIMEZONE blocks need no parsing
    # (they are most of the bytes). Outlook's own zone names go the full way.
    if all(_known_zone(tzid) for tzid in _TZID.findall(part)):
        return icalendar.Event.from_ical(part)
    events = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    return events[0] if events else None


def from_ical(text: str | bytes, zone: str = "Europe/Stockholm") -> CalendarEvent | None:
    """The first VEVENT of a calendar object, or None if there is none (a task, a journal
    entry). Raises :class:`UnreadableEvent` for a VEVENT that is not a readable event,
    or one too large to read (not parsed at all) or with a text over the limits."""
    if len(text) > MAX_EVENT_BYTES:
        raise UnreadableEvent(EventTooLarge.__name__, *_raw_names(text))
    try:
        return _event(text, zone)
    except Exception as error:
        raise UnreadableEvent(type(error).__name__, *_raw_names(text)) from error


def _check_limits(event: "CalendarEvent", description: str, names: list[str]) -> None:
    """Refuse texts the journal would store, mail or show in the room, over the limits."""
    texts = [
        (event.uid, MAX_ICAL_UID),
        (event.title, MAX_TITLE),
        (event.meeting_uid, MAX_TOKEN),
        (description, MAX_DESCRIPTION),
    ]
    texts += [(email, MAX_EMAIL) for email in event.attendee_emails]
    texts += [(name, MAX_NAME) for name in names]
    if len(event.attendee_emails) > MAX_ATTENDEES or any(len(t) > n for t, n in texts):
        raise EventTooLarge(event.uid[:MAX_ICAL_UID])


def _event(text: str | bytes, zone: str) -> CalendarEvent | None:
    raw = text.decode("utf-8") if isinstance(text, bytes) else text
    vevent = _first_vevent(raw)
    if vevent is None:
        return None
    categories = [str(c) for c in vevent.categories]
    attendees = vevent.get("attendee")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
    emails = tuple(_address(a) for a in attendees)
    attendee = attendees[0] if attendees else None
    email = emails[0] if emails else ""
    name = str(attendee.params.get("CN", "")) if attendee is not None else ""
    for name in ("dtstart", "dtend", "duration"):
        _one(vevent, name)
    first = vevent.decoded("dtstart")
    start = _as_datetime(first, zone)
    if "dtend" in vevent:
        end = _as_datetime(vevent.decoded("dtend"), zone)
    elif "duration" in vevent:
        end = start + vevent.decoded("duration")
    else:
        # RFC 5545 3.6.1: a date lasts the day, a date-time is a moment.
        end = start if isinstance(first, datetime) else start + timedelta(days=1)
    if not isinstance(end, datetime):
        raise ValueError("DTEND is not a date")
    try:
        sequence = int(_one(vevent, "sequence", "0"))
    except ValueError:
        sequence = 0  # only ever written by us; a client's odd value changes nothing
    event = CalendarEvent(
        uid=_one(vevent, "uid"),
        title=_one(vevent, "summary"),
        start=start,
        end=end,
        cancelled=_one(vevent, "status").upper() == "CANCELLED",
        attendee_email=email,
        attendee_name=name,
        is_video=CATEGORY in categories or MEETING_PROPERTY in vevent,
        meeting_uid=_one(vevent, MEETING_PROPERTY),
        sequence=sequence,
        attendee_emails=emails,
        recurring=_recurring(vevent, raw),
        extra_attendees=tuple(
            (_address(a), str(a.params.get("CN", "")), str(a.params.get(EXTRA_PARAMETER)))
            for a in attendees[1:]
            if EXTRA_PARAMETER in a.params
        ),
    )
    names = [str(a.params.get("CN", "")) for a in attendees]
    _check_limits(event, _one(vevent, "description"), names)
    return event


class RepeatedProperty(ValueError):
    """A property RFC 5545 allows once per event given twice or more (two SUMMARY lines,
    two STATUS): which one the clinician meant is not ours to guess (a cancellation could
    be missed), so the event is not read."""


def _one(vevent, name: str, default: str = "") -> str:
    """The text of a property an event has once; RepeatedProperty if it has more."""
    value = vevent.get(name, default)
    if isinstance(value, list):
        raise RepeatedProperty(name.upper())
    return str(value)


def _recurring(vevent, raw: str) -> bool:
    """A series, or an object with several VEVENTs (a series and its changed occurrences).

    The VEVENT's own properties: a VTIMEZONE has RRULEs of its own (daylight saving)."""
    return any(name in vevent for name in _SERIES) or raw.count("BEGIN:VEVENT") > 1


def _address(attendee) -> str:
    value = str(attendee)
    return value[len("mailto:") :] if value.lower().startswith("mailto:") else value
