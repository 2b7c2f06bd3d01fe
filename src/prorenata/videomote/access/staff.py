"""Who may act for the journal on a meeting: staff with access to the student's record."""

from AccessControl import Unauthorized
from AccessControl.security import checkPermission
from Acquisition import aq_inner
from Acquisition import aq_parent

MANAGE_MEETINGS = "prorenata.videomote.ManageMeetings"


def may_view(meeting) -> bool:
    """View on the student's record the meeting is in: who may see the meeting at all.

    The meeting's own View follows the record (it has no roles of its own, see
    ``content/security.py``); asking the record also holds while the catalog has not yet
    caught up with a change of the record's local roles.
    """
    return bool(checkPermission("zope2.View", aq_parent(aq_inner(meeting))))


def may_manage(meeting) -> bool:
    """The staff permission on the meeting, and View on the student's record it is in.

    The permission is the Clinician role's on the whole site (the calendar, booking);
    View on a record is given by the record workflow only to those with access to it,
    and a meeting's roles are its record's (whoever booked it keeps no Owner role on it).
    Zope checks a view's own permission, not View on the object it is called on, so the
    views and services of a meeting ask for both.
    """
    return bool(checkPermission(MANAGE_MEETINGS, meeting)) and may_view(meeting)


def check_may_manage(meeting, action: str) -> None:
    """:func:`may_manage`, or Unauthorized (for the REST services of a meeting)."""
    if not may_manage(meeting):
        raise Unauthorized(f"Only staff with access to the student can {action} the meeting")
