"""Everything that reaches into aiortc's and aioice's internals, in one place.

aiortc's receiver always decodes what it receives and its sender always re-encodes
decoded frames: 12–13 % of a core per 640×480 stream on this machine, so a four-party
room saturates two cores. This module lets the media server pass media through instead:

- :func:`receive_directly` takes RTP off the socket in aioice's datagram callback
  (decrypt, read, route) instead of queueing it for aiortc's receive task;
- :func:`forward_packets` (the server): the receiver keeps its bookkeeping as aiortc's
  own parts do it (receiver reports, NACKs, RTX; the REMB estimate from :mod:`.remb`)
  but hands every RTP packet on instead of depayloading and reassembling frames for a
  decoder; :class:`RtpRewriter` sends such packets from another person's sender with
  that sender's SSRC, sequence numbers, timestamps and payload type, keeps them for
  retransmission, counts them for its sender reports and encrypts and sends them on the
  ICE pair directly. From the datagram that arrives to the datagrams that leave, nothing
  waits and no task switches. Per packet, what it must do is done in C
  (:mod:`._sendpath`, the project's own extension): each socket's ``Port`` tells RTP
  apart, decrypts and reads it (of the extensions only the send time and audio level)
  and routes it; the receiver's ``Intake`` does the bookkeeping (``Tally``: aiortc's
  statistics; ``Estimator``: the REMB estimate; the NACK generator's newest number; the
  key-frame test); and in the steady state each viewer's :class:`_sendpath.Lane`
  rewrites the header (as :func:`header_writer` writes it), keeps the packet for a
  NACK, counts it, encrypts it and sends it. Python decides everything else (key
  frames, new pairs or sessions, TURN, gaps to NACK, REMBs to send, retransmissions,
  packets aiortc parses);
- :func:`receive_raw` (synthetic viewers, benchmarks): every RTP packet to a counter;
- :func:`request_keyframe` sends an RTCP PLI to a publisher (a new viewer, or a viewer's
  own PLI, needs a fresh keyframe, which only the publisher's browser can make);
- :func:`on_keyframe_request` routes a viewer's PLI/FIR to such a callback, where the
  stock sender would only set a flag for its (unused) encoder;
- :func:`use_host_addresses` makes ICE offer the configured addresses and UDP ports,
  instead of whatever aioice finds on the machine's interfaces.

aiortc is pinned (``constraints.txt``); ``tests/media/test_forwarding_guard.py`` fails
loudly when any attribute used here, or by the C code, changes.
"""

from aioice import Candidate
from aioice.candidate import candidate_foundation
from aioice.candidate import candidate_priority
from aioice.ice import StunProtocol
from aioice.ice import get_host_addresses
from aiortc import RTCPeerConnection
from aiortc import RTCRtpReceiver
from aiortc import RTCRtpSender
from aiortc import clock
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RTCP_PSFB_APP
from aiortc.rtp import RtcpPsfbPacket
from aiortc.rtp import RtpPacket
from aiortc.rtp import pack_remb_fci
from aiortc.rtp import unwrap_rtx
from aiortc.rtp import wrap_rtx
from collections.abc import Callable
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media.remb import BandwidthEstimator

import asyncio
import functools
import logging
import pylibsrtp
import pylibsrtp._binding
import struct
import time

logger = logging.getLogger("prorenata.videomote.media")
_srtp_ffi = pylibsrtp._binding.ffi
_srtp_protect = pylibsrtp._binding.lib.srtp_protect


def _address_of(function: str) -> int:
    """Where libsrtp's ``function`` (linked into pylibsrtp's binding) is, for the C path."""
    return int(_srtp_ffi.cast("uintptr_t", _srtp_ffi.addressof(pylibsrtp._binding.lib, function)))


_SRTP_PROTECT_ADDRESS = _address_of("srtp_protect")
_SRTP_UNPROTECT_ADDRESS = _address_of("srtp_unprotect")

#: The aiortc release this module was written against (and constraints.txt pins).
AIORTC_VERSION = "1.16.0"

# Private names this module relies on; the guard test checks every one of them.
_RECEIVER_STARTED = "_RTCRtpReceiver__started"
_RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_RECEIVER_KIND = "_RTCRtpReceiver__kind"
_RECEIVER_ESTIMATOR = "_RTCRtpReceiver__remote_bitrate_estimator"
_RECEIVER_CODECS = "_RTCRtpReceiver__codecs"
_RECEIVER_STREAMS = "_RTCRtpReceiver__remote_streams"
_RECEIVER_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_RECEIVER_NACK = "_RTCRtpReceiver__nack_generator"
_RECEIVER_ACTIVE_SSRC = "_RTCRtpReceiver__active_ssrc"
_RECEIVER_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"
_DTLS_CONNECTED = DtlsState.CONNECTED
# pylibsrtp's Session: its packet buffer (cffi char[] and its buffer view) and context.
_SRTP_CDATA = "_cdata"
_SRTP_BUFFER = "_buffer"
_SRTP_CONTEXT = "_srtp"
#: Our own attribute on a receiver: its packet handler on the direct path.
_DIRECT_HANDLER = "_videomote_direct_handler"
_SENDER_MID = "_RTCRtpSender__mid"
_SENDER_EXTENSIONS = "_RTCRtpSender__rtp_header_extensions_map"
_SENDER_STARTED = "_RTCRtpSender__started"
_SENDER_RTX_PAYLOAD_TYPE = "_RTCRtpSender__rtx_payload_type"
_SENDER_RTX_SEQUENCE_NUMBER = "_RTCRtpSender__rtx_sequence_number"
_EXTENSION_IDS = "_HeaderExtensionsMap__ids"
_SENDER_COUNTERS = (
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__packet_count",
)


_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class PacketCollector:
    """Stands in for a receiver's jitter buffer: no frame is ever assembled for a decoder
    (forwarded packets take the direct path; this only makes sure of it)."""

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        return False, None


def starts_vp8_keyframe(packet: RtpPacket) -> bool:
    """The first packet of a VP8 key frame, read from the RTP payload without depayloading.

    RFC 7741 4.2: the payload descriptor's S bit with partition 0, then the optional
    extension bytes (picture ID, TL0PICIDX, TID/KEYIDX); RFC 6386 9.1: the frame tag.
    """
    payload = packet.payload
    size = len(payload)
    if size < 2 or payload[0] & 0x17 != 0x10:  # S set, partition index 0
        return False
    position = 1
    if payload[0] & 0x80:  # X: extension bits follow
        extension = payload[1]
        position = 2
        if extension & 0x80 and position < size:  # I: picture ID, 7 or 15 bits
            position += 2 if payload[position] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            position += 1
        if extension & 0x30:  # T or K: TID/Y/KEYIDX
            position += 1
    return position < size and is_vp8_keyframe(payload[position : position + 1])


def forward_packets(
    receiver: RTCRtpReceiver, on_packet: Callable[[RtpPacket, bool], None], remb: bool = True
) -> None:
    """Hand each RTP packet ``receiver`` accepts to ``on_packet(packet, keyframe)``.

    ``keyframe`` is True for the first packet of a video key frame (and for all audio).
    The receiver's bookkeeping runs first, with aiortc's own parts: statistics for its
    receiver reports, RTX unwrapping, NACKs and, unless ``remb`` is off, the bandwidth
    estimate (REMB) the browser adapts its bitrate to. No depayloading, no jitter buffer,
    no decoder. Packets arrive here straight from the socket once :func:`receive_directly`
    is set up for the peer connection; call this before the receiver starts (in the peer
    connection's ``track`` event).
    """
    if getattr(receiver, _RECEIVER_STARTED):
        raise RuntimeError("the receiver has started already")
    # A packet that still took aiortc's own path reaches no decoder.
    setattr(receiver, _RECEIVER_JITTER_BUFFER, PacketCollector())
    video = getattr(receiver, _RECEIVER_KIND) == "video"
    # aiortc's estimator is replaced by the same algorithm at a fraction of its cost.
    estimator = BandwidthEstimator() if remb and getattr(receiver, _RECEIVER_ESTIMATOR) else None
    setattr(receiver, _RECEIVER_ESTIMATOR, None)
    codecs = getattr(receiver, _RECEIVER_CODECS)  # filled in place when the receiver starts
    nacks = getattr(receiver, _RECEIVER_NACK)
    active = getattr(receiver, _RECEIVER_ACTIVE_SSRC)

    def note_active(ssrc: int) -> None:
        active[ssrc] = clock.current_datetime()

    # The packets _sendpath.Reader read: the same steps in C (_receive.c), back in Python
    # only for what is rare (a gap, a REMB, a source seen again) and to hand them on.
    intake = _sendpath.Intake(
        receiver=receiver,
        estimator=estimator,
        codecs=codecs,
        streams=getattr(receiver, _RECEIVER_STREAMS),
        nacks=nacks,
        video=video,
        on_packet=on_packet,
        slow=_python_handler(receiver, estimator, video, on_packet),
        send_remb=lambda estimate: _send_remb(receiver, estimate),
        note_active=note_active,
        request_missing=functools.partial(_nack_missing, receiver, nacks),
        is_rtx=is_rtx,
    )
    setattr(receiver, _DIRECT_HANDLER, intake.take)


def _python_handler(
    receiver: RTCRtpReceiver,
    estimator: BandwidthEstimator | None,
    video: bool,
    on_packet: Callable[[RtpPacket, bool], None],
) -> Callable[[RtpPacket, int], None]:
    """forward_packets' steps in Python, for the packets the C intake leaves to it: those
    aiortc parsed, retransmissions, packets before the receiver knows their codec."""
    codecs = getattr(receiver, _RECEIVER_CODECS)
    streams = getattr(receiver, _RECEIVER_STREAMS)
    rtx_ssrcs = getattr(receiver, _RECEIVER_RTX_SSRC)
    nacks = getattr(receiver, _RECEIVER_NACK)
    active = getattr(receiver, _RECEIVER_ACTIVE_SSRC)
    seen_ms: dict[int, int] = {}
    rtx_types: dict[int, bool] = {}
    is_keyframe = starts_vp8_keyframe if video else _always

    def handle(packet: RtpPacket, arrival_time_ms: int) -> None:
        if not receiver._enabled:
            return
        if estimator is not None:
            _estimate_bandwidth(receiver, estimator, packet, arrival_time_ms)
        _note_active_source(seen_ms, active, packet.ssrc, arrival_time_ms)
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        _count(streams, codec, packet)
        if _is_rtx(rtx_types, packet.payload_type, codec):
            packet = _unwrap_retransmission(packet, codec, codecs, rtx_ssrcs)
            if packet is None:
                return
        if nacks is not None:
            _request_missing(receiver, nacks, packet)
        on_packet(packet, is_keyframe(packet))

    return handle


# The steps of forward_packets' handler, in the order it takes them for every packet.


def _always(packet: RtpPacket) -> bool:
    """Every audio packet counts as a keyframe: any of them can start a stream."""
    return True


def _estimate_bandwidth(
    receiver: RTCRtpReceiver,
    estimator: BandwidthEstimator,
    packet: RtpPacket,
    arrival_time_ms: int,
) -> None:
    """Feed the REMB estimator; send the browser a new estimate when there is one."""
    if packet.extensions.abs_send_time is None:
        return
    estimate = estimator.add(
        arrival_time_ms,
        packet.extensions.abs_send_time,
        len(packet.payload) + packet.padding_size,
        packet.ssrc,
    )
    if estimate is not None:
        _send_remb(receiver, estimate)


def _note_active_source(
    seen_ms: dict[int, int], active: dict, ssrc: int, arrival_time_ms: int
) -> None:
    """Sources seen lately (getSynchronizationSources: the last 10 s), once a second."""
    if arrival_time_ms - seen_ms.get(ssrc, 0) >= 1000:
        seen_ms[ssrc] = arrival_time_ms
        active[ssrc] = clock.current_datetime()


def _count(streams: dict, codec, packet: RtpPacket) -> None:
    """Statistics per SSRC for the receiver reports (aiortc's StreamStatistics, in C)."""
    statistics = streams.get(packet.ssrc)
    if statistics is None:
        statistics = streams[packet.ssrc] = _sendpath.Tally(codec.clockRate)
    statistics.add(packet)


def _is_rtx(rtx_types: dict[int, bool], payload_type: int, codec) -> bool:
    """Whether ``payload_type`` carries retransmissions (cached per payload type)."""
    rtx = rtx_types.get(payload_type)
    if rtx is None:
        rtx = rtx_types[payload_type] = is_rtx(codec)
    return rtx


def _unwrap_retransmission(
    packet: RtpPacket, codec, codecs: dict, rtx_ssrcs: dict
) -> RtpPacket | None:
    """The packet an RTX packet repeats; None when it cannot be told (dropped then)."""
    original = rtx_ssrcs.get(packet.ssrc)
    apt = codec.parameters.get("apt")
    if original is None or len(packet.payload) < 2 or apt not in codecs:
        return None
    return unwrap_rtx(packet, payload_type=apt, ssrc=original)


def _request_missing(receiver: RTCRtpReceiver, nacks, packet: RtpPacket) -> None:
    """NACK the packets a gap before ``packet`` shows missing.

    The next packet in order with nothing missing (nearly every packet) only moves the
    generator's last number on: all that NackGenerator.add does then (no gap to find,
    nothing to truncate), without its per-packet walk over the missing set.
    """
    last = nacks.max_seq
    if last is not None and not nacks.missing and packet.sequence_number == (last + 1) & 0xFFFF:
        nacks.max_seq = packet.sequence_number
    else:
        _nack_missing(receiver, nacks, packet)


def _nack_missing(receiver: RTCRtpReceiver, nacks, packet: RtpPacket) -> None:
    """NackGenerator.add's own walk; a NACK of what it finds missing."""
    if nacks.add(packet):
        _spawn(receiver._send_rtcp_nack(packet.ssrc, sorted(nacks.missing)))


def _send_remb(receiver: RTCRtpReceiver, estimate: tuple[int, list[int]]) -> None:
    rtcp_ssrc = getattr(receiver, _RECEIVER_RTCP_SSRC)
    if rtcp_ssrc is not None:
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*estimate)
        )
        _spawn(receiver._send_rtcp(remb))


def ice_connections(pc: RTCPeerConnection):
    """Each of ``pc``'s ICE connections once (bundled transceivers share one), with the
    DTLS transport on top of it: ``(dtls, connection)``."""
    seen = set()
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        connection = dtls.transport._connection
        if id(connection) not in seen:
            seen.add(id(connection))
            yield dtls, connection


def local_protocols(connection) -> list:
    """The connection's sockets bound to a local candidate (where media arrives)."""
    return [p for p in connection._protocols if getattr(p, "local_candidate", None) is not None]


def receive_directly(pc: RTCPeerConnection) -> None:
    """Take incoming SRTP packets off the socket in aioice's datagram callback.

    aiortc queues every datagram for a task that decrypts, parses and routes it: one task
    switch per packet. Here RTP is decrypted, parsed and routed in the callback itself,
    to the handler :func:`forward_packets` gave the receiver; DTLS, STUN and RTCP keep
    aiortc's own path. And aioice tries to read every datagram as STUN first (a parse
    and an exception per media packet); RTP and RTCP are told apart from STUN and DTLS
    by their first byte instead (RFC 7983). Call after ``setLocalDescription`` (the
    bundled transport is known and its sockets are bound).
    """
    for dtls, connection in ice_connections(pc):
        stock = connection.data_received
        connection.data_received = _port(dtls, stock, stock, 1).data_received
        for protocol in local_protocols(connection):
            component = protocol.local_candidate.component
            port = _port(dtls, protocol.datagram_received, stock, component)
            protocol.datagram_received = port.datagram_received


def _port(dtls: RTCDtlsTransport, stock, connection, component: int) -> _sendpath.Port:
    """A socket's (or the ICE connection's) callback in C, ``_sendpath.Port``: RTP and
    RTCP told apart from STUN and DTLS by the first byte (else ``stock(data, addr)``);
    SRTP decrypted and read (``_reader_for``; :func:`_parse` for packets only aiortc
    reads; dropped when libsrtp refuses them or they cannot be read, as aiortc drops
    them), routed as aiortc's RtpRouter routes them and handed to the receiver's handler
    with the arrival time (aiortc's clock: ``_sendpath.now_ms()``); RTCP and anything before
    the SRTP keys to ``connection(data, component)``, aiortc's own path."""
    return _sendpath.Port(
        dtls=dtls,
        stock=stock,
        connection=connection,
        component=component,
        reader_for=_reader_for,
        parse=_parse,
        report=_report_failure,
    )


def _parse(data: bytes, extensions) -> RtpPacket:
    """RtpPacket.parse, with ValueError for every packet it cannot read (an extension
    element of the wrong length raised struct.error from inside it)."""
    try:
        return RtpPacket.parse(data, extensions)
    except struct.error as error:
        raise ValueError(f"RTP packet cannot be read: {error}") from error


def _report_failure(exception: BaseException) -> None:
    # one bad packet must not take the connection down
    logger.error("forwarding an RTP packet failed", exc_info=exception)


def stop_forwarding(pc: RTCPeerConnection) -> None:
    """Hand no more of ``pc``'s packets on; call before ``pc.close()``.

    Closing stops the receivers one at a time, each leaving aiortc's RTP router in
    turn. A packet whose receiver has left is then routed by its payload type alone,
    and aiortc's router keeps that guess: with the camera's receiver gone first, the
    camera's packets would reach the screen's handler (same VP8 payload type) and be
    forwarded on the viewers' screen slots, out of their sequence.
    """
    for transceiver in pc.getTransceivers():
        setattr(transceiver.receiver, _DIRECT_HANDLER, None)


def _reader_for(session: pylibsrtp.Session) -> _sendpath.Reader:
    """A C reader decrypting with ``session``'s libsrtp context in a buffer of its own."""
    return _sendpath.Reader(
        unprotect=_SRTP_UNPROTECT_ADDRESS,
        context=int(_srtp_ffi.cast("uintptr_t", getattr(session, _SRTP_CONTEXT)[0])),
        owner=session,
        limit=len(getattr(session, _SRTP_CDATA)),
    )


def read_rtp(data: bytes, send_time_id: int | None, level_id: int | None):
    """``data`` (a clear RTP packet) read as RtpPacket.parse reads it, for the packets
    browsers send nearly always: no padding, no CSRCs, no or one-byte header extensions;
    of the extensions only the send time and the audio level (the REMB estimate and the
    forwarded level need them; aiortc's router reads none). None for any other packet
    (RtpPacket.parse reads those); ValueError where RtpPacket.parse raises it.
    ``send_time_id``, ``level_id``: the negotiated extension IDs (or None).

    The server's receive path does the same (after decrypting) in one C call,
    :meth:`_sendpath.Reader.read`.
    """
    packet = _sendpath.read(data, send_time_id or 0, level_id or 0)
    return None if packet is data else packet


_background: set[asyncio.Future] = set()


def _spawn(coroutine) -> None:
    """Run an RTCP send (NACK, REMB) beside the packet path, keeping a reference."""
    task = asyncio.ensure_future(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


class RtpRewriter:
    """Sends forwarded RTP packets from ``sender`` as if it had produced them.

    Sequence numbers and timestamps continue smoothly when the source changes (a person
    leaves and another takes the slot); video from a new source starts at a key frame.

    The steady state, a packet read by the C reader for a viewer connected on a direct
    pair, is its :class:`_sendpath.Lane`'s: :meth:`write` is the lane's, which rewrites
    the header, keeps the packet for retransmission, counts it for the sender's reports,
    encrypts and sends it in one C call. Everything else (not started yet, waiting for a
    key frame, a new pair or session, a pair relayed through TURN, a packet aiortc read)
    the lane hands to :meth:`_write` here.
    """

    def __init__(self, sender: RTCRtpSender, transceiver, need_keyframe=lambda: None):
        self.sender = sender
        self.kind = transceiver.kind
        codec = transceiver._codecs[0]
        self.payload_type = codec.payloadType
        self.clock_rate = codec.clockRate
        self.need_keyframe = need_keyframe
        self._waiting = True
        self._header = None  # set up once the sender has started (extension IDs known)
        self._extensions_map = None
        self.mid = None
        self.ssrc = sender._ssrc
        self._route: _Route | None = None
        self.lane = _sendpath.Lane(self._write, sender)
        #: ``write(source, packet, keyframe, now)``: send ``packet`` of ``source`` to this
        #: viewer (``now``: NTP time, once per packet for all viewers).
        self.write = self.lane.write

    @property
    def source(self) -> object:
        return self.lane.source

    def assign(self, source: object) -> None:
        if source is not self.lane.source:
            self.lane.detach()
            self.lane.assign(source)
            self._waiting = True

    def _write(self, source: object, packet: RtpPacket, keyframe: bool, now: int = 0) -> None:
        """:meth:`write` where the lane cannot send on its own."""
        lane = self.lane
        if source is not lane.source:
            return
        if self._header is None:
            # Not connected yet: nothing reaches the viewer, so no key frame is asked for
            # either. One asked for now would be lost, and it would use up the publisher's
            # key frame interval (Room.request_keyframe): the viewer's first picture would
            # then wait for the next interval, up to half a second longer.
            if not getattr(self.sender, _SENDER_STARTED):
                return
            self._start()
        if self._waiting:
            if not keyframe:
                self.need_keyframe()
                return
            self._waiting = False
            self._rebase(packet)
        now = now or ntp_now()
        route = self._route
        if not route.ready():
            return
        if route.sink is not None and type(packet) is _sendpath.ReadPacket:
            # From now on the lane sends on its own while this route holds.
            lane.attach(
                route.sink,
                route.dtls,
                route.nominated,
                route.pair,
                route.pair.protocol.transport,
                _DTLS_CONNECTED,
            )
            lane.send(packet, now)
            return
        lane.detach()
        seq = (packet.sequence_number + lane.seq_delta) & 0xFFFF
        timestamp = (packet.timestamp + lane.ts_delta) & 0xFFFFFFFF
        payload = packet.payload
        header = self._header(packet.marker, seq, timestamp, now, packet.extensions.audio_level)
        if route.send(header, payload):
            # Kept for retransmission (NACK) as sent, unencrypted, and counted for the
            # sender's reports (_SENDER_COUNTERS), as the lane does it.
            lane.remember(seq, timestamp, now, header, payload)

    def _start(self) -> None:
        """Once the sender has started: the extension IDs the viewer negotiated are known,
        and NACKs are answered from this writer's history (:meth:`_retransmit`)."""
        sender = self.sender
        extensions = getattr(sender, _SENDER_EXTENSIONS)
        ids = getattr(extensions, _EXTENSION_IDS)
        self.mid = getattr(sender, _SENDER_MID)
        self.ssrc = sender._ssrc
        self._extensions_map = extensions
        self._route = _Route(sender.transport)
        sender._retransmit = self._retransmit
        layout = {
            "payload_type": self.payload_type,
            "ssrc": self.ssrc,
            "mid_id": ids.mid or 0,
            "mid": (self.mid or "").encode(),
            "send_time_id": ids.abs_send_time or 0,
            "level_id": (ids.audio_level or 0) if self.kind == "audio" else 0,
        }
        self._header = header_writer(**layout)
        self.lane.configure(**layout)

    async def _retransmit(self, sequence_number: int) -> None:
        """A viewer's NACK: the packet sent with ``sequence_number`` again, as aiortc's
        sender does it (RTX when negotiated), from the bytes this writer kept."""
        sent = self.lane.sent(sequence_number)
        if sent is None:
            return
        packet = RtpPacket.parse(b"".join(sent), self._extensions_map)
        sender = self.sender
        rtx_payload_type = getattr(sender, _SENDER_RTX_PAYLOAD_TYPE)
        if rtx_payload_type is not None:
            rtx_sequence_number = getattr(sender, _SENDER_RTX_SEQUENCE_NUMBER)
            packet = wrap_rtx(
                packet,
                payload_type=rtx_payload_type,
                sequence_number=rtx_sequence_number,
                ssrc=sender._rtx_ssrc,
            )
            setattr(sender, _SENDER_RTX_SEQUENCE_NUMBER, (rtx_sequence_number + 1) & 0xFFFF)
        await sender.transport._send_rtp(packet.serialize(self._extensions_map))

    def _rebase(self, packet: RtpPacket) -> None:
        """Number and time the source's packets on from the last one sent."""
        lane = self.lane
        last = lane.last()
        if last is None:
            lane.assign(lane.source)
            return
        seq, timestamp, at = last
        elapsed = max(1, (ntp_now() - at) * self.clock_rate >> 32)
        lane.assign(
            lane.source,
            (seq + 1 - packet.sequence_number) & 0xFFFF,
            (timestamp + elapsed - packet.timestamp) & 0xFFFFFFFF,
        )


def header_writer(
    payload_type: int,
    ssrc: int,
    mid_id: int = 0,
    mid: bytes = b"",
    send_time_id: int = 0,
    level_id: int = 0,
) -> Callable[[int, int, int, int, tuple[bool, int] | None], bytes]:
    """``header(marker, seq, timestamp, ntp_time, audio_level)``: an RTP header from
    ``ssrc`` with ``payload_type`` and its RFC 8285 one-byte header extensions, as a viewer
    negotiated them (an ID of 0: not negotiated): the MID, the send time (the browser's
    bandwidth estimate reads it; from ``ntp_time``) and for audio the level (vad, level;
    None: silence). The payload follows it directly.

    Everything but the five arguments is fixed for a viewer's sender, so each header is
    one ``struct`` pack: the send time's and the level's elements are packed as one word
    each with their element headers, the MID's element (constant) last.
    """
    mid_element = bytes([mid_id << 4 | (len(mid) - 1)]) + mid if mid_id and mid else b""
    size = (4 if send_time_id else 0) + (2 if level_id else 0) + len(mid_element)
    if not size:
        return _plain_header(payload_type, ssrc)
    words = (size + 3) // 4
    layout = "!BBHIIHH" + ("I" if send_time_id else "") + ("H" if level_id else "")
    pack = struct.Struct(f"{layout}{len(mid_element)}s{words * 4 - size}x").pack
    fixed = (ssrc, 0xBEDE, words, mid_element)
    send_time_element = (send_time_id << 4 | 2) << 24  # ID, length - 1; then 3 bytes
    level_element = level_id << 12  # ID, length - 1 (0); then 1 byte
    if send_time_id and level_id:
        return _header_with_send_time_and_level(
            pack, payload_type, fixed, send_time_element, level_element
        )
    if send_time_id:
        return _header_with_send_time(pack, payload_type, fixed, send_time_element)
    if level_id:
        return _header_with_level(pack, payload_type, fixed, level_element)
    return _header_with_mid(pack, payload_type, fixed)


def _level_byte(level: tuple[bool, int] | None) -> int:
    """RFC 6464: the voice activity bit and the level (-dBov); None: silence."""
    return 127 if level is None else (0x80 if level[0] else 0) | (level[1] & 0x7F)


def _plain_header(payload_type, ssrc):
    pack = struct.Struct("!BBHII").pack

    def header(marker, seq, timestamp, ntp_time, level) -> bytes:
        return pack(0x80, marker << 7 | payload_type, seq, timestamp, ssrc)

    return header


def _header_with_send_time_and_level(pack, payload_type, fixed, send_time_element, level_element):
    ssrc, profile, words, mid_element = fixed

    def header(marker, seq, timestamp, ntp_time, level) -> bytes:
        return pack(
            0x90,
            marker << 7 | payload_type,
            seq,
            timestamp,
            ssrc,
            profile,
            words,
            send_time_element | (ntp_time >> 14) & 0xFFFFFF,
            level_element | _level_byte(level),
            mid_element,
        )

    return header


def _header_with_send_time(pack, payload_type, fixed, send_time_element):
    ssrc, profile, words, mid_element = fixed

    def header(marker, seq, timestamp, ntp_time, level) -> bytes:
        return pack(
            0x90,
            marker << 7 | payload_type,
            seq,
            timestamp,
            ssrc,
            profile,
            words,
            send_time_element | (ntp_time >> 14) & 0xFFFFFF,
            mid_element,
        )

    return header


def _header_with_level(pack, payload_type, fixed, level_element):
    ssrc, profile, words, mid_element = fixed

    def header(marker, seq, timestamp, ntp_time, level) -> bytes:
        return pack(
            0x90,
            marker << 7 | payload_type,
            seq,
            timestamp,
            ssrc,
            profile,
            words,
            level_element | _level_byte(level),
            mid_element,
        )

    return header


def _header_with_mid(pack, payload_type, fixed):
    ssrc, profile, words, mid_element = fixed

    def header(marker, seq, timestamp, ntp_time, level) -> bytes:
        return pack(
            0x90, marker << 7 | payload_type, seq, timestamp, ssrc, profile, words, mid_element
        )

    return header


def ntp_now() -> int:
    """The time as a 64-bit NTP timestamp (RFC 5905), without going through datetime."""
    return int((time.time() + _NTP_EPOCH_OFFSET) * 4294967296)


class _Route:
    """Where a viewer's packets go: joined, encrypted with the viewer's SRTP session and
    sent on the ICE pair aioice nominated, in one go.

    aiortc's path to the socket is four nested coroutines per packet; for a forwarded
    packet per viewer that is most of the sending cost. On a pair of the server's own
    address a :class:`_sendpath.Sink` does the join, libsrtp's ``srtp_protect`` with the
    session's own context and ``sendto(2)`` on the pair's socket in one C call, the
    address converted once per pair (through the event loop's transport when that has
    datagrams queued, or the kernel's buffer is full). A pair relayed through TURN
    (aioice's TurnTransport: no socket of its own, it checks itself whether it is
    closed) gets the packet encrypted in Python, pylibsrtp's Session.protect without its
    per-call allocation and checks, in the session's own buffer.
    """

    def __init__(self, dtls: RTCDtlsTransport):
        self.dtls = dtls
        self.nominated = dtls.transport._connection._nominated  # filled in place by aioice
        self.pair = None
        self.address = None
        self.relayed = False
        self.session = None
        self.sink: _sendpath.Sink | None = None
        self._cdata = self._buffer = self._srtp = None
        self._length = _srtp_ffi.new("int *")
        self._limit = 0

    def ready(self) -> bool:
        """Whether the viewer is connected (DTLS, a nominated pair, its transport open);
        the pair, its address and socket and the session are read again when they
        changed."""
        dtls = self.dtls
        if dtls._state is not _DTLS_CONNECTED:
            return False
        pair = self.nominated.get(1)
        session = dtls._tx_srtp
        if pair is not self.pair or session is not self.session:
            if pair is None:
                return False
            self._use(pair, session)
        transport = pair.protocol.transport
        return transport is not None and (self.relayed or not transport.is_closing())

    def send(self, header: bytes, payload: bytes = b"") -> bool:
        """``header + payload`` to the viewer; False when the viewer is not connected
        (or the kernel refused it, as UDP may)."""
        if not self.ready():
            return False
        sink = self.sink
        if sink is not None:
            return sink.send(header, payload)
        return self._send_in_python(self.pair, header + payload)

    def _use(self, pair, session: pylibsrtp.Session) -> None:
        """The new pair's address and socket, the session's buffer and libsrtp context
        (the sink and this route keep the session referenced: it frees them)."""
        self.pair, self.address, self.session = pair, pair.remote_addr, session
        self.relayed = pair.protocol.local_candidate.type == "relay"
        self._cdata = getattr(session, _SRTP_CDATA)
        self._buffer = getattr(session, _SRTP_BUFFER)
        self._srtp = getattr(session, _SRTP_CONTEXT)[0]
        self._limit = len(self._cdata) - pylibsrtp.SRTP_MAX_TRAILER_LEN
        self.sink = None if self.relayed else _sink_for(pair, session, self._srtp, self._limit)

    def _send_in_python(self, pair, data: bytes) -> bool:
        size = len(data)
        if size > self._limit:
            raise ValueError("packet is too long")
        buffer = self._buffer
        buffer[0:size] = data
        length = self._length
        length[0] = size
        status = _srtp_protect(self._srtp, self._cdata, length)
        if status:
            raise pylibsrtp.Error(f"srtp_protect failed ({status})")
        # (the transport is open, or a TurnTransport, which checks that itself)
        pair.protocol.transport.sendto(buffer[0 : length[0]], self.address)
        return True


def sink_for(pair, session: pylibsrtp.Session) -> "_sendpath.Sink | None":
    """A C sink sending on ``pair`` with ``session``'s keys (None: see ``_sink_for``)."""
    limit = len(getattr(session, _SRTP_CDATA)) - pylibsrtp.SRTP_MAX_TRAILER_LEN
    return _sink_for(pair, session, getattr(session, _SRTP_CONTEXT)[0], limit)


def _sink_for(pair, session: pylibsrtp.Session, context, limit: int) -> "_sendpath.Sink | None":
    """A C sink sending on ``pair``'s socket to its remote address with ``session``'s
    libsrtp context; None where it cannot (a transport without a socket of its own, an
    address that is not numeric): the route then sends in Python."""
    transport = pair.protocol.transport
    socket = transport.get_extra_info("socket") if transport is not None else None
    if socket is None or pylibsrtp.SRTP_MAX_TRAILER_LEN != _sendpath.TRAILER:
        return None
    host, port = pair.remote_addr
    try:
        return _sendpath.Sink(
            protect=_SRTP_PROTECT_ADDRESS,
            context=int(_srtp_ffi.cast("uintptr_t", context)),
            owner=session,
            transport=transport,
            socket=socket,
            host=host,
            port=port,
            limit=limit,
        )
    except ValueError:
        return None


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and not data[0] & 0x01


def receive_raw(receiver: RTCRtpReceiver, handler: Callable[[RtpPacket], None]) -> None:
    """Give every RTP packet for ``receiver`` to ``handler(packet)`` and nothing else.

    No statistics, NACKs, reassembly or decoding: synthetic viewers count what arrives.
    """

    async def handle_rtp_packet(packet: RtpPacket, arrival_time_ms: int) -> None:
        handler(packet)

    receiver._handle_rtp_packet = handle_rtp_packet


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Ask the browser sending to ``receiver`` for a keyframe (RTCP PLI)."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback`` when the viewer behind ``sender`` reports picture loss."""
    sender._send_keyframe = callback


def prefer_codec(transceiver, mime_type: str) -> None:
    """Put ``mime_type`` (and its retransmission codec) first in the negotiated codecs.

    The browser sends with the first codec of the answer; forwarding needs everyone on
    the same one. Call after ``setRemoteDescription``, before ``createAnswer``.
    """
    codecs = transceiver._codecs
    first = [c for c in codecs if c.mimeType.lower() == mime_type.lower()]
    if not first:
        raise ValueError(f"the offer has no {mime_type}")
    types = {c.payloadType for c in first}
    rtx = [
        c
        for c in codecs
        if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") in types
    ]
    transceiver._codecs = first + rtx + [c for c in codecs if c not in first and c not in rtx]


def receiver_for(pc: RTCPeerConnection, track) -> RTCRtpReceiver | None:
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.track is track:
            return transceiver.receiver
    return None


def use_host_addresses(
    pc: RTCPeerConnection,
    addresses: list[str],
    announced: str | None = None,
    ports: tuple[int, int] | None = None,
) -> None:
    """Offer ``addresses`` (bound in the UDP ``ports`` range) as host candidates.

    ``announced`` replaces the address written into the candidate (a 1:1 NAT in front of
    the server). TURN servers, when configured, still add their relayed candidates.
    Call between ``setRemoteDescription`` and ``setLocalDescription``.
    """
    if not addresses and not ports and not announced:
        return
    seen = set()
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        connection = gatherer._connection
        if id(connection) in seen:
            continue
        seen.add(id(connection))
        connection.gather_candidates = _gather_with(connection, addresses, announced, ports)


def _gather_with(connection, addresses, announced, ports):
    async def gather_candidates() -> None:
        if connection._local_candidates_start:
            return
        connection._local_candidates_start = True
        hosts = addresses or get_host_addresses(
            use_ipv4=connection._use_ipv4, use_ipv6=connection._use_ipv6
        )
        for component in connection._components:
            for address in hosts:
                protocol = await _bind(connection, address, ports)
                if protocol is None:
                    continue
                bound = protocol.transport.get_extra_info("sockname")
                shown = announced or bound[0]
                protocol.local_candidate = Candidate(
                    foundation=candidate_foundation("host", "udp", shown),
                    component=component,
                    transport="udp",
                    priority=candidate_priority(component, "host"),
                    host=shown,
                    port=bound[1],
                    type="host",
                )
                connection._protocols.append(protocol)
                connection._local_candidates.append(protocol.local_candidate)
            # TURN (and nothing else: no host addresses are passed) as aioice does it.
            connection._local_candidates += await connection.get_component_candidates(
                component=component, addresses=[]
            )
        connection._local_candidates_end = True

    return gather_candidates


async def _bind(connection, address: str, ports: tuple[int, int] | None):
    loop = asyncio.get_running_loop()
    candidates = range(ports[0], ports[1] + 1) if ports else [0]
    for port in candidates:
        try:
            _, protocol = await loop.create_datagram_endpoint(
                lambda: StunProtocol(connection), local_addr=(address, port)
            )
            return protocol
        except OSError:
            continue
    logger.warning("no free UDP port on %s in %s", address, ports)
    return None
