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
        known, mine, theirs = status.get(uid), local.get(uid), remote_changed.get(uid)
        mine_changed = mine is not None and (
            known is None or mine.fingerprint() != known.local_hash
        )
        theirs_changed = theirs is not None and (
            known is None or theirs.event.fingerprint() != known.remote_hash
        )
        if known is not None and known.removed:
            if theirs is None:
                if mine is None:
                    plan.actions.append(Action(Do.FORGET, uid))  # gone from the journal
                # else: stays removed
            elif mine is None:
                plan.actions.append(Action(Do.PULL_CREATE, uid))
            elif mine.cancelled:
                # Back in the calendar although cancelled: the journal wins.
                plan.actions.append(Action(Do.PUSH_DELETE, uid, conflict=True))
                plan.conflicts.append(uid)
            else:
                plan.actions.append(Action(Do.PUSH_UPDATE, uid, conflict=True))
                plan.conflicts.append(uid)
        elif mine is not None and mine.cancelled and uid not in deleted:
            if known is not None or theirs is not None:
                # Still in the calendar: removed once (the meeting is cancelled there too).
                conflict = known is None and theirs is not None
                plan.actions.append(Action(Do.PUSH_DELETE, uid, conflict=conflict))
                if conflict:
                    plan.conflicts.append(uid)
            # else: never in the calendar (cancelled before it was written): nothing to do
        elif mine is None and known is not None and not known.local_hash:
            # A calendar event that is not (yet) a meeting: try again when it changes.
            if uid in deleted:
                plan.actions.append(Action(Do.FORGET, uid))
            elif theirs_changed:
                plan.actions.append(Action(Do.PULL_CREATE, uid))
        elif mine is not None and known is None and theirs is None:
            plan.actions.append(Action(Do.PUSH_CREATE, uid))
        elif mine is None and known is None and theirs is not None:
            plan.actions.append(Action(Do.PULL_CREATE, uid))
        elif mine is None and known is not None:
            if uid in deleted:
                plan.actions.append(Action(Do.FORGET, uid))
            else:
                plan.actions.append(Action(Do.PUSH_DELETE, uid))
        elif mine is not None and uid in deleted:
            if mine.cancelled:
                plan.actions.append(Action(Do.FORGET, uid))
            elif mine_changed:
                plan.actions.append(Action(Do.PUSH_CREATE, uid, conflict=True))
                plan.conflicts.append(uid)
            else:
                pulls_to_delete.append(uid)
        elif mine is not None and theirs is not None:
            if mine_changed and theirs_changed:
                plan.actions.append(Action(Do.PUSH_UPDATE, uid, conflict=True))
                plan.conflicts.append(uid)
            elif mine_changed:
                plan.actions.append(Action(Do.PUSH_UPDATE, uid))
            elif theirs_changed:
                plan.actions.append(Action(Do.PULL_UPDATE, uid))
        elif mine is not None and mine_changed:
            plan.actions.append(Action(Do.PUSH_UPDATE, uid))
    live = sum(1 for item in status.values() if not item.removed)
    if live >= guard_min_items and len(pulls_to_delete) >= guard_share * live:
        plan.mass_deletion_blocked = pulls_to_delete
        # The journal writes them back: the calendar shows them again, and a later full
        # listing does not find them missing (and cancel them after all).
        plan.actions += [Action(Do.PUSH_CREATE, uid, conflict=True) for uid in pulls_to_delete]
    else:
        plan.actions += [Action(Do.PULL_DELETE, uid) for uid in pulls_to_delete]
    return plan
