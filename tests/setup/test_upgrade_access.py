"""Upgrading a site from profile version 1000: meetings follow their records."""

from AccessControl.Permission import getPermissionIdentifier
from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting

PROFILE = "prorenata.videomote:default"
CONTACTS = "prorenata.videomote: Contact details outside the audited meeting views"
OLD_DELETE = ("Manager", "Site Administrator", "Owner", "Editor")


def _roles(obj, permission: str) -> set[str]:
    return {r["name"] for r in obj.rolesOfPermission(permission) if r["selected"]}


def _as_version_1000(portal, meeting, booker: str) -> None:
    """What 1000 left: the booker Owner of the meeting, Owners and Editors deleting, the
    contact details permission unset."""
    workflow = api.portal.get_tool("portal_workflow")["videomote_record_workflow"]
    workflow.states["internal"].setPermission("Delete objects", False, list(OLD_DELETE))
    for obj in (meeting.aq_parent, meeting):
        workflow.updateRoleMappingsFor(obj)
    meeting.__ac_local_roles__ = {booker: ["Owner"]}  # as Zope stored it (now refused)
    meeting.reindexObjectSecurity()
    identifier = getPermissionIdentifier(CONTACTS)
    if identifier in portal.__dict__:
        delattr(portal, identifier)
    api.portal.get_tool("portal_setup").setLastVersionForProfile(PROFILE, "1000")


def _meetings_found_by(userid: str) -> list:
    with api.env.adopt_user(username=userid):
        return list(api.content.find(portal_type="VideoMeeting"))


def test_upgrade_makes_a_booker_without_access_lose_the_meeting_and_staff_lose_delete(portal):
    student = add_student(portal)
    add_staff("sara", access_to=student, roles=("Reader", "Contributor", "Editor"))
    start = datetime.now() + timedelta(days=1)
    with api.env.adopt_user(username="sara"):
        meeting = book_meeting(
            Booking("Samtal", start, start + timedelta(minutes=30), student.UID(), "student"),
            organiser="sara",
        )
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.revoke_roles(
            username="sara", obj=student, roles=["Reader", "Contributor", "Editor"]
        )
        student.reindexObjectSecurity()
    _as_version_1000(portal, meeting, "sara")
    assert len(_meetings_found_by("sara")) == 1  # the booker's Owner role kept it visible
    assert _roles(meeting, "Delete objects") == set(OLD_DELETE)

    setup = api.portal.get_tool("portal_setup")
    setup.upgradeProfile(PROFILE, dest="1001")

    assert setup.getLastVersionForProfile(PROFILE) == ("1001",)
    assert meeting.get_local_roles() == ()
    assert _meetings_found_by("sara") == []
    for obj in (student, meeting):
        assert _roles(obj, "Delete objects") == {"Manager", "Site Administrator"}
    assert _roles(portal, CONTACTS) == set()
    assert not portal.acquiredRolesAreUsedBy(CONTACTS)
