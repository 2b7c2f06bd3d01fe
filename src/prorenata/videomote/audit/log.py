"""The audit log: who did what to which meeting, when and from where.

Entries are immutable tuples in an OOBTree keyed by time, so writing one never
rewrites another and the only removal is the retention purge. Codes, tokens and
personal identity numbers are refused as details.
"""

from BTrees.OOBTree import OOBTree
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from persistent import Persistent
from prorenata.videomote import _

import secrets

BOOKED = "booked"
MOVED = "moved"
CANCELLED = "cancelled"
INVITATION_SENT = "invitation_sent"
LINK_OPENED = "link_opened"
CODE_PAGE_USED = "code_page_used"
SMS_SENT = "sms_sent"
SMS_FAILED = "sms_failed"
CODE_WRONG = "code_wrong"
CODE_ACCEPTED = "code_accepted"
CODE_EXPIRED = "code_expired"
LOCKED_OUT = "locked_out"
JOINED = "joined"
LEFT = "left"
RECONNECTED = "reconnected"
STAFF_OPENED = "staff_opened"
STARTED = "started"
ENDED = "ended"
VIEWED = "viewed"
WAITING_ROOM = "waiting_room"
CODE_UNKNOWN = "code_unknown"
LINK_UNKNOWN = "link_unknown"
SMS_REFUSED = "sms_refused"
SMS_LIMIT_LIFTED = "sms_limit_lifted"
ROOM_CLOSED_BY_MOVE = "room_closed_by_move"
OLD_TIME_REFUSED = "old_time_refused"
NOTE_CREATED = "visit_note_created"
NOTE_SIGNED = "visit_note_signed"
PARTICIPANT_INVITED = "participant_invited"
PARTICIPANT_REMOVED = "participant_removed"
REMINDER_SENT = "reminder_sent"
REMINDER_DROPPED = "reminder_dropped"
MEDIA_NODE_CHANGED = "media_node_changed"
#: Someone lost the right to be in the meeting and the media servers were told to close
#: their connection and refuse their tokens (access/leave_room.py).
REMOVED_FROM_ROOM = "removed_from_room"
#: The meeting (title, time, invitee's name and address) written to its organiser's own
#: calendar server by the CalDAV sync (caldav_bridge/sync.py).
CALENDAR_WRITTEN = "calendar_written"
#: A participant's page showed the meeting (its title, time or whether it is still on)
#: to a valid link, code or session, in a request that wrote nothing else about it.
PAGE_SHOWN = "participant_page_shown"
#: Someone changed a visit note (its text or title) through a form or the REST API.
NOTE_EDITED = "visit_note_edited"
#: Someone was shown a visit note (its page, its edit form, the REST API).
NOTE_VIEWED = "visit_note_viewed"

#: Message ids (Swedish msgids); the admin view translates them for its request.
ACTION_TITLES = {
    BOOKED: _("Bokat"),
    MOVED: _("Flyttat"),
    CANCELLED: _("Avbokat"),
    INVITATION_SENT: _("E-post skickad"),
    LINK_OPENED: _("Inbjudningslänk öppnad"),
    CODE_PAGE_USED: _("Möteskod använd"),
    SMS_SENT: _("SMS-kod skickad"),
    SMS_FAILED: _("SMS kunde inte skickas"),
    CODE_WRONG: _("Fel engångskod"),
    CODE_ACCEPTED: _("Inloggad med engångskod"),
    CODE_EXPIRED: _("Engångskoden hade gått ut"),
    LOCKED_OUT: _("För många felaktiga försök"),
    JOINED: _("Gick med i mötet"),
    LEFT: _("Lämnade mötet"),
    RECONNECTED: _("Återanslöt till mötet"),
    STAFF_OPENED: _("Personal öppnade mötet"),
    STARTED: _("Mötet startat"),
    ENDED: _("Mötet avslutat"),
    VIEWED: _("Personal visade mötet"),
    WAITING_ROOM: _("Väntrummet visat"),
    CODE_UNKNOWN: _("Okänd eller gammal möteskod"),
    LINK_UNKNOWN: _("Okänd eller gammal inbjudningslänk"),
    SMS_REFUSED: _("SMS-kod nekad: gränsen nådd"),
    SMS_LIMIT_LIFTED: _("SMS-gränsen återställd"),
    ROOM_CLOSED_BY_MOVE: _("Mötet flyttat: rummet stängt, inloggningar avslutade"),
    OLD_TIME_REFUSED: _("Inloggning för mötets tidigare tid nekad"),
    NOTE_CREATED: _("Besöksanteckning skapad (utkast)"),
    NOTE_SIGNED: _("Besöksanteckning signerad"),
    PARTICIPANT_INVITED: _("Deltagare inbjuden"),
    PARTICIPANT_REMOVED: _("Deltagare borttagen"),
    REMINDER_SENT: _("Påminnelse skickad"),
    REMINDER_DROPPED: _("Påminnelse inte skickad"),
    MEDIA_NODE_CHANGED: _("Mötet flyttat till en annan medianod"),
    REMOVED_FROM_ROOM: _("Borttagen ur mötesrummet"),
    CALENDAR_WRITTEN: _("Skrivet till personlig kalender (CalDAV)"),
    PAGE_SHOWN: _("Mötet visat för deltagaren"),
    NOTE_EDITED: _("Besöksanteckning ändrad"),
    NOTE_VIEWED: _("Besöksanteckning visad"),
}

FORBIDDEN_DETAILS = {"code", "token", "personnummer", "password", "otp", "join_token"}


@dataclass(frozen=True)
class AuditEntry:
    when: datetime
    action: str
    actor: str
    role: str
    meeting_uid: str
    patient_uid: str
    ip: str
    detail: str = ""


class AuditLog(Persistent):
    """Append-only; ``purge_before`` is the retention rule and the only removal."""

    def __init__(self):
        self.entries = OOBTree()

    def append(self, entry: AuditEntry) -> None:
        self.entries[(entry.when.isoformat(), secrets.token_hex(4))] = (
            entry.when,
            entry.action,
            entry.actor,
            entry.role,
            entry.meeting_uid,
            entry.patient_uid,
            entry.ip,
            entry.detail,
        )

    def newest_first(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        meeting_uid: str | None = None,
        patient_uid: str | None = None,
    ) -> "NewestFirst":
        """What ``query`` finds, newest first, made into entries only as they are read
        (a page of the administrator's view, not five years at once)."""
        stored = self.entries.values(min=_low(start), max=_high(end))
        if meeting_uid or patient_uid:
            stored = [
                values
                for values in stored
                if (not meeting_uid or values[4] == meeting_uid)
                and (not patient_uid or values[5] == patient_uid)
            ]
        return NewestFirst(stored)

    def query(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        meeting_uid: str | None = None,
        patient_uid: str | None = None,
    ) -> list[AuditEntry]:
        found = []
        for values in self.entries.values(min=_low(start), max=_high(end)):
            entry = AuditEntry(*values)
            if meeting_uid and entry.meeting_uid != meeting_uid:
                continue
            if patient_uid and entry.patient_uid != patient_uid:
                continue
            found.append(entry)
        return found

    def purge_before(self, cutoff: datetime) -> int:
        old = list(self.entries.keys(max=(cutoff.isoformat(),), excludemax=True))
        for key in old:
            del self.entries[key]
        return len(old)


def _low(start: datetime | None) -> tuple | None:
    return (start.isoformat(),) if start else None


def _high(end: datetime | None) -> tuple | None:
    return (end.isoformat(), "~") if end else None


class NewestFirst(Sequence):
    """Stored entries (oldest first, e.g. a lazy BTree range) read newest first.

    An item is made into an ``AuditEntry`` when it is read; items are fetched from the
    stored order in forward chunks, which a BTree range reads cheaply."""

    CHUNK = 64

    def __init__(self, stored):
        self._stored = stored
        self._length = len(stored)
        self._chunk_start = 0
        self._chunk: list = []

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError(index)
        position = self._length - 1 - index  # in the stored (oldest first) order
        offset = position - self._chunk_start
        if not 0 <= offset < len(self._chunk):
            self._chunk_start = max(0, position - self.CHUNK + 1)
            self._chunk = [self._stored[i] for i in range(self._chunk_start, position + 1)]
            offset = position - self._chunk_start
        return AuditEntry(*self._chunk[offset])

    def __iter__(self):
        for values in reversed(list(self._stored)):
            yield AuditEntry(*values)


def make_entry(
    action: str,
    actor: str,
    role: str,
    meeting_uid: str = "",
    patient_uid: str = "",
    ip: str = "",
    now: datetime | None = None,
    **detail,
) -> AuditEntry:
    """An entry; details that could carry a secret are refused outright."""
    leaked = FORBIDDEN_DETAILS & set(detail)
    if leaked:
        raise ValueError(f"audit details must not contain {sorted(leaked)}")
    return AuditEntry(
        when=now or datetime.now(UTC),
        action=action,
        actor=actor,
        role=role,
        meeting_uid=meeting_uid or "",
        patient_uid=patient_uid or "",
        ip=ip or "",
        detail=detail_text(**detail),
    )


def detail_text(**detail) -> str:
    """How an entry stores its details: ``key=value`` pairs, sorted, ", " between."""
    return ", ".join(f"{key}={value}" for key, value in sorted(detail.items()))


def retention_cutoff(years: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=365 * years + years // 4)
