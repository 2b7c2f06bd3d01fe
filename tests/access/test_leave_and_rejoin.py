"""Leaving the room by mistake: the session is valid until the end, no new SMS code."""

from factories import add_student
from factories import book
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.notify.sms import sms_outbox

import pytest
import re
import requests
import transaction


@pytest.fixture
def invitation(mail_portal, smtp_sink):
    """A meeting starting in ten minutes, already started by staff; the e-mail's code
    and link token."""
    patient = add_student(mail_portal, title="Alva", guardians=[])
    transaction.commit()
    meeting = book(patient, 10)
    text = smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()
    transaction.begin()
    meeting.state = STATE_STARTED
    transaction.commit()
    return {
        "meeting": meeting,
        "code": re.search(r"möteskoden: (\S+)", text).group(1),
        "token": re.search(r"Gå till videomöte: \S+#(\S+)", text).group(1),
    }


def sms_count(portal) -> int:
    transaction.begin()
    return len(list(sms_outbox(portal)))


def signed_in(portal, code) -> requests.Session:
    browser = requests.Session()
    base = f"{portal.absolute_url()}/videomote"
    assert browser.post(base, data={"code": code}).url.endswith("/logga-in")
    browser.post(f"{base}/logga-in", data={"send_code": "1"})
    transaction.begin()
    sms = list(sms_outbox(portal))[-1]["text"][-6:]
    response = browser.post(f"{base}/logga-in", data={"continue": "1", "one_time_code": sms})
    assert response.url.endswith("/vantrum")
    return browser


def test_leaving_by_mistake_and_coming_back_needs_no_new_sms_code(mail_portal, invitation):
    base = f"{mail_portal.absolute_url()}/videomote"
    browser = signed_in(mail_portal, invitation["code"])
    assert 'id="vm-room"' in browser.get(f"{base}/rum").text
    sent = sms_count(mail_portal)

    left = browser.post(f"{base}/lamna")
    assert "Du har lämnat mötet. Du kan stänga webbläsarfönstret." in left.text
    assert 'name="code"' not in left.text  # no code form after leaving
    back = re.search(r'href="([^"]+)"[^>]*>\s*Gå med igen', left.text).group(1)
    assert back == f"{base}/vantrum"
    assert "Gå med nu" in browser.get(back).text
    assert 'id="vm-room"' in browser.get(f"{base}/rum").text

    # The invitation's link and the meeting code lead back in as well, without an SMS.
    link = browser.post(f"{base}/logga-in", data={"token": invitation["token"]})
    assert link.url.endswith("/vantrum")
    code = browser.post(base, data={"code": invitation["code"]})
    assert code.url.endswith("/vantrum")
    assert sms_count(mail_portal) == sent

    # Another browser (no session) still signs in with an SMS code.
    stranger = requests.Session()
    assert stranger.post(base, data={"code": invitation["code"]}).url.endswith("/logga-in")


def test_after_the_meeting_ended_leaving_offers_no_way_back(mail_portal, invitation):
    base = f"{mail_portal.absolute_url()}/videomote"
    browser = signed_in(mail_portal, invitation["code"])
    transaction.begin()
    invitation["meeting"].state = STATE_ENDED
    transaction.commit()
    left = browser.post(f"{base}/lamna")
    assert "Du har lämnat mötet." in left.text
    assert "Gå med igen" not in left.text
    assert 'name="code"' not in left.text
    again = browser.post(base, data={"code": invitation["code"]})
    assert "Möteskoden stämmer inte." in again.text
