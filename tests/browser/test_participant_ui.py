"""A guardian signs in with the invitation link or the meeting code and an SMS code."""

from factories import start_room
from pages import wait_until

import pytest
import re
import requests
import time

pytestmark = pytest.mark.slow


def test_link_path_to_waiting_room_and_join_when_staff_start(
    participant, invitation, journal, mail_portal, sign_in_with_sms
):
    page = participant
    page.goto(invitation["link"])
    assert "#" not in page.url  # the token leaves the address bar at once
    sign_in_with_sms(page, mail_portal)
    page.get_by_role("heading", name="Uppföljande samtal").wait_for()
    join = page.get_by_role("button", name="Gå med nu")
    assert join.get_attribute("aria-disabled") == "true"
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["videomote_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    staff = requests.Session()
    staff.auth = ("sara", "secret-pw-1")
    started = time.monotonic()
    start_room(staff, invitation["meeting"])
    wait_until(
        page,
        "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'",
        timeout=5000,
    )
    assert time.monotonic() - started < 2.5
    join.click()
    page.wait_for_url(re.compile(r"/videomote/rum$"))
    wait_until(page, "document.getElementById('vm-self').srcObject !== null")


def test_code_page_path_and_wrong_code(participant, invitation, journal, mail_portal, latest_sms):
    page = participant
    page.goto(f"{journal['url']}/videomote")
    page.get_by_label("Möteskod").fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Möteskoden stämmer inte.").wait_for()
    page.get_by_label("Möteskod").fill(invitation["code"].lower().replace("-", " "))
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_role("button", name="Skicka engångskod via SMS").click()
    sms = latest_sms(mail_portal)
    wrong = f"{(int(sms[-6:]) + 1) % 1_000_000:06d}"
    page.get_by_label("Engångskod från SMS").fill(wrong)
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Fel kod. Du har 4 försök kvar.").wait_for()
    page.get_by_label("Engångskod från SMS").fill(sms[-6:])
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Väntar på att mötet ska starta…").wait_for()


@pytest.mark.parametrize(
    "user_agent, warning",
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
            "Videomötet kan inte hållas via mobiltelefon – använd en dator.",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
            "Din webbläsare stöds inte. Använd Google Chrome, Mozilla Firefox eller Microsoft "
            "Edge version 83 eller senare.",
        ),
    ],
)
def test_phones_and_old_browsers_are_told_what_works_what_to_do_and_whom_to_call(
    chromium, journal, user_agent, warning
):
    from plone import api

    import transaction

    api.portal.set_registry_record("prorenata.videomote.clinic_phone", "08-123 456 78")
    transaction.commit()
    context = chromium.new_context(locale="sv-SE", user_agent=user_agent)
    page = context.new_page()
    page.goto(f"{journal['url']}/videomote")
    alert = page.locator("#pv-browser-warning")
    alert.wait_for(state="visible", timeout=10000)
    assert alert.locator("p").first.inner_text() == warning
    # A way forward, not a dead end: where to go on a computer, and whom to call.
    text = " ".join(alert.inner_text().split())
    assert (
        "Öppna länken i e-postinbjudan på en dator med Google Chrome, Mozilla Firefox eller "
        f"Microsoft Edge. Du kan också gå till {journal['url']}/videomote på datorn och skriva "
        "in möteskoden från e-postinbjudan." in text
    )
    assert "Frågor? Ring mottagningen på 08-123 456 78." in text
    call = alert.get_by_role("link", name="08-123 456 78")
    assert call.get_attribute("href") == "tel:0812345678"
    # The form that would lead nowhere here is gone.
    assert not page.get_by_label("Möteskod").is_visible()
    assert not page.get_by_role("button", name="Fortsätt").is_visible()
    context.close()
