"""Upgrade 1001 → 1002: meetings keep what their participant was told as ``last_told``;
the subscribers' own ``_notified`` and ``_audited_sequence`` are gone, and a move after
the upgrade is mailed and audited as before."""

from datetime import datetime
from datetime import timedelta
from factories import add_student
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.content.scheduling import move_meeting
from prorenata.videomote.notify.outbox import outbox_for
from zoneinfo import ZoneInfo

PROFILE = "prorenata.videomote:default"
STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _tomorrow(hour: int) -> datetime:
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0)


def _as_in_1001(meeting) -> tuple:
    """The meeting as version 1001 stored it: the mail and audit subscribers' state."""
    told = meeting.last_told
    del meeting.last_told
    meeting._notified = told
    meeting._audited_sequence = meeting.sequence
    return told


def test_upgrading_a_1001_site_moves_what_participants_were_told(portal):
    patient = add_student(portal)
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = book_meeting(
            Booking(
                title="Samtal",
                start=_tomorrow(9),
                end=_tomorrow(9) + timedelta(minutes=30),
                patient_uid=patient.UID(),
                contact_choice="student",
            ),
            organiser=SITE_OWNER_NAME,
        )
    told = _as_in_1001(meeting)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1001")
    setup.upgradeProfile(PROFILE)
    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    assert meeting.last_told == told
    assert "_notified" not in meeting.__dict__ and "_audited_sequence" not in meeting.__dict__
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=30))
    assert meeting.sequence == 1
    assert [m.kind for m in outbox_for(portal).for_meeting(meeting.UID())] == [
        "invitation",
        "update",
    ]
    assert [e.detail for e in audit_log(portal).query() if e.action == log.MOVED] == ["sequence=1"]
