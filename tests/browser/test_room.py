"""The room with real browsers: Chromium pages through the real media server (aiortc).

Runs only inside a loopback-only network namespace (``make test`` makes one), so no
WebRTC traffic reaches anything but 127.0.0.1. Each page must *decode* the others' video
(``getStats`` framesDecoded) and receive audio energy, not merely connect.
"""

from factories import STAFF_PASSWORD
from factories import add_staff
from pages import CSP_VIOLATIONS
from pages import CSP_WATCH
from pages import MEDIA
from pages import csp_violations
from pages import enter_as_invitee
from pages import logged_in_page
from pages import media
from pages import open_staff_room
from pages import sees
from pages import skip_here_fail_in_ci
from pages import staff_and_guardian_in_the_room
from pages import wait_for
from pages import wait_until
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.notify.sms import sms_outbox

import pytest
import re
import requests
import time
import transaction

pytestmark = pytest.mark.slow


@pytest.fixture
def colleague_page(chromium, journal):
    """A second staff member with access to the student (an interpreter, say)."""
    from plone import api
    from ZODB.POSException import ConflictError

    for _ in range(5):  # the server's threads may be writing (log-ins) at the same time
        try:
            transaction.begin()
            add_staff("tove", "Tove Tolk", access_to=api.portal.get()["elever"])
            transaction.commit()
            break
        except ConflictError:
            transaction.abort()
            time.sleep(0.2)
    context, page = logged_in_page(
        chromium, journal["url"], "tove", STAFF_PASSWORD, api.portal.get()
    )
    yield page
    context.close()


@pytest.fixture
def other_site():
    """Another site (another origin: 127.0.0.1, the journal is on localhost) whose page
    links to an address of the journal: ``other_site(url)`` is that page's address."""
    from http.server import BaseHTTPRequestHandler
    from http.server import ThreadingHTTPServer

    import html
    import threading

    links = []

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            body = f'<a href="{html.escape(links[-1])}">Videomöte</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def page_linking_to(url: str) -> str:
        links.append(url)
        return f"http://127.0.0.1:{server.server_port}/"

    yield page_linking_to
    server.shutdown()


def test_a_link_from_another_site_opens_the_room_without_starting_the_meeting(
    staff_page, invitation, media_server, other_site
):
    """The staff cookie goes along on a link from another site (SameSite=Lax): the room
    page then offers "Starta mötet" and leaves pressing it to staff."""
    meeting = invitation["meeting"]
    staff_page.goto(other_site(f"{meeting.absolute_url()}/@@videomote-rum"))
    staff_page.get_by_role("link", name="Videomöte").click()
    start = staff_page.get_by_role("button", name="Starta mötet")
    start.wait_for()
    staff_page.wait_for_timeout(1500)  # the page's script would have started it by now
    assert start.is_visible()
    transaction.begin()
    assert meeting.state == "booked"
    start.click()
    staff_page.get_by_role("region", name="Videomöte").wait_for()
    transaction.begin()
    assert meeting.state == "started"


def test_staff_and_guardian_see_hear_chat_mute_and_hang_up(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    staff_and_guardian_in_the_room(staff, guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(staff, sees(["Anna Andersson"]), what="staff decodes the guardian")
    wait_for(guardian, sees(["Sara Skolsköterska"]), what="guardian decodes staff")
    assert media(guardian)["state"] == "connected"
    guardian.get_by_text("Ansluten").wait_for()
    # The room is as wide as the staff room by a class of the page (no CSS ``:has()``,
    # which Firefox ESR before 121 and Safari before 15.4 ignore).
    for page in (staff, guardian):
        assert page.evaluate("getComputedStyle(document.querySelector('.pv-main')).maxWidth") == (
            "1280px"
        )
    assert guardian.evaluate("document.body.classList.contains('vm-room-page')")

    # Chat both ways, shown as text with sender and time.
    guardian.get_by_label("Skriv ett meddelande").fill("Hej! <b>Syns jag?</b>")
    guardian.get_by_label("Skriv ett meddelande").press("Enter")
    line = staff.locator(".vm-chat-messages li", has_text="<b>Syns jag?</b>")
    line.wait_for()
    assert line.locator(".vm-chat-from").text_content() == "Anna Andersson"
    assert re.fullmatch(r"\d\d:\d\d", line.locator("time").text_content())
    assert staff.locator(".vm-chat-messages b").count() == 0
    staff.get_by_label("Skriv ett meddelande").fill("Ja, tydligt.")
    staff.get_by_role("button", name="Skicka").click()
    guardian.locator(".vm-chat-messages li", has_text="Ja, tydligt.").wait_for()

    # Microphone and camera off: the other side is told, and sees no picture from then on
    # (the frames still under way are not shown under "kamera av").
    guardian.get_by_role("button", name="Mikrofon").click()
    guardian.get_by_role("button", name="Kamera").click()
    # The names say the state (not a pressed state that reads as the opposite).
    assert guardian.get_by_role("button", name="Mikrofon av").is_visible()
    assert guardian.get_by_role("button", name="Kamera av").is_visible()
    state = wait_for(
        staff,
        lambda s: s["tiles"] and s["tiles"][0]["flags"] == "mikrofon av · kamera av",
        what="mute and camera-off shown",
    )
    assert not state["tiles"][0]["pictureShown"]
    guardian.get_by_role("button", name="Kamera").click()
    state = wait_for(
        staff, lambda s: s["tiles"] and s["tiles"][0]["flags"] == "mikrofon av", what="camera on"
    )
    assert state["tiles"][0]["pictureShown"]

    # The guardian hangs up: the page says so, staff see them leave.
    transaction.begin()
    sms_before = len(list(sms_outbox(mail_portal)))
    guardian.get_by_role("button", name="Lämna mötet").click()
    guardian.get_by_text("Du har lämnat mötet. Du kan stänga webbläsarfönstret.").wait_for()
    assert guardian.get_by_label("Möteskod").count() == 0
    staff.locator(".vm-chat-notice", has_text="Anna Andersson lämnade mötet.").wait_for()
    wait_for(staff, lambda s: not s["tiles"], what="the guardian's tile removed")

    # Left by mistake: back in without a new SMS code.
    guardian.get_by_role("link", name="Gå med igen").click()
    wait_until(
        guardian, "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'"
    )
    guardian.get_by_role("button", name="Gå med nu").click()
    guardian.wait_for_url(re.compile(r"/videomote/rum$"))
    wait_for(staff, sees(["Anna Andersson"]), what="staff decodes the guardian again")
    transaction.begin()
    assert len(list(sms_outbox(mail_portal))) == sms_before

    # All of it under the strict Content-Security-Policy, which refused nothing.
    assert csp_violations(staff) == [], "\n".join(csp_violations(staff))
    assert csp_violations(guardian) == []


def test_three_people_each_decode_the_other_two_and_staff_ending_closes_the_room(
    staff_page,
    colleague_page,
    participant,
    invitation,
    media_server,
    mail_portal,
    sign_in_with_sms,
):
    staff, colleague, guardian = staff_page, colleague_page, participant
    open_staff_room(staff, invitation["meeting"])
    open_staff_room(colleague, invitation["meeting"])
    enter_as_invitee(guardian, invitation, mail_portal, sign_in_with_sms)

    wait_for(staff, sees(["Tove Tolk", "Anna Andersson"]), what="staff decodes two")
    wait_for(colleague, sees(["Sara Skolsköterska", "Anna Andersson"]), what="colleague")
    wait_for(guardian, sees(["Sara Skolsköterska", "Tove Tolk"]), what="guardian")

    staff.once("dialog", lambda dialog: dialog.accept())
    staff.get_by_role("button", name="Avsluta för alla").click()
    staff.wait_for_url(re.compile(r"/mote-[^/]+$"))
    for page in (guardian, colleague):
        page.get_by_text("Mötet är avslutat").wait_for()
        # Over: no controls left to use, nobody to wait for.
        assert page.locator("#vm-mic").is_disabled()
        assert page.get_by_role("toolbar", name="Mötets knappar").count() == 0
        assert page.get_by_role("button", name="Mikrofon").count() == 0
        assert not page.get_by_text("Väntar på att fler ska ansluta.").is_visible()
    transaction.begin()
    assert invitation["meeting"].state == "ended"


def test_both_come_back_after_the_media_server_restarts_without_a_new_sms(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    staff_and_guardian_in_the_room(staff, guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(staff, sees(["Anna Andersson"]), what="connected before the restart")
    transaction.begin()
    sms_before = len(list(sms_outbox(mail_portal)))

    media_server.stop()
    for page in (staff, guardian):
        wait_for(page, lambda s: s["state"] in ("reconnecting", "unstable"), what="drop seen")
    media_server.start()

    for page, other in ((staff, "Anna Andersson"), (guardian, "Sara Skolsköterska")):
        wait_for(page, sees([other]), seconds=40, what=f"back and decoding {other}")
        assert media(page)["state"] == "connected"
    transaction.begin()
    assert len(list(sms_outbox(mail_portal))) == sms_before


def test_staff_may_leave_without_ending_the_meeting_and_come_back(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    staff_and_guardian_in_the_room(staff, guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(guardian, sees(["Sara Skolsköterska"]), what="guardian decodes staff")

    staff.get_by_role("button", name="Lämna", exact=True).click()
    staff.wait_for_url(re.compile(r"/mote-[^/]+$"))
    guardian.locator(".vm-chat-notice", has_text="Sara Skolsköterska lämnade mötet.").wait_for()
    assert media(guardian)["state"] == "connected"
    guardian.get_by_text("Väntar på att fler ska ansluta.").wait_for()
    transaction.begin()
    assert invitation["meeting"].state == "started"

    open_staff_room(staff, invitation["meeting"])
    wait_for(guardian, sees(["Sara Skolsköterska"]), what="staff back")


def test_the_room_opened_in_a_second_window_takes_over_for_good(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    """The calendar link clicked again: the new window has the room, the old one stops
    (camera off) and does not take it back, so the two do not throw each other out."""
    first = staff_page
    open_staff_room(first, invitation["meeting"])
    enter_as_invitee(participant, invitation, mail_portal, sign_in_with_sms)
    wait_for(participant, sees(["Sara Skolsköterska"]), what="guardian decodes staff")
    second = first.context.new_page()
    try:
        open_staff_room(second, invitation["meeting"])
        first.get_by_text("Du har öppnat mötet i ett annat fönster.").wait_for()
        wait_for(second, sees(["Anna Andersson"]), what="the second window decodes")
        first.wait_for_timeout(12_000)  # a reconnect would have taken the room back by now
        assert media(first)["state"] == "replaced"
        assert media(second)["state"] == "connected"
        assert first.evaluate(
            "window.videomoteRoom.stream.getTracks().every((t) => t.readyState === 'ended')"
        )
        assert first.locator("#vm-mic").is_disabled()
        assert first.get_by_role("toolbar", name="Mötets knappar").count() == 0
        wait_for(participant, sees(["Sara Skolsköterska"]), what="guardian still decodes")
    finally:
        second.close()


def test_without_camera_and_microphone_the_buttons_say_so_and_chat_works(
    staff_page, invitation, media_server
):
    staff_page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () =>"
        " Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    open_staff_room(staff_page, invitation["meeting"])
    staff_page.get_by_text("Kameran eller mikrofonen gick inte att använda").wait_for()
    wait_until(staff_page, "document.getElementById('vm-mic').disabled")
    for name, title in (("Mikrofon", "Ingen mikrofon att använda"), ("Kamera", "Ingen kamera")):
        button = staff_page.get_by_role("button", name=f"{name} av")
        assert button.is_disabled() and button.get_attribute("aria-pressed") is None
        assert button.get_attribute("title").startswith(title)
    staff_page.get_by_label("Skriv ett meddelande").fill("Hör ni mig inte?")
    staff_page.get_by_label("Skriv ett meddelande").press("Enter")
    staff_page.locator(".vm-chat-messages li", has_text="Hör ni mig inte?").wait_for()


# -- Firefox ESR beside Chromium -----------------------------------------------------------
@pytest.fixture(scope="session")
def firefox(network_namespace, tmp_path_factory):
    from firefox import FIREFOX
    from firefox import Firefox

    if FIREFOX is None:
        skip_here_fail_in_ci("firefox-esr is missing (make system-packages installs it)")
    browser = Firefox(tmp_path_factory.mktemp("firefox-profile"))
    browser.preload(CSP_WATCH)
    yield browser
    browser.close()


def test_a_guardian_in_firefox_and_staff_in_chromium_see_each_other(
    staff_page, firefox, invitation, media_server, mail_portal, latest_sms
):
    open_staff_room(staff_page, invitation["meeting"])
    firefox.goto(invitation["link"])
    firefox.wait_for("!!document.querySelector('button[name=send_code]')")
    firefox.evaluate("document.querySelector('button[name=send_code]').click()")
    # The code field is on the page from the start: wait for the page the SMS request
    # leads to, or the code may be typed into the old one while it is being replaced.
    firefox.wait_for(
        "document.body.textContent.includes('Vi har skickat en engångskod till 070-*** **02.')"
    )
    code = latest_sms(mail_portal)[-6:]
    firefox.evaluate(
        f"(() => {{ document.querySelector('input[name=one_time_code]').value = '{code}';"
        " document.querySelector('button[name=continue]').click(); return true; })()"
    )
    firefox.wait_for(
        "document.getElementById('pv-join')"
        " && document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'"
    )
    firefox.evaluate("document.getElementById('pv-join').click()")
    firefox.wait_for("location.pathname.endsWith('/videomote/rum')")

    wait_for(staff_page, sees(["Anna Andersson"]), what="Chromium decodes Firefox")
    deadline = time.monotonic() + 30
    state = {}
    while time.monotonic() < deadline:
        state = firefox.evaluate(f"({MEDIA})()")
        if sees(["Sara Skolsköterska"], energy=False)(state):
            break
        time.sleep(0.25)
    else:
        raise AssertionError(f"Firefox does not decode Chromium: {state}")
    assert state["state"] == "connected"
    assert firefox.evaluate(CSP_VIOLATIONS) == []  # the strict policy refused nothing
    assert csp_violations(staff_page) == []
    firefox.evaluate("document.getElementById('vm-leave-form') && window.videomoteRoom.ws.close()")


def stopped_for_good(page, text: str) -> None:
    page.get_by_text(text).wait_for()
    page.wait_for_timeout(6_000)  # a reconnect would have come back by now
    assert media(page)["state"] == "removed"
    assert page.evaluate(
        "window.videomoteRoom.stream.getTracks().every((t) => t.readyState === 'ended')"
    )
    assert page.locator("#vm-mic").is_disabled()


def test_a_colleague_whose_access_is_taken_away_sees_why_and_the_others_go_on(
    staff_page,
    colleague_page,
    participant,
    invitation,
    media_server,
    mail_portal,
    sign_in_with_sms,
):
    meeting = invitation["meeting"]
    open_staff_room(staff_page, meeting)
    open_staff_room(colleague_page, meeting)
    enter_as_invitee(participant, invitation, mail_portal, sign_in_with_sms)
    wait_for(colleague_page, sees(["Sara Skolsköterska", "Anna Andersson"]), 30)

    admin = requests.Session()
    admin.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    admin.headers["Accept"] = "application/json"
    roles = {"Reader": False, "Contributor": False, "Editor": False}
    transaction.begin()
    folder = api.portal.get()["elever"]
    shared = admin.post(
        f"{folder.absolute_url()}/@sharing",
        json={"entries": [{"id": "tove", "type": "user", "roles": roles}]},
    )
    assert shared.status_code == 204, shared.text

    stopped_for_good(colleague_page, "Du har inte längre behörighet till mötet och har lämnat det.")
    wait_for(staff_page, sees(["Anna Andersson"]), what="staff still decode the guardian")
    wait_for(participant, sees(["Sara Skolsköterska"]), what="the guardian still decodes staff")
