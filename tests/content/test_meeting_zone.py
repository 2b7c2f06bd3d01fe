"""A meeting's times are read and shown in the meeting's own zone, whatever the site's
zone is: Plone's edit form, saved unchanged, keeps the meeting where it was."""

from datetime import datetime
from datetime import timedelta
from factories import add_student
from factories import add_students_folder
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from zoneinfo import ZoneInfo

import pytest
import pytz
import transaction

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _tomorrow(hour: int) -> datetime:
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0)


@pytest.fixture
def meeting(mail_portal, smtp_sink):
    """A Stockholm meeting tomorrow 09:00–09:30 on a site whose own zone is UTC."""
    api.portal.set_registry_record("plone.portal_timezone", "UTC")
    patient = add_student(add_students_folder(mail_portal))
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = book_meeting(
            Booking(
                title="Samtal",
                start=_tomorrow(9),
                end=_tomorrow(9) + timedelta(minutes=30),
                patient_uid=patient.UID(),
                contact_choice="student",
                timezone="Europe/Stockholm",
            ),
            organiser=SITE_OWNER_NAME,
        )
    transaction.commit()
    smtp_sink.wait_for(1)  # the invitation
    return meeting


def _instants(meeting) -> tuple:
    transaction.begin()
    return (meeting.start, meeting.end, meeting.sequence)


def test_saving_the_edit_form_unchanged_keeps_the_meeting_on_a_site_in_another_zone(
    browser, meeting, smtp_sink
):
    before = _instants(meeting)
    browser.open(f"{meeting.absolute_url()}/@@edit")
    start = browser.getControl(name="form.widgets.IEventBasic.start")
    assert start.value.endswith("T09:00")  # the meeting's wall clock, not the site's
    browser.getControl(name="form.buttons.save").click()
    assert _instants(meeting) == before
    assert len(smtp_sink.wait_for(2, timeout=2)) == 1  # no update e-mail


def test_a_time_typed_in_the_edit_form_is_the_meetings_wall_clock_time(browser, meeting, smtp_sink):
    browser.open(f"{meeting.absolute_url()}/@@edit")
    day = _tomorrow(13).date().isoformat()
    browser.getControl(name="form.widgets.IEventBasic.start").value = f"{day}T13:00"
    browser.getControl(name="form.widgets.IEventBasic.end").value = f"{day}T13:45"
    browser.getControl(name="form.buttons.save").click()
    start, end, sequence = _instants(meeting)
    assert start == _tomorrow(13).replace(tzinfo=STOCKHOLM)
    assert end - start == timedelta(minutes=45) and sequence == 1
    invitation, update = smtp_sink.wait_for(2)
    assert update["Subject"].startswith("Ändrad tid: ")
    assert "13.00–13.45" in update.get_body(("plain",)).get_content()


def test_a_time_stored_in_another_zone_is_shown_in_the_meetings_zone(browser, meeting):
    transaction.begin()
    # As a REST PATCH of a meeting stored before stores it (zoneinfo cannot be pickled).
    meeting.start = meeting.start.astimezone(pytz.utc)
    transaction.commit()
    browser.open(f"{meeting.absolute_url()}/@@edit")
    start = browser.getControl(name="form.widgets.IEventBasic.start")
    assert start.value.endswith("T09:00")
