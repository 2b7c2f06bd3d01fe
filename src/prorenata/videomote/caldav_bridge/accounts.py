"""Clinicians' CalDAV accounts and sync state, kept in the site (Plone shell).

The app password is stored because sync needs it: encrypted with the instance secret
(``access.keys.seal``), never shown back, not even to its owner, and no view exposes it.
"""

from BTrees.OOBTree import OOBTree
from persistent import Persistent
from persistent.mapping import PersistentMapping
from prorenata.videomote.storage import annotated

ANNOTATION_KEY = "prorenata.videomote.caldav-accounts"


class CalDAVAccountRecord(Persistent):
    #: Calendar items that are not readable events, named to the clinician (records
    #: stored before it existed read this default).
    unreadable: tuple[str, ...] = ()

    def __init__(self, userid: str, url: str, username: str, password: str):
        self.userid = userid
        self.url = url
        self.username = username
        self.password = password  # sealed (encrypted); see access.keys.seal
        self.sync_token: str | None = None
        self.items = PersistentMapping()  # ical uid -> ItemStatus (plain dataclass)
        self.dirty = True
        self.last_result = ""
        self.last_error = ""
        self.failures = 0
        self.next_attempt = None
        self.conflicts: list[str] = []
        self.unresolved: list[str] = []


def accounts(site, create: bool = True) -> OOBTree | None:
    return annotated(site, ANNOTATION_KEY, OOBTree, create)


def account_for(site, userid: str) -> CalDAVAccountRecord | None:
    tree = accounts(site, create=False)
    return tree.get(userid) if tree is not None else None


def mark_dirty(site, userid: str) -> bool:
    record = account_for(site, userid)
    if record is None:
        return False
    record.dirty = True
    return True
