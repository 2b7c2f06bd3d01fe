"""The calendar event as both sides see it, and its iCalendar form (plain Python)."""

from dataclasses import dataclass
from datetime import UTC
from datetime import date
from datetime import datetime
from zoneinfo import ZoneInfo

import hashlib
import icalendar

CATEGORY = "Videomöte"
MEETING_PROPERTY = "X-VIDEOMOTE-UID"
PRODID = "-//Prorenata//Säkert Videomöte CalDAV//SV"


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

    def fingerprint(self) -> str:
        """Changes here are changes someone made; re-serialisation by a server is not."""
        parts = (
            self.title.strip(),
            self.start.astimezone(UTC).isoformat(),
            self.end.astimezone(UTC).isoformat(),
            "cancelled" if self.cancelled else "",
            self.attendee_email.lower(),
        )
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
    calendar.add_component(
        icalendar.Timezone.from_tzid(
            zone,
            first_date=date(event.start.year - 1, 1, 1),
            last_date=date(event.end.year + 2, 1, 1),
        )
    )
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
        attendee = icalendar.vCalAddress(f"mailto:{event.attendee_email}")
        attendee.params["cn"] = icalendar.vText(event.attendee_name or event.attendee_email)
        attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
        attendee.params["schedule-agent"] = icalendar.vText("CLIENT")
        vevent.add("attendee", attendee)
    calendar.add_component(vevent)
    return calendar.to_ical().decode("utf-8")


def _as_datetime(value, zone: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))
    return datetime(value.year, value.month, value.day, tzinfo=ZoneInfo(zone))


def from_ical(text: str | bytes, zone: str = "Europe/Stockholm") -> CalendarEvent | None:
    """The first VEVENT of a calendar object, or None if there is none."""
    calendar = icalendar.Calendar.from_ical(text)
    events = calendar.walk("VEVENT")
    if not events:
        return None
    vevent = events[0]
    categories = [str(c) for c in vevent.categories]
    attendee = vevent.get("attendee")
    if isinstance(attendee, list):
        attendee = attendee[0] if attendee else None
    email = str(attendee).removeprefix("mailto:").removeprefix("MAILTO:") if attendee else ""
    name = str(attendee.params.get("CN", "")) if attendee is not None else ""
    start = _as_datetime(vevent.decoded("dtstart"), zone)
    end = _as_datetime(vevent.decoded("dtend"), zone) if "dtend" in vevent else start
    return CalendarEvent(
        uid=str(vevent.get("uid", "")),
        title=str(vevent.get("summary", "")),
        start=start,
        end=end,
        cancelled=str(vevent.get("status", "")).upper() == "CANCELLED",
        attendee_email=email,
        attendee_name=name,
        is_video=CATEGORY in categories or MEETING_PROPERTY in vevent,
        meeting_uid=str(vevent.get(MEETING_PROPERTY, "")),
        sequence=int(vevent.get("sequence", 0)),
    )
