"""What Plone shows around the add-on's pages: no "Upcoming Events" with meeting titles.

plone.app.event's profile assigns its "Upcoming Events" portlet at the site root; in
English on a Swedish site, it listed meeting titles on every page, the meeting room (a
screen that may be shared) included.
"""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from factories import start_room

import pytest
import requests
import transaction

TITLE = "Samtal om sömnen"


@pytest.fixture
def site(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    transaction.commit()
    meeting = book(alva, 10, "guardian", TITLE, organiser="sara")
    return {"url": mail_portal.absolute_url(), "alva": alva, "meeting": meeting}


def _staff() -> requests.Session:
    return session_as("sara")


def test_the_stock_events_portlet_is_on_the_rest_of_the_site(site):
    """The precondition: the journal's own pages keep their portlets."""
    assert "portletEvents" in _staff().get(f"{site['url']}/elever").text


def test_no_page_of_the_addon_shows_the_events_portlet_or_any_portlet_column(site):
    url, meeting = site["url"], site["meeting"].absolute_url()
    alva = site["alva"].absolute_url()
    staff = _staff()
    pages = {
        "calendar": staff.get(f"{url}/@@videomote-kalender"),
        "booking": staff.get(f"{alva}/@@videomote-boka"),
        "student": staff.get(alva),
        "meeting": staff.get(meeting),
        "move": staff.get(f"{meeting}/@@videomote-flytta"),
        "cancel": staff.get(f"{meeting}/@@videomote-avboka"),
        "outbox": staff.get(f"{url}/@@videomote-utkorg-epost"),
        "calendar account": staff.get(f"{url}/@@videomote-kalenderkoppling"),
        "room": staff.get(f"{meeting}/@@videomote-rum"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert "portletEvents" not in page.text, name
        assert "Upcoming Events" not in page.text, name
        assert 'id="portal-column-two"' not in page.text, name


def test_the_room_shows_the_meeting_and_nothing_of_plone_around_it(site):
    room = start_room(_staff(), site["meeting"]).text
    assert room.count(TITLE) == 1  # its heading
    assert 'id="vm-room"' in room
    for chrome in ('id="edit-zone"', 'id="portal-footer', "portletWrapper", "bundle-plone"):
        assert chrome not in room, chrome
