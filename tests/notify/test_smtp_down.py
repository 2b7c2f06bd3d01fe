"""A dead SMTP server loses no booking; the invitation goes out once, when it is back."""

from factories import add_student
from factories import book
from mail_quiet import nothing_due
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.browser.meetings import invitation_status
from prorenata.videomote.notify.delivery import wake_after_commit
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import utcnow
from zope.i18n import translate

import requests
import socket
import time
import transaction


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens here once the probe is closed


def _wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transaction.begin()  # see what the delivery worker committed
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_smtp_down_keeps_booking_and_delivers_once_when_back(mail_portal, smtp_sink):
    api.portal.set_registry_record("plone.smtp_port", _closed_port())
    patient = add_student(mail_portal, title="Alva", guardians=[])
    meeting = book(patient, minutes_from_now=24 * 60)
    uid = meeting.UID()

    assert _wait_until(lambda: invitation_status(meeting)["status"] == "failed")
    catalog = api.portal.get_tool("portal_catalog")
    assert len(catalog.unrestrictedSearchResults(UID=uid)) == 1  # the booking is stored
    assert invitation_status(meeting)["attempts"] >= 1
    assert smtp_sink.messages == []
    # While it waits, the stored message shows neither the link nor the meeting code.
    waiting = outbox_for(mail_portal).for_meeting(uid)[-1].body
    assert waiting and b"logga-in" not in waiting and b"Subject" not in waiting

    api.portal.set_registry_record("plone.smtp_port", smtp_sink.port)
    outbox_for(mail_portal).retry_now(utcnow())
    wake_after_commit(mail_portal)
    transaction.commit()

    (delivered,) = smtp_sink.wait_for(1)
    assert "logga-in#" in delivered.get_body(("plain",)).get_content()
    assert _wait_until(lambda: invitation_status(meeting)["status"] == "sent")
    assert len(smtp_sink.wait_for(2, timeout=1.5, settled=nothing_due(mail_portal))) == 1  # once
    assert outbox_for(mail_portal).undelivered() == []


def test_an_address_the_recipients_server_refuses_is_not_retried_and_staff_are_told(
    mail_portal, smtp_sink
):
    smtp_sink.refused.add("alva@example.se")
    patient = add_student(mail_portal, title="Alva", guardians=[])
    meeting = book(patient, minutes_from_now=24 * 60)
    assert _wait_until(lambda: invitation_status(meeting)["status"] == "refused")
    mail = outbox_for(mail_portal).for_meeting(meeting.UID())[-1]
    assert mail.body == b""  # the link and the code are not kept for a mail that cannot go
    # Stored as a message id (translated where staff see it), Swedish on a Swedish site.
    assert translate(mail.last_error, target_language="sv") == (
        "Mottagarens e-postserver tog inte emot adressen (550)."
    )
    assert outbox_for(mail_portal).next_due() is None  # nothing left to retry
    outbox_for(mail_portal).retry_now(utcnow())
    wake_after_commit(mail_portal)
    transaction.commit()
    smtp_sink.wait_for(1, timeout=1.5, settled=nothing_due(mail_portal))  # no retry comes
    transaction.begin()
    assert outbox_for(mail_portal).for_meeting(meeting.UID())[-1].attempts == 1
    page = requests.get(meeting.absolute_url(), auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)).text
    assert "mottagarens e-postserver tog inte emot adressen" in page
    assert smtp_sink.messages == []
