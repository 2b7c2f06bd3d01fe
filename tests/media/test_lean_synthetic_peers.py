"""The benchmarks' lean synthetic peers (synthetic.py ``lean=True``) against the real server.

What they send must be real media: a full aiortc peer decrypts it (DTLS-SRTP keys of the
handshake), reads the send time after each frame's VP8 data and counts whole frames; and
what they count without decrypting (the clear RTP header) must match what was sent.
"""

from mediaserver import each_receives_from_the_others
from mediaserver import run_server
from mediaserver import synthetic_peer
from mediaserver import until
from prorenata.videomote.media.synthetic import encoded_clip
from prorenata.videomote.media.synthetic import hold_lean_media

import asyncio
import pytest
import socket

pytestmark = pytest.mark.slow

SECRET = b"media-secret-for-lean-peers"
MEETING = "meeting-uid-lean"
CLIP = encoded_clip(30)


def peer(url, name, role="participant", lean=False, decrypt=False):
    return synthetic_peer(url, MEETING, SECRET, name, role, CLIP, lean=lean, decrypt=decrypt)


def test_lean_peers_send_media_a_full_peer_decrypts_and_count_frames_without_decrypting():
    async def scenario(session, url):
        sara = peer(url, "Sara", "staff")
        anna, tove = peer(url, "Anna", lean=True), peer(url, "Tove", lean=True)
        for person in (sara, anna, tove):
            await person.join()
        await until(
            lambda: sara.frames_from("Anna") >= 30 and sara.frames_from("Tove") >= 30,
            what="the full peer decodes frames from both lean peers",
        )
        await each_receives_from_the_others((anna, tove), 30, ["Sara", "Anna", "Tove"])
        for lean in (anna, tove):
            assert sum(lean.audio_packets.values()) > 30
            # Counted from batches read by the process's driver, not by the event loop.
            assert lean.lean.sockets_read_in_batches() >= 1
            assert lean.lean.lost_packets() <= 0.05 * sum(lean.lean.packets.values())
        # Every lean frame carries its send time after the VP8 data, readable only after
        # SRTP decryption at the full peer; the relay adds little on loopback.
        assert len(sara.latencies) >= 0.9 * sara.total_frames()
        assert sorted(sara.latencies)[len(sara.latencies) // 2] < 100
        for person in (sara, anna, tove):
            await person.leave()

    run_server(scenario, SECRET)


def test_a_decrypting_lean_peer_reads_real_media_and_refuses_a_forged_packet():
    """The benchmarks' check peer: lean (batched, pre-built packets) but decrypting what
    arrives with its own DTLS-SRTP keys; a packet not protected with them is not counted."""

    async def scenario(session, url):
        sara = peer(url, "Sara", "staff")
        anna = peer(url, "Anna", lean=True)
        ella = peer(url, "Ella", lean=True, decrypt=True)
        for person in (sara, anna, ella):
            await person.join()
        await until(
            lambda: ella.frames_from("Sara") >= 30 and ella.frames_from("Anna") >= 30,
            what="the decrypting lean peer counts frames from a full and a lean peer",
        )
        await until(
            lambda: sara.frames_from("Ella") >= 30,
            what="the full peer decodes the decrypting lean peer's frames",
        )
        assert ella.lean.sockets_read_in_batches() >= 1
        assert ella.lean.undecryptable == 0
        # Its latencies come from inside the decrypted payload of each frame.
        assert len(ella.latencies) >= 0.9 * ella.total_frames()
        # A forged RTP packet (a header that looks right, no valid SRTP tag) on its socket.
        (target,) = [
            entry[0].getsockname()
            for entry in ella.lean._driver.readers.values()
            if entry[2] is ella.lean
        ]
        frames = ella.total_frames()
        forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            forged = bytes([0x80, 0xE0, 0, 1]) + bytes(8) + bytes(100)
            forger.sendto(forged, target)
            await until(lambda: ella.lean.undecryptable >= 1, what="the forged packet refused")
        finally:
            forger.close()
        assert ella.total_frames() >= frames  # counting went on
        for person in (sara, anna, ella):
            await person.leave()

    run_server(scenario, SECRET)


def test_held_lean_peers_connect_but_send_only_once_released():
    """The rooms benchmark's steady state: every peer joins, then all send."""

    async def scenario(session, url):
        hold_lean_media()
        anna, tove = peer(url, "Anna", "staff", lean=True), peer(url, "Tove", lean=True)
        for person in (anna, tove):
            await person.join()
        await until(
            lambda: all(p.pc.connectionState == "connected" for p in (anna, tove)),
            what="both connected",
        )
        await asyncio.sleep(1)
        assert anna.total_frames() == 0 and tove.total_frames() == 0
        hold_lean_media(False)
        await until(
            lambda: anna.frames_from("Tove") >= 30 and tove.frames_from("Anna") >= 30,
            what="each receives the other's frames once released",
        )
        for person in (anna, tove):
            await person.leave()

    run_server(scenario, SECRET)
