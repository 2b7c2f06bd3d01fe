"""The receiver's bookkeeping in C (``_receive.c``) against aiortc's and our Python steps.

- ``Tally`` keeps aiortc's StreamStatistics, attribute by attribute, on sequences with
  losses, reordering, duplicates and a wrap of the sequence number;
- ``Estimator`` (remb.py's BandwidthEstimator; its estimates against aiortc's are in
  test_remb.py) stays bounded and sane when the clock jumps or a flood comes;
- ``Intake`` does what forward_packets' Python steps do, packet by packet, on a receiver
  of aiortc's own: what is handed on (and whether it starts a key frame), the statistics,
  the NACKs, the REMBs, the sources seen.
"""

from aiortc import RTCRtpCodecParameters
from aiortc import RTCRtpReceiver
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket
from mediaserver import run_in_thread
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media import forwarding
from prorenata.videomote.media.remb import BandwidthEstimator
from test_rtp_rewrite import extensions_map
from types import SimpleNamespace

import aiortc.rtcrtpreceiver
import asyncio
import pytest
import random

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
)
MEDIA_SSRC, RTX_SSRC = 0x11223344, 0x55667788
SEND_TIME_ID = 3


def _sequence(rng: random.Random, count: int, start: int) -> list[int]:
    """Sequence numbers as a network delivers them: mostly in order, some lost, some
    late, some twice, across the wrap at 65535."""
    numbers = [(start + i) & 0xFFFF for i in range(count)]
    delivered = []
    for number in numbers:
        roll = rng.random()
        if roll < 0.05:
            continue  # lost
        if roll < 0.10 and delivered:
            delivered.insert(max(0, len(delivered) - rng.randint(1, 5)), number)  # late
            continue
        delivered.append(number)
        if roll < 0.12:
            delivered.append(number)  # twice
    return delivered


@pytest.mark.parametrize("seed", range(6))
def test_a_tally_keeps_aiortcs_stream_statistics_attribute_by_attribute(seed, monkeypatch):
    rng = random.Random(seed)
    clockrate = 90000 if seed % 2 else 48000
    theirs, ours = StreamStatistics(clockrate), _sendpath.Tally(clockrate)
    now = [1_700_000_000.0 + seed]
    monkeypatch.setattr(aiortc.rtcrtpreceiver, "time", SimpleNamespace(time=lambda: now[0]))
    timestamp = rng.randrange(1 << 32)
    for index, number in enumerate(_sequence(rng, 3000, 65535 - 1500 + seed)):
        now[0] += rng.uniform(0.0, 0.02)
        if index % 3 == 0:
            timestamp = (timestamp + 3000) & 0xFFFFFFFF
        packet = SimpleNamespace(sequence_number=number, timestamp=timestamp)
        theirs.add(packet)
        ours.add(packet, int(now[0] * clockrate))
        if index % 250 == 0:  # a receiver report: the fraction lost since the last one
            assert ours.fraction_lost == theirs.fraction_lost
        for name in (
            "base_seq",
            "max_seq",
            "cycles",
            "packets_received",
            "_jitter_q4",
            "_last_arrival",
            "_last_timestamp",
            "_expected_prior",
            "_received_prior",
            "jitter",
            "packets_expected",
            "packets_lost",
        ):
            assert getattr(ours, name) == getattr(theirs, name), (index, name)
    assert ours.cycles == 1 << 16


def test_a_tally_counts_with_the_wall_clock_when_no_arrival_is_given():
    tally = _sendpath.Tally(90000)
    assert tally.max_seq is None and tally.base_seq is None and tally.jitter == 0
    tally.add(SimpleNamespace(sequence_number=7, timestamp=1000))
    assert (tally.base_seq, tally.max_seq, tally.packets_received) == (7, 7, 1)
    assert abs(tally._last_arrival / 90000 - __import__("time").time()) < 5


def test_an_estimate_keeps_going_when_the_clock_jumps_and_a_flood_comes():
    estimator = BandwidthEstimator()
    arrival, send_time, estimates = 1_000_000, 0, []
    for index in range(3000):
        arrival += 11
        send_time = (send_time + 11 * 262) & 0xFFFFFF
        if index == 1000:
            arrival -= 3_600_000  # the wall clock set back an hour
        if index == 2000:
            arrival += 86_400_000  # and a day forward
        estimate = estimator.add(arrival, send_time, 1200, MEDIA_SSRC)
        if estimate is not None:
            estimates.append(estimate[0])
    assert len(estimates) > 20
    assert all(bitrate > 0 for bitrate in estimates)
    # 20,000 packets in one millisecond (a flood): kept as one entry, counted in full
    for _ in range(20_000):
        estimator.add(arrival, send_time, 1000, MEDIA_SSRC)
    assert estimator.incoming_rate(arrival + 10) >= 8000 * 20_000 * 1000 // 1000 // 11
    assert estimator.ssrcs == [MEDIA_SSRC]


def test_an_estimator_and_an_intake_are_set_up_once_and_refuse_what_is_not_theirs():
    estimator = BandwidthEstimator()
    with pytest.raises(RuntimeError):
        estimator.__init__()
    with pytest.raises(RuntimeError):
        _sendpath.Estimator.__new__(_sendpath.Estimator).add(1, 2, 3, 4)
    with pytest.raises(RuntimeError):
        _sendpath.Intake.__new__(_sendpath.Intake).take(None, 0)
    with pytest.raises(TypeError):
        _sendpath.Intake(**{**_intake_arguments(), "estimator": object()})
    intake = _sendpath.Intake(**_intake_arguments())
    with pytest.raises(RuntimeError):
        intake.__init__(**_intake_arguments())


def _intake_arguments() -> dict:
    return {
        "receiver": SimpleNamespace(_enabled=True),
        "estimator": None,
        "codecs": {},
        "streams": {},
        "nacks": None,
        "video": True,
        "on_packet": print,
        "slow": print,
        "send_remb": print,
        "note_active": print,
        "request_missing": print,
        "is_rtx": bool,
    }


# -- the intake against forward_packets' Python steps ------------------------------------


def _receiver(sent: list) -> RTCRtpReceiver:
    receiver = RTCRtpReceiver("video", SimpleNamespace(state="new"))
    codecs = getattr(receiver, forwarding._RECEIVER_CODECS)
    codecs[96], codecs[97] = VP8, RTX
    getattr(receiver, forwarding._RECEIVER_RTX_SSRC)[RTX_SSRC] = MEDIA_SSRC
    setattr(receiver, forwarding._RECEIVER_RTCP_SSRC, 0xABCDEF)

    async def send_rtcp_nack(ssrc, missing):
        sent.append(("nack", ssrc, tuple(missing)))

    async def send_rtcp(packet):
        sent.append(("remb", packet.fci))

    receiver._send_rtcp_nack = send_rtcp_nack
    receiver._send_rtcp = send_rtcp
    return receiver


def _packets(seed: int) -> list[tuple[object, int]]:
    """(packet as the server reads it, arrival ms): a camera at 30 fps with key frames,
    losses, late and repeated packets, retransmissions, an unknown payload type."""
    rng = random.Random(seed)
    extensions = extensions_map(send_time=SEND_TIME_ID)
    out, arrival, send_time = [], 3_900_000_000_000, 0
    numbers = _sequence(rng, 900, 65535 - 300)
    for index, number in enumerate(numbers):
        frame = index // 3
        arrival += rng.choice((0, 0, 1, 2, 30))
        send_time = (frame * 33 * 262 + index % 3) & 0xFFFFFF
        first = index % 3 == 0
        key = frame % 45 == 0
        descriptor = bytes(
            [0x90 if first else 0x80, 0x80, 0x80 | (frame >> 8) & 0x7F, frame & 0xFF]
        )
        payload = descriptor + bytes([0x00 if key else 0x01]) + bytes(rng.randrange(100, 1100))
        payload_type, ssrc = 96, MEDIA_SSRC
        if index % 97 == 50:  # a retransmission: the original number, then the payload
            payload_type, ssrc = 97, RTX_SSRC
            payload = (number - 20 & 0xFFFF).to_bytes(2, "big") + payload
        if index % 211 == 100:
            payload_type = 98  # no codec for it
        packet = RtpPacket(
            payload_type=payload_type,
            sequence_number=number,
            timestamp=frame * 3000 & 0xFFFFFFFF,
            ssrc=ssrc,
            payload=payload,
        )
        packet.extensions.abs_send_time = send_time
        data = packet.serialize(extensions)
        read = _sendpath.read(data, SEND_TIME_ID, 0)
        out.append((read if index % 50 else RtpPacket.parse(data, extensions), arrival))
    return out


def _run(feed, seed: int) -> dict:
    sent: list = []
    handed: list = []
    receiver = _receiver(sent)

    def on_packet(packet, keyframe):
        handed.append((packet.ssrc, packet.payload_type, packet.sequence_number, keyframe))

    async def main():
        feed(receiver, on_packet)
        handler = getattr(receiver, forwarding._DIRECT_HANDLER)
        for index, (packet, arrival) in enumerate(_packets(seed)):
            receiver._enabled = not 400 <= index < 420
            handler(packet, arrival)
        await asyncio.sleep(0)

    run_in_thread(main, 60)  # (Playwright's session keeps a loop in the main thread)
    streams = getattr(receiver, forwarding._RECEIVER_STREAMS)
    nacks = getattr(receiver, forwarding._RECEIVER_NACK)
    return {
        "handed": handed,
        "sent": sent,
        "streams": {
            ssrc: (s.base_seq, s.max_seq, s.cycles, s.packets_received, s.packets_lost)
            for ssrc, s in streams.items()
        },
        "nacks": (nacks.max_seq, sorted(nacks.missing)),
        "active": sorted(getattr(receiver, forwarding._RECEIVER_ACTIVE_SSRC)),
    }


def _in_python(receiver, on_packet):
    handle = forwarding._python_handler(receiver, BandwidthEstimator(), True, on_packet)
    setattr(receiver, forwarding._RECEIVER_ESTIMATOR, None)
    setattr(receiver, forwarding._DIRECT_HANDLER, handle)


@pytest.mark.parametrize("seed", range(3))
def test_the_intake_does_what_the_python_steps_do_packet_by_packet(seed):
    ours = _run(forwarding.forward_packets, seed)
    theirs = _run(_in_python, seed)
    assert ours == theirs
    # and the trace has everything in it
    keyframes = [h for h in ours["handed"] if h[3]]
    assert keyframes and len(keyframes) < len(ours["handed"]) / 20
    assert any(h[1] == 96 and h[0] == MEDIA_SSRC for h in ours["handed"])
    assert {kind for kind, *_ in ours["sent"]} == {"nack", "remb"}
    assert set(ours["streams"]) == {MEDIA_SSRC, RTX_SSRC}
    assert ours["active"] == sorted({MEDIA_SSRC, RTX_SSRC})


def test_statistics_aiortcs_own_path_began_are_carried_on_and_the_packets_handed_on():
    # Packets that came before the direct path was set up went through aiortc's own
    # handler, which began a StreamStatistics for their SSRC.
    handed, sent = [], []
    receiver = _receiver(sent)
    streams = getattr(receiver, forwarding._RECEIVER_STREAMS)
    began = streams[MEDIA_SSRC] = StreamStatistics(90000)
    packets = [
        p
        for p, _ in _packets(0)
        if type(p) is _sendpath.ReadPacket and p.ssrc == MEDIA_SSRC and p.payload_type == 96
    ]
    for packet in packets[:5]:
        began.add(packet)

    async def main():
        forwarding.forward_packets(receiver, lambda packet, keyframe: handed.append(packet))
        handler = getattr(receiver, forwarding._DIRECT_HANDLER)
        for packet in packets[5:]:
            handler(packet, 3_900_000_000_000)

    run_in_thread(main, 60)  # (Playwright's session keeps a loop in the main thread)
    assert [p.sequence_number for p in handed] == [p.sequence_number for p in packets[5:]]
    statistics = streams[MEDIA_SSRC]
    assert statistics.packets_received == len(packets)
    assert statistics.base_seq == packets[0].sequence_number


# -- the port: a socket's datagrams ---------------------------------------------------------


class _Receiver:
    """What the router routes to (hashable, unlike a SimpleNamespace)."""


class _Receiver:
    """What the router routes to (hashable, unlike a SimpleNamespace)."""


def _port_setup():
    """A DTLS transport's parts the port reads (SRTP session, extensions, aiortc's own
    router with one receiver) and what each path was given."""
    from aiortc.rtcdtlstransport import RtpRouter
    from pylibsrtp import Policy
    from pylibsrtp import Session

    key = bytes(range(30))
    incoming = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    outgoing = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    seen = {"stock": [], "connection": [], "handled": []}
    receiver = _Receiver()
    receiver._videomote_direct_handler = lambda packet, arrival: seen["handled"].append(
        (packet, arrival)
    )
    router = RtpRouter()
    router.register_receiver(receiver, ssrcs=[MEDIA_SSRC], payload_types=[96])
    dtls = SimpleNamespace(
        _rx_srtp=incoming,
        _rtp_header_extensions_map=extensions_map(send_time=SEND_TIME_ID),
        _rtp_router=router,
    )
    port = forwarding._port(
        dtls,
        lambda data, addr: seen["stock"].append((data, addr)),
        lambda data, component: seen["connection"].append((data, component)),
        1,
    )
    return port, dtls, outgoing, receiver, seen


def _rtp(outgoing, sequence_number: int, ssrc: int = MEDIA_SSRC, csrc=()) -> bytes:
    packet = RtpPacket(payload_type=96, sequence_number=sequence_number, ssrc=ssrc)
    packet.csrc = list(csrc)
    packet.extensions.abs_send_time = 0x123456
    packet.payload = b"\x90\x80\x01\x00payload"
    return outgoing.protect(packet.serialize(extensions_map(send_time=SEND_TIME_ID)))


def test_a_port_hands_srtp_to_the_receiver_and_everything_else_to_aiortcs_paths(caplog):
    port, dtls, outgoing, receiver, seen = _port_setup()
    stun = b"\x00\x01\x00\x00" + bytes(16)
    port.datagram_received(stun, ("127.0.0.1", 5))
    assert seen["stock"] == [(stun, ("127.0.0.1", 5))]
    rtcp = b"\x80\xc8\x00\x06" + bytes(24)  # a sender report: aiortc's
    port.datagram_received(rtcp, ("127.0.0.1", 5))
    assert seen["connection"] == [(rtcp, 1)]

    before = _sendpath.now_ms()
    port.datagram_received(_rtp(outgoing, 1), ("127.0.0.1", 5))
    ((packet, arrival),) = seen["handled"]
    assert type(packet) is _sendpath.ReadPacket
    assert (packet.sequence_number, packet.ssrc, packet.abs_send_time) == (1, MEDIA_SSRC, 0x123456)
    assert packet.payload == b"\x90\x80\x01\x00payload"
    assert before <= arrival <= _sendpath.now_ms()

    # a packet only aiortc reads (CSRCs), through the ICE connection's callback
    port.data_received(_rtp(outgoing, 2, csrc=[7]), 1)
    packet, _ = seen["handled"][-1]
    assert type(packet) is RtpPacket and packet.csrc == [7] and packet.sequence_number == 2

    # refused by libsrtp (a replay, a forgery): dropped, as aiortc drops it
    replay = _rtp(outgoing, 3)
    port.datagram_received(replay, None)
    port.datagram_received(replay, None)
    port.datagram_received(replay[:-1] + bytes([replay[-1] ^ 1]), None)
    assert [p.sequence_number for p, _ in seen["handled"]] == [1, 2, 3]

    # an SSRC the router does not know yet, with the receiver's payload type: aiortc's
    # router learns it, and the next packet takes the quick way
    port.datagram_received(_rtp(outgoing, 4, ssrc=RTX_SSRC), None)
    assert dtls._rtp_router.ssrc_table[RTX_SSRC] is receiver
    port.datagram_received(_rtp(outgoing, 5, ssrc=RTX_SSRC), None)
    assert [p.ssrc for p, _ in seen["handled"][-2:]] == [RTX_SSRC, RTX_SSRC]

    # before the keys (no SRTP session yet): aiortc's path
    dtls._rx_srtp = None
    early = _rtp(outgoing, 6)
    port.datagram_received(early, None)
    assert seen["connection"][-1] == (early, 1)
    assert len(seen["handled"]) == 5
    assert seen["stock"] == [(stun, ("127.0.0.1", 5))]


def test_a_packet_whose_handler_fails_is_logged_and_the_next_one_handled(caplog):
    port, dtls, outgoing, receiver, seen = _port_setup()
    calls = []

    def handler(packet, arrival):
        calls.append(packet.sequence_number)
        if packet.sequence_number == 1:
            raise KeyError("broken")

    receiver._videomote_direct_handler = handler
    with caplog.at_level("ERROR", logger="prorenata.videomote.media"):
        port.datagram_received(_rtp(outgoing, 1), None)
        port.datagram_received(_rtp(outgoing, 2), None)
    assert calls == [1, 2]
    (record,) = caplog.records
    assert record.getMessage() == "forwarding an RTP packet failed"
    assert record.exc_info[0] is KeyError
    # a receiver without a handler (a track the server does not use): nothing, no error
    receiver._videomote_direct_handler = None
    port.datagram_received(_rtp(outgoing, 3), None)
    del receiver._videomote_direct_handler
    port.datagram_received(_rtp(outgoing, 4), None)
    assert calls == [1, 2] and len(caplog.records) == 1


def _with_send_time_element(outgoing, element: bytes, sequence: int, padding=False) -> bytes:
    """An SRTP packet whose abs-send-time element (ID 3) is ``element``, as a browser
    controls it (aiortc reads exactly three bytes)."""
    extension = bytes([SEND_TIME_ID << 4 | len(element) - 1]) + element
    extension += bytes(-len(extension) % 4)
    payload = b"\x90\x80\x01\x00payload" + (b"\x00\x00\x03" if padding else b"")
    header = bytes([0xB0 if padding else 0x90, 96]) + sequence.to_bytes(2, "big")
    header += (3000).to_bytes(4, "big") + MEDIA_SSRC.to_bytes(4, "big")
    header += b"\xbe\xde" + (len(extension) // 4).to_bytes(2, "big") + extension
    return outgoing.protect(header + payload)


def test_a_send_time_element_of_any_length_neither_stops_the_stream_nor_the_socket(caplog):
    port, dtls, outgoing, receiver, seen = _port_setup()
    handed = []
    intake = _sendpath.Intake(
        **{
            **_intake_arguments(),
            "receiver": SimpleNamespace(_enabled=True),
            "estimator": BandwidthEstimator(),
            "codecs": {96: VP8},
            "is_rtx": forwarding.is_rtx,
            "on_packet": lambda packet, keyframe: handed.append(packet),
        }
    )
    receiver._videomote_direct_handler = intake.take
    with caplog.at_level("WARNING"):
        # eight bytes of 0xff: more than 64 bits of send time once shifted
        port.datagram_received(_with_send_time_element(outgoing, b"\xff" * 8, 9), None)
        # a padded packet (aiortc parses it) with a two-byte element: not readable
        port.datagram_received(_with_send_time_element(outgoing, b"\x01\x02", 10, True), None)
    assert [packet.sequence_number for packet in handed] == [9]
    assert caplog.records == []
    # the Python path's packets (RTX, parsed by aiortc) reach the estimator with any value
    estimator = BandwidthEstimator()
    estimator.add(1000, (1 << 64) - 1, 1200, MEDIA_SSRC)
    assert estimator.ssrcs == [MEDIA_SSRC]


def test_a_sender_making_up_ssrcs_is_routed_for_at_most_64_of_them():
    port, dtls, outgoing, receiver, seen = _port_setup()
    for index in range(100):
        port.datagram_received(_rtp(outgoing, index, ssrc=0x1000 + index), None)
    assert len(dtls._rtp_router.ssrc_table) == 64
    assert len(seen["handled"]) == 63
    port.datagram_received(_rtp(outgoing, 100), None)  # the camera's own: still handed on
    assert seen["handled"][-1][0].ssrc == MEDIA_SSRC
