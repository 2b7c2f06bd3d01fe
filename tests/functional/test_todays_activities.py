""" "Dagens aktiviteter" on the staff home page: when, what, with whom, and the way in."""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book_at
from factories import session_as
from factories import staff_clock_at
from factories import tomorrow_at

import pytest
import re
import transaction


@pytest.fixture
def today(mail_portal, monkeypatch):
    """A meeting at 10.00 on the staff pages' "today" (tomorrow, their clock at 08.00)."""
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    transaction.commit()
    staff_clock_at(monkeypatch, tomorrow_at(8))
    meeting = book_at(alva, tomorrow_at(10), "Uppföljande samtal", "student", "sara")
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
