"""Clinicians' CalDAV accounts and sync state, kept in the site (Plone shell).

The app password is stored because sync needs it: encrypted with the instance secret
(``access.keys.seal``), never shown back, not even to its owner, and no view exposes it.
"""

from BTrees.OOBTree import OOBTree
from BTrees.OOBTree import OOTreeSet
from collections.abc import Mapping
from dataclasses import astuple
from persistent import Persistent
from prorenata.videomote.caldav_bridge.reconcile import ItemStatus
from prorenata.videomote.storage import annotated

ANNOTATION_KEY = "prorenata.videomote.caldav-accounts"


class CalDAVAccountRecord(Persistent):
    #: Calendar items that are not readable events, named to the clinician (records
    #: stored before it existed read this default).
    unreadable: tuple[str, ...] = ()
    #: iCalendar UIDs of this clinician's meetings changed in the journal since the last
    #: round (a set with conflict resolution: the clinician's edits and the worker's round
    #: both touch it). The incremental round reads only these and what the calendar
    #: reported, never all the clinician's meetings. None until the first change.
    pending: OOTreeSet | None = None
    #: iCalendar UID -> the meeting's Plone UID, so an item the calendar reported (or a
    #: pending one) is found without a catalog walk. Filled by every change and full round.
    meetings: OOBTree | None = None

    def __init__(self, userid: str, url: str, username: str, password: str):
        self.userid = userid
        self.url = url
        self.username = username
        self.password = password  # sealed (encrypted); see access.keys.seal
        self.sync_token: str | None = None
        #: ical uid -> the item's status as a row (``status_row``). A BTree, so storing
        #: one item's status writes one bucket, not all of them; rows are tuples (ordered
        #: and comparable) so two writers of different items in one bucket merge
        #: (BTrees' conflict resolution), which dict values would not.
        self.items: OOBTree = OOBTree()
        self.dirty = True
        self.last_result = ""
        self.last_error = ""
        self.failures = 0
        self.next_attempt = None
        self.conflicts: list[str] = []
        self.unresolved: list[str] = []


def status_row(item: ItemStatus) -> tuple:
    """How one item's status is stored: a tuple in ``ItemStatus``'s field order."""
    return astuple(item)


def status_of(row: tuple | dict) -> ItemStatus:
    """The status stored as ``row`` (a dict is the form before profile version 1002)."""
    return ItemStatus(**row) if isinstance(row, dict) else ItemStatus(*row)


def status_tree(items: Mapping) -> OOBTree:
    """``items`` (ical uid -> row, in either form) as the stored BTree of tuple rows."""
    return OOBTree({uid: status_row(status_of(row)) for uid, row in items.items()})


def accounts(site, create: bool = True) -> OOBTree | None:
    return annotated(site, ANNOTATION_KEY, OOBTree, create)


def account_for(site, userid: str) -> CalDAVAccountRecord | None:
    tree = accounts(site, create=False)
    return tree.get(userid) if tree is not None else None


def mark_dirty(site, userid: str) -> bool:
    """Make the next round of ``userid`` a full one (all meetings, all items)."""
    record = account_for(site, userid)
    if record is None:
        return False
    record.dirty = True
    return True


def remember_meeting(record: CalDAVAccountRecord, ical_uid: str, meeting_uid: str) -> None:
    """Know which meeting an iCalendar UID is (written only when it is new or changed)."""
    if record.meetings is None:
        record.meetings = OOBTree()
    if record.meetings.get(ical_uid) != meeting_uid:
        record.meetings[ical_uid] = meeting_uid


def mark_meeting_changed(site, userid: str, ical_uid: str, meeting_uid: str) -> bool:
    """A meeting of ``userid`` changed in the journal: its next round looks at it."""
    record = account_for(site, userid)
    if record is None:
        return False
    remember_meeting(record, ical_uid, meeting_uid)
    if record.pending is None:
        record.pending = OOTreeSet()
    if ical_uid not in record.pending:
        record.pending.insert(ical_uid)
    return True
