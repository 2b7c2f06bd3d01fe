"""Each account's item status is stored so that a round that changes one item writes about
one item, and two writers of different items of one account do not conflict.

With thousands of meetings per clinician the status holds thousands of items; a round
usually changes one or two of them. The upgrade 1001 → 1002 converts the stored status of
existing accounts.
"""

from BTrees.OOBTree import OOBTree
from dataclasses import asdict
from persistent.mapping import PersistentMapping
from plone import api
from prorenata.videomote.caldav_bridge import sync
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.reconcile import ItemStatus
from prorenata.videomote.caldav_bridge.reconcile import removed

import transaction
import ZODB
import ZODB.FileStorage

PROFILE = "prorenata.videomote:default"
#: A clinician with many meetings in her calendar.
ITEMS = 3000


def _item(n: int, etag: str = '"1"') -> ItemStatus:
    return ItemStatus(f"/sara/Videomoten/m{n}.ics", etag, f"local{n}", f"remote{n}")


def _uid(n: int) -> str:
    return f"m{n:05}@videomote"


def _database(tmp_path):
    """A file storage holding one account whose status has ``ITEMS`` items."""
    db = ZODB.DB(ZODB.FileStorage.FileStorage(str(tmp_path / "Data.fs")))
    manager = transaction.TransactionManager()
    connection = db.open(manager)
    record = CalDAVAccountRecord("sara", "http://127.0.0.1:1/", "sara", "sealed")
    connection.root()["sara"] = record
    sync._store(record, {_uid(n): _item(n) for n in range(ITEMS)})
    manager.commit()
    connection.close()
    return db


def _store_one(db, n: int, etag: str) -> transaction.TransactionManager:
    """One round that changes item ``n`` only (not yet committed)."""
    manager = transaction.TransactionManager()
    record = db.open(manager).root()["sara"]
    status = sync._Status(record.items)
    status[_uid(n)] = _item(n, etag)
    sync._store(record, status)
    return manager


def _last_transaction_bytes(db) -> int:
    sizes = [sum(len(r.data or b"") for r in txn) for txn in db.storage.iterator()]
    return sizes[-1]


def test_a_round_changing_one_item_writes_a_small_part_of_a_large_status(tmp_path):
    db = _database(tmp_path)
    everything = _last_transaction_bytes(db)
    _store_one(db, ITEMS // 2, '"2"').commit()
    assert _last_transaction_bytes(db) < everything / 20
    connection = db.open()
    assert sync._Status(connection.root()["sara"].items)[_uid(ITEMS // 2)].etag == '"2"'
    db.close()


def test_two_writers_of_different_items_of_one_account_both_commit(tmp_path):
    db = _database(tmp_path)
    first, second = _store_one(db, 10, '"a"'), _store_one(db, 11, '"b"')  # one bucket
    third = _store_one(db, ITEMS - 1, '"c"')  # another bucket
    first.commit()
    second.commit()
    third.commit()
    status = sync._Status(db.open().root()["sara"].items)
    assert [status[_uid(n)].etag for n in (10, 11, ITEMS - 1)] == ['"a"', '"b"', '"c"']
    db.close()


def test_upgrading_a_1001_site_keeps_every_accounts_status_in_a_btree(portal):
    tree = accounts(portal)
    old = {_uid(1): _item(1), _uid(2): removed("local2")}
    for userid in ("sara", "olle"):
        tree[userid] = CalDAVAccountRecord(userid, "http://127.0.0.1:1/", userid, "sealed")
        # What profile version 1001 stored: one mapping of dicts.
        tree[userid].items = PersistentMapping({uid: asdict(item) for uid, item in old.items()})
    tree["eva"] = CalDAVAccountRecord("eva", "http://127.0.0.1:1/", "eva", "sealed")
    tree["eva"].items = PersistentMapping()
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1001")
    assert setup.listUpgrades(PROFILE), "no upgrade step from 1001"
    setup.upgradeProfile(PROFILE, dest="1002")
    assert setup.getLastVersionForProfile(PROFILE) == ("1002",)
    for userid in ("sara", "olle"):
        items = tree[userid].items
        assert isinstance(items, OOBTree)
        assert {uid: sync._Status(items)[uid] for uid in items} == old
    assert isinstance(tree["eva"].items, OOBTree) and not tree["eva"].items
    # A second run (or a record made after the upgrade) is left as it is.
    before = tree["sara"].items
    setup.setLastVersionForProfile(PROFILE, "1001")
    setup.upgradeProfile(PROFILE)
    assert tree["sara"].items is before
