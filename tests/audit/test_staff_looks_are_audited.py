"""Every staff page that shows a meeting (whom it is with, its reminders, who was in the
room) leaves a "viewed" entry in the audit log an administrator reads: by whom, and on
which page. A page that includes another, or a script that polls, is one look."""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book_at
from factories import session_as
from factories import staff_clock_at
from factories import tomorrow_at
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.visit import ending

import pytest
import transaction

TOLK = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}


@pytest.fixture
def clinic(mail_portal, monkeypatch):
    """Sara (Reader, Contributor on the students' folder) has a meeting tomorrow with Alva's
    guardian Anna and an interpreter; her clock says 08.00 tomorrow."""
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder, roles=("Reader", "Contributor"))
    alva = add_student(folder)
    transaction.commit()
    staff_clock_at(monkeypatch, tomorrow_at(8))
    meeting = book_at(alva, tomorrow_at(10), extra_participants=[TOLK])
    return {"portal": mail_portal, "meeting": meeting, "url": meeting.absolute_url()}


def viewed(clinic) -> list[tuple[str, str]]:
    """The "viewed" entries of the meeting, as (who, detail)."""
    transaction.begin()
    entries = audit_log(clinic["portal"]).query(meeting_uid=clinic["meeting"].UID())
    return [(e.actor, e.detail) for e in entries if e.action == "viewed"]


def html():
    return session_as("sara")


def test_the_invitation_notification_names_everyone_and_is_audited_once_per_look(clinic):
    portal_url = clinic["portal"].absolute_url()
    uid = clinic["meeting"].UID()
    calendar = html().get(f"{portal_url}/@@videomote-kalender", params={"booked": uid})
    assert calendar.status_code == 200
    # The calendar itself names nobody: the notification's poll does.
    assert "Anna Andersson" not in calendar.text
    assert viewed(clinic) == []
    status_url = f"{portal_url}/@@videomote-inbjudan-status"
    for _ in range(3):  # videomote.js asks until the e-mail has gone (up to 20 s)
        answer = html().get(status_url, params={"uid": uid}).json()
        assert "Anna Andersson" in answer["message"] and "Tina Tolk (tolk)" in answer["message"]
    assert viewed(clinic) == [("sara", "via=inbjudan-status")]


@pytest.mark.parametrize(
    ("page", "via", "shown"),
    [
        ("@@videomote-avboka", "via=avboka", "Anna Andersson"),
        ("@@videomote-flytta", "via=flytta", "Samtal"),
        ("@@videomote-rum", "via=rum", "Samtal"),
        ("@@videomote-paminnelser", "via=paminnelser", "Påminnelser"),
    ],
)
def test_each_staff_page_of_a_booked_meeting_is_audited_as_viewed(clinic, page, via, shown):
    response = html().get(f"{clinic['url']}/{page}")
    assert response.status_code == 200 and shown in response.text
    assert viewed(clinic) == [("sara", via)]


def test_the_meeting_dialog_with_its_reminders_and_attendance_is_one_look(clinic):
    ending.end_meeting(clinic["meeting"])
    transaction.commit()
    page = html().get(clinic["url"])
    assert page.status_code == 200 and "Påminnelser" in page.text
    assert "Uteblev" in page.text  # the attendance section is on it
    assert viewed(clinic) == [("sara", "")]


def test_the_attendance_section_on_its_own_is_audited(clinic):
    ending.end_meeting(clinic["meeting"])
    transaction.commit()
    section = html().get(f"{clinic['url']}/@@videomote-narvaro-del")
    assert section.status_code == 200 and "Uteblev" in section.text
    assert viewed(clinic) == [("sara", "via=narvaro")]


def test_the_administrator_reads_the_pages_named_in_swedish(clinic):
    html().get(f"{clinic['url']}/@@videomote-avboka").raise_for_status()
    log = session_as(SITE_OWNER_NAME, password=SITE_OWNER_PASSWORD).get(
        f"{clinic['portal'].absolute_url()}/@@videomote-granskningslogg",
        params={"meeting": clinic["meeting"].UID()},
    )
    assert "Personal visade mötet" in log.text
    assert "Via: Avboka" in log.text


def test_a_cancelled_meeting_dialog_stays_audited(clinic):
    """Cancelling on "Avboka" is audited as cancelled; the confirmation page before it as
    viewed (nothing new is recorded on the POST that cancels)."""
    import re

    page = html().get(f"{clinic['url']}/@@videomote-avboka").text
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)
    cancel = {"cancel": "1", "_authenticator": token}
    html().post(f"{clinic['url']}/@@videomote-avboka", data=cancel)
    transaction.begin()
    actions = [
        (e.action, e.actor)
        for e in audit_log(clinic["portal"]).query(meeting_uid=clinic["meeting"].UID())
    ]
    assert ("viewed", "sara") in actions and ("cancelled", "sara") in actions
    with api.env.adopt_user(SITE_OWNER_NAME):
        assert clinic["meeting"].state == "cancelled"
