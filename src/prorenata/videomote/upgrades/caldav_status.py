"""1001 → 1002: each CalDAV account's item status becomes a BTree of tuple rows.

It was one ``PersistentMapping`` of dicts per account: storing one item's status rewrote
the whole mapping (thousands of items), and two writers of the same account always
conflicted. In a BTree a write touches one bucket, and rows that are tuples let BTrees
resolve two writes of different items in one bucket.
"""

from BTrees.OOBTree import OOBTree
from plone import api
from prorenata.videomote import logger
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.accounts import status_tree


def status_in_btrees(context=None) -> None:
    """Convert every account's status (accounts already converted are left alone)."""
    tree = accounts(api.portal.get(), create=False)
    if tree is None:
        return
    converted = 0
    for record in tree.values():
        items = getattr(record, "items", None)
        if isinstance(items, OOBTree) and all(isinstance(row, tuple) for row in items.values()):
            continue
        record.items = status_tree(items or {})
        converted += 1
    logger.info("CalDAV item status: %d account(s) converted to BTrees", converted)
