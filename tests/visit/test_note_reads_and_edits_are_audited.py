"""Every change to a visit note, by the edit form or a REST PATCH, is in the audit log
under its meeting: who changed it, and which fields (never the text itself)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.visit import ending
from prorenata.videomote.visit import store

import pytest
import re
import transaction

SECRET_TEXT = "Samtal om sömn. Uppföljning om fyra veckor."


@pytest.fixture
def ended(mail_portal):
    """Sara's meeting with Alva has ended: its draft note is in Alva's record, where Tove
    (a colleague, Editor on the record too) can reach it."""
    now = datetime.now(UTC)
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    add_staff("tove", "Tove Kurator", access_to=folder)
    alva = add_student(folder)
    transaction.commit()
    meeting = book(alva, 10, "guardian", "Uppföljande samtal", organiser="sara")
    if (meeting.start.astimezone(UTC) - now) > timedelta(minutes=11):
        pytest.skip("clock moved")
    ending.end_meeting(meeting)
    transaction.commit()
    note = uuidToObject(store.record_of(meeting).note_uid, unrestricted=True)
    return {"portal": mail_portal, "meeting": meeting, "note": note.absolute_url()}


def edits(ended) -> list[tuple[str, str]]:
    transaction.begin()
    entries = audit_log(ended["portal"]).query(meeting_uid=ended["meeting"].UID())
    return [(e.actor, e.detail) for e in entries if e.action == "visit_note_edited"]


def test_a_rest_patch_of_the_note_is_audited_with_its_editor(ended):
    response = session_as("tove", json=True).patch(ended["note"], json={"text": SECRET_TEXT})
    assert response.status_code == 204, response.text
    (entry,) = edits(ended)
    assert entry[0] == "tove" and "fields=text" in entry[1]
    assert SECRET_TEXT not in repr(audit_log(ended["portal"]).query())


def test_the_edit_form_of_the_note_is_audited_with_its_editor(ended):
    staff = session_as("sara")
    url = ended["note"]
    form = staff.get(f"{url}/edit").text
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', form).group(1)
    title = re.search(r'name="form.widgets.title"[^>]*value="([^"]+)"', form).group(1)
    saved = staff.post(
        f"{url}/edit",
        data={
            "form.widgets.text": SECRET_TEXT,
            "form.widgets.title": title,
            "form.buttons.save": "Spara",
            "_authenticator": token,
        },
    )
    assert saved.status_code == 200
    (entry,) = edits(ended)
    assert entry[0] == "sara" and "fields=text" in entry[1]


def test_the_journal_refreshing_or_signing_a_note_is_not_an_edit(ended):
    with api.env.adopt_user("sara"):
        api.content.transition(uuidToObject(store.record_of(ended["meeting"]).note_uid), "sign")
    transaction.commit()
    assert edits(ended) == []


def test_the_administrator_reads_the_note_edit_in_swedish(ended):
    session_as("tove", json=True).patch(ended["note"], json={"text": SECRET_TEXT})
    log = session_as(SITE_OWNER_NAME, password=SITE_OWNER_PASSWORD).get(
        f"{ended['portal'].absolute_url()}/@@videomote-granskningslogg",
        params={"meeting": ended["meeting"].UID()},
    )
    assert "Besöksanteckning ändrad" in log.text and "Fält: text" in log.text


def reads(ended) -> list[tuple[str, str]]:
    transaction.begin()
    entries = audit_log(ended["portal"]).query(meeting_uid=ended["meeting"].UID())
    return [
        (e.actor, e.detail.split("via=")[-1]) for e in entries if e.action == "visit_note_viewed"
    ]


def test_every_read_of_the_note_is_audited_with_its_reader(ended):
    url = ended["note"]
    page = session_as("tove").get(url)
    assert page.status_code == 200 and "Uppföljande samtal" in page.text
    form = session_as("sara").get(f"{url}/edit")
    assert form.status_code == 200
    rest = session_as("sara", json=True).get(url)
    assert rest.status_code == 200 and rest.json()["clinician"] == "sara"
    assert reads(ended) == [("tove", "view"), ("sara", "edit"), ("sara", "rest")]


def test_a_read_refused_to_someone_without_access_records_nothing(ended):
    add_staff("olle")
    transaction.commit()
    assert session_as("olle").get(ended["note"]).status_code in (401, 403, 200)
    assert session_as("olle", json=True).get(ended["note"]).status_code in (401, 403)
    assert reads(ended) == []
