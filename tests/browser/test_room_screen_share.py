"""Screen sharing in the room with real browsers: Chromium's fake capture source (the
flags in conftest.py answer getDisplayMedia with a generated 1280×720 picture) through
the real media server. The participant's page must *decode* the share (framesDecoded).
"""

from pages import csp_violations
from pages import wait_until
from test_room import enter_as_invitee
from test_room import open_staff_room
from test_room import sees
from test_room import wait_for

import pytest
import time

pytestmark = pytest.mark.slow

SCREEN = """async () => {
  const room = window.videomoteRoom;
  const figure = document.querySelector(".vm-screen");
  const out = {screen: null, camera: null, frames: 0};
  if (!figure) { return out; }
  const video = figure.querySelector("video");
  const camera = document.querySelector(".vm-tile:not(.vm-screen)");
  out.screen = {
    name: figure.querySelector(".vm-name").textContent,
    label: figure.getAttribute("aria-label"),
    width: video.videoWidth,
    shownWidth: figure.getBoundingClientRect().width,
    first: figure.parentElement.firstElementChild === figure,
  };
  out.camera = camera ? camera.getBoundingClientRect().width : null;
  if (room && room.pc) {
    for (const transceiver of room.pc.getTransceivers()) {
      if (transceiver.mid !== video.dataset.mid) { continue; }
      (await transceiver.receiver.getStats()).forEach((s) => {
        if (s.type === "inbound-rtp") { out.frames = s.framesDecoded || 0; }
      });
    }
  }
  return out;
}"""


def screen(page) -> dict:
    return page.evaluate(SCREEN)


def sees_screen_of(page, name: str, frames: int = 10, seconds: float = 30) -> dict:
    """Waits until ``page`` decodes a share labelled with ``name``, laid out large."""
    deadline = time.monotonic() + seconds
    state = screen(page)
    while time.monotonic() < deadline:
        state = screen(page)
        shown = state["screen"]
        named = shown and shown["name"] == f"Skärm från {name}"
        if named and shown["width"] > 0 and state["frames"] >= frames:
            return state
        page.wait_for_timeout(250)
    raise AssertionError(f"no share of {name} decoded within {seconds} s: {state}")


def no_screen(page, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if page.locator(".vm-screen").count() == 0:
            return
        page.wait_for_timeout(200)
    raise AssertionError(f"the share is still shown: {screen(page)}")


def test_staff_share_their_screen_and_participants_only_with_permission(
    staff_page, participant, invitation, media_server, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    open_staff_room(staff, invitation["meeting"])
    enter_as_invitee(guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(guardian, sees(["Sara Skolsköterska"], energy=False), what="guardian sees staff")
    wait_for(staff, sees(["Anna Andersson"], energy=False), what="staff sees the guardian")

    # Staff share: the guardian decodes it beside the camera, first and large, named.
    share = staff.get_by_role("button", name="Dela skärm", exact=True)
    assert share.get_attribute("aria-pressed") == "false"
    share.click()
    wait_until(staff, "document.getElementById('vm-share').getAttribute('aria-pressed') === 'true'")
    state = sees_screen_of(guardian, "Sara Skolsköterska")
    assert state["screen"]["first"]
    assert state["screen"]["label"] == "Skärm från Sara Skolsköterska"
    assert state["screen"]["shownWidth"] > 1.5 * state["camera"]
    assert state["screen"]["width"] >= 1000  # the 1280×720 capture, not a camera picture
    wait_for(guardian, sees(["Sara Skolsköterska"], energy=False), what="camera goes on")
    guardian.locator(".vm-chat-notice", has_text="Sara Skolsköterska delar sin skärm.").wait_for()
    before = state["frames"]
    guardian.wait_for_timeout(1000)
    assert screen(guardian)["frames"] > before  # still decoding new frames

    # "Dela skärm" again stops it for everyone.
    share.click()
    no_screen(guardian)
    assert share.get_attribute("aria-pressed") == "false"

    # The browser's own "stop sharing" ends the track: the share goes for everyone too.
    share.click()
    sees_screen_of(guardian, "Sara Skolsköterska", frames=3)
    staff.evaluate("window.videomoteRoom.screenTrack.dispatchEvent(new Event('ended'))")
    no_screen(guardian)
    assert share.get_attribute("aria-pressed") == "false"

    # The guardian has no button while staff have not allowed it; a page that shares
    # anyway is refused by the media server, and staff see nothing.
    assert not guardian.get_by_role("button", name="Dela skärm", exact=True).is_visible()
    guardian.evaluate("window.videomoteRoom.startShare()")
    guardian.locator(
        ".vm-chat-notice", has_text="Du får inte dela skärm i det här mötet."
    ).wait_for()
    staff.wait_for_timeout(2000)
    assert staff.locator(".vm-screen").count() == 0
    assert guardian.evaluate("window.videomoteRoom.screenTrack") is None

    # Staff allow it: the guardian's button appears, and their share reaches staff.
    allow = staff.get_by_role("button", name="Tillåt deltagare att dela skärm")
    assert allow.get_attribute("aria-pressed") == "false"
    allow.click()
    guardian.locator(".vm-chat-notice", has_text="Deltagarna får dela sin skärm.").wait_for()
    guardian_share = guardian.get_by_role("button", name="Dela skärm", exact=True)
    guardian_share.wait_for()
    assert allow.get_attribute("aria-pressed") == "true"
    guardian_share.click()
    sees_screen_of(staff, "Anna Andersson")

    # Taken back: the guardian's share stops for everyone, and the button goes.
    allow.click()
    no_screen(staff)
    guardian.locator(".vm-chat-notice", has_text="Din skärmdelning avslutades.").wait_for()
    guardian_share.wait_for(state="hidden")
    assert guardian.evaluate("window.videomoteRoom.screenTrack") is None

    assert csp_violations(staff) == [], "\n".join(csp_violations(staff))
    assert csp_violations(guardian) == []
