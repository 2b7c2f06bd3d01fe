"""A meeting's attendance in the database: the media server's join/leave events, how
each person was identified, and how and when the meeting ended.

Kept in an annotation of the meeting (an object of its own, so reports of the media
server and changes of the meeting itself do not rewrite each other). Bounded: at most
:data:`MAX_EVENTS` events and :data:`MAX_PEOPLE` identities per meeting; beyond that new
events are counted as dropped, not stored.
"""

from BTrees.OOBTree import OOBTree
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from persistent import Persistent
from persistent.mapping import PersistentMapping
from plone import api
from prorenata.videomote import _
from prorenata.videomote.access import signins
from prorenata.videomote.booking.participants import TOLK
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.storage import annotated
from prorenata.videomote.visit import attendance

ANNOTATION_KEY = "prorenata.videomote.attendance"
#: The site's view the media server reports joins and leaves to (``visit/views.py``).
REPORT_VIEW = "videomote-narvaro"
MAX_EVENTS = 1000
MAX_PEOPLE = 50
#: A meeting whose room still seems occupied (a leave never reported: the media server
#: crashed) ends this long after its end plus grace anyway.
HARD_STOP = timedelta(hours=4)
KINDS = (attendance.JOIN, attendance.LEAVE)
REASONS = ("", attendance.LEFT, attendance.LOST, attendance.ENDED)

#: How a person was identified: method → message id; eIDAS assurance levels.
METHOD_TITLES = {
    "sms-otp": _("engångskod via SMS"),
    "journal-login": _("inloggad i journalen"),
}
LEVEL_TITLES = {
    "low": _("låg"),
    "substantial": _("väsentlig"),
    "high": _("hög"),
}
STAFF_IDENTIFICATION = ("journal-login", "")


class Attendance(Persistent):
    """Events keyed by (time, id): ordered, and a report repeated is stored once."""

    def __init__(self):
        self.events = OOBTree()
        self.identities = PersistentMapping()
        self.ended_at: datetime | None = None
        self.ended_by = ""
        self.outcome = ""
        self.note_uid = ""
        self.dropped = 0


def record_of(meeting, create: bool = True) -> Attendance | None:
    return annotated(meeting, ANNOTATION_KEY, Attendance, create)


def _text(value, limit: int) -> str:
    return str(value or "")[:limit]


def _parse(item: dict, generation: int) -> tuple | None:
    """A reported event as stored, or None when it is malformed or for another time."""
    if not isinstance(item, dict) or item.get("kind") not in KINDS:
        return None
    if item.get("g", 0) != generation or item.get("reason", "") not in REASONS:
        return None
    try:
        at = datetime.fromisoformat(str(item.get("at", ""))[:40])
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    key = (at.astimezone(UTC).isoformat(), _text(item.get("id"), 32))
    value = (
        _text(item.get("who"), MAX_TOKEN),
        _text(item.get("name"), MAX_NAME),
        "staff" if item.get("role") == "staff" else "participant",
        item["kind"],
        item.get("reason", ""),
        generation,
    )
    return key, value


def add_events(meeting, items: list) -> int:
    """Store reported events of the meeting's current time; returns how many were new."""
    generation = signins.generation(meeting)
    record = record_of(meeting)
    added = 0
    for item in items:
        parsed = _parse(item, generation)
        if parsed is None or parsed[0] in record.events:
            continue
        if len(record.events) >= MAX_EVENTS:
            record.dropped += 1
            continue
        record.events[parsed[0]] = parsed[1]
        added += 1
    return added


def remember_identity(meeting, who: str, method: str, level: str) -> None:
    """How the person behind ``who`` (a join token's ``w``) proved who they are."""
    record = record_of(meeting)
    value = (_text(method, 64), _text(level, 32))
    if record.identities.get(who) == value:
        return
    if who in record.identities or len(record.identities) < MAX_PEOPLE:
        record.identities[who] = value


def events(meeting) -> list[attendance.Event]:
    """The events of the meeting's current time: a meeting moved to a new time (its room
    generation counted up) starts with none, whoever was in the old time's room."""
    record = record_of(meeting, create=False)
    if record is None:
        return []
    generation = signins.generation(meeting)
    return [
        attendance.Event(datetime.fromisoformat(key[0]), *value[:5])
        for key, value in record.events.items()
        if value[5:6] == (generation,)
    ]


def grace() -> timedelta:
    """After its end, a meeting stays open this long (the participants' join window)."""
    return timedelta(minutes=signins.setting("session_grace_minutes", 15))


def is_on(meeting) -> bool:
    return meeting.state in (STATE_BOOKED, STATE_STARTED)


def overdue_end(meeting, now: datetime) -> datetime | None:
    """When a meeting that is still on has ended by time: its end plus grace passed and
    nobody is in the room (or the hard stop passed). None if it has not."""
    if not is_on(meeting):
        return None
    closes = meeting.end + grace()
    if now <= closes:
        return None
    recorded = events(meeting)
    people = attendance.presences(recorded)
    if any(p.present for p in people) and now <= closes + HARD_STOP:
        return None
    last = max((e.at for e in recorded), default=closes)
    return min(max(closes, last), now)


def presences(meeting) -> list[attendance.Presence]:
    record = record_of(meeting, create=False)
    ended_at = record.ended_at if record is not None else None
    return attendance.presences(events(meeting), ended_at)


def roles(meeting) -> dict[str, str]:
    """Each extra participant's role by their join-token id ("tolk", "vardnadshavare",
    "annan"); the invitee and staff are not in it."""
    return {item["id"]: item["role"] for item in participants.people(meeting)}


def decides(meeting):
    """Who decides whether the visit took place: every participant but an interpreter (an
    interpreter alone in the room is not a visit; the student or a guardian must come)."""
    interpreters = {who for who, role in roles(meeting).items() if role == TOLK}
    return lambda p: attendance.is_participant(p) and p.who not in interpreters


def outcome_of(meeting, ended_at: datetime) -> str:
    people = attendance.presences(events(meeting), ended_at)
    return attendance.outcome(people, meeting.end, counts=decides(meeting))


def identification(meeting, who: str, role: str) -> tuple[str, str]:
    record = record_of(meeting, create=False)
    found = record.identities.get(who) if record is not None else None
    if found:
        return tuple(found)
    return STAFF_IDENTIFICATION if role == "staff" else ("", "")


def utcnow() -> datetime:
    return datetime.now(UTC)


def report_url() -> str:
    """Where the media server reports joins and leaves (in every join token)."""
    return f"{api.portal.get().absolute_url()}/@@{REPORT_VIEW}"
