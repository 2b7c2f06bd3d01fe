"""A real meeting ends with an outcome and a draft note: staff and the guardian in the
room (Chromium, the real media server, which reports joins and leaves to the journal),
staff end it, the meeting page says "Genomfört" and the student's record holds the
draft visit note with who took part and how each was identified."""

from pages import wait_until
from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.visit import store
from test_room import enter_as_invitee
from test_room import open_staff_room
from test_room import sees
from test_room import wait_for

import pytest
import re
import time
import transaction

pytestmark = pytest.mark.slow


def recorded(meeting, count: int, seconds: float = 15) -> list:
    """The join/leave events the journal has for ``meeting`` once there are ``count``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        transaction.begin()
        found = store.events(meeting)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{len(found)} events recorded, expected {count}")


def test_a_meeting_staff_end_is_genomfort_with_a_draft_note_in_the_record(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    meeting = invitation["meeting"]
    open_staff_room(staff, meeting)
    enter_as_invitee(guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(staff, sees(["Anna Andersson"]), what="staff decodes the guardian")
    joins = recorded(meeting, 2)
    assert {(e.name, e.kind) for e in joins} == {
        ("Sara Skolsköterska", "join"),
        ("Anna Andersson", "join"),
    }

    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="Avsluta för alla").click()
    staff.wait_for_url(re.compile(r"/mote-[^/]+$"))
    guardian.get_by_text("Mötet är avslutat").wait_for()
    section = staff.locator(".videomote-attendance")
    assert section.locator(".videomote-outcome").text_content().strip() == "Genomfört"
    rows = section.locator("tbody tr")
    assert sorted(rows.locator("th").all_text_contents()) == [
        "Anna Andersson",
        "Sara Skolsköterska",
    ]

    transaction.begin()
    note = uuidToObject(store.record_of(meeting).note_uid, unrestricted=True)
    assert note.aq_parent == meeting.aq_parent  # in the student's record
    assert note.outcome == "completed" and note.clinician == "sara"
    assert "Anna Andersson (deltagare): engångskod via SMS (sms-otp), tillitsnivå låg" in (
        note.participants
    )
    assert note.actual_start is not None and note.actual_end >= note.actual_start
    assert not note.text

    staff.get_by_role("link", name="Öppna anteckningen").click()
    staff.wait_for_url(note.absolute_url() + "**")
    wait_until(staff, "document.body.innerText.includes('tillitsnivå låg')")
    assert "Utkast" in staff.locator("body").inner_text()
