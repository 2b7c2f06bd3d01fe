"""Where a family cannot go on, the participant pages say what to do and whom to call.

The clinic's phone number is a setting (control panel "Videomöte"): shown when set,
left out when empty. The room is as wide as the window without the CSS ``:has()``.
"""

from factories import add_student
from factories import book
from plone import api
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.notify.sms import sms_outbox

import pathlib
import pytest
import re
import requests
import transaction

PHONE = "08-123 456 78"
CONTACT = "Frågor? Ring mottagningen på"
STATIC = pathlib.Path(__file__).parents[2] / "src/prorenata/videomote/browser/static"


@pytest.fixture
def invitation(mail_portal, smtp_sink):
    patient = add_student(mail_portal, title="Alva", guardians=[])
    transaction.commit()
    meeting = book(patient, 10)
    text = smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()
    return {
        "meeting": meeting,
        "code": re.search(r"möteskoden: (\S+)", text).group(1),
        "token": re.search(r"Gå till videomöte: \S+#(\S+)", text).group(1),
    }


def _set_phone(value) -> None:
    from plone.registry.interfaces import IRegistry
    from zope.component import getUtility

    getUtility(IRegistry)["prorenata.videomote.clinic_phone"] = value
    transaction.commit()


def _flat(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split()).replace(" .", ".")


def test_the_phone_message_says_where_to_go_on_a_computer_and_whom_to_call(mail_portal):
    _set_phone(PHONE)
    url = mail_portal.absolute_url()
    page = requests.get(f"{url}/videomote").text
    warning = page[
        page.index('id="pv-browser-warning"') : page.index(
            "</div>", page.index('id="pv-browser-warning"')
        )
    ]
    text = _flat(warning)
    assert "Öppna länken i e-postinbjudan på en dator med Google Chrome" in text
    assert f"Du kan också gå till {url}/videomote på datorn" in text
    assert f"{CONTACT} {PHONE}." in text
    assert 'href="tel:0812345678"' in warning


def test_without_a_clinic_phone_no_phone_line_is_shown(mail_portal):
    _set_phone(None)
    page = requests.get(f"{mail_portal.absolute_url()}/videomote").text
    assert "Öppna länken i e-postinbjudan på en dator" in _flat(page)
    assert CONTACT not in page and "tel:" not in page


def test_a_meeting_cancelled_after_the_code_was_entered_says_whom_to_call(mail_portal, invitation):
    from prorenata.videomote.content.scheduling import cancel_meeting

    _set_phone(PHONE)
    base = f"{mail_portal.absolute_url()}/videomote"
    browser = requests.Session()
    assert browser.post(base, data={"code": invitation["code"]}).url.endswith("/logga-in")
    transaction.begin()
    with api.env.adopt_user("admin"):
        cancel_meeting(invitation["meeting"])
    transaction.commit()
    text = _flat(browser.post(f"{base}/logga-in", data={"send_code": "1"}).text)
    assert "är avslutat eller inställt." in text
    after_error = text[text.index("är avslutat eller inställt.") :]
    assert after_error.startswith(f"är avslutat eller inställt. {CONTACT} {PHONE}.")


def test_a_wrong_code_says_whom_to_call_and_a_good_page_does_not(mail_portal, invitation):
    _set_phone(PHONE)
    url = f"{mail_portal.absolute_url()}/videomote"
    wrong = _flat(requests.post(url, data={"code": "AAAA-BBBB-CCCC"}).text)
    assert wrong.count(f"{CONTACT} {PHONE}.") == 2  # the error, and the (hidden) phone box
    fine = _flat(requests.get(url).text)
    assert fine.count(f"{CONTACT} {PHONE}.") == 1  # only in the (hidden) phone box


def test_the_room_is_full_width_by_a_class_of_the_page_not_by_has(mail_portal, invitation):
    base = f"{mail_portal.absolute_url()}/videomote"
    transaction.begin()
    invitation["meeting"].state = STATE_STARTED
    transaction.commit()
    browser = requests.Session()
    browser.post(base, data={"code": invitation["code"]})
    browser.post(f"{base}/logga-in", data={"send_code": "1"})
    transaction.begin()
    sms = list(sms_outbox(mail_portal))[-1]["text"][-6:]
    assert browser.post(
        f"{base}/logga-in", data={"continue": "1", "one_time_code": sms}
    ).url.endswith("/vantrum")
    room = browser.get(f"{base}/rum").text
    assert 'id="vm-room"' in room
    assert re.search(r'<body[^>]*class="vm-room-page"', room)
    assert not re.search(r'<body[^>]*class="vm-room-page"', browser.get(f"{base}/vantrum").text)
    for sheet in ("room.css", "participant.css"):
        css = re.sub(r"/\*.*?\*/", "", (STATIC / sheet).read_text(), flags=re.S)
        assert ":has(" not in css, sheet
        assert ".vm-room-page .pv-main" in css or sheet == "room.css"


def test_the_phone_message_gives_the_address_the_invitation_gives(mail_portal):
    api.portal.set_registry_record(
        "prorenata.videomote.public_base_url", "https://journal.example.se"
    )
    transaction.commit()
    page = _flat(requests.get(f"{mail_portal.absolute_url()}/videomote").text)
    assert "Du kan också gå till https://journal.example.se/videomote på datorn" in page
