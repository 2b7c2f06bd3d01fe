"""1001 → 1002: what a meeting's participant was told is kept in one declared place.

Before, the e-mail subscriber kept it as ``_notified`` on the meeting and the audit
subscriber its own ``_audited_sequence``. Now the domain keeps it as ``last_told``
(``content/meeting.py``) and the audit log needs nothing on the meeting: both old
attributes are moved or dropped.
"""

from plone import api
from prorenata.videomote import logger


def move_told_state(context=None) -> int:
    """Move ``_notified`` to ``last_told`` and drop ``_audited_sequence`` on every meeting;
    returns how many meetings changed."""
    catalog = api.portal.get_tool("portal_catalog")
    changed = 0
    for brain in catalog.unrestrictedSearchResults(portal_type="VideoMeeting"):
        meeting = brain._unrestrictedGetObject()
        state = meeting.__dict__
        if "_notified" not in state and "_audited_sequence" not in state:
            continue
        told = state.pop("_notified", None)
        state.pop("_audited_sequence", None)
        if told is not None and not state.get("last_told"):
            meeting.last_told = tuple(told)
        meeting._p_changed = True
        changed += 1
    logger.info("Upgrade 1002: what participants were told moved on %d meetings", changed)
    return changed
