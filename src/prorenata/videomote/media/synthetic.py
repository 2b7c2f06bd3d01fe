"""Synthetic room members for tests and ``benchmarks/media.py`` (aiortc, no browser).

A :class:`SyntheticPeer` joins like a browser does (WebSocket, join token, complete
offer with its own camera/microphone and receive-only slots) but publishes frames that
were encoded once up front (:func:`encoded_clip`) and counts the RTP packets it receives
(a frame ends with the marker bit) without reassembling or decoding them, so that on a
small machine the figures measured are the server's. Each published video frame carries
its send time after the VP8 data (a decoder ignores bytes after the last partition; the
frame's last packet ends with them), which gives the latency the relay adds.

With ``screen=True`` it also offers a screen transceiver as the room page does (it
receives others' screen shares there); with a ``screen_clip`` it sends that clip on it,
and :meth:`SyntheticPeer.share` asks the server to share it.

``lean=True`` makes a peer much cheaper than the server per packet, for capacity
benchmarks on a machine whose cores the peers share with the server (``LeanMedia``):
it sends the same clip as pre-built RTP packets (header, RFC 8285 extensions and VP8
payload descriptor made once; per packet only the sequence number, timestamp,
abs-send-time and picture ID are written, then SRTP-protected with the DTLS-SRTP keys
and sent on the ICE pair aioice nominated), and it counts received video frames from
the RTP header, which SRTP leaves in the clear (marker bit, sequence number, SSRC),
taking RTP packets off the socket before aiortc's queue, without decrypting them.
Once connected, one task per process (``_LeanDriver``) sends for all its lean peers and
reads their sockets in batches (``recvmmsg``), so that the clients wake rarely: on a
virtual machine a wake-up costs far more than the packet it is for.
DTLS, STUN and RTCP keep aiortc's path. Such a peer cannot tell a forged packet from
a real one, so a run keeps at least one decrypting peer as a correctness check: a
full aiortc peer, or a lean one with ``decrypt=True`` (SRTP-unprotects what arrives with
its own keys and reads each frame's send time from inside the payload).
"""

from aiortc import RTCConfiguration
from aiortc import RTCPeerConnection
from aiortc import RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import HeaderExtensionsMap
from aiortc.rtp import RtpPacket
from fractions import Fraction
from prorenata.videomote.media import forwarding

import aiohttp
import asyncio
import av
import contextlib
import ctypes
import errno
import json
import math
import os
import pylibsrtp
import random
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.request

MARK = b"VMTS"
STAMP = struct.Struct("!4sd")
VIDEO_RATE = 90000


def encoded_clip(
    frames: int = 60, width: int = 640, height: int = 480, fps: int = 30, bit_rate: int = 500_000
):
    """``frames`` VP8 frames of a moving test picture, encoded once: (bytes, keyframe)."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height = width, height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.bit_rate = bit_rate
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.gop_size = 3000  # one keyframe; more only when asked (the replay repeats it)
    out = []
    row = bytes(range(256)) * (width // 256 + 4)
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        for plane in frame.planes:
            shift = index * 8 % 256
            lines = plane.height
            stride = plane.line_size
            plane.update(
                b"".join(row[shift + y % 256 : shift + y % 256 + stride] for y in range(lines))
            )
        frame.pts = index
        for packet in codec.encode(frame):
            out.append((bytes(packet), bool(packet.is_keyframe)))
    for packet in codec.encode(None):
        out.append((bytes(packet), bool(packet.is_keyframe)))
    return out


class ReplayTrack(MediaStreamTrack):
    """Sends the clip's packets at ``fps``, looping; each stamped with its send time."""

    kind = "video"

    def __init__(self, clip, fps: int = 30, stamp: bool = True):
        super().__init__()
        self._clip = clip
        self._fps = fps
        self._stamp = stamp
        self._index = 0
        self._start: float | None = None
        self.keyframe_next = False

    async def recv(self):
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index / self._fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        position = self._index % len(self._clip)
        if self.keyframe_next:  # the clip's first frame is its keyframe
            position, self.keyframe_next = 0, False
        data = self._clip[position][0]
        if self._stamp:
            data += STAMP.pack(MARK, time.time())
        packet = av.Packet(data)
        packet.pts = self._index * VIDEO_RATE // self._fps
        packet.time_base = Fraction(1, VIDEO_RATE)
        self._index += 1
        return packet


class SilenceTrack(MediaStreamTrack):
    """20 ms Opus packets of silence (encoded once)."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._data = self.encoded()
        self._index = 0
        self._start: float | None = None

    @staticmethod
    def encoded() -> bytes:
        """One 20 ms Opus packet of stereo silence."""
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate, frame.pts = 48000, 0
        packets = list(codec.encode(frame))
        return bytes(packets[0]) if packets else b"\xf8\xff\xfe"

    async def recv(self):
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * 0.02
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        packet = av.Packet(self._data)
        packet.pts = self._index * 960
        packet.time_base = Fraction(1, 48000)
        self._index += 1
        return packet


#: Seconds between 1900 (NTP) and 1970 (Unix): abs-send-time is NTP time, 6.18 fixed point.
_NTP_OFFSET = 2_208_988_800
_ABS_SEND_TIME_PROBE = 0xABCDEF
_AUDIO_INTERVAL = 0.02


class ParkedTrack(MediaStreamTrack):
    """A track whose ``recv`` never returns: aiortc's own sender loop stays idle while
    :class:`LeanMedia` sends on the sender's SSRC (the SDP still says sendrecv)."""

    def __init__(self, kind: str):
        self.kind = kind
        super().__init__()

    async def recv(self):
        await asyncio.Event().wait()  # cancelled when the sender stops


_SEQUENCE_SSRC = struct.Struct("!HLL")


class _LeanStream:
    """One outgoing stream: packets made once, per packet four fields written."""

    def __init__(self, parameters, frames: list[list[bytes]], vp8: bool):
        extensions = HeaderExtensionsMap()
        extensions.configure(parameters)
        probe = RtpPacket(payload_type=parameters.codecs[0].payloadType)
        probe.extensions.mid = parameters.muxId
        probe.extensions.abs_send_time = _ABS_SEND_TIME_PROBE
        self.header = probe.serialize(extensions)
        found = self.header.find(_ABS_SEND_TIME_PROBE.to_bytes(3, "big"), 12)
        self.send_time_at = found if found > 0 else None
        self.payload_type = parameters.codecs[0].payloadType
        self.frames = frames
        self.vp8 = vp8  # picture IDs to write, and the send time after each frame's data
        self.sequence = random.getrandbits(16)
        self.timestamp = random.getrandbits(32)
        self.ssrc = 0
        self.picture_id = 0
        self.index = 0
        self.keyframe_next = False

    def next_frame(self, step: int) -> list[bytes]:
        """The RTP packets (plain) of the next frame, ``step`` clock ticks after the last."""
        if self.keyframe_next:  # the clip's first frame is its keyframe; on from there
            self.index, self.keyframe_next = 0, False
        position = self.index % len(self.frames)
        self.index += 1
        payloads = self.frames[position]
        now = time.time()
        send_time = (int((now + _NTP_OFFSET) * 262144)) & 0xFFFFFF  # 2**18: 6.18 fixed point
        header = bytearray(self.header)
        if self.send_time_at is not None:
            header[self.send_time_at : self.send_time_at + 3] = send_time.to_bytes(3, "big")
        last = len(payloads) - 1
        picture = struct.pack("!H", 0x8000 | self.picture_id)
        packets = []
        for number, payload in enumerate(payloads):
            marker = 0x80 if number == last else 0
            struct.pack_into(
                "!BHLL",
                header,
                1,
                marker | self.payload_type,
                self.sequence,
                self.timestamp,
                self.ssrc,
            )
            self.sequence = (self.sequence + 1) & 0xFFFF
            if self.vp8:
                # VP8 payload descriptor with a 15-bit picture ID (aiortc's layout)
                parts = [header, payload[:2], picture, memoryview(payload)[4:]]
                if marker:
                    parts.append(STAMP.pack(MARK, now))
                packets.append(b"".join(parts))
            else:
                packets.append(bytes(header) + payload)
        if self.vp8:
            self.picture_id = (self.picture_id + 1) & 0x7FFF
        self.timestamp = (self.timestamp + step) & 0xFFFFFFFF
        return packets


class LeanMedia:
    """A :class:`SyntheticPeer`'s cheap media path (see the module's docstring)."""

    def __init__(self, peer: "SyntheticPeer", decrypt: bool = False):
        self.peer = peer
        #: Decrypt what arrives (a check on the others' lean counting): SRTP-unprotect
        #: each RTP packet and read the send time from inside the payload.
        self.decrypt = decrypt
        self.undecryptable = 0
        self.parameters: dict[str, object] = {}  # "video"/"audio" -> RTCRtpSendParameters
        self.video: _LeanStream | None = None
        self.audio: _LeanStream | None = None
        self.packets: dict[int, int] = {}  # SSRC -> RTP packets received
        self.lost: dict[int, int] = {}  # SSRC -> sequence numbers skipped (since joining)
        self._last_sequence: dict[int, int] = {}
        self._where: dict[int, tuple[str, str] | None] = {}  # SSRC -> (mid, kind)
        self._task: asyncio.Task | None = None
        self._driver: _LeanDriver | None = None
        self.dtls = None

    def capture(self, kind: str, sender) -> None:
        """Note the parameters aiortc negotiates for ``sender`` (payload type, extension
        IDs, MID) when it starts it: the lean stream sends with exactly those."""
        stock = sender.send

        async def send(parameters):
            self.parameters[kind] = parameters
            await stock(parameters)

        sender.send = send

    # -- receiving ---------------------------------------------------------------------
    def install_receiver(self, pc: RTCPeerConnection) -> None:
        """Count RTP off the socket (before aiortc's queue); the rest to aiortc."""
        for dtls, connection in forwarding.ice_connections(pc):
            self.dtls = dtls  # bundled: one
            for protocol in forwarding.local_protocols(connection):
                protocol.datagram_received = self._counting(protocol.datagram_received)

    def _counting(self, stock):
        def datagram_received(data: bytes, addr: tuple) -> None:
            # RTP (RFC 7983: first byte 128-191; RTCP has packet types 192-208 next)
            if len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 209:
                self._count(data)
            else:
                stock(data, addr)

        return datagram_received

    def _count(self, data: bytes) -> None:
        if self.decrypt:
            self.receive_encrypted(data)
            return
        sequence, _timestamp, ssrc = _SEQUENCE_SSRC.unpack_from(data, 2)
        self.count(data[1], sequence, ssrc)

    def receive_encrypted(self, data: bytes) -> None:
        """A decrypting peer's RTP packet: SRTP-unprotected with the keys of its DTLS
        handshake (one that fails, forged or damaged, counts as ``undecryptable`` only),
        counted, and a video frame's send time read after its VP8 data (the latency)."""
        srtp = self.dtls._rx_srtp if self.dtls is not None else None
        try:
            if srtp is None:
                raise pylibsrtp.Error("no keys yet")
            data = srtp.unprotect(data)
        except pylibsrtp.Error:
            self.undecryptable += 1
            return
        sequence, _timestamp, ssrc = _SEQUENCE_SSRC.unpack_from(data, 2)
        self.count(data[1], sequence, ssrc)
        if data[1] & 0x80 and len(data) > STAMP.size + 12:
            mark, sent = STAMP.unpack_from(data, len(data) - STAMP.size)
            if mark == MARK:
                self.peer.latencies.append((time.time() - sent) * 1000)

    def count(self, second_byte: int, sequence: int, ssrc: int) -> None:
        """One RTP packet received (its header's second byte, sequence number, SSRC)."""
        self.packets[ssrc] = self.packets.get(ssrc, 0) + 1
        last = self._last_sequence.get(ssrc)
        if last is not None:
            gap = (sequence - last - 1) & 0xFFFF
            if 0 < gap < 1000:
                self.lost[ssrc] = self.lost.get(ssrc, 0) + gap
        self._last_sequence[ssrc] = sequence
        where = self._where.get(ssrc, False)
        if where is False:
            where = self._where[ssrc] = self._resolve(ssrc)
        if where is None:
            return
        mid, kind = where
        peer = self.peer
        if kind == "audio":
            peer.audio_packets[mid] = peer.audio_packets.get(mid, 0) + 1
        elif second_byte & 0x80:  # the marker bit ends a video frame
            if peer.first_frame_at is None:
                peer.first_frame_at = time.monotonic()
            peer.frames[mid] = peer.frames.get(mid, 0) + 1

    def _resolve(self, ssrc: int) -> tuple[str, str] | None:
        """The transceiver an SSRC arrives on: the SSRCs the server's answer announced
        (aiortc's RTP router table), matched to our receivers."""
        pc = self.peer.pc
        for transceiver in pc.getTransceivers():
            router = transceiver.receiver.transport._rtp_router
            if router.ssrc_table.get(ssrc) is transceiver.receiver:
                return transceiver.mid, transceiver.kind
        return None

    # -- sending -----------------------------------------------------------------------
    def start(self, video_sender, audio_sender, clip, audio: bool) -> None:
        """Send once aiortc has connected and started the senders (parameters known)."""
        self._task = asyncio.ensure_future(self._hand_over(video_sender, audio_sender, clip, audio))

    async def _hand_over(self, video_sender, audio_sender, clip, audio: bool, fps: int = 30):
        """Once connected: the streams made, sending and reading handed to this process's
        :class:`_LeanDriver` (frames at ``fps``, 20 ms audio, from a random phase so that
        the peers of a process do not all send at the same instant)."""
        dtls = self.dtls = video_sender.transport
        if not await self._started(dtls, clip is not None, audio):
            return
        if clip is not None:
            frames = [Vp8Encoder._packetize(data, 0) for data, _key in clip]
            self.video = _LeanStream(self.parameters["video"], frames, vp8=True)
            self.video.ssrc = video_sender._ssrc
        if audio:
            silence = [[SilenceTrack.encoded()]]
            self.audio = _LeanStream(self.parameters["audio"], silence, vp8=False)
            self.audio.ssrc = audio_sender._ssrc
        self._pairs = dtls.transport._connection._nominated
        self.video_step = VIDEO_RATE // fps
        self.video_interval = 1 / fps
        self.video_at = self.audio_at = time.monotonic() + random.uniform(0, 1 / fps)  # noqa: S311 - a phase
        driver = _LeanDriver.of(asyncio.get_running_loop())
        self._driver = driver
        driver.add(self, _own_sockets(self.peer.pc))

    def send_due(self, now: float) -> float:
        """Send the frame and audio packets due at ``now``; when the next are due (inf:
        this peer has stopped)."""
        if self.dtls._state is not DtlsState.CONNECTED:  # (.state formats a string)
            return math.inf
        packets = []
        video, audio = self.video, self.audio
        if video is not None and self.video_at <= now:
            packets += video.next_frame(self.video_step)
            self.video_at += self.video_interval
        if audio is not None and self.audio_at <= now:
            packets += audio.next_frame(960)
            self.audio_at += _AUDIO_INTERVAL
        pair = self._pairs.get(1)
        transport = pair.protocol.transport if pair is not None else None
        if packets and transport is not None and not transport.is_closing():
            protect = self.dtls._tx_srtp.protect
            address = pair.remote_addr
            for packet in packets:
                transport.sendto(protect(packet), address)
        return min(
            self.video_at if video is not None else math.inf,
            self.audio_at if audio is not None else math.inf,
        )

    async def _started(self, dtls, video: bool, audio: bool, seconds: float = 30) -> bool:
        """Whether DTLS connected and aiortc started the senders we send for in time."""
        wanted = {"video"} if video else set()
        wanted |= {"audio"} if audio else set()
        deadline = time.monotonic() + seconds
        while dtls.state != "connected" or not wanted <= set(self.parameters):
            if time.monotonic() > deadline or dtls.state in ("closed", "failed"):
                return False
            await asyncio.sleep(0.02)
        return True

    def keyframe_requested(self) -> None:
        if self.video is not None:
            self.video.keyframe_next = True

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._driver is not None:
            self._driver.remove(self)
            self._driver = None

    def sockets_read_in_batches(self) -> int:
        """How many of this peer's sockets its process's driver reads (not the event loop)."""
        driver = self._driver
        if driver is None:
            return 0
        return sum(1 for _sock, _protocol, lean in driver.readers.values() if lean is self)

    def lost_packets(self) -> int:
        return sum(self.lost.values())


#: The lean driver's shortest sleep: sends due within it go out together.
LEAN_TICK_S = 0.002
#: How often the lean driver reads its sockets (they queue in the kernel meanwhile).
LEAN_READ_S = 0.010


class _LeanDriver:
    """All lean peers of one event loop sent and read by one task.

    On a virtual machine the first work after a process has slept costs ten to forty
    times the same work done warm (measured here: SRTP-unprotecting a packet 4 µs warm,
    37–115 µs after 2–5 ms asleep), so a synthetic client's cost is mostly its wake-ups:
    with each peer on its own timer and the event loop waking for every datagram, the
    clients woke about as often as the server and cost about as much, and took the
    cores a second media process would use. Here one task wakes when the next packets
    are due (at most every ``LEAN_TICK_S``; what is due within it goes out together)
    and reads every lean socket at most every ``LEAN_READ_S``: the datagrams wait in the
    kernel's socket buffer meanwhile, and the event loop no longer watches those sockets.
    What reaches the server is unchanged: each peer's frames at its own 30 fps phase
    and its 20 ms audio, SRTP-protected with its own keys.
    """

    _of: "dict[asyncio.AbstractEventLoop, _LeanDriver]" = {}

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> "_LeanDriver":
        driver = cls._of.get(loop)
        if driver is None:
            driver = cls._of[loop] = cls(loop)
        return driver

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.senders: dict[LeanMedia, float] = {}  # peer -> when its next packets are due
        self.readers: dict[int, tuple] = {}  # fd -> (socket, protocol, peer)
        self.poll = select.epoll()
        self.batch = _Batch()
        self.read_at = 0.0
        self.task: asyncio.Task | None = None

    def add(self, lean: "LeanMedia", sockets: list[tuple]) -> None:
        """Send ``lean``'s media from now on, and read its ``(socket, protocol)`` pairs
        (taken off the event loop where it allows that; else the loop keeps them)."""
        self.senders[lean] = time.monotonic()
        remove_reader = getattr(self.loop, "_remove_reader", None)  # the selector loop's
        if not _Batch.available():
            remove_reader = None
        for sock, protocol in sockets:
            fd = sock.fileno()
            if remove_reader is None or fd < 0 or not remove_reader(fd):
                continue
            # Room for a second and more of its media while this process is starved.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.readers[fd] = (sock, protocol, lean)
            self.poll.register(fd, select.EPOLLIN)
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self._run())

    def remove(self, lean: "LeanMedia") -> None:
        self.senders.pop(lean, None)
        for fd, (_sock, _protocol, owner) in list(self.readers.items()):
            if owner is lean:
                self._forget(fd)

    def _forget(self, fd: int) -> None:
        self.readers.pop(fd, None)
        with contextlib.suppress(OSError):  # closed already (epoll dropped it)
            self.poll.unregister(fd)

    async def _run(self) -> None:
        senders = self.senders
        try:
            while senders or self.readers:
                now = time.monotonic()
                for lean, due in list(senders.items()):
                    if due <= now:
                        due = senders[lean] = lean.send_due(now)
                        if due == math.inf:
                            senders.pop(lean, None)
                if now >= self.read_at:
                    self._read()
                    self.read_at = now + LEAN_READ_S
                wake = min(min(senders.values(), default=math.inf), self.read_at)
                await asyncio.sleep(max(LEAN_TICK_S, wake - time.monotonic()))
        finally:  # also when the loop closes with the task pending
            self._of.pop(self.loop, None)
            self.poll.close()

    def _read(self) -> None:
        """Every datagram waiting on a lean socket: RTP counted from its clear header, the
        rest (STUN, DTLS, RTCP) to its protocol's handler (aioice and aiortc)."""
        batch = self.batch
        for fd, _events in self.poll.poll(0):
            entry = self.readers.get(fd)
            if entry is None:
                continue
            _sock, protocol, lean = entry
            if protocol.transport is None or protocol.transport.is_closing():
                self._forget(fd)
                continue
            for _ in range(100):  # bounded: a socket buffer holds far fewer batches
                received = batch.receive(fd)
                if received < 0:
                    self._forget(fd)
                    break
                for index in range(received):
                    data, offset, size = batch.datagram(index)
                    if size >= 12 and 127 < data[offset] < 192 and not 191 < data[offset + 1] < 209:
                        if lean.decrypt:
                            lean.receive_encrypted(bytes(data[offset : offset + size]))
                            continue
                        sequence, _timestamp, ssrc = _SEQUENCE_SSRC.unpack_from(data, offset + 2)
                        lean.count(data[offset + 1], sequence, ssrc)
                    else:
                        protocol.datagram_received(
                            bytes(data[offset : offset + size]), batch.address(index)
                        )
                if received < batch.size:
                    break


class _Batch:
    """``recvmmsg(2)`` (Linux): up to ``size`` datagrams of a socket in one system call,
    into buffers allocated once. Python's socket module reads one per call."""

    _recvmmsg = getattr(ctypes.CDLL(None, use_errno=True), "recvmmsg", None)
    SLOT = 2048  # larger than any datagram here (MTU-sized RTP, DTLS, STUN)

    def __init__(self, size: int = 64):
        self.size = size
        self._filled = 0
        self.buffers = ctypes.create_string_buffer(self.SLOT * size)
        self.data = memoryview(self.buffers).cast("B")
        self.names = ctypes.create_string_buffer(_SOCKADDR_SIZE * size)
        self.vectors = (_IoVec * size)()
        self.messages = (_MMsgHdr * size)()
        base = ctypes.addressof(self.buffers)
        names = ctypes.addressof(self.names)
        for index in range(size):
            self.vectors[index].base = base + index * self.SLOT
            self.vectors[index].length = self.SLOT
            header = self.messages[index].header
            header.name = names + index * _SOCKADDR_SIZE
            header.name_length = _SOCKADDR_SIZE
            header.vectors = ctypes.pointer(self.vectors[index])
            header.vector_count = 1

    @classmethod
    def available(cls) -> bool:
        return cls._recvmmsg is not None

    def receive(self, fd: int) -> int:
        """How many datagrams were read (0: none waiting; -1: the socket is gone)."""
        # The kernel shortened the address lengths of those it filled last time.
        for index in range(self._filled):
            self.messages[index].header.name_length = _SOCKADDR_SIZE
        received = self._recvmmsg(fd, self.messages, self.size, socket.MSG_DONTWAIT, None)
        self._filled = max(received, 0)
        if received >= 0:
            return received
        return 0 if ctypes.get_errno() in (errno.EAGAIN, errno.EINTR) else -1

    def datagram(self, index: int) -> tuple[memoryview, int, int]:
        """The buffer, where datagram ``index`` starts in it, and its length."""
        return self.data, index * self.SLOT, self.messages[index].length

    def address(self, index: int) -> tuple:
        """Where datagram ``index`` came from, as ``recvfrom`` gives it."""
        name = self.names.raw[index * _SOCKADDR_SIZE : (index + 1) * _SOCKADDR_SIZE]
        family = int.from_bytes(name[:2], sys.byteorder)
        port = int.from_bytes(name[2:4], "big")
        if family == socket.AF_INET6:
            return (socket.inet_ntop(family, name[8:24]), port, 0, 0)
        return (socket.inet_ntop(socket.AF_INET, name[4:8]), port)


_SOCKADDR_SIZE = 28  # sockaddr_in6, the larger of the two


class _IoVec(ctypes.Structure):
    _fields_ = (("base", ctypes.c_void_p), ("length", ctypes.c_size_t))


class _MsgHdr(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_void_p),
        ("name_length", ctypes.c_uint32),
        ("vectors", ctypes.POINTER(_IoVec)),
        ("vector_count", ctypes.c_size_t),
        ("control", ctypes.c_void_p),
        ("control_length", ctypes.c_size_t),
        ("flags", ctypes.c_int),
    )


class _MMsgHdr(ctypes.Structure):
    _fields_ = (("header", _MsgHdr), ("length", ctypes.c_uint))


def _own_sockets(pc: RTCPeerConnection) -> list[tuple]:
    """``(socket, protocol)`` of each of ``pc``'s local ICE sockets (where media arrives)."""
    found = []
    for _dtls, connection in forwarding.ice_connections(pc):
        for protocol in forwarding.local_protocols(connection):
            sock = getattr(protocol.transport, "_sock", None)
            if sock is not None:
                found.append((sock, protocol))
    return found


class SyntheticPeer:
    """One person in a room: joins, publishes the clip, counts what arrives per slot."""

    def __init__(
        self,
        url: str,
        meeting: str,
        token: str,
        clip=None,
        slots: int = 3,
        audio: bool = True,
        screen: bool = False,
        screen_clip=None,
        lean: bool = False,
        decrypt: bool = False,
    ):
        self.url, self.meeting, self.token = url, meeting, token
        #: The cheap media path (module docstring); None: aiortc's own, decrypting.
        self.lean = LeanMedia(self, decrypt) if lean else None
        self.screen_offered = screen or screen_clip is not None
        self.screen_clip = screen_clip
        self.screen_mid: str | None = None
        self.screen: dict = {}  # the server's last "screen" message
        self.screen_keyframe_requests = 0
        self.clip = clip
        self.audio = audio
        self.slot_count = slots
        self.frames: dict[str, int] = {}  # mid -> encoded video frames received
        self.audio_packets: dict[str, int] = {}
        self.latencies: list[float] = []
        self.first_frame_at: float | None = None
        self.joined_at: float | None = None
        self.slots: list[dict] = []
        self.events: list[dict] = []
        self.keyframe_requests = 0
        self.ssrcs: dict[str, int] = {}  # mid -> SSRC the server sends it with
        self.pc: RTCPeerConnection | None = None
        self.socket = None
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task | None = None
        self.answered = asyncio.Event()

    async def join(self, timeout: float = 10) -> None:
        self._session = aiohttp.ClientSession()
        self.socket = await self._session.ws_connect(self.url)
        await self.socket.send_json({"type": "join", "meeting": self.meeting, "token": self.token})
        self.joined_at = time.monotonic()
        pc = self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        lean = self.lean
        if lean is not None:
            camera = ParkedTrack("video") if self.clip else "video"
            microphone = ParkedTrack("audio") if self.audio else "audio"
        else:
            camera = ReplayTrack(self.clip) if self.clip else "video"
            microphone = SilenceTrack() if self.audio else "audio"
        own_video = pc.addTransceiver(camera, direction="sendrecv" if self.clip else "recvonly")
        own_audio = pc.addTransceiver(
            microphone, direction="sendrecv" if self.audio else "recvonly"
        )
        if lean is not None:
            lean.capture("video", own_video.sender)
            lean.capture("audio", own_audio.sender)
        for _ in range(self.slot_count - 1):
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
        forwarding.on_keyframe_request(own_video.sender, self._keyframe_requested)
        screen = None
        if self.screen_offered:
            # Sends whenever it has a clip (whether the server forwards it is the server's
            # decision), like a page that shares without asking.
            screen = pc.addTransceiver(
                ReplayTrack(self.screen_clip) if self.screen_clip else "video",
                direction="sendrecv" if self.screen_clip else "recvonly",
            )
            forwarding.on_keyframe_request(screen.sender, self._screen_keyframe_requested)

        @pc.on("track")
        def on_track(track):
            receiver = forwarding.receiver_for(pc, track)
            mid = next(t.mid for t in pc.getTransceivers() if t.receiver is receiver)
            if track.kind == "video":
                forwarding.receive_raw(receiver, lambda packet, mid=mid: self._video(mid, packet))
            else:
                forwarding.receive_raw(receiver, lambda packet, mid=mid: self._audio(mid))

        forwarding.use_host_addresses(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        if lean is not None:  # the sockets are bound now
            lean.install_receiver(pc)
        self._reader = asyncio.ensure_future(self._read())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        if screen is not None:
            self.screen_mid = offer["screen"] = screen.mid
        await self.socket.send_json(offer)
        await asyncio.wait_for(self.answered.wait(), timeout)
        if lean is not None:  # the answer started the senders: parameters known
            lean.start(own_video.sender, own_audio.sender, self.clip, self.audio)

    def _keyframe_requested(self) -> None:
        self.keyframe_requests += 1
        if self.lean is not None:
            self.lean.keyframe_requested()
        for transceiver in self.pc.getTransceivers():
            track = transceiver.sender.track
            if isinstance(track, ReplayTrack) and transceiver.mid != self.screen_mid:
                track.keyframe_next = True

    def _screen_keyframe_requested(self) -> None:
        self.screen_keyframe_requests += 1
        for transceiver in self.pc.getTransceivers():
            track = transceiver.sender.track
            if isinstance(track, ReplayTrack) and transceiver.mid == self.screen_mid:
                track.keyframe_next = True

    async def share(self, on: bool = True) -> None:
        """Ask the server to show (or stop showing) the screen clip to the others."""
        await self.send({"type": "screen", "on": on})

    def screen_frames(self) -> int:
        """Video frames received on the screen transceiver (others' screen shares)."""
        return self.frames.get(self.screen_mid, 0) if self.screen_mid else 0

    def _video(self, mid: str, packet) -> None:
        """An RTP packet; the one with the marker bit ends a frame (and carries the stamp)."""
        self.ssrcs[mid] = packet.ssrc
        if not packet.marker:
            return
        if self.first_frame_at is None:
            self.first_frame_at = time.monotonic()
        self.frames[mid] = self.frames.get(mid, 0) + 1
        data = packet.payload
        if len(data) > STAMP.size and data[-STAMP.size : -STAMP.size + 4] == MARK:
            _, sent = STAMP.unpack(data[-STAMP.size :])
            self.latencies.append((time.time() - sent) * 1000)

    def _audio(self, mid: str) -> None:
        self.audio_packets[mid] = self.audio_packets.get(mid, 0) + 1

    async def _read(self) -> None:
        async for message in self.socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            self.events.append(data)
            if data["type"] == "answer":
                await self.pc.setRemoteDescription(
                    RTCSessionDescription(sdp=data["sdp"], type="answer")
                )
                self.answered.set()
            elif data["type"] == "slots":
                self.slots = data["slots"]
            elif data["type"] == "screen":
                self.screen = data

    def total_frames(self) -> int:
        return sum(self.frames.values())

    def frames_from(self, name: str) -> int:
        """Video frames received in the slot that currently shows ``name``."""
        return sum(self.frames.get(s["video"], 0) for s in self.slots if s["name"] == name)

    async def report_picture_loss(self, mid: str) -> None:
        """Send the server an RTCP PLI for the video in slot ``mid``, as a browser would."""
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.mid == mid)
        await receiver._send_rtcp_pli(self.ssrcs[mid])

    async def send(self, message: dict) -> None:
        await self.socket.send_json(message)

    async def leave(self) -> None:
        if self.lean is not None:
            self.lean.stop()
        if self.pc is not None:
            await self.pc.close()
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._session is not None:
            await self._session.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server_process(
    port: int,
    settings: dict[str, str],
    command: list[str] | None = None,
    output=None,
    environ: dict[str, str] | None = None,
) -> subprocess.Popen:
    """``videomote-media`` (or ``command``) on 127.0.0.1:``port``, once ``/health`` answers.

    ``settings`` become ``VIDEOMOTE_MEDIA_<KEY>`` variables (``secret`` included), added
    to ``environ`` (default: this process's environment).
    """
    env = dict(os.environ if environ is None else environ)
    env.update({f"VIDEOMOTE_MEDIA_{key.upper()}": value for key, value in settings.items()})
    command = command or [
        sys.executable,
        "-m",
        "prorenata.videomote.media.server",
        "--port",
        str(port),
    ]
    # S603: an argv list (no shell) from this module or the test or benchmark calling it.
    process = subprocess.Popen(  # noqa: S603
        command, env=env, stdout=output or subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the media server did not start") from None
            time.sleep(0.1)
