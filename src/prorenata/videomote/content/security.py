"""Access to a meeting is access to its record; meetings and records are not deleted by staff.

The record workflow gives View on a record to its Owner, Reader, Contributor and Editor.
A meeting inside it has the same workflow, so whoever holds one of those roles *on the
record* (they are acquired) sees its meetings. Zope would also make whoever booked a
meeting its Owner, a role of their own on the meeting that outlives their access to the
student: the meeting would stay in their searches, listings and object reads. So a meeting
keeps no local roles: everything it grants comes from its record, and the catalog's
``allowedRolesAndUsers`` of a meeting changes with its record's (Plone's sharing and
``reindexObjectSecurity`` on the record reindex what is inside it).
"""

from AccessControl import Unauthorized
from AccessControl.security import checkPermission

DELETE_OBJECTS = "zope2.DeleteObjects"


def drop_local_roles(meeting) -> bool:
    """Remove every role given on ``meeting`` itself (the booker's Owner); True if any."""
    holders = [principal for principal, _roles in meeting.get_local_roles()]
    if not holders:
        return False
    meeting.manage_delLocalRoles(holders)
    return True


def meeting_added(meeting, event) -> None:
    """A new (or pasted) meeting: no Owner of its own; its roles come from the record."""
    if drop_local_roles(meeting):
        meeting.reindexObjectSecurity()


def refuse_removal_without_right(obj, event) -> None:
    """Deleting a folder deletes what is in it without asking each item: a record or a
    meeting goes only if the user may delete it itself (administrators; staff cancel)."""
    if not checkPermission(DELETE_OBJECTS, obj):
        raise Unauthorized("Only administrators may delete journal records and video meetings")
