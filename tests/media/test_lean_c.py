"""The lean synthetic peers' packet path in C (``_lean.c``): what they send is what aiortc
would make of the same frame, SRTP-protected with the peer's keys; what they count is
what arrived, and everything that is not RTP goes back to aioice and aiortc."""

from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import HeaderExtensionsMap
from aiortc.rtp import RtpPacket
from mediaserver import ice_socket_and_browser
from mediaserver import run_in_thread
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media import forwarding
from prorenata.videomote.media.synthetic import MARK
from prorenata.videomote.media.synthetic import STAMP
from prorenata.videomote.media.synthetic import _lean_stream
from pylibsrtp import Policy
from pylibsrtp import Session
from types import SimpleNamespace

import asyncio
import pytest
import socket
import struct
import sys
import time

KEY = bytes(range(28))
GCM = Policy.SRTP_PROFILE_AEAD_AES_128_GCM
MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
NTP_OFFSET = 2_208_988_800
#: Frames of VP8 payloads as aiortc's packetizer makes them (descriptor with a picture ID
#: in bytes 2-3); one of a single short packet, one of three.
FRAMES = [
    [b"\x90\x80\x00\x00" + bytes(range(200))],
    [b"\x90\x80\x00\x00" + b"a" * 1100, b"\x80\x80\x00\x00" + b"b" * 1100, b"\x80\x80\x00\x00c"],
]


def _plain(**given) -> dict:
    """LeanStream's arguments for a plain 12-byte header (no extensions), VP8 ``FRAMES``."""
    arguments = {
        "header": RtpPacket(payload_type=96).serialize(),
        "send_time_at": -1,
        "payload_type": 96,
        "frames": FRAMES,
        "vp8": True,
        "sequence": 0,
        "timestamp": 0,
        "ssrc": 1,
    }
    return arguments | given


def _session(direction: int) -> Session:
    return Session(Policy(key=KEY, ssrc_type=direction, srtp_profile=GCM))


def _video_and_audio():
    """A VP8 stream of ``FRAMES`` (SSRC 1) and an Opus one (SSRC 2)."""
    video = _lean_stream(_parameters(), FRAMES, vp8=True, ssrc=1)
    audio = _lean_stream(_parameters(111, kind="audio"), [[b"opus"]], vp8=False, ssrc=2)
    return video, audio


def _parameters(payload_type=96, mid_id=1, send_time_id=3, kind="video"):
    rate = 90000 if kind == "video" else 48000
    mime = "video/VP8" if kind == "video" else "audio/opus"
    return RTCRtpSendParameters(
        codecs=[RTCRtpCodecParameters(mimeType=mime, clockRate=rate, payloadType=payload_type)],
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=ident, uri=uri)
            for ident, uri in ((mid_id, MID), (send_time_id, SEND_TIME))
            if ident
        ],
        muxId="1",
    )


def _expected(parameters, stream, payload: bytes, marker: bool, seq, ts, pid, now, vp8=True):
    """The packet aiortc serializes for the same frame (the lean stream's reference)."""
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    if vp8:
        payload = payload[:2] + struct.pack("!H", 0x8000 | pid) + payload[4:]
        if marker:
            payload += STAMP.pack(MARK, now)
    packet = RtpPacket(
        payload_type=stream.payload_type,
        marker=int(marker),
        sequence_number=seq,
        timestamp=ts,
        ssrc=stream.ssrc,
        payload=payload,
    )
    packet.extensions.mid = parameters.muxId
    if any(e.uri == SEND_TIME for e in parameters.headerExtensions):
        packet.extensions.abs_send_time = int((now + NTP_OFFSET) * 262144) & 0xFFFFFF
    return packet.serialize(extensions)


@pytest.mark.parametrize("send_time_id", (0, 3, 14))
def test_a_lean_stream_builds_the_packets_aiortc_would_frame_after_frame(send_time_id):
    parameters = _parameters(send_time_id=send_time_id)
    stream = _lean_stream(parameters, FRAMES, vp8=True, ssrc=0xDEADBEEF)
    seq, ts = stream.sequence, stream.timestamp
    for frame in range(5):
        now = 1_790_000_000.123456 + frame / 30
        packets = stream.build(3000, now)
        payloads = FRAMES[frame % len(FRAMES)]
        assert len(packets) == len(payloads)
        for number, (packet, payload) in enumerate(zip(packets, payloads, strict=True)):
            last = number == len(payloads) - 1
            assert packet == _expected(
                parameters, stream, payload, last, (seq + number) & 0xFFFF, ts, frame, now
            )
            parsed = RtpPacket.parse(packet)
            descriptor, _data = VpxPayloadDescriptor.parse(parsed.payload)
            assert descriptor.picture_id == frame
        seq, ts = (seq + len(payloads)) & 0xFFFF, (ts + 3000) & 0xFFFFFFFF
    assert stream.index == 5 and stream.picture_id == 5


def test_sequence_timestamp_and_picture_id_wrap_and_a_keyframe_request_restarts_the_clip():
    stream = _sendpath.LeanStream(**_plain(sequence=0xFFFF, timestamp=0xFFFFFFFF, ssrc=7))
    first = RtpPacket.parse(stream.build(1, 0.0)[0])
    assert (first.sequence_number, first.timestamp) == (0xFFFF, 0xFFFFFFFF)
    assert (stream.sequence, stream.timestamp) == (0, 0)
    for _ in range(0x7FFF):
        stream.build(1, 0.0)
    assert stream.picture_id == 0  # 15 bits
    stream.build(1, 0.0)
    assert stream.index % len(FRAMES) == 1  # the next would be the three-packet frame
    stream.keyframe_next = True
    packets = stream.build(1, 0.0)
    assert len(packets) == len(FRAMES[0])  # the clip's first frame again
    assert stream.index == 1 and not stream.keyframe_next


def test_audio_packets_carry_the_payload_as_it_is():
    parameters = _parameters(payload_type=111, kind="audio")
    opus = [[b"\xf8\xff\xfe"]]
    stream = _lean_stream(parameters, opus, vp8=False, ssrc=42)
    seq, ts = stream.sequence, stream.timestamp
    (packet,) = stream.build(960, 5.0)
    assert packet == _expected(parameters, stream, opus[0][0], True, seq, ts, 0, 5.0, vp8=False)


@pytest.mark.parametrize(
    "frames",
    [[], [[]], [["not bytes"]], [[b"x" * 5000]], [None]],
)
def test_frames_a_stream_cannot_send_are_refused(frames):
    with pytest.raises((ValueError, TypeError)):
        _sendpath.LeanStream(**_plain(frames=frames))


def test_a_lean_stream_sends_its_frame_protected_with_the_peers_keys():
    async def check():
        transport, protocol, browser = await ice_socket_and_browser()
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        ours, viewer = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)
        try:
            sink = forwarding.sink_for(pair, ours)
            assert sink is not None
            parameters = _parameters()
            sent = _lean_stream(parameters, FRAMES, vp8=True, ssrc=99)
            reference = _sendpath.LeanStream(
                **_plain(sequence=sent.sequence, timestamp=sent.timestamp, ssrc=99)
            )
            for _frame in range(3):
                now = time.time()
                expected = reference.build(3000, now)
                assert sent.send(sink, 3000, now) == len(expected)
                for plain in expected:
                    got = RtpPacket.parse(viewer.unprotect(browser.recv(2048)))
                    want = RtpPacket.parse(plain)
                    assert (got.sequence_number, got.timestamp, got.marker, got.ssrc) == (
                        want.sequence_number,
                        want.timestamp,
                        want.marker,
                        want.ssrc,
                    )
                    assert got.payload == want.payload
            assert sink.sent == sum(len(FRAMES[i % 2]) for i in range(3))
            with pytest.raises(TypeError):
                sent.send(object(), 3000, 0.0)
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 30)


def _rtp(ssrc, sequence, marker=False, payload=b"x" * 100):
    return RtpPacket(
        payload_type=96, marker=int(marker), sequence_number=sequence, ssrc=ssrc, payload=payload
    ).serialize()


@pytest.fixture
def sockets():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.bind(("127.0.0.1", 0))
    yield sender, receiver
    sender.close()
    receiver.close()


def test_rtp_is_counted_per_ssrc_from_the_clear_header_and_the_rest_handed_back(sockets):
    sender, receiver = sockets
    target = receiver.getsockname()
    tally = _sendpath.RtpCount()
    started = time.monotonic()
    for sequence in (65534, 65535, 0, 1, 3, 4):  # a wrap, and 2 missing
        sender.sendto(_rtp(0xA, sequence, marker=sequence in (0, 4)), target)
    sender.sendto(_rtp(0xB, 10), target)
    rtcp = bytes([0x80, 200, 0, 6]) + bytes(24)
    stun = bytes([0x00, 0x01, 0x00, 0x00]) + bytes(16)
    dtls = bytes([22, 0xFE, 0xFD]) + bytes(20)
    for datagram in (rtcp, stun, dtls):
        sender.sendto(datagram, target)
    sender.sendto(b"\x80" * 3000, target)  # longer than any of ours: dropped
    time.sleep(0.05)
    rest = tally.read(receiver.fileno())
    assert rest == [(datagram, sender.getsockname()) for datagram in (rtcp, stun, dtls)]
    counts = tally.counts()
    packets, frames, lost, first = counts[0xA]
    assert (packets, frames, lost) == (6, 2, 1)
    assert started <= first <= time.monotonic()
    assert counts[0xB] == (1, 0, 0, None)
    assert (tally.packets, tally.lost, tally.other) == (7, 1, 0)
    assert tally.read(receiver.fileno()) == []  # nothing waiting


def test_a_decrypting_peer_gets_its_rtp_back_uncounted(sockets):
    sender, receiver = sockets
    tally = _sendpath.RtpCount()
    packet = _rtp(5, 1, marker=True)
    sender.sendto(packet, receiver.getsockname())
    time.sleep(0.05)
    assert tally.read(receiver.fileno(), keep_rtp=True) == [(packet, sender.getsockname())]
    assert tally.counts() == {}
    assert tally.count(packet) is True and tally.count(b"\x16\xfe\xfd" + bytes(20)) is False
    assert tally.counts()[5][:3] == (1, 1, 0)


def test_more_ssrcs_than_it_counts_one_by_one_and_more_than_a_batch_of_datagrams(sockets):
    sender, receiver = sockets
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    tally = _sendpath.RtpCount()
    for ssrc in range(1, 71):  # 70 SSRCs, 3 packets each: 210 datagrams, 4 batches
        for sequence in range(3):
            sender.sendto(_rtp(ssrc, sequence, payload=b""), receiver.getsockname())
    time.sleep(0.1)
    assert tally.read(receiver.fileno()) == []
    assert len(tally.counts()) == 64
    assert tally.packets == 210 and tally.other == 18


def test_a_socket_that_is_gone_reads_as_none():
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = gone.fileno()
    gone.close()
    assert _sendpath.RtpCount().read(fd) is None


def test_the_pacer_sends_each_stream_when_due_and_only_with_a_sink_whose_socket_is_open():
    async def check():
        transport, protocol, browser = await ice_socket_and_browser()
        browser.settimeout(0.2)
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        ours, viewer = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)

        def arrived():
            ssrcs = []
            try:
                while True:
                    ssrcs.append(RtpPacket.parse(viewer.unprotect(browser.recv(2048))).ssrc)
            except TimeoutError:
                return ssrcs

        try:
            sink = forwarding.sink_for(pair, ours)
            video, audio = _video_and_audio()
            anna, tove = object(), object()
            pacer = _sendpath.Pacer()
            pacer.add(anna, video, 3000, 1 / 30, 10.0)
            pacer.add(tove, audio, 960, 0.02, 10.01)
            assert len(pacer) == 2
            assert pacer.run(5.0, 0.0) == float("inf")  # no sink yet: nothing sent
            pacer.set_sink(anna, sink)
            pacer.set_sink(tove, sink)
            assert pacer.run(9.0, 0.0) == 10.0  # nothing due yet
            assert pacer.run(10.0, 0.0) == 10.01  # the video frame (one packet)
            assert arrived() == [1]
            # Late: one frame per stream and call; the rest catch up on the next calls.
            assert pacer.run(10.1, 0.0) == pytest.approx(10.03)
            assert sorted(arrived()) == [1, 1, 1, 2]
            assert pacer.frames == 3
            pacer.set_sink(tove, None)
            assert pacer.run(10.1, 0.0) == pytest.approx(10.1)
            assert arrived() == [1]
            pacer.remove(anna)
            assert len(pacer) == 1 and pacer.run(11.0, 0.0) == float("inf")
            with pytest.raises(TypeError):
                pacer.set_sink(tove, object())
            # A socket closed since the sink was made: nothing built, nothing sent.
            pacer.set_sink(tove, sink)
            transport.close()
            await asyncio.sleep(0)
            frames = pacer.frames
            pacer.run(12.0, 0.0)
            assert pacer.frames == frames and audio.send(sink, 960, 0.0) == 0
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 30)


def test_a_stream_whose_send_fails_stops_and_the_others_go_on(monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    async def check():
        transport, protocol, browser = await ice_socket_and_browser()
        browser.settimeout(0.2)
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        ours = _session(Policy.SSRC_ANY_OUTBOUND)
        try:
            context = getattr(ours, forwarding._SRTP_CONTEXT)[0]
            roomy = forwarding.sink_for(pair, ours)
            cramped = forwarding._sink_for(pair, ours, context, 40)  # shorter than a frame
            video, audio = _video_and_audio()
            anna, tove = object(), object()
            pacer = _sendpath.Pacer()
            pacer.add(anna, video, 3000, 1 / 30, 0.0)
            pacer.add(tove, audio, 960, 0.02, 0.0)
            pacer.set_sink(anna, cramped)
            pacer.set_sink(tove, roomy)
            assert pacer.run(0.0, 0.0) == pytest.approx(0.02)  # the video stream stopped
            assert (pacer.failures, pacer.frames) == (1, 1)
            assert "too long" in str(unraisable[0].exc_value)
            assert RtpPacket.parse(browser.recv(2048)).ssrc == 2  # (header in the clear)
            pacer.run(1.0, 0.0)
            assert video.index == 1  # (the frame that failed)
            pacer.set_sink(anna, roomy)  # sent again once its sink is set again,
            pacer.run(1.0, 0.0)  # from then on: not a burst of the frames it missed
            pacer.run(1.0, 0.0)
            assert video.index == 2 and pacer.failures == 1
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 30)


def test_a_stream_is_set_up_once_and_the_pacer_forgets_only_the_owner_it_is_told():
    stream = _lean_stream(_parameters(), FRAMES, vp8=True, ssrc=1)
    with pytest.raises(RuntimeError):  # (a send in progress reads its frames)
        stream.__init__(**_plain())
    with pytest.raises(ValueError):
        stream.build(3000, float("nan"))
    pacer = _sendpath.Pacer()
    anna, tove = object(), object()
    for owner, due in ((anna, 1.0), (tove, 2.0), (anna, 3.0), (tove, 4.0)):
        pacer.add(owner, _lean_stream(_parameters(), FRAMES, vp8=True, ssrc=1), 1, 1.0, due)
    pacer.remove(anna)
    assert len(pacer) == 2
    pacer.remove(object())  # not there: nothing happens
    assert len(pacer) == 2
    pacer.remove(tove)
    assert len(pacer) == 0 and pacer.run(10.0) == float("inf")
