"""The benchmarks' lean synthetic peers (synthetic.py ``lean=True``) against the real server.

What they send must be real media: a full aiortc peer decrypts it (DTLS-SRTP keys of the
handshake), reads the send time after each frame's VP8 data and counts whole frames; and
what they count without decrypting (the clear RTP header) must match what was sent.
"""

from mediaserver import run_server
from mediaserver import synthetic_peer
from mediaserver import until
from prorenata.videomote.media.synthetic import encoded_clip

import pytest

pytestmark = pytest.mark.slow

SECRET = b"media-secret-for-lean-peers"
MEETING = "meeting-uid-lean"
CLIP = encoded_clip(30)


def peer(url, name, role="participant", lean=False):
    return synthetic_peer(url, MEETING, SECRET, name, role, CLIP, lean=lean)


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
        for lean in (anna, tove):
            others = [p for p in ("Sara", "Anna", "Tove") if p != lean.name]
            await until(
                lambda lean=lean, others=others: all(
                    lean.frames_from(name) >= 30 for name in others
                ),
                what=f"{lean.name} counts frames from {others}",
            )
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
