"""Whoever loses the right to be in a meeting leaves its room (Plone shell).

Every path by which someone loses that right ends their presence in the room on the
media servers once it is committed (``media_room.tell_media_server_removed``: their
connection closes with a reason the page shows, their join tokens up to then are
refused), while everybody else stays connected:

- an extra participant removed (``IExtraParticipantRemovedEvent``: the REST PATCH);
- staff who lose access to the student's record or the right to manage meetings: the
  record's sharing changed (``ILocalrolesModifiedEvent``, Plone's sharing page and
  plone.restapi's ``@sharing``), a user taken out of a group, a group or user deleted;
  and, for changes Plone announces with no event (a global role revoked), the visit
  timer's round re-checks every started meeting (:func:`check_started_meetings`);
- the meeting cancelled (``scheduling.cancel_meeting``), deleted (below) or moved
  (``scheduling.close_room_if_moved``): the whole room ends (``/end``).

Plone's own pages and services refuse such people already (the session of a removed
person, ``may_manage`` for staff); this takes them out of a room they are in.
"""

from AccessControl.SecurityManagement import getSecurityManager
from AccessControl.SecurityManagement import setSecurityManager
from Acquisition import aq_base
from plone import api
from prorenata.videomote import logger
from prorenata.videomote.access import media_room
from prorenata.videomote.access.revocation import NO_ACCESS
from prorenata.videomote.access.revocation import REMOVED
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.content.meeting import STATE_STARTED

#: Started meetings looked at per event at most (a site runs few at once).
MAX_MEETINGS = 500


def participant_removed(meeting, event) -> None:
    """An extra participant was taken off the meeting: out of its room too."""
    if meeting.state != STATE_STARTED:
        return  # no room is open: their link, code and session are void already
    person = event.person
    media_room.tell_media_server_removed(meeting, [person["id"]], REMOVED)
    record(
        audit.REMOVED_FROM_ROOM,
        meeting,
        person=person["name"],
        person_role=person["role"],
        reason=REMOVED,
    )


def meeting_deleted(meeting, event) -> None:
    """A started meeting deleted (itself, or with its record or folder): its room ends
    on every node, as when it is cancelled."""
    if getattr(event, "newParent", None) is not None:
        return  # moved or renamed, not deleted
    if meeting.state == STATE_STARTED:
        media_room.tell_media_server_ended(meeting)


def local_roles_changed(obj, event) -> None:
    """Sharing changed on a record or a folder above records: staff in the rooms of the
    meetings below it who lost access leave them."""
    check_started_meetings(under=obj)


def principal_changed(event) -> None:
    """A user taken out of a group, a group or a user deleted: any staff member in any
    room may have lost access through it."""
    try:
        api.portal.get()
    except api.exc.CannotGetPortalError:
        return  # not inside a site (a Zope-root user)
    check_started_meetings()


def check_started_meetings(under=None) -> int:
    """For each started meeting (below ``under``, else in the site): the staff given a
    token into its room who may no longer manage it are removed from it. Returns how many."""
    catalog = api.portal.get_tool("portal_catalog")
    query = {"portal_type": "VideoMeeting", "meeting_state": STATE_STARTED}
    if under is not None:
        query["path"] = "/".join(under.getPhysicalPath())
    removed = 0
    for brain in catalog.unrestrictedSearchResults(**query)[:MAX_MEETINGS]:
        removed += remove_staff_without_access(brain._unrestrictedGetObject())
    return removed


def remove_staff_without_access(meeting) -> int:
    """Remove from the meeting's room the staff (given a token for its current time) who
    may no longer manage it: their record access, their role or their account is gone."""
    gone = {
        who: user_id
        for who, user_id in media_room.room_staff(meeting).items()
        if not _may_manage_as(meeting, user_id)
    }
    if not gone:
        return 0
    media_room.tell_media_server_removed(meeting, sorted(gone), NO_ACCESS)
    for user_id in sorted(gone.values()):
        record(audit.REMOVED_FROM_ROOM, meeting, user=user_id, reason=NO_ACCESS)
    _forget_staff(meeting, set(gone))
    logger.info("Removed %d staff member(s) without access from a meeting's room", len(gone))
    return len(gone)


def _forget_staff(meeting, gone: set) -> None:
    """Told once: they are no longer in the room (a token issued later, after access was
    given back, remembers them again)."""
    stored = getattr(aq_base(meeting), media_room.ROOM_STAFF_ATTRIBUTE, None)
    if stored:
        kept = {who: uid for who, uid in stored[1].items() if who not in gone}
        setattr(meeting, media_room.ROOM_STAFF_ATTRIBUTE, (stored[0], kept))


def _may_manage_as(meeting, user_id: str) -> bool:
    """Whether ``user_id`` (now, with their groups and roles as they are) may manage the
    meeting: the staff permission and View on its record (``staff.may_manage``)."""
    user = _find_user(user_id)
    if user is None:
        return False  # deleted
    before = getSecurityManager()
    try:
        with api.env.adopt_user(user=user):
            return may_manage(meeting)
    finally:
        setSecurityManager(before)


def _find_user(user_id: str):
    """The user from the site's user folder, else from the Zope root's (an administrator)."""
    user = api.user.get(userid=user_id)
    if user is not None:
        return user
    root_users = api.portal.get().getPhysicalRoot().acl_users
    found = root_users.getUserById(user_id)
    return found.__of__(root_users) if found is not None else None
