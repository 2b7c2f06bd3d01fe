"""A media node whose *media* fails while its WebSocket keeps working: the meeting moves
to another node and both pages follow, without a new SMS code.

Two ``videomote-media`` processes as ``make run`` starts them; node A is given a UDP
range of its own (the only setting: it is how the test breaks A), which ``tc`` on the
test namespace's loopback then drops (``scripts/udp_blocked.py``): A's signalling,
``/health`` and WebSocket keep working, its ICE and media do not. Only inside a
loopback-only network namespace (``scripts/in_netns.sh``).
"""

from as_make_run import load_script
from pages import node_of
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.notify.sms import sms_outbox
from test_room import enter_as_invitee
from test_room import media
from test_room import open_staff_room
from test_room import sees

import json
import pytest
import time
import transaction
import urllib.request

pytestmark = pytest.mark.slow

#: Node A's UDP range: 64 ports from 41984 (an aligned block: one u32 match in tc).
BLOCKED = (41984, 64)
BOUND_SECONDS = 20
STATES = """() => {
  window.seenStates = [];
  const line = document.getElementById("vm-state");
  new MutationObserver(() => window.seenStates.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}"""


def _udp_blocked():
    return load_script("udp_blocked", "udp_blocked_for_nodes")


def remote_ports(page) -> list[int]:
    """The media node's UDP ports in the page's current answer (where its media goes)."""
    sdp = page.evaluate("window.videomoteRoom.pc && window.videomoteRoom.pc.remoteDescription.sdp")
    return [
        int(line.split()[5]) for line in (sdp or "").splitlines() if line.startswith("a=candidate:")
    ]


def health(node) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{node.port}/health", timeout=3) as answer:
        return json.load(answer)


def test_when_the_meetings_node_loses_its_media_but_not_its_websocket_both_move_within_20_s(
    staff_page, participant, invitation, media_nodes, mail_portal, sign_in_with_sms
):
    udp_blocked = _udp_blocked()
    if udp_blocked.missing():
        pytest.skip(udp_blocked.missing())
    first, count = BLOCKED
    a, b = media_nodes(2, {0: {"udp_ports": f"{first}-{first + count - 1}"}})
    staff, guardian = staff_page, participant
    meeting = invitation["meeting"]
    open_staff_room(staff, meeting)
    enter_as_invitee(guardian, invitation, mail_portal, sign_in_with_sms)
    for page, other in ((staff, "Anna Andersson"), (guardian, "Sara Skolsköterska")):
        _wait(page, lambda page, other=other: sees([other])(media(page)), 20, "before")
        assert page.evaluate("window.videomoteRoom.server") == a.url
        assert all(first <= port < first + count for port in remote_ports(page))
        page.evaluate(STATES)
    assert node_of(meeting, [a, b]) is a
    transaction.begin()
    sms_before = len(list(sms_outbox(mail_portal)))

    udp_blocked.drop_udp_ports("lo", first, count)
    try:
        blocked = time.monotonic()
        assert health(a)["ok"] is True  # A's signalling still answers

        def on_b_and_decoding(page, other):
            return page.evaluate("window.videomoteRoom.server") == b.url and sees([other])(
                media(page)
            )

        for page, other in ((staff, "Anna Andersson"), (guardian, "Sara Skolsköterska")):
            left = BOUND_SECONDS - (time.monotonic() - blocked)
            _wait(page, lambda page, other=other: on_b_and_decoding(page, other), left, other)
            assert media(page)["state"] == "connected"
            print(f"{other} seen again from B after {time.monotonic() - blocked:.1f} s")
            assert not any(first <= port < first + count for port in remote_ports(page))
            # Meanwhile the page said it was reconnecting (the existing text).
            seen = page.evaluate("window.seenStates")
            assert "Anslutningen bröts. Ansluter igen…" in seen, seen
    finally:
        udp_blocked.stop_dropping("lo")

    assert node_of(meeting, [a, b]) is b
    transaction.begin()
    assert len(list(sms_outbox(mail_portal))) == sms_before  # no new SMS code
    entries = audit_log(mail_portal).query(meeting_uid=meeting.UID())
    moves = [(e.actor, e.detail) for e in entries if e.action == audit.MEDIA_NODE_CHANGED]
    assert moves == [("system", f"from_node={a.url}, reason=media_failed, to_node={b.url}")]


def _wait(page, check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + max(seconds, 0.1)
    while not check(page):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{what}: not within {seconds:.0f} s: {page.evaluate('window.seenStates')} "
                f"{page.evaluate('window.videomoteRoom.server')} {media(page)}"
            )
        page.wait_for_timeout(250)
