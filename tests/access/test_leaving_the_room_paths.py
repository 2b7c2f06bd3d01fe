"""Every path by which someone loses the right to be in a meeting tells the media server,
once committed: who is to leave the room (``/remove``), or that the room ends (``/end``).
A stand-in for the media server records what Plone posts (the real one:
tests/media/test_removal_from_room.py)."""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from factories import start_room
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.access import media_room
from prorenata.videomote.access.leave_room import check_started_meetings
from prorenata.videomote.access.revocation import staff_who
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.visit import timer

import json
import pytest
import requests
import time
import transaction


@pytest.fixture
def clinic(mail_portal):
    folder = add_students_folder(mail_portal)
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.group.create(groupname="elevhalsan", roles=[])
        api.group.grant_roles(groupname="elevhalsan", obj=folder, roles=["Reader", "Editor"])
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    add_staff("tove", "Tove Kurator")  # access through her group only
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.group.add_user(groupname="elevhalsan", username="tove")
    alva = add_student(folder)
    transaction.commit()
    return {"folder": folder, "alva": alva, "portal": mail_portal}


def _started_with_staff_in_room(clinic, *users):
    meeting = book(clinic["alva"])
    start_room(session_as("sara"), meeting)
    for user in users:
        page = session_as(user).get(f"{meeting.absolute_url()}/@@videomote-rum")
        assert "data-join-token" in page.text
    transaction.begin()
    return meeting


def _wait_for(posts, path, count=1, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [body for where, body in posts if where == path]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {path} posted: {posts}")


def test_staff_in_the_room_are_remembered_by_their_opaque_name(clinic, fake_media_server):
    meeting = _started_with_staff_in_room(clinic, "sara", "tove")
    assert media_room.room_staff(meeting) == {staff_who("sara"): "sara", staff_who("tove"): "tove"}


def test_a_user_taken_out_of_the_group_that_gave_access_leaves_the_room(clinic, fake_media_server):
    meeting = _started_with_staff_in_room(clinic, "sara", "tove")
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.group.remove_user(groupname="elevhalsan", username="tove")
    transaction.commit()
    (removal,) = _wait_for(fake_media_server, "/remove")
    assert removal["meeting"] == meeting.UID()
    assert (removal["who"], removal["reason"]) == ([staff_who("tove")], "access")
    assert "tove" not in json.dumps(removal)  # the media server learns no user id


def test_a_deleted_user_leaves_the_room(clinic, fake_media_server):
    _started_with_staff_in_room(clinic, "sara", "tove")
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.delete(username="tove")
    transaction.commit()
    (removal,) = _wait_for(fake_media_server, "/remove")
    assert removal["who"] == [staff_who("tove")]


def test_sharing_taken_away_on_a_folder_above_the_record_removes_who_lost_access(
    clinic, fake_media_server
):
    _started_with_staff_in_room(clinic, "sara", "tove")
    admin = requests.Session()
    admin.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    admin.headers["Accept"] = "application/json"
    roles = {"Reader": False, "Contributor": False, "Editor": False}
    shared = admin.post(
        f"{clinic['folder'].absolute_url()}/@sharing",
        json={"entries": [{"id": "sara", "type": "user", "roles": roles}]},
    )
    assert shared.status_code == 204, shared.text
    (removal,) = _wait_for(fake_media_server, "/remove")
    assert removal["who"] == [staff_who("sara")]  # Tove keeps her group's access


def test_a_global_role_revoked_is_caught_by_the_timers_round(clinic, fake_media_server):
    _started_with_staff_in_room(clinic, "sara", "tove")
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.revoke_roles(username="sara", roles=["Clinician"])
    transaction.commit()
    assert fake_media_server == []  # no event for it
    # The visit timer's round, on its own connection, as every minute.
    timer.end_overdue_in_all_sites(clinic["portal"]._p_jar.db())
    (removal,) = _wait_for(fake_media_server, "/remove")
    assert removal["who"] == [staff_who("sara")]
    transaction.begin()
    assert check_started_meetings() == 0  # told once


def test_staff_who_keep_access_are_not_removed(clinic, fake_media_server):
    _started_with_staff_in_room(clinic, "sara", "tove")
    assert check_started_meetings() == 0
    transaction.commit()
    time.sleep(0.5)
    assert [path for path, _ in fake_media_server] == []


def test_cancelling_a_started_meeting_ends_its_room(clinic, fake_media_server):
    meeting = _started_with_staff_in_room(clinic)
    with api.env.adopt_user("sara"):
        cancel_meeting(meeting)
    transaction.commit()
    (ended,) = _wait_for(fake_media_server, "/end")
    assert ended["meeting"] == meeting.UID()


def test_deleting_a_started_meeting_or_its_record_ends_its_room(clinic, fake_media_server):
    meeting = _started_with_staff_in_room(clinic)
    uid = meeting.UID()
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.content.delete(obj=clinic["alva"])
    transaction.commit()
    (ended,) = _wait_for(fake_media_server, "/end")
    assert ended["meeting"] == uid


def test_a_booked_meeting_not_started_has_no_room_to_tell_about(clinic, fake_media_server):
    meeting = book(clinic["alva"])
    with api.env.adopt_user("sara"):
        cancel_meeting(meeting)
    transaction.commit()
    time.sleep(0.5)
    assert fake_media_server == []
