""" "Dagens aktiviteter" on the staff home page: when, what, with whom, and the way in."""

from datetime import datetime
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from zoneinfo import ZoneInfo

import pytest
import re
import transaction


@pytest.fixture
def today(mail_portal):
    now = datetime.now(ZoneInfo("Europe/Stockholm"))
    if now.hour == 23 and now.minute >= 15:
        pytest.skip("too close to midnight for a meeting later today")
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    transaction.commit()
    meeting = book(alva, 10, "student", "Uppföljande samtal", organiser="sara")
    return {"url": mail_portal.absolute_url(), "meeting": meeting}


def _section(page: str) -> str:
    start = page.index('class="videomote-today"')
    return page[start : page.index("</section>", start)]


def test_todays_meetings_show_the_student_and_a_visible_way_into_the_room(today):
    section = _section(session_as("sara").get(today["url"]).text)
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert "Uppföljande samtal" in text
    assert "Alva Andersson" in text  # with whom: the student's record
    assert "<details" not in section  # nothing to open first
    room = f"{today['meeting'].absolute_url()}/@@videomote-rum"
    link = re.search(r'<a [^>]*href="' + re.escape(room) + r'"[^>]*>\s*([^<]+?)\s*</a>', section)
    assert link is not None and link.group(1) == "Gå till videomöte"
    assert 'target="_blank"' in link.group(0)
