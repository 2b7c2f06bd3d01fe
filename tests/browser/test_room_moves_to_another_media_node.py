"""Several media nodes: each meeting lives on one (the least loaded when placed), and a
meeting whose node dies moves to another; both pages follow without a new SMS code.

Two real ``videomote-media`` processes and the functional layer's Plone, only inside a
loopback-only network namespace (``scripts/in_netns.sh``)."""

from factories import add_staff
from factories import session_as
from html.parser import HTMLParser
from pages import MediaServer
from pages import node_of
from pages import staff_and_guardian_in_the_room
from prorenata.videomote.notify.sms import sms_outbox
from test_room import media
from test_room import sees
from test_room import wait_for

import aiohttp
import asyncio
import pytest
import threading
import time
import transaction

pytestmark = pytest.mark.slow


def kill(node: MediaServer) -> None:
    """The node dies (no goodbye to its pages: SIGKILL)."""
    node.process.kill()
    node.process.wait(10)
    node.process = None


def test_when_the_meetings_node_dies_both_see_each_other_again_within_ten_seconds(
    staff_page, participant, invitation, two_nodes, mail_portal, sign_in_with_sms
):
    staff, guardian = staff_page, participant
    staff_and_guardian_in_the_room(staff, guardian, invitation, mail_portal, sign_in_with_sms)
    wait_for(staff, sees(["Anna Andersson"]), what="connected before the node dies")
    wait_for(guardian, sees(["Sara Skolsköterska"]), what="connected before the node dies")
    first = node_of(invitation["meeting"], two_nodes)
    assert staff.evaluate("window.videomoteRoom.server") == first.url
    assert guardian.evaluate("window.videomoteRoom.server") == first.url
    transaction.begin()
    sms_before = len(list(sms_outbox(mail_portal)))

    kill(first)
    died = time.monotonic()
    for page, other in ((staff, "Anna Andersson"), (guardian, "Sara Skolsköterska")):
        left = 10 - (time.monotonic() - died)
        wait_for(page, sees([other]), seconds=max(left, 0.1), what=f"decoding {other} again")
        assert media(page)["state"] == "connected"

    second = node_of(invitation["meeting"], two_nodes)
    assert second is not first
    assert staff.evaluate("window.videomoteRoom.server") == second.url
    assert guardian.evaluate("window.videomoteRoom.server") == second.url
    transaction.begin()
    assert len(list(sms_outbox(mail_portal))) == sms_before  # no new SMS code


class _Room(HTMLParser):
    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "vm-room":
            self.room = attrs


def room_of(session, meeting) -> dict:
    page = session.get(f"{meeting.absolute_url()}/@@videomote-rum")
    assert page.status_code == 200
    parser = _Room()
    parser.feed(page.text)
    return parser.room


class Joined:
    """A staff member in a room on a node over a plain WebSocket, until closed."""

    def __init__(self, room: dict):
        self.welcomed = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run(room)))
        self.thread.start()
        assert self.welcomed.wait(15), "no welcome from the media node"

    async def _run(self, room):
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(room["data-media-server"]) as socket,
        ):
            join = {"type": "join", "meeting": room["data-meeting"]}
            await socket.send_json({**join, "token": room["data-join-token"]})
            deadline = time.monotonic() + 60
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    message = await socket.receive(timeout=0.2)
                except TimeoutError:
                    continue
                if message.type == aiohttp.WSMsgType.TEXT and '"welcome"' in message.data:
                    self.welcomed.set()
                elif message.type != aiohttp.WSMsgType.TEXT:
                    return

    def close(self):
        self.stop.set()
        self.thread.join(15)


def test_two_meetings_go_to_two_nodes_and_everyone_in_one_meeting_to_the_same(journal, two_nodes):
    from factories import book

    add_staff("tolk", "Tim Tolk", access_to=journal["alva"].aq_parent)
    first = book(journal["alva"], 10, "guardian", "Första samtalet", organiser="sara")
    second = book(journal["bruno"], 20, "student", "Andra samtalet", organiser="sara")
    for meeting in (first, second):
        meeting.state = "started"
    transaction.commit()
    sara = session_as("sara")

    room_one = room_of(sara, first)
    joined = Joined(room_one)  # one person on the first meeting's node
    try:
        room_two = room_of(sara, second)
        assert {room_one["data-media-server"], room_two["data-media-server"]} == {
            node.url for node in two_nodes
        }
        # The colleague, and everybody's next token, go to the meeting's own node.
        assert (
            room_of(session_as("tolk"), first)["data-media-server"] == room_one["data-media-server"]
        )
        again = sara.post(
            f"{first.absolute_url()}/@@videomote-rum-token",
            headers={"X-CSRF-TOKEN": room_one["data-csrf"]},
        )
        assert again.status_code == 200
        assert again.json()["server"] == room_one["data-media-server"]
        transaction.begin()
        assert first.media_node == room_one["data-media-server"]
        assert second.media_node == room_two["data-media-server"]
    finally:
        joined.close()
