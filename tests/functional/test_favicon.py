"""The add-on's own pages name their icon; without one, browsers ask /favicon.ico (404)."""

from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book

import re
import requests
import transaction


def _icon_of(page: str) -> requests.Response:
    link = re.search(r'<link rel="icon"[^>]*href="([^"]+)"', page)
    assert link, "the page names no icon"
    return requests.get(link.group(1))


def test_participant_pages_and_the_room_show_the_addons_icon(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder)
    transaction.commit()
    meeting = book(add_student(folder), 10, organiser="sara")
    staff = requests.Session()
    staff.auth = ("sara", STAFF_PASSWORD)
    pages = [
        requests.get(f"{mail_portal.absolute_url()}/videomote").text,
        requests.get(f"{mail_portal.absolute_url()}/videomote/logga-in").text,
        staff.get(f"{meeting.absolute_url()}/@@videomote-rum").text,
    ]
    for page in pages:
        icon = _icon_of(page)
        assert icon.status_code == 200
        assert icon.headers["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")
        assert icon.content.startswith(b"\x00\x00\x01\x00")  # an ICO file
