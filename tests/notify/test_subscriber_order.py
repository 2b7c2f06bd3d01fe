"""The e-mail and the audit log react to what the domain did, in whatever order their
subscribers run: neither depends on the other having changed the meeting first."""

from datetime import datetime
from datetime import timedelta
from factories import add_student
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import TEST_USER_ID
from plone.app.testing import setRoles
from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.content.scheduling import move_meeting
from zoneinfo import ZoneInfo
from zope.component import getGlobalSiteManager

import contextlib
import pytest
import transaction

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _tomorrow(hour: int) -> datetime:
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0)


@contextlib.contextmanager
def _meeting_subscribers_reversed():
    """Every subscriber for meetings registered in the opposite order (as if the add-on's
    packages were included the other way round in configure.zcml)."""
    registry = getGlobalSiteManager()
    ours = [
        r for r in registry.registeredHandlers() if r.required and r.required[0] is IVideoMeeting
    ]
    assert ours

    def register(registrations):
        for r in registrations:
            registry.registerHandler(r.handler, r.required, r.name, r.info, event=False)

    def unregister(registrations):
        for r in registrations:
            assert registry.unregisterHandler(r.handler, r.required, r.name)

    unregister(ours)
    register(reversed(ours))
    try:
        yield
    finally:
        unregister(ours)
        register(ours)


@pytest.fixture
def meeting(mail_portal, smtp_sink):
    setRoles(mail_portal, TEST_USER_ID, ["Manager"])
    patient = add_student(mail_portal)
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = book_meeting(
            Booking(
                title="Uppföljande samtal",
                start=_tomorrow(9),
                end=_tomorrow(9) + timedelta(minutes=30),
                patient_uid=patient.UID(),
                contact_choice="student",
            ),
            organiser=SITE_OWNER_NAME,
        )
    transaction.commit()
    smtp_sink.wait_for(1)
    return meeting


def _audited(portal) -> list[tuple[str, str]]:
    return [(e.action, e.detail) for e in audit_log(portal).query()]


@pytest.mark.parametrize("order", ["as included", "reversed"])
def test_a_move_is_mailed_and_audited_whatever_order_the_subscribers_run_in(
    mail_portal, meeting, smtp_sink, order
):
    reverse = _meeting_subscribers_reversed if order == "reversed" else contextlib.nullcontext
    with reverse(), api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=45))
        transaction.commit()
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=45), title="Nytt")
        transaction.commit()
        cancel_meeting(meeting)
        transaction.commit()
    invitation, moved, retitled, cancelled = smtp_sink.wait_for(4)
    assert moved["Subject"].startswith("Ändrad tid: ")
    assert retitled["Subject"].startswith("Ändrad titel: Nytt")
    assert cancelled["Subject"].startswith("Inställt: ")
    transaction.begin()
    actions = _audited(mail_portal)
    moves = [detail for action, detail in actions if action == log.MOVED]
    assert sorted(moves) == ["sequence=1", "sequence=2"]
    assert log.CANCELLED in [action for action, _ in actions]
    assert meeting.sequence == 3


def test_the_meeting_keeps_no_state_of_the_subscribers(meeting):
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=45))
    transaction.commit()
    state = meeting.__dict__
    assert "_notified" not in state and "_audited_sequence" not in state
    assert meeting.last_told[2] == "Uppföljande samtal"
    # Declared without a type annotation: a class ``__annotations__`` dict would be every
    # meeting's shared zope.annotation storage (sign-ins, SMS quota).
    assert "__annotations__" not in vars(type(meeting))
