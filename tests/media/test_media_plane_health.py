"""The media server's ``/health`` says when its media plane fails while signalling works:
connections in two rooms that never get media through (their ICE checks go into a
black hole) and nobody connected; one room's failures alone are that family's network.
And ``/move`` sends a room's pages away (not ended) when Plone moved the meeting."""

from mediaserver import receive
from mediaserver import run_server
from prorenata.videomote.access.jointoken import issue_control_token
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media import forwarding
from prorenata.videomote.media import server
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.synthetic import SyntheticPeer
from prorenata.videomote.media.synthetic import encoded_clip

import aiohttp
import asyncio
import re
import socket
import time

SECRET = b"media-secret-for-tests"
CONFIG = MediaConfig(ice_addresses=("127.0.0.1",))


async def health(session, url) -> dict:
    async with session.get(url.rsplit("/", 1)[0] + "/health") as response:
        return await response.json()


async def media_into_a_black_hole(session, url, meeting, name, hole: int):
    """A page in ``meeting`` whose offer names a UDP port that swallows everything (as
    when the media plane between the page and the node drops every packet): the server
    answers, its ICE checks go unanswered; the page gives up and closes."""
    from aiortc import RTCPeerConnection

    ws = await session.ws_connect(url)
    token = issue_join_token(meeting, "participant", name, SECRET)
    await ws.send_json({"type": "join", "meeting": meeting, "token": token})
    await receive(ws, "welcome", timeout=10)
    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    pc.addTransceiver("audio")
    forwarding.use_host_addresses(pc, ["127.0.0.1"])
    await pc.setLocalDescription(await pc.createOffer())
    sdp = re.sub(
        r"(a=candidate:\S+ \d+ udp \d+ 127\.0\.0\.1 )\d+", rf"\g<1>{hole}", pc.localDescription.sdp
    )
    await pc.close()
    await ws.send_json({"type": "offer", "sdp": sdp})
    assert (await receive(ws, "answer", timeout=10))["sdp"]
    return ws


def test_health_says_the_media_plane_fails_when_ice_fails_in_two_rooms(monkeypatch):
    monkeypatch.setattr(server, "CONNECT_GRACE_SECONDS", 0.5, raising=False)
    hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hole.bind(("127.0.0.1", 0))  # never read: STUN checks vanish here
    port = hole.getsockname()[1]

    async def scenario(session, url):
        media = (await health(session, url))["media"]
        assert media == {"failing": False, "connected": 0, "succeeded": 0, "failed": 0}
        first = await media_into_a_black_hole(session, url, "meeting-a", "Anna", port)
        await asyncio.sleep(0.7)
        await first.close()
        await wait_for_failures(session, url, 1)
        # One room's (one family's) failure: not the node's.
        assert (await health(session, url))["media"]["failing"] is False
        second = await media_into_a_black_hole(session, url, "meeting-b", "Bo", port)
        await asyncio.sleep(0.7)
        await second.close()
        await wait_for_failures(session, url, 2)
        answer = await health(session, url)
        assert answer["ok"] is True  # signalling works: only the media plane fails
        assert answer["media"] == {"failing": True, "connected": 0, "succeeded": 0, "failed": 2}

    try:
        run_server(scenario, SECRET, CONFIG)
    finally:
        hole.close()


async def wait_for_failures(session, url, count: int) -> None:
    deadline = time.monotonic() + 10
    while (await health(session, url))["media"]["failed"] < count:
        assert time.monotonic() < deadline, "the server did not count the failed connection"
        await asyncio.sleep(0.1)


def test_connections_whose_media_works_keep_the_media_plane_healthy(monkeypatch):
    monkeypatch.setattr(server, "CONNECT_GRACE_SECONDS", 0.5, raising=False)
    clip = encoded_clip(5)

    async def scenario(session, url):
        people = [
            SyntheticPeer(url, "meeting-c", issue_join_token("meeting-c", r, n, SECRET), clip)
            for r, n in (("staff", "Sara"), ("participant", "Anna"))
        ]
        try:
            for person in people:
                await person.join(timeout=15)
            deadline = time.monotonic() + 15
            while (await health(session, url))["media"]["connected"] < 2:
                assert time.monotonic() < deadline, await health(session, url)
                await asyncio.sleep(0.1)
            media = (await health(session, url))["media"]
            assert media["failing"] is False and media["succeeded"] == 2
        finally:
            for person in people:
                await person.leave()

    run_server(scenario, SECRET, CONFIG)


def test_move_disconnects_the_rooms_pages_without_ending_the_meeting():
    async def scenario(session, url):
        ws = await session.ws_connect(url)
        meeting = "meeting-d"
        join = {"type": "join", "meeting": meeting}
        await ws.send_json({**join, "token": issue_join_token(meeting, "participant", "A", SECRET)})
        await receive(ws, "welcome", timeout=10)
        base = url.rsplit("/", 1)[0]
        for page in ("participant", "staff"):  # the tokens pages hold
            forged = issue_join_token(meeting, page, "A", SECRET)
            body = {"meeting": meeting, "token": forged}
            async with session.post(base + "/move", json=body) as r:
                assert r.status == 403  # only Plone's own signed call moves a room
        plone = issue_control_token(meeting, "move", SECRET)
        async with session.post(base + "/move", json={"meeting": meeting, "token": plone}) as r:
            assert (r.status, (await r.json())["closed"]) == (200, 1)
        closed = await receive(ws, "no more messages: the close", timeout=10)
        assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, server.CLOSE_MOVED)
        again = await session.ws_connect(url)  # not ended: the room opens again
        await again.send_json({**join, "token": issue_join_token(meeting, "staff", "S", SECRET)})
        assert (await receive(again, "welcome", timeout=10))["type"] == "welcome"
        await again.close()

    run_server(scenario, SECRET, CONFIG)
