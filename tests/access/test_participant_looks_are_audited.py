"""A participant's page that shows the meeting (its title, time, or whether it is still
on) to a valid link, code or session is in the audit log: too early, over, the sign-in
page itself, and "Du har lämnat mötet" opened again."""

from factories import add_student
from factories import book
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.notify.sms import sms_outbox
from prorenata.videomote.visit import ending

import pytest
import re
import requests
import transaction

SHOWN = "participant_page_shown"


@pytest.fixture
def patient(mail_portal):
    patient = add_student(mail_portal, title="Alva", guardians=[])
    transaction.commit()
    return patient


def _mail(smtp_sink) -> str:
    return smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()


def _entered(portal, smtp_sink) -> requests.Session:
    """The participant typed the e-mail's meeting code (and landed on the sign-in page)."""
    code = re.search(r"möteskoden: (\S+)", _mail(smtp_sink)).group(1)
    browser = requests.Session()
    response = browser.post(f"{portal.absolute_url()}/videomote", data={"code": code})
    assert response.url.endswith("/videomote/logga-in")
    return browser


def _entries(portal, meeting) -> list[tuple[str, str, str]]:
    transaction.begin()
    return [
        (e.action, e.actor, e.detail)
        for e in audit_log(portal).query(meeting_uid=meeting.UID())
        if e.role == "participant"
    ]


def _cancel(meeting) -> None:
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()


def test_the_sign_in_page_before_the_meeting_opens_is_audited(mail_portal, patient, smtp_sink):
    meeting = book(patient, 24 * 60)
    browser = _entered(mail_portal, smtp_sink)
    page = browser.get(f"{mail_portal.absolute_url()}/videomote/logga-in")
    assert "Mötet har inte börjat än" in page.text and "Samtal" in page.text
    early = (SHOWN, "deltagare:student", "page=logga-in, window=early")
    assert _entries(mail_portal, meeting) == [
        ("code_page_used", "deltagare:student", ""),
        early,  # the page the code led to
        early,  # and the same page opened again
    ]


def test_the_sign_in_page_of_a_meeting_cancelled_since_is_audited(mail_portal, patient, smtp_sink):
    meeting = book(patient, 10)
    browser = _entered(mail_portal, smtp_sink)
    _cancel(meeting)
    before = _entries(mail_portal, meeting)
    page = browser.get(f"{mail_portal.absolute_url()}/videomote/logga-in")
    assert "är avslutat eller inställt" in page.text
    assert _entries(mail_portal, meeting)[len(before) :] == [
        (SHOWN, "deltagare:student", "page=logga-in, window=over")
    ]


def test_the_invitation_link_of_an_ended_meeting_is_audited_as_opened(
    mail_portal, patient, smtp_sink
):
    meeting = book(patient, 10)
    token = re.search(r"logga-in#(\S+)", _mail(smtp_sink)).group(1)
    transaction.begin()
    ending.end_meeting(meeting)  # ended: its link still leads to it (cancelled: not)
    transaction.commit()
    before = _entries(mail_portal, meeting)
    page = requests.post(f"{mail_portal.absolute_url()}/videomote/logga-in", data={"token": token})
    assert "är avslutat eller inställt" in page.text
    assert _entries(mail_portal, meeting)[len(before) :] == [
        ("link_opened", "deltagare:student", "window=over")
    ]


def test_the_open_sign_in_page_is_audited_once_per_request(mail_portal, patient, smtp_sink):
    meeting = book(patient, 10)
    browser = _entered(mail_portal, smtp_sink)
    url = f"{mail_portal.absolute_url()}/videomote/logga-in"
    sent = browser.post(url, data={"send_code": "1"})
    assert "Vi har skickat en engångskod" in sent.text
    assert _entries(mail_portal, meeting) == [
        ("code_page_used", "deltagare:student", ""),
        (SHOWN, "deltagare:student", "page=logga-in, window=open"),
        ("sms_sent", "deltagare:student", ""),  # its own entry: no second one
    ]


def test_leaving_page_opened_again_with_a_session_is_audited(mail_portal, patient, smtp_sink):
    meeting = book(patient, 10)
    browser = _entered(mail_portal, smtp_sink)
    url = mail_portal.absolute_url()
    browser.post(f"{url}/videomote/logga-in", data={"send_code": "1"})
    transaction.begin()
    sms = list(sms_outbox(mail_portal))[-1]["text"][-6:]
    signed_in = browser.post(
        f"{url}/videomote/logga-in", data={"continue": "1", "one_time_code": sms}
    )
    assert signed_in.url.endswith("/videomote/vantrum")
    before = _entries(mail_portal, meeting)
    page = browser.get(f"{url}/videomote/lamna")
    assert "Du har lämnat mötet" in page.text and "Gå med igen" in page.text
    assert _entries(mail_portal, meeting)[len(before) :] == [
        (SHOWN, "deltagare:student", "page=lamna")
    ]
    # Without a session the page shows no meeting, and nothing is written about one.
    assert "Gå med igen" not in requests.get(f"{url}/videomote/lamna").text
    assert _entries(mail_portal, meeting)[len(before) :] == [
        (SHOWN, "deltagare:student", "page=lamna")
    ]


def test_the_administrator_reads_what_the_participant_was_shown(mail_portal, patient, smtp_sink):
    book(patient, 24 * 60)
    _entered(mail_portal, smtp_sink)
    log = requests.get(
        f"{mail_portal.absolute_url()}/@@videomote-granskningslogg",
        auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD),
    )
    assert "Mötet visat för deltagaren" in log.text
    assert "Sida: inloggningen, Inloggningstid: inte öppen än" in log.text
