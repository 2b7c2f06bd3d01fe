"""Everything that reaches into aiortc's and aioice's internals, in one place.

aiortc's receiver always decodes what it receives and its sender always re-encodes
decoded frames: 12–13 % of a core per 640×480 stream on this machine, so a four-party
room saturates two cores. Its sender also accepts frames that are *already encoded*
(``av.Packet``, as ``MediaPlayer(decode=False)`` uses); this module hands the receiver's
reassembled, still-encoded frames straight to other people's senders instead:

- :func:`tap_receiver` swaps a receiver's decoder queue for :class:`EncodedFrameTap`
  before the receiver starts, so complete frames leave the jitter buffer as packets and
  its decoder thread only ever sees the stop signal;
- :func:`request_keyframe` sends an RTCP PLI to a publisher (a new viewer, or a viewer's
  own PLI, needs a fresh keyframe, which only the publisher's browser can make);
- :func:`on_keyframe_request` routes a viewer's PLI/FIR to such a callback, where the
  stock sender would only set a flag for its (unused) encoder;
- :func:`use_host_addresses` makes ICE offer the configured addresses and UDP ports,
  instead of whatever aioice finds on the machine's interfaces.

aiortc is pinned (``constraints.txt``); ``tests/media/test_forwarding_guard.py`` fails
loudly when any attribute used here changes.
"""

from aioice import Candidate
from aioice.candidate import candidate_foundation
from aioice.candidate import candidate_priority
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection
from aiortc import RTCRtpReceiver
from aiortc import RTCRtpSender
from aiortc import rtcrtpreceiver
from aiortc.jitterbuffer import JitterBuffer
from aiortc.jitterbuffer import JitterFrame
from collections.abc import Callable
from fractions import Fraction

import asyncio
import av
import logging
import queue

logger = logging.getLogger("prorenata.videomote.media")

#: The aiortc release this module was written against (and constraints.txt pins).
AIORTC_VERSION = "1.16.0"

# Private names this module relies on; the guard test checks every one of them.
_RECEIVER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_STARTED = "_RTCRtpReceiver__started"
_RECEIVER_WORKER = "decoder_worker"
_RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
_RECEIVER_KIND = "_RTCRtpReceiver__kind"


class EncodedFrameTap(queue.Queue):
    """Stands in for a receiver's decoder queue: complete frames go to ``on_frame``.

    The receiver puts ``(codec, JitterFrame)`` on the event loop thread; the decoder
    thread it started blocks on :meth:`get` until the receiver stops and puts ``None``,
    which it passes on as the end of the track, as usual.
    """

    def __init__(self, on_frame: Callable[[av.Packet, bool], None]):
        super().__init__()
        self._on_frame = on_frame

    def put(self, item, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(None)
            return
        codec, frame = item
        packet = av.Packet(frame.data)
        packet.pts = frame.timestamp
        packet.time_base = Fraction(1, codec.clockRate)
        keyframe = codec.mimeType.lower() != "video/vp8" or is_vp8_keyframe(frame.data)
        self._on_frame(packet, keyframe)


class ForwardingJitterBuffer(JitterBuffer):
    """Hands a frame on as soon as it is complete, not when the next one starts.

    aiortc's buffer knows a frame is complete only when a packet of the *next* frame
    arrives: one frame interval (33 ms at 30 fps) of delay per hop. A video frame's last
    packet carries the RTP marker bit; audio packets are whole frames. The browser at
    the other end keeps its own jitter buffer, so nothing is held back here.
    """

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets = []
        timestamp = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None
            if timestamp is not None and packet.timestamp != timestamp:
                self.remove(count)  # a frame without its marker: complete all the same
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
            timestamp = packet.timestamp
            packets.append(packet)
            if packet.marker or not self._is_video:
                self.remove(count + 1)
                return JitterFrame(b"".join(p._data for p in packets), timestamp)
        return None


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and not data[0] & 0x01


def tap_receiver(receiver: RTCRtpReceiver, on_frame: Callable[[av.Packet, bool], None]) -> None:
    """Deliver ``receiver``'s frames encoded to ``on_frame(packet, keyframe)``.

    Call it before the receiver starts (in the peer connection's ``track`` event).
    """
    if getattr(receiver, _RECEIVER_STARTED):
        raise RuntimeError("the receiver has started already")
    setattr(receiver, _RECEIVER_QUEUE, EncodedFrameTap(on_frame))
    video = getattr(receiver, _RECEIVER_KIND) == "video"
    buffer = ForwardingJitterBuffer(capacity=512 if video else 64, is_video=video)
    setattr(receiver, _RECEIVER_JITTER_BUFFER, buffer)


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
    from aioice.ice import get_host_addresses

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


def decoder_worker_is_stock() -> bool:
    """The receiver still starts aiortc's own decoder worker (what the tap relies on)."""
    return getattr(rtcrtpreceiver, _RECEIVER_WORKER).__module__ == rtcrtpreceiver.__name__
