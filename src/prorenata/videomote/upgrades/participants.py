"""1003 → 1004: extra participants sign in with codes and links of their own.

Adds the catalog indexes that find a meeting by an extra participant's code or link
(``extra_code_hashes``, ``extra_token_hashes``). Meetings stored before have no extra
participants (the class default, an empty tuple): nothing on them changes, and the new
indexes are filled for them (empty) at once.
"""

from plone import api
from prorenata.videomote import logger
from prorenata.videomote.content.participants import INDEXES


def add_participant_indexes(context=None) -> list[str]:
    """Add the indexes that are missing and index every meeting in them; returns the
    names added."""
    catalog = api.portal.get_tool("portal_catalog")
    added = [name for name in INDEXES if name not in catalog.indexes()]
    for name in added:
        catalog.addIndex(name, "KeywordIndex")
    if added:
        catalog.manage_reindexIndex(ids=added)
    logger.info("Upgrade 1004: participant indexes added: %s", ", ".join(added) or "none")
    return added
