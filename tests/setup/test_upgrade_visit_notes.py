"""Upgrade 1003 → 1004: a site from before visit notes gets the VisitNote type and its
workflow (draft → signed), and a meeting ended afterwards gets its draft note."""

from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.visit import ending
from prorenata.videomote.visit import store

PROFILE = "prorenata.videomote:default"
WORKFLOW = "videomote_visit_note_workflow"


def test_upgrading_a_1003_site_adds_visit_notes_and_their_workflow(portal):
    types = api.portal.get_tool("portal_types")
    workflows = api.portal.get_tool("portal_workflow")
    types.manage_delObjects(["VisitNote"])
    workflows.manage_delObjects([WORKFLOW])
    workflows.setChainForPortalTypes(("VisitNote",), ())
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1003")
    setup.upgradeProfile(PROFILE, dest="1004")
    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    assert "VisitNote" in types.objectIds()
    assert workflows.getChainForPortalType("VisitNote") == (WORKFLOW,)
    assert workflows.getChainForPortalType("VideoMeeting") == ("videomote_record_workflow",)

    folder = add_students_folder(portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    start = datetime.now() + timedelta(days=1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = book_meeting(
            Booking(
                "Samtal", start, start + timedelta(minutes=30), add_student(folder).UID(), "student"
            ),
            organiser="sara",
        )
    ending.end_meeting(meeting)
    note = uuidToObject(store.record_of(meeting).note_uid, unrestricted=True)
    assert note.portal_type == "VisitNote"
    assert api.content.get_state(note) == "draft"
