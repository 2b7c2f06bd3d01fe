"""Every way of changing a meeting's time keeps the booking rules: Plone's edit form and
plone.restapi's stock PATCH refuse in Swedish and store nothing; Plone's add form and
stock POST cannot create a meeting outside booking."""

from datetime import date
from datetime import datetime
from datetime import timedelta
from factories import add_student
from factories import add_students_folder
from factories import book
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD

import pytest
import requests
import transaction

AUTH = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
TOMORROW = (date.today() + timedelta(days=1)).isoformat()


def _spring_forward() -> str:
    """The next night summer time begins in Sweden (the last Sunday of March)."""
    year = date.today().year + (date.today() >= date(date.today().year, 3, 20))
    day = date(year, 3, 31)
    return (day - timedelta(days=(day.weekday() + 1) % 7)).isoformat()


#: (start, end) as typed into the form, and what is refused.
REFUSED = {
    "a hundred years": (
        f"{TOMORROW}T09:00",
        f"{int(TOMORROW[:4]) + 100}{TOMORROW[4:]}T09:00",
        "Ett videomöte får vara högst 4 h.",
    ),
    "end before start": (f"{TOMORROW}T10:00", f"{TOMORROW}T09:00", "Slut måste vara efter start."),
    "spring-forward gap": (
        f"{_spring_forward()}T02:30",
        f"{_spring_forward()}T03:30",
        f"Klockan 02.30 finns inte natten till {_spring_forward()}",
    ),
    "in 2031": (
        "2031-06-02T09:00",
        "2031-06-02T09:30",
        "Ett videomöte kan bokas högst 730 dagar framåt.",
    ),
}


@pytest.fixture
def meeting(mail_portal, smtp_sink):
    # A Swedish site's zone (test_meeting_zone.py: a site in another zone).
    api.portal.set_registry_record("plone.portal_timezone", "Europe/Stockholm")
    meeting = book(add_student(add_students_folder(mail_portal)), minutes_from_now=60)
    smtp_sink.wait_for(1)  # the invitation
    return meeting


def _times(meeting) -> tuple:
    transaction.begin()
    return (meeting.start, meeting.end, meeting.whole_day, meeting.open_end)


def _edit(browser, meeting, start: str, end: str, **flags) -> None:
    browser.open(f"{meeting.absolute_url()}/@@edit")
    browser.getControl(name="form.widgets.IEventBasic.start").value = start
    browser.getControl(name="form.widgets.IEventBasic.end").value = end
    for flag, value in flags.items():
        browser.getControl(name=f"form.widgets.IEventBasic.{flag}:list").value = value
    browser.getControl(name="form.buttons.save").click()


@pytest.mark.parametrize(("start", "end", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_the_edit_form_refuses_a_time_booking_refuses(browser, meeting, start, end, message):
    before = _times(meeting)
    _edit(browser, meeting, start, end)
    assert message in browser.contents
    assert _times(meeting) == before


#: plone.restapi reads a time without an offset as UTC: no time it takes is in a gap.
REST_REFUSED = {name: case for name, case in REFUSED.items() if name != "spring-forward gap"}


@pytest.mark.parametrize(
    ("start", "end", "message"), REST_REFUSED.values(), ids=REST_REFUSED.keys()
)
def test_a_stock_rest_patch_refuses_a_time_booking_refuses(meeting, start, end, message):
    before = _times(meeting)
    response = requests.patch(
        meeting.absolute_url(),
        json={"start": start, "end": end},
        auth=AUTH,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    assert _times(meeting) == before


def test_a_stock_rest_patch_of_only_the_end_keeps_the_longest_meeting(meeting):
    before = _times(meeting)
    response = requests.patch(
        meeting.absolute_url(),
        json={"end": (meeting.start + timedelta(days=36500)).isoformat()},
        auth=AUTH,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "Ett videomöte får vara högst 4 h." in response.json()["message"]
    assert _times(meeting) == before


@pytest.mark.parametrize("flag", ["whole_day", "open_end"])
def test_a_meeting_cannot_be_made_whole_day_or_open_ended(browser, meeting, flag):
    before = _times(meeting)
    message = "Ett videomöte har alltid en start- och en sluttid"
    response = requests.patch(
        meeting.absolute_url(), json={flag: True}, auth=AUTH, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    _edit(browser, meeting, f"{TOMORROW}T09:00", f"{TOMORROW}T09:30", **{flag: ["selected"]})
    assert message in browser.contents
    assert _times(meeting) == before


def test_a_valid_move_in_the_edit_form_is_saved_and_sends_the_update(browser, meeting, smtp_sink):
    _edit(browser, meeting, f"{TOMORROW}T13:00", f"{TOMORROW}T13:45")
    start, end, *_ = _times(meeting)
    assert (start.hour, start.minute, end - start) == (13, 0, timedelta(minutes=45))
    invitation, update = smtp_sink.wait_for(2)
    assert update["Subject"].startswith("Ändrad tid")


def test_the_edit_form_still_corrects_a_past_meetings_title(browser, meeting):
    transaction.begin()
    meeting.start -= timedelta(days=2)
    meeting.end -= timedelta(days=2)
    meeting._room_times = (meeting.start.isoformat(), meeting.end.isoformat())
    transaction.commit()
    browser.open(f"{meeting.absolute_url()}/@@edit")
    browser.getControl(name="form.widgets.title").value = "Uppföljning"
    browser.getControl(name="form.buttons.save").click()
    transaction.begin()
    assert meeting.title == "Uppföljning"


def test_a_cancelled_meetings_time_cannot_be_changed_in_the_edit_form(browser, meeting):
    from prorenata.videomote.content.scheduling import cancel_meeting

    transaction.begin()
    cancel_meeting(meeting)
    transaction.commit()
    before = _times(meeting)
    _edit(browser, meeting, f"{TOMORROW}T13:00", f"{TOMORROW}T13:45")
    assert "Mötet är avbokat och kan inte flyttas." in browser.contents
    assert _times(meeting) == before


def test_the_stock_add_form_leads_to_the_booking_dialog(browser, meeting):
    record = meeting.__parent__
    browser.open(f"{record.absolute_url()}/++add++VideoMeeting")
    assert browser.url == f"{record.absolute_url()}/@@videomote-boka"
    transaction.begin()
    assert len(record.objectIds()) == 1


def test_a_stock_rest_post_of_a_meeting_is_refused(meeting):
    record = meeting.__parent__
    start = datetime.fromisoformat(f"{TOMORROW}T09:00+01:00")
    response = requests.post(
        record.absolute_url(),
        json={
            "@type": "VideoMeeting",
            "title": "Samtal",
            "start": start.isoformat(),
            "end": (start + timedelta(days=36500)).isoformat(),
        },
        auth=AUTH,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "bokas med bokningsdialogen" in response.json()["message"]
    transaction.begin()
    assert len(record.objectIds()) == 1
