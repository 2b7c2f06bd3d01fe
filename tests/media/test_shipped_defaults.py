"""The media server with the shipped defaults connects where ``make run`` runs.

Started exactly as ``scripts/run.py`` starts it (no ``VIDEOMOTE_MEDIA_*`` setting but the
secret) on a host whose only network is loopback, it must offer a candidate there, on a
UDP port in the documented range, and media must flow both ways.
"""

from as_make_run import require_loopback_only
from as_make_run import start_media_server
from mediaserver import run_in_thread
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media.synthetic import SyntheticPeer
from prorenata.videomote.media.synthetic import encoded_clip
from prorenata.videomote.media.synthetic import free_port

import asyncio
import pytest
import time

pytestmark = pytest.mark.slow

SECRET = "media-secret-for-tests"
MEETING = "meeting-uid-defaults"


def candidates(sdp: str) -> list[tuple[str, int]]:
    """(address, port) of every ICE candidate in an SDP."""
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            found.append((fields[4], int(fields[5])))
    return found


async def two_people_exchange_media(url: str) -> list[str]:
    clip = encoded_clip(15)
    people = [
        SyntheticPeer(url, MEETING, issue_join_token(MEETING, role, name, SECRET.encode()), clip)
        for role, name in (("staff", "Sara"), ("participant", "Anna"))
    ]
    try:
        for person in people:
            await person.join(timeout=15)
        deadline = time.monotonic() + 15
        while (
            time.monotonic() < deadline
            and min(p.frames_from(o) for p, o in ((people[0], "Anna"), (people[1], "Sara"))) < 10
        ):
            await asyncio.sleep(0.1)
        assert people[0].frames_from("Anna") >= 10, people[0].events
        assert people[1].frames_from("Sara") >= 10, people[1].events
        return [next(e["sdp"] for e in p.events if e["type"] == "answer") for p in people]
    finally:
        for person in people:
            await person.leave()


def test_with_the_shipped_defaults_a_loopback_only_host_offers_loopback_in_the_udp_range(
    tmp_path,
):
    require_loopback_only()
    port = free_port()
    log = tmp_path / "media.log"
    process = start_media_server(port, SECRET, output=log.open("ab"))
    try:
        answers = run_in_thread(lambda: two_people_exchange_media(f"ws://127.0.0.1:{port}/ws"), 60)
    finally:
        process.terminate()
        process.wait(10)
    for sdp in answers:
        offered = candidates(sdp)
        assert offered, sdp
        assert {address for address, _ in offered} == {"127.0.0.1"}
        assert all(40000 <= port <= 40999 for _, port in offered), offered


def test_the_shipped_udp_range_is_the_documented_one():
    from prorenata.videomote.media.config import MediaConfig
    from prorenata.videomote.media.config import load

    assert load(None, environ={}).udp_ports == (40000, 40999) == MediaConfig().udp_ports


def test_an_offer_that_would_get_no_candidate_is_refused_with_a_clear_log_line(caplog):
    """No UDP port free in the range: the page is told (it shows that media failed)
    instead of waiting for ever on an answer nobody can connect to."""
    from mediaserver import run_server
    from prorenata.videomote.media.config import MediaConfig

    import socket

    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    token = issue_join_token(MEETING, "staff", "Sara", SECRET.encode())

    async def scenario(session, url):
        peer = SyntheticPeer(url, MEETING, token, clip=None)
        try:
            with pytest.raises(TimeoutError):
                await peer.join(timeout=5)
        finally:
            await peer.leave()
        assert {"type": "error", "reason": "bad offer"} in peer.events
        assert not [e for e in peer.events if e["type"] == "answer"]

    try:
        config = MediaConfig(ice_addresses=("127.0.0.1",), udp_ports=(port, port))
        run_server(scenario, SECRET.encode(), config)
    finally:
        taken.close()
    assert (
        f"no ICE candidate to answer with: no UDP port free in {port}-{port} on 127.0.0.1"
        in caplog.text
    )
