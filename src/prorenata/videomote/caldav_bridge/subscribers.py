"""Any change to a meeting puts it on its organiser's list for the next (incremental) round;
a change of who may see which record makes the next round of the organisers concerned a
full one, so that a meeting whose organiser lost access leaves her calendar within seconds,
not at the next full round (minutes)."""

from plone import api
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.accounts import mark_dirty
from prorenata.videomote.caldav_bridge.accounts import mark_meeting_changed
from prorenata.videomote.content.meeting import new_ical_uid


def meeting_changed(meeting, event) -> None:
    organiser = getattr(meeting, "organiser", None)
    meeting_uid = meeting.UID()
    if not organiser or not meeting_uid:
        return  # not booked yet (created, not added): its added event follows
    if "ical_uid" not in meeting.__dict__:
        # The field's default is made anew on each read until stored (as booking does).
        meeting.ical_uid = new_ical_uid()
    mark_meeting_changed(api.portal.get(), organiser, meeting.ical_uid, meeting_uid)


def sharing_changed(obj, event) -> None:
    """Sharing changed on a record or a folder above records (Plone's sharing page,
    plone.restapi's ``@sharing``): the organisers of meetings below it."""
    mark_organisers(under=obj)


def principal_changed(event) -> None:
    """A user taken out of a group, a group or a user deleted: any organiser may have
    lost access through it."""
    try:
        api.portal.get()
    except api.exc.CannotGetPortalError:
        return  # not inside a site (a Zope-root user)
    mark_organisers()


def mark_organisers(under=None) -> int:
    """Make the next round a full one for each CalDAV account with a meeting (below
    ``under``, else anywhere): the full round drops from her calendar what she may no
    longer manage. One catalog query per account (few: those who connected a calendar)."""
    site = api.portal.get()
    tree = accounts(site, create=False)
    if not tree:
        return 0
    catalog = api.portal.get_tool("portal_catalog")
    query = {"portal_type": "VideoMeeting"}
    if under is not None:
        query["path"] = "/".join(under.getPhysicalPath())
    marked = 0
    for userid in list(tree.keys()):
        found = catalog.unrestrictedSearchResults(meeting_organiser=userid, **query)
        if len(found) and not tree[userid].dirty:
            marked += mark_dirty(site, userid)
    return marked
