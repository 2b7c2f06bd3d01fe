"""Reconciling the journal with one CalDAV calendar (plain Python, after vdirsyncer).

A stored status per item (href, ETag, and the fingerprints both sides had when they last
agreed) tells which side changed. Rules:

- changed on one side only: copy it to the other;
- changed on both: **the journal wins** on time, title and invitee (its meeting is what
  the participant was told); the conflict is reported;
- new in the calendar: a candidate booking (the Plone side resolves the attendee);
- gone from the calendar: the meeting is cancelled, unless the journal changed it since
  (then it is written back) or the calendar suddenly lost most of what it had (the
  mass-deletion guard: nothing is cancelled, the journal writes them back, the case is
  reported);
- gone from the journal: removed from the calendar;
- **cancelled** (in the journal, or by deleting or cancelling its event in the calendar):
  removed from the calendar, as an organiser's own calendar drops a cancelled meeting
  (clients that ignore STATUS would show it as a normal appointment). The status keeps a
  *removed* mark, so it is deleted once and stays deleted: no round writes it back and a
  full listing does not find it missing. So does the event of an ended or past meeting
  the clinician deleted. Should the event come back (a client re-uploads it), the journal
  wins: a cancelled meeting's event is deleted again, a conflict shown;
- a calendar event that could not become a meeting (status without a local fingerprint)
  is left alone, and tried again when it changes.

Reconciling the same state twice gives no actions: sync is idempotent.
"""

from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from prorenata.videomote.caldav_bridge.events import CalendarEvent


class Do(Enum):
    PUSH_CREATE = "push_create"
    PUSH_UPDATE = "push_update"
    PUSH_DELETE = "push_delete"
    PULL_CREATE = "pull_create"
    PULL_UPDATE = "pull_update"
    PULL_DELETE = "pull_delete"
    FORGET = "forget"


@dataclass(frozen=True)
class RemoteItem:
    href: str
    etag: str
    event: CalendarEvent


@dataclass
class ItemStatus:
    """What both sides looked like when they last agreed on one item."""

    href: str
    etag: str
    local_hash: str
    remote_hash: str
    #: Deliberately removed from the calendar (its meeting is cancelled, or the clinician
    #: deleted its event): there is no item (href and ETag are empty) and none is written.
    removed: bool = False


def removed(local_hash: str = "") -> ItemStatus:
    """The status of a meeting whose event was deliberately removed from the calendar."""
    return ItemStatus("", "", local_hash, "", removed=True)


@dataclass(frozen=True)
class Action:
    do: Do
    uid: str
    conflict: bool = False


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    mass_deletion_blocked: list[str] = field(default_factory=list)


def reconcile(
    local: dict[str, CalendarEvent],
    remote_changed: dict[str, RemoteItem],
    remote_deleted: set[str],
    status: dict[str, ItemStatus],
    guard_min_items: int = 5,
    guard_share: float = 0.5,
) -> Plan:
    """Plan the actions that make both sides agree.

    ``remote_changed`` holds the calendar's items that are new or changed,
    ``remote_deleted`` the uids that are gone from it (reported by the server, or known to
    the status and missing from a full listing).
    """
    plan = Plan()
    deleted = set(remote_deleted)
    uids = set(local) | set(remote_changed) | set(status) | deleted
    pulls_to_delete = []
    for uid in sorted(uids):
        sides = _Sides(
            uid, status.get(uid), local.get(uid), remote_changed.get(uid), uid in deleted
        )
        action = _decide(sides)
        if action is None:
            continue
        if action.do is Do.PULL_DELETE:
            # Held back until every item is seen: the mass-deletion guard decides.
            pulls_to_delete.append(uid)
            continue
        plan.actions.append(action)
        if action.conflict:
            plan.conflicts.append(uid)
    _guard_mass_deletion(plan, pulls_to_delete, status, guard_min_items, guard_share)
    return plan


@dataclass(frozen=True)
class _Sides:
    """One item as the status, the journal and the calendar see it."""

    uid: str
    known: ItemStatus | None
    mine: CalendarEvent | None
    theirs: RemoteItem | None
    #: Gone from the calendar (reported deleted, or missing from a full listing).
    gone: bool

    @property
    def mine_changed(self) -> bool:
        return self.mine is not None and (
            self.known is None or self.mine.fingerprint() != self.known.local_hash
        )

    @property
    def theirs_changed(self) -> bool:
        return self.theirs is not None and (
            self.known is None or self.theirs.event.fingerprint() != self.known.remote_hash
        )


def _decide(sides: _Sides) -> Action | None:
    """The one action for one item (a PULL_DELETE is only a candidate, see the guard)."""
    if sides.known is not None and sides.known.removed:
        return _deliberately_removed(sides)
    if sides.mine is not None and sides.mine.cancelled and not sides.gone:
        return _cancelled_in_journal(sides)
    if sides.mine is None:
        return _not_in_journal(sides)
    return _in_journal(sides)


def _deliberately_removed(sides: _Sides) -> Action | None:
    """Removed from the calendar on purpose: it stays removed unless its event comes back."""
    uid, mine = sides.uid, sides.mine
    if sides.theirs is None:
        # Gone from the journal too: forget it; otherwise it stays removed.
        return Action(Do.FORGET, uid) if mine is None else None
    if mine is None:
        return Action(Do.PULL_CREATE, uid)
    # Back in the calendar although removed: the journal wins.
    return Action(Do.PUSH_DELETE if mine.cancelled else Do.PUSH_UPDATE, uid, conflict=True)


def _cancelled_in_journal(sides: _Sides) -> Action | None:
    """Cancelled in the journal and not (known) gone from the calendar."""
    if sides.known is None and sides.theirs is None:
        return None  # never in the calendar (cancelled before it was written)
    # Still in the calendar: removed once (the meeting is cancelled there too). An event
    # the status does not know is a conflict (the calendar made it meanwhile).
    return Action(Do.PUSH_DELETE, sides.uid, conflict=sides.known is None)


def _not_in_journal(sides: _Sides) -> Action | None:
    """No meeting in the journal: new in the calendar, not a meeting, or gone from the journal."""
    uid, known = sides.uid, sides.known
    if known is None:
        return Action(Do.PULL_CREATE, uid) if sides.theirs is not None else None
    if not known.local_hash:
        # A calendar event that is not (yet) a meeting: try again when it changes.
        if sides.gone:
            return Action(Do.FORGET, uid)
        return Action(Do.PULL_CREATE, uid) if sides.theirs_changed else None
    # Gone from the journal: removed from the calendar (unless it is gone there too).
    return Action(Do.FORGET if sides.gone else Do.PUSH_DELETE, uid)


def _in_journal(sides: _Sides) -> Action | None:
    """A meeting of the journal that is not cancelled (or is, and gone from the calendar)."""
    uid = sides.uid
    if sides.known is None and sides.theirs is None:
        return Action(Do.PUSH_CREATE, uid)
    if sides.gone:
        return _gone_from_calendar(sides)
    if sides.mine_changed:
        # Changed on both sides: the journal wins, the conflict is reported.
        return Action(Do.PUSH_UPDATE, uid, conflict=sides.theirs_changed)
    return Action(Do.PULL_UPDATE, uid) if sides.theirs_changed else None


def _gone_from_calendar(sides: _Sides) -> Action:
    """A journal meeting whose event is gone from the calendar."""
    uid, mine = sides.uid, sides.mine
    if mine.cancelled:
        return Action(Do.FORGET, uid)
    if sides.mine_changed:
        # Changed in the journal meanwhile: written back, the conflict reported.
        return Action(Do.PUSH_CREATE, uid, conflict=True)
    return Action(Do.PULL_DELETE, uid)


def _guard_mass_deletion(
    plan: Plan, pulls_to_delete: list[str], status: dict, min_items: int, share: float
) -> None:
    """Cancel the meetings gone from the calendar, unless it lost most of what it had."""
    live = sum(1 for item in status.values() if not item.removed)
    if live >= min_items and len(pulls_to_delete) >= share * live:
        plan.mass_deletion_blocked = pulls_to_delete
        # The journal writes them back: the calendar shows them again, and a later full
        # listing does not find them missing (and cancel them after all).
        plan.actions += [Action(Do.PUSH_CREATE, uid, conflict=True) for uid in pulls_to_delete]
    else:
        plan.actions += [Action(Do.PULL_DELETE, uid) for uid in pulls_to_delete]
