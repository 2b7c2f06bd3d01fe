"""The media server's packet path in C (``media/_sendpath.c``) does what the Python it
replaced does: the reader decrypts and reads as pylibsrtp and aiortc do, a lane writes
the headers ``header_writer`` writes, sends them encrypted to the viewer's address,
keeps them for retransmission and counts them for the sender's reports, and hands
everything but the steady state back to Python.
"""

from aiortc.rtcdtlstransport import State
from aiortc.rtp import RtpPacket
from mediaserver import connected_dtls
from mediaserver import ice_socket_and_browser
from mediaserver import run_in_thread
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media import forwarding
from pylibsrtp import Policy
from pylibsrtp import Session
from test_rtp_rewrite import extensions_map
from types import SimpleNamespace

import itertools
import pytest
import random
import socket

NTP = 0xE5D1_2345_6789_ABCD
KEY = bytes(range(28))
GCM = Policy.SRTP_PROFILE_AEAD_AES_128_GCM


def _session(direction: int) -> Session:
    policy = Policy(key=KEY, ssrc_type=direction, srtp_profile=GCM)
    policy.allow_repeat_tx = True
    return Session(policy)


def _reader(session: Session) -> _sendpath.Reader:
    return forwarding._reader_for(session)


@pytest.mark.parametrize(
    "mid_id, mid, send_time_id, level_id",
    list(itertools.product((0, 1), (b"", b"0", b"screen"), (0, 3, 14), (0, 2))),
)
def test_a_lane_writes_the_header_header_writer_writes(mid_id, mid, send_time_id, level_id):
    layout = {
        "payload_type": 111 if level_id else 96,
        "ssrc": 0xDEADBEEF,
        "mid_id": mid_id,
        "mid": mid,
        "send_time_id": send_time_id,
        "level_id": level_id,
    }
    header = forwarding.header_writer(**layout)
    lane = _sendpath.Lane(lambda *args: None, SimpleNamespace())
    lane.configure(**layout)
    rng = random.Random(18)
    for _ in range(50):
        arguments = (
            rng.randrange(2),
            rng.randrange(1 << 16),
            rng.randrange(1 << 32),
            rng.randrange(1 << 64),
            rng.choice([None, (True, rng.randrange(128)), (False, rng.randrange(128))]),
        )
        assert lane.header(*arguments) == header(*arguments)


def test_the_reader_decrypts_and_reads_as_pylibsrtp_and_aiortc_do():
    sender, receiver = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)
    check = _session(Policy.SSRC_ANY_INBOUND)
    reader = _reader(receiver)
    rng = random.Random(7)
    for seq in range(200):
        packet = RtpPacket(
            payload_type=96,
            marker=seq & 1,
            sequence_number=seq,
            timestamp=rng.randrange(1 << 32),
            ssrc=4711,
            payload=rng.randbytes(rng.choice([0, 1, 300, 1200])),
        )
        packet.extensions.abs_send_time = rng.randrange(1 << 24)
        packet.extensions.audio_level = (rng.random() < 0.5, rng.randrange(128))
        data = packet.serialize(extensions_map(send_time=3, level=2))
        protected = sender.protect(data)
        read = reader.read(protected, 3, 2)
        expected = forwarding.read_rtp(check.unprotect(protected), 3, 2)
        for name in (
            "marker",
            "payload_type",
            "sequence_number",
            "timestamp",
            "ssrc",
            "payload",
            "abs_send_time",
            "audio_level",
            "csrc",
            "padding_size",
            "mid",
        ):
            assert getattr(read, name) == getattr(expected, name), name
        assert read.extensions is read
    # What libsrtp refuses (a replay, a changed byte) or what is too long: ValueError.
    with pytest.raises(ValueError):
        reader.read(protected, 3, 2)
    changed = bytearray(sender.protect(data[:2] + b"\x01\x00" + data[4:]))
    changed[-1] ^= 1
    with pytest.raises(ValueError):
        reader.read(bytes(changed), 3, 2)
    with pytest.raises(ValueError):
        reader.read(bytes(2000), 3, 2)


def test_a_packet_only_aiortc_reads_comes_back_decrypted_as_bytes():
    sender, receiver = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)
    data = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"x")
    plain = data.serialize()
    padded = bytes([plain[0] | 0x20]) + plain[1:] + b"\x00\x00\x03"
    read = _reader(receiver).read(sender.protect(padded), 3, 0)
    assert read == padded
    assert RtpPacket.parse(read).padding_size == 3


class _Sender:
    """The counters aiortc's RTCRtpSender keeps for its sender reports."""

    def __init__(self):
        self._RTCRtpSender__ntp_timestamp = 0
        self._RTCRtpSender__rtp_timestamp = 0
        self._RTCRtpSender__octet_count = 0
        self._RTCRtpSender__packet_count = 0


def test_a_lane_sends_rewritten_packets_keeps_them_and_counts_them_and_hands_the_rest_back():
    async def check():
        transport, protocol, browser = await ice_socket_and_browser()
        ours, viewer = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)
        publisher = _session(Policy.SSRC_ANY_OUTBOUND)
        incoming = _reader(_session(Policy.SSRC_ANY_INBOUND))
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        dtls = connected_dtls(ours, pair)
        nominated = dtls.transport._connection._nominated
        route = forwarding._Route(dtls)
        assert route.ready()
        handed_back = []
        sender = _Sender()
        lane = _sendpath.Lane(lambda *args: handed_back.append(args), sender)
        layout = {
            "payload_type": 100,
            "ssrc": 0xCAFE,
            "mid_id": 1,
            "mid": b"2",
            "send_time_id": 3,
            "level_id": 0,
        }
        lane.configure(**layout)
        header = forwarding.header_writer(**layout)
        source = object()
        lane.assign(source, 1000, 90_000)
        lane.attach(route.sink, dtls, nominated, pair, transport, State.CONNECTED)
        extensions = extensions_map(mid=5, send_time=7)
        try:
            sizes = 0
            for seq in (65_000, 65_535, 0, 1):
                packet = RtpPacket(
                    payload_type=96, sequence_number=seq, timestamp=3000 * seq, ssrc=9
                )
                packet.payload = bytes([seq & 0xFF]) * 900
                packet.extensions.abs_send_time = 12345
                read = incoming.read(publisher.protect(packet.serialize(extensions)), 7, 0)
                lane.write(source, read, True, NTP)
                sent = viewer.unprotect(browser.recv(2048))
                rewritten = (seq + 1000) & 0xFFFF, (3000 * seq + 90_000) & 0xFFFFFFFF
                assert sent == header(0, *rewritten, NTP, None) + read.payload
                assert lane.sent(rewritten[0]) == (header(0, *rewritten, NTP, None), read.payload)
                sizes += len(read.payload)
            assert lane.last() == (*rewritten, NTP)
            assert sender._RTCRtpSender__packet_count == 4
            assert sender._RTCRtpSender__octet_count == sizes
            assert sender._RTCRtpSender__rtp_timestamp == rewritten[1]
            assert sender._RTCRtpSender__ntp_timestamp == NTP
            assert handed_back == []
            # Someone else's packets: not this lane's; nothing sent, nothing handed back.
            lane.write(object(), read, True, NTP)
            # A packet aiortc read (not the C reader's), or a route that no longer holds:
            # the Python write takes it, with the same arguments.
            parsed = RtpPacket.parse(packet.serialize(extensions), extensions)
            lane.write(source, parsed, False, NTP)
            assert handed_back == [(source, parsed, False, NTP)]

            def attached_again():
                lane.attach(route.sink, dtls, nominated, pair, transport, State.CONNECTED)
                assert lane.attached

            nominated[1] = SimpleNamespace(protocol=protocol, remote_addr=("127.0.0.1", 9))
            lane.write(source, read, True, NTP)  # ICE nominated another pair
            assert handed_back[-1] == (source, read, True, NTP)
            assert not lane.attached
            nominated[1] = pair
            attached_again()
            dtls._state = State.CLOSED
            lane.write(source, read, False, NTP)
            assert handed_back[-1] == (source, read, False, NTP)
            assert not lane.attached
            dtls._state = State.CONNECTED
            attached_again()
            transport.close()
            lane.write(source, read, True, NTP)
            assert len(handed_back) == 4
            assert not lane.attached
            assert sender._RTCRtpSender__packet_count == 4
            browser.settimeout(0.2)
            with pytest.raises(TimeoutError):
                browser.recv(2048)
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 60)


def test_a_lane_without_a_route_or_header_sends_nothing_itself():
    handed_back = []
    lane = _sendpath.Lane(lambda *args: handed_back.append(args), _Sender())
    with pytest.raises(RuntimeError):  # no header yet
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink = _sendpath.Sink(1, 1, None, SimpleNamespace(), udp, "127.0.0.1", 9, 100)
        lane.attach(sink, 0, {}, 0, 0, 0)
    udp.close()
    with pytest.raises(RuntimeError):  # made but never set up: refused, not a crash
        _sendpath.Sink.__new__(_sendpath.Sink).send(b"", b"")
    with pytest.raises(RuntimeError):
        _sendpath.Lane.__new__(_sendpath.Lane).write("someone", None, True, NTP)
    reader = _reader(_session(Policy.SSRC_ANY_INBOUND))
    with pytest.raises(RuntimeError):  # a second set-up would free a buffer in use
        reader.__init__(1, 1, None, 100)
    packet = _sendpath.read(RtpPacket(payload_type=96).serialize(), 0, 0)
    lane.assign("someone")
    lane.write("someone", packet, True, NTP)
    assert handed_back == [("someone", packet, True, NTP)]
    assert lane.sent(packet.sequence_number) is None
    assert lane.last() is None


class _Queueing:
    """The event loop's datagram transport with datagrams of its own still queued."""

    def __init__(self, transport):
        self.transport = transport
        self.handed = []

    def get_write_buffer_size(self) -> int:
        return 1

    def sendto(self, data, address) -> None:
        self.handed.append((data, address))
        self.transport.sendto(data, address)

    def __getattr__(self, name):
        return getattr(self.transport, name)


def test_a_sink_leaves_datagrams_to_the_transport_that_has_some_queued_and_loses_none():
    """Behind datagrams the event loop still holds (a full socket buffer), the sink hands
    its datagram to the transport, which sends them in order; one the kernel refuses is
    still kept for a NACK."""

    async def check():
        transport, protocol, browser = await ice_socket_and_browser()
        ours, viewer = _session(Policy.SSRC_ANY_OUTBOUND), _session(Policy.SSRC_ANY_INBOUND)
        queueing = _Queueing(transport)
        protocol.transport = queueing
        pair = SimpleNamespace(protocol=protocol, remote_addr=browser.getsockname())
        dtls = connected_dtls(ours, pair)
        route = forwarding._Route(dtls)
        try:
            assert route.send(b"\x80\x60\x00\x01" + bytes(8), b"queued")
            assert viewer.unprotect(browser.recv(2048)).endswith(b"queued")
            assert len(queueing.handed) == 1
            assert route.sink.sent == 0  # the kernel was not asked directly

            # A viewer's address the socket cannot send to (IPv6 on an IPv4 socket): the
            # kernel refuses; the lane keeps and counts the packet all the same.
            protocol.transport = transport
            pair.remote_addr = ("::1", 9)
            route = forwarding._Route(dtls)
            assert route.ready()
            sender = _Sender()
            lane = _sendpath.Lane(lambda *args: None, sender)
            lane.configure(payload_type=96, ssrc=1, mid_id=0, mid=b"", send_time_id=0, level_id=0)
            source = object()
            lane.assign(source)
            lane.attach(
                route.sink,
                dtls,
                dtls.transport._connection._nominated,
                pair,
                transport,
                State.CONNECTED,
            )
            packet = _sendpath.read(
                RtpPacket(payload_type=96, sequence_number=7, payload=b"x").serialize(), 0, 0
            )
            assert lane.send(packet, NTP) is False
            assert route.sink.last_errno != 0
            assert lane.sent(7) is not None
            assert sender._RTCRtpSender__packet_count == 1
        finally:
            transport.close()
            browser.close()

    run_in_thread(check, 60)


def test_an_extension_element_with_id_0_is_read_as_aiortc_reads_it():
    """ID 0 is padding's (RFC 8285); an element with it is skipped, also where the send time
    or audio level was not negotiated (their IDs are then 0 for the reader)."""
    plain = RtpPacket(payload_type=96, sequence_number=1, timestamp=2, ssrc=3, payload=b"x")
    data = plain.serialize()
    with_zero = (
        bytes([data[0] | 0x10]) + data[1:12] + b"\xbe\xde\x00\x01" + b"\x02\x01\x02\x03" + b"x"
    )
    read = forwarding.read_rtp(with_zero, None, None)
    parsed = RtpPacket.parse(with_zero, extensions_map())
    assert read.abs_send_time is None and read.audio_level is None
    assert parsed.extensions.abs_send_time is None
    assert read.payload == parsed.payload == b"x"


def test_one_viewer_whose_write_fails_does_not_keep_a_packet_from_the_others(caplog):
    from prorenata.videomote.media.server import Room

    publisher, received = object(), []

    def failing(*args):
        raise RuntimeError("this viewer's connection is broken")

    room = Room(key="meeting")
    room.routes = {(publisher, "video"): (failing, lambda *args: received.append(args[1]))}
    with caplog.at_level("ERROR", logger="prorenata.videomote.media"):
        room.forward(publisher, "video", "packet", True)
    assert received == ["packet"]
    (record,) = caplog.records
    assert record.getMessage() == "forwarding an RTP packet to a viewer failed"
    assert record.exc_info[0] is RuntimeError
