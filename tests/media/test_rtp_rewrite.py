"""The direct path's per-packet shortcuts give what aiortc's own code gives.

The headers RtpRewriter writes are read back with aiortc's RtpPacket.parse (what a
browser's RTP stack sees), and the in-order shortcut of the NACK bookkeeping keeps
aiortc's NackGenerator in the state its own ``add`` leaves it in.
"""

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters
from aiortc.rtcrtpparameters import RTCRtpParameters
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import HeaderExtensionsMap
from aiortc.rtp import RtpPacket
from mediaserver import connected_dtls
from mediaserver import ice_socket_and_browser
from mediaserver import run_in_thread
from prorenata.videomote.media import forwarding

import asyncio
import pytest
import random

MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
NTP = 0xE5D1_2345_6789_ABCD  # some NTP time; its middle 24 bits are the send time


def extensions_map(**ids: int) -> HeaderExtensionsMap:
    uris = {"mid": MID, "send_time": SEND_TIME, "level": LEVEL}
    parameters = RTCRtpParameters(
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=value, uri=uris[name])
            for name, value in ids.items()
            if value
        ]
    )
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    return extensions


def written(
    payload=b"\x90\x80\x01payload",
    marker=1,
    seq=4711,
    timestamp=90_000,
    audio_level=None,
    mid_value=b"1",
    **ids,
):
    """A header for ``ids`` (extension IDs) with the payload, and aiortc's reading of it."""
    header = forwarding.header_writer(
        payload_type=96,
        ssrc=0xDEADBEEF,
        mid_id=ids.get("mid", 0),
        mid=mid_value,
        send_time_id=ids.get("send_time", 0),
        level_id=ids.get("level", 0),
    )
    data = header(marker, seq, timestamp, NTP, audio_level) + payload
    return RtpPacket.parse(data, extensions_map(**ids)), data


@pytest.mark.parametrize(
    "ids",
    [
        {"mid": 1, "send_time": 3},  # video as Chromium negotiates it
        {"mid": 4, "send_time": 2, "level": 1},  # audio
        {"mid": 9},
        {"send_time": 14},
        {"level": 5},
        {"send_time": 3, "level": 1},
        {},
    ],
)
def test_the_rewritten_header_reads_back_with_aiortc_as_every_field_was_given(ids):
    packet, data = written(**ids)
    assert packet.version == 2
    assert (packet.payload_type, packet.marker) == (96, 1)
    assert (packet.sequence_number, packet.timestamp, packet.ssrc) == (4711, 90_000, 0xDEADBEEF)
    assert packet.csrc == []
    assert packet.padding_size == 0 and not data[0] & 0x20
    assert packet.payload == b"\x90\x80\x01payload"
    extensions = packet.extensions
    assert extensions.mid == ("1" if ids.get("mid") else None)
    assert extensions.abs_send_time == ((NTP >> 14) & 0xFFFFFF if ids.get("send_time") else None)
    assert extensions.audio_level == ((False, 127) if ids.get("level") else None)
    # Without any extension the header is the plain 12 bytes (X bit clear).
    assert bool(data[0] & 0x10) is bool(ids)
    if not ids:
        assert len(data) == 12 + len(packet.payload)


@pytest.mark.parametrize(
    "mid",
    [b"0", b"12", b"123", b"screen", b"a-long-mid-01234"],  # every length modulo 4
)
def test_the_extension_block_is_padded_to_whole_words_for_every_mid_length(mid):
    packet, data = written(mid=1, send_time=3, level=2, mid_value=mid, audio_level=(True, 42))
    assert packet.extensions.mid == mid.decode()
    assert packet.extensions.audio_level == (True, 42)
    assert packet.extensions.abs_send_time == (NTP >> 14) & 0xFFFFFF
    words = int.from_bytes(data[14:16], "big")
    assert int.from_bytes(data[12:14], "big") == 0xBEDE
    assert data[16 + 4 * words :] == b"\x90\x80\x01payload"


def test_sequence_numbers_timestamps_and_the_marker_take_their_whole_range():
    for marker, seq, timestamp in ((0, 0, 0), (1, 0xFFFF, 0xFFFFFFFF), (0, 1, 2**31)):
        packet, _ = written(marker=marker, seq=seq, timestamp=timestamp, mid=1, send_time=3)
        assert (packet.marker, packet.sequence_number, packet.timestamp) == (marker, seq, timestamp)


@pytest.mark.parametrize("level", [(True, 0), (False, 127), (True, 300), None])
def test_the_audio_level_is_carried_as_aiortc_writes_it(level):
    packet, _ = written(mid=1, send_time=3, level=2, audio_level=level)
    reference = RtpPacket(payload_type=96, sequence_number=4711, timestamp=90_000, ssrc=1)
    reference.extensions.audio_level = level if level is not None else (False, 127)
    ours = packet.extensions.audio_level
    theirs = RtpPacket.parse(reference.serialize(extensions_map(level=2)), extensions_map(level=2))
    assert ours == theirs.extensions.audio_level


def test_an_empty_payload_and_a_large_one_are_passed_as_they_are():
    for payload in (b"", bytes(range(256)) * 5):
        packet, _ = written(payload=payload, mid=1, send_time=3)
        assert packet.payload == payload


def _nack_states(sequence: list[int]) -> tuple[list, list]:
    """aiortc's NackGenerator.add and forward_packets' shortcut, side by side."""

    class Receiver:
        def __init__(self):
            self.nacks = []

        async def _send_rtcp_nack(self, ssrc, lost):
            self.nacks.append(lost)

    async def run():
        theirs, ours, receiver = NackGenerator(), NackGenerator(), Receiver()
        expected_nacks, their_states, our_states = [], [], []
        for seq in sequence:
            packet = RtpPacket(sequence_number=seq, ssrc=1)
            if theirs.add(packet):
                expected_nacks.append(sorted(theirs.missing))
            forwarding._request_missing(receiver, ours, packet)
            their_states.append((theirs.max_seq, set(theirs.missing)))
            our_states.append((ours.max_seq, set(ours.missing)))
        await asyncio.sleep(0)
        return (their_states, expected_nacks), (our_states, receiver.nacks)

    return run_in_thread(run, 60)


def test_the_in_order_shortcut_leaves_the_nack_generator_as_aiortc_does():
    rng = random.Random(7)
    sequence, seq = [], 65_000
    for _ in range(3000):
        step = rng.choice([1] * 40 + [2, 3, 0, -1, -5, 200])
        seq = (seq + step) & 0xFFFF  # wraps at 65535 more than once
        sequence.append(seq)
    theirs, ours = _nack_states(sequence)
    assert ours == theirs
    assert theirs[1], "the sequence has gaps that are NACKed"


def _packet_bytes(rng: random.Random, ids: dict) -> bytes:
    packet = RtpPacket(
        payload_type=rng.choice([96, 97, 111]),
        marker=rng.randint(0, 1),
        sequence_number=rng.randrange(1 << 16),
        timestamp=rng.randrange(1 << 32),
        ssrc=rng.randrange(1 << 32),
        payload=rng.randbytes(rng.choice([0, 1, 50, 1200])),
    )
    if rng.random() < 0.3:
        packet.extensions.mid = rng.choice(["0", "1", "screen"])
    if rng.random() < 0.8:
        packet.extensions.abs_send_time = rng.randrange(1 << 24)
    if rng.random() < 0.5:
        packet.extensions.audio_level = (rng.random() < 0.5, rng.randrange(128))
    return packet.serialize(extensions_map(**ids))


def _as_read(packet) -> tuple:
    extensions = packet.extensions
    return (
        packet.version,
        packet.marker,
        packet.payload_type,
        packet.sequence_number,
        packet.timestamp,
        packet.ssrc,
        list(packet.csrc),
        packet.padding_size,
        packet.payload,
        extensions.abs_send_time,
        extensions.audio_level,
    )


def test_incoming_packets_are_read_as_aiortc_reads_them():
    rng = random.Random(18)
    for ids in ({"mid": 1, "send_time": 3, "level": 2}, {"mid": 4, "send_time": 14}, {}):
        for _ in range(300):
            data = _packet_bytes(rng, ids)
            read = forwarding.read_rtp(data, ids.get("send_time"), ids.get("level"))
            assert read is not None
            assert _as_read(read) == _as_read(RtpPacket.parse(data, extensions_map(**ids)))


def test_packets_with_padding_csrcs_or_two_byte_extensions_are_left_to_aiortc():
    plain = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"x")
    data = plain.serialize()
    padded = bytes([data[0] | 0x20]) + data[1:] + b"\x00\x00\x03"
    with_csrc = bytes([data[0] | 0x01]) + data[1:12] + b"\x00\x00\x00\x07" + data[12:]
    two_byte = bytes([data[0] | 0x10]) + data[1:12] + b"\x10\x00\x00\x01\x03\x01\x05\x00" + b"x"
    for other in (padded, with_csrc, two_byte):
        assert forwarding.read_rtp(other, 3, None) is None
        RtpPacket.parse(other)  # aiortc reads it


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x60\x00\x01\x00\x00",  # shorter than the fixed header
        b"\x90\x60\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\xbe\xde",  # cut in the profile
        b"\x90\x60\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\xbe\xde\x00\x02\x32\x01",  # words
        b"\x90\x60\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\xbe\xde\x00\x01\x05\x01\x02\x03",
    ],
)
def test_a_truncated_packet_is_refused_as_aiortc_refuses_it(data):
    with pytest.raises(ValueError):
        RtpPacket.parse(data, extensions_map(send_time=3))
    with pytest.raises(ValueError):
        forwarding.read_rtp(data, 3, None)


def _sessions(key: bytes, profile: int):
    from pylibsrtp import Policy
    from pylibsrtp import Session

    def policy(direction):
        made = Policy(key=key, ssrc_type=direction, srtp_profile=profile)
        made.allow_repeat_tx = True
        return made

    return (
        Session(policy(Policy.SSRC_ANY_OUTBOUND)),
        Session(policy(Policy.SSRC_ANY_OUTBOUND)),
        Session(policy(Policy.SSRC_ANY_INBOUND)),
    )


PROFILES = pytest.mark.parametrize(
    "profile, key_size",
    [("SRTP_PROFILE_AEAD_AES_128_GCM", 28), ("SRTP_PROFILE_AES128_CM_SHA1_80", 30)],
)


@PROFILES
def test_the_route_encrypts_as_pylibsrtp_does_and_sends_to_the_nominated_pair(profile, key_size):
    """On a direct pair the route's C sink encrypts with the session's own libsrtp
    context and sends on the pair's socket: byte for byte what Session.protect gives (a
    twin session, same key) arrives at the pair's remote address, and the viewer's
    session reads it back."""
    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy
    from types import SimpleNamespace

    async def check():
        ours, twin, viewer = _sessions(bytes(range(key_size)), getattr(Policy, profile))
        transport, protocol, browser = await ice_socket_and_browser()
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        dtls = connected_dtls(ours, pair)
        route = forwarding._Route(dtls)
        header = forwarding.header_writer(96, 0xCAFE, mid_id=1, mid=b"0", send_time_id=3)
        try:
            for seq, payload in enumerate([b"", b"x" * 1200, bytes(range(256))]):
                data = header(seq & 1, seq, seq * 3000, NTP, None)
                assert route.send(data, payload)
                protected, address = browser.recvfrom(2048)
                assert address == transport.get_extra_info("sockname")
                assert protected == twin.protect(data + payload)
                assert viewer.unprotect(protected) == data + payload
            assert route.sink is not None and route.sink.sent == 3
            with pytest.raises(ValueError):
                route.send(header(0, 9, 0, NTP, None), bytes(1500))
            transport.close()
            assert not route.send(data)  # its socket closed: nothing sent
            dtls._state = State.CLOSED
            assert not route.send(data)
            assert route.sink.sent == 3
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 60)


@PROFILES
def test_a_pair_relayed_through_turn_is_encrypted_as_pylibsrtp_does_and_sent_by_aioice(
    profile, key_size
):
    """A relayed pair's transport (aioice's TurnTransport) has no socket of its own and no
    ``is_closing`` (it checks that itself): the route encrypts in Python in the session's
    buffer and hands the packet to it."""
    from aioice.ice import StunProtocol
    from aiortc.rtcdtlstransport import State
    from pylibsrtp import Policy
    from types import SimpleNamespace

    async def check():
        ours, twin, viewer = _sessions(bytes(range(key_size)), getattr(Policy, profile))
        sent = []
        protocol = StunProtocol(receiver=None)
        protocol.local_candidate = SimpleNamespace(type="relay")
        protocol.transport = SimpleNamespace(  # what aioice's TurnTransport has
            sendto=lambda data, address: sent.append((data, address)),
            close=lambda: None,
            get_extra_info=lambda name, default=None: default,
        )
        pair = SimpleNamespace(protocol=protocol, remote_addr=("127.0.0.1", 5004))
        dtls = connected_dtls(ours, pair)
        route = forwarding._Route(dtls)
        header = forwarding.header_writer(96, 0xCAFE, mid_id=1, mid=b"0", send_time_id=3)
        for seq, payload in enumerate([b"", b"x" * 1200, bytes(range(256))]):
            data = header(seq & 1, seq, seq * 3000, NTP, None) + payload
            assert route.send(data)
            protected, address = sent[-1]
            assert address == ("127.0.0.1", 5004)
            assert protected == twin.protect(data)
            assert viewer.unprotect(protected) == data
        assert route.sink is None
        with pytest.raises(ValueError):
            route.send(header(0, 9, 0, NTP, None) + bytes(1500))
        dtls._state = State.CLOSED
        assert not route.send(data)
        assert len(sent) == 3

    run_in_thread(check, 60)
