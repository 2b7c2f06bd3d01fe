"""Helpers for the browser tests."""

from as_make_run import start_media_server

import os
import pytest
import re
import subprocess
import time
import transaction

# Every Content-Security-Policy violation of a tab, kept across its pages (same origin).
CSP_WATCH = """() => {
  document.addEventListener("securitypolicyviolation", (event) => {
    try {
      const seen = JSON.parse(sessionStorage.getItem("csp-violations") || "[]");
      seen.push(`${location.pathname}: ${event.effectiveDirective} blocked ` +
                `${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
      sessionStorage.setItem("csp-violations", JSON.stringify(seen));
    } catch (error) { /* a page without storage (about:blank) */ }
  });
}"""
CSP_VIOLATIONS = "JSON.parse(sessionStorage.getItem('csp-violations') || '[]')"


def watch_csp(context) -> None:
    """Record the policy violations of every page of ``context`` (see csp_violations)."""
    context.add_init_script(f"({CSP_WATCH})();")


def csp_violations(page) -> list[str]:
    """What the Content-Security-Policy refused on this tab's pages so far."""
    return page.evaluate(CSP_VIOLATIONS)


def wait_until(page, expression: str, timeout: float = 15000) -> None:
    """``page.wait_for_function`` for pages with a strict Content-Security-Policy:
    Playwright's predicate there needs ``eval``, which the policy refuses (at random: it
    races with Playwright's own evaluation); ``page.evaluate`` is not subject to it.

    An expression that throws counts as not true yet, as wait_for_function counts it: the
    element it reads is not there yet, or the page is between two documents (a sign-in's
    last redirect); the last error is given with the time-out."""
    from playwright.sync_api import Error as PlaywrightError

    import time

    deadline = time.monotonic() + timeout / 1000
    failure = None
    while True:
        try:
            if page.evaluate(expression):
                return
            failure = None
        except PlaywrightError as error:
            failure = error
        if time.monotonic() > deadline:
            raise AssertionError(
                f"not true within {timeout / 1000:.0f} s: {expression}"
            ) from failure
        page.wait_for_timeout(100)


def participant_page(chromium):
    """A fresh browser context with nobody logged in (a participant's own browser), its
    policy violations recorded; (context, page)."""
    context = chromium.new_context(locale="sv-SE")
    watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def session_cookie(portal, url: str, userid: str, password: str) -> dict:
    """The session cookie (``__ac``) Plone's session plugin (plone.session) gives
    ``userid`` when the login form accepts ``password``, made here with the test's own
    connection to the site: the form's two page loads are the same in every test, and
    the secret it signs with is the site's as the test sees it (a login through the form
    also rotates it, in that test's database only)."""
    from urllib.parse import urlsplit
    from ZPublisher.cookie import getCookieValuePolicy
    from ZPublisher.HTTPResponse import HTTPResponse

    plugin = portal.acl_users.session
    accepted = portal.acl_users.source_users.authenticateCredentials(
        {"login": userid, "password": password}
    )
    assert accepted is not None, f"{userid} cannot log in with that password"
    response = HTTPResponse()
    plugin._setupSession(accepted[0], response)
    name = plugin.getProperty("cookie_name")
    # The value as the Set-Cookie header carries it (Zope's cookie value policy).
    value = getCookieValuePolicy().dump(name, response.cookies[name]["value"])
    return {
        "name": name,
        "value": value,
        "domain": urlsplit(url).hostname,
        "path": plugin.getProperty("path") or "/",
        "httpOnly": True,
        "sameSite": "Lax",
    }


def logged_in_page(chromium, url: str, userid: str, password: str, portal=None):
    """A fresh browser context with ``userid`` logged in: with the session cookie the
    login form would set (see session_cookie) when given the test's ``portal`` (the
    context then starts on a blank page), else through Plone's login form."""
    context = chromium.new_context(locale="sv-SE", viewport={"width": 1280, "height": 1000})
    watch_csp(context)
    if portal is not None:
        context.add_cookies([session_cookie(portal, url, userid, password)])
    page = context.new_page()
    page.set_default_timeout(15000)
    if portal is not None:
        return context, page
    page.goto(f"{url}/login")
    page.get_by_label("Användarnamn").fill(userid)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    return context, page


def skip_here_fail_in_ci(reason: str) -> None:
    """What the room tests need is missing: skip locally, fail where CI requires them."""
    if os.environ.get("VIDEOMOTE_REQUIRE_NETNS"):
        pytest.fail(reason)
    pytest.skip(reason)


# -- the room ------------------------------------------------------------------------
MEDIA = """async () => {
  const room = window.videomoteRoom;
  const line = document.getElementById("vm-state");
  const out = {state: line ? line.dataset.state : null, stats: {}, tiles: []};
  if (!room) { return out; }
  if (room.pc) {
    for (const transceiver of room.pc.getTransceivers()) {
      if (!transceiver.mid) { continue; }
      (await transceiver.receiver.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp") {
          out.stats[transceiver.mid] = {
            frames: s.framesDecoded || 0,
            energy: s.totalAudioEnergy || 0,
            packets: s.packetsReceived || 0,
          };
        }
      });
    }
  }
  document.querySelectorAll(".vm-tile").forEach((figure) => {
    const video = figure.querySelector("video");
    out.tiles.push({
      name: figure.querySelector(".vm-name").textContent,
      flags: figure.querySelector(".vm-flags").textContent,
      video: video.dataset.mid, audio: video.dataset.audioMid, width: video.videoWidth,
      pictureShown: getComputedStyle(video).visibility !== "hidden",
    });
  });
  return out;
}"""


def media(page) -> dict:
    return page.evaluate(MEDIA)


def wait_for(page, check, seconds: float = 20, what: str = ""):
    """Poll the page's media state until ``check(state)`` holds (bounded)."""
    deadline = time.monotonic() + seconds
    state = media(page)
    while time.monotonic() < deadline:
        state = media(page)
        if check(state):
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"{what or 'condition'} not met within {seconds} s: {state}")


def sees(names, energy: bool = True):
    """Decodes video with a picture, and hears audio, from each of ``names``."""

    def check(state):
        tiles = {tile["name"]: tile for tile in state["tiles"]}
        for name in names:
            tile = tiles.get(name)
            if tile is None or tile["width"] == 0:
                return False
            video = state["stats"].get(tile["video"], {})
            audio = state["stats"].get(tile["audio"], {})
            if video.get("frames", 0) < 5 or audio.get("packets", 0) < 10:
                return False
            if energy and audio.get("energy", 0) <= 0:
                return False
        return True

    return check


def open_staff_room(page, meeting):
    page.goto(f"{meeting.absolute_url()}/@@videomote-rum")
    page.get_by_role("region", name="Videomöte").wait_for()


def enter_as_invitee(page, invitation, portal, sign_in_with_sms):
    page.goto(invitation["link"])
    sign_in_with_sms(page, portal)
    join = page.get_by_role("button", name="Gå med nu")
    wait_until(page, "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'")
    join.click()
    page.wait_for_url(re.compile(r"/videomote/rum$"))


def staff_and_guardian_in_the_room(staff, guardian, invitation, portal, sign_in_with_sms):
    """Staff open the invitation's room; the guardian signs in with an SMS code and joins
    once it is started."""
    open_staff_room(staff, invitation["meeting"])
    enter_as_invitee(guardian, invitation, portal, sign_in_with_sms)


# -- the media server ------------------------------------------------------------------
class MediaServer:
    """``videomote-media`` as ``make run`` starts it (shipped defaults), restartable."""

    def __init__(
        self,
        secret: str,
        log_path,
        settings: dict | None = None,
        environ: dict[str, str] | None = None,
    ):
        from prorenata.videomote.media.synthetic import free_port

        self.port = free_port()
        self.secret = secret
        self.log_path = log_path
        self.settings = settings or {}
        self.environ = environ
        self.process = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> None:
        self.process = start_media_server(
            self.port,
            self.secret,
            output=open(self.log_path, "ab"),  # noqa: SIM115
            settings=self.settings,
            environ=self.environ,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


def node_of(meeting, nodes) -> "MediaServer":
    """The node the meeting lives on now (as the database says)."""
    transaction.begin()
    (node,) = [n for n in nodes if n.url == getattr(meeting, "media_node", None)]
    return node
