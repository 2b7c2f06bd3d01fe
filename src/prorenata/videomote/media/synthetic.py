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
payload descriptor made once; per packet only the marker, sequence number, timestamp,
abs-send-time and picture ID are written, then SRTP-protected with the DTLS-SRTP keys
and sent on the ICE pair aioice nominated), and it counts received video frames from
the RTP header, which SRTP leaves in the clear (marker bit, sequence number, SSRC),
taking RTP packets off the socket before aiortc's queue, without decrypting them.
Once connected, one task per process (``_LeanDriver``) sends for all its lean peers and
reads their sockets in batches, so that the clients wake rarely: on a virtual machine a
wake-up costs far more than the packet it is for. The per-packet work is C
(``_lean.c``: ``LeanStream`` builds, ``Pacer`` schedules and sends through the peer's
``_sendpath.Sink``, ``RtpCount`` reads with ``recvmmsg`` and counts per SSRC).
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
from prorenata.videomote.media import _sendpath
from prorenata.videomote.media import forwarding

import aiohttp
import asyncio
import av
import contextlib
import json
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


def _lean_stream(parameters, frames: list[list[bytes]], vp8: bool, ssrc: int):
    """One outgoing stream (``_sendpath.LeanStream``): its header with the RFC 8285
    extensions aiortc negotiated made once by aiortc; per packet only the marker, sequence
    number, timestamp, SSRC, abs-send-time and VP8 picture ID are written (in C)."""
    extensions = HeaderExtensionsMap()
    extensions.configure(parameters)
    probe = RtpPacket(payload_type=parameters.codecs[0].payloadType)
    probe.extensions.mid = parameters.muxId
    probe.extensions.abs_send_time = _ABS_SEND_TIME_PROBE
    header = probe.serialize(extensions)
    return _sendpath.LeanStream(
        header=header,
        send_time_at=header.find(_ABS_SEND_TIME_PROBE.to_bytes(3, "big"), 12),
        payload_type=parameters.codecs[0].payloadType,
        frames=frames,
        vp8=vp8,
        sequence=random.getrandbits(16),
        timestamp=random.getrandbits(32),
        ssrc=ssrc,
    )


def _is_rtp(data: bytes) -> bool:
    """RFC 7983: RTP has a first byte 128-191, and not RTCP's packet types 192-208 next."""
    return len(data) >= 12 and 127 < data[0] < 192 and not 191 < data[1] < 209


class LeanMedia:
    """A :class:`SyntheticPeer`'s cheap media path (see the module's docstring)."""

    def __init__(self, peer: "SyntheticPeer", decrypt: bool = False):
        self.peer = peer
        #: Decrypt what arrives (a check on the others' lean counting): SRTP-unprotect
        #: each RTP packet and read the send time from inside the payload.
        self.decrypt = decrypt
        self.undecryptable = 0
        self.parameters: dict[str, object] = {}  # "video"/"audio" -> RTCRtpSendParameters
        self.video = None  # _sendpath.LeanStream
        self.audio = None
        #: RTP received, per SSRC, from the clear header (``_sendpath.RtpCount``, in C).
        self.tally = _sendpath.RtpCount()
        self._where: dict[int, tuple[str, str] | None] = {}  # SSRC -> (mid, kind)
        self._task: asyncio.Task | None = None
        self._driver: _LeanDriver | None = None
        self._sink_for: tuple = ()  # (pair, keys) the pacer's sink was made for
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
            if self.decrypt and _is_rtp(data):
                self.receive_encrypted(data)
            elif self.decrypt or not self.tally.count(data):  # (counted if RTP)
                stock(data, addr)

        return datagram_received

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
        self.tally.count(data)
        if data[1] & 0x80 and len(data) > STAMP.size + 12:
            mark, sent = STAMP.unpack_from(data, len(data) - STAMP.size)
            if mark == MARK:
                self.peer.latencies.append((time.time() - sent) * 1000)

    @property
    def packets(self) -> dict[int, int]:
        """RTP packets received, per SSRC."""
        return {ssrc: counts[0] for ssrc, counts in self.tally.counts().items()}

    def sync(self) -> None:
        """The peer's frames, audio packets and first frame time from the counts."""
        frames: dict[str, int] = {}
        audio: dict[str, int] = {}
        first = None
        for ssrc, (packets, ends, _lost, first_at) in self.tally.counts().items():
            where = self._where.get(ssrc, False)
            if where is False:
                where = self._resolve(ssrc)
                if where is not None:  # (not yet announced: asked again next time)
                    self._where[ssrc] = where
            if where is None:
                continue
            mid, kind = where
            if kind == "audio":
                audio[mid] = audio.get(mid, 0) + packets
            elif ends:  # the marker bit ends a video frame
                frames[mid] = frames.get(mid, 0) + ends
                first = first_at if first is None else min(first, first_at)
        peer = self.peer
        peer._frames.clear()
        peer._frames.update(frames)
        peer._audio_packets.clear()
        peer._audio_packets.update(audio)
        if first is not None and peer._first_frame_at is None:
            peer._first_frame_at = first

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
            self.video = _lean_stream(
                self.parameters["video"], frames, vp8=True, ssrc=video_sender._ssrc
            )
        if audio:
            silence = [[SilenceTrack.encoded()]]
            self.audio = _lean_stream(
                self.parameters["audio"], silence, vp8=False, ssrc=audio_sender._ssrc
            )
        self._pairs = dtls.transport._connection._nominated
        driver = _LeanDriver.of(asyncio.get_running_loop())
        await driver.released.wait()  # (hold_lean_media)
        self._driver = driver
        phase = time.monotonic() + random.uniform(0, 1 / fps)  # noqa: S311 - a phase
        if self.video is not None:
            driver.pacer.add(self, self.video, VIDEO_RATE // fps, 1 / fps, phase)
        if self.audio is not None:
            driver.pacer.add(self, self.audio, 960, _AUDIO_INTERVAL, phase)
        driver.add(self, _own_sockets(self.peer.pc))

    def check(self) -> bool:
        """Point the driver's pacer at the sink for the nominated pair and the current
        keys (made again when either changes); False once this peer has stopped or
        cannot send (its DTLS transport no longer connected, its socket closed, a pair
        without a socket of its own): its receivers then see no frames from it."""
        if self.dtls._state is not DtlsState.CONNECTED:  # (.state formats a string)
            return False
        pair = self._pairs.get(1)
        transport = pair.protocol.transport if pair is not None else None
        if transport is None or transport.is_closing():
            return False
        session = self.dtls._tx_srtp
        if self._sink_for != (pair, session):
            sink = forwarding.sink_for(pair, session)
            if sink is None:  # a relayed pair, a socket closed: nothing of its own to send on
                return False
            self._sink_for = (pair, session)
            self._driver.pacer.set_sink(self, sink)
        return True

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
        """Sequence numbers skipped in what arrived (since joining)."""
        return self.tally.lost


#: The lean driver's shortest sleep: sends due within it go out together.
LEAN_TICK_S = 0.002
#: How often the lean driver reads its sockets (they queue in the kernel meanwhile).
LEAN_READ_S = 0.010
#: How often it checks that each peer is still connected on the same pair and keys.
LEAN_CHECK_S = 0.05


def hold_lean_media(held: bool = True) -> None:
    """Lean peers of the running event loop connect but send nothing until released
    (``held=False``): a benchmark joins every peer first and then measures all of them
    sending (the steady state), rather than peers joining a server busy with the media
    of those that joined before them."""
    released = _LeanDriver.of(asyncio.get_running_loop()).released
    if held:
        released.clear()
    else:
        released.set()


class _LeanDriver:
    """All lean peers of one event loop sent and read by one task.

    On a virtual machine the first work after a process has slept costs ten to forty
    times the same work done warm (measured here: SRTP-unprotecting a packet 4 µs warm,
    37–115 µs after 2–5 ms asleep), so a synthetic client's cost is mostly its wake-ups:
    with each peer on its own timer and the event loop waking for every datagram, the
    clients woke about as often as the server and cost about as much, and took the
    cores a second media process would use. Here one task wakes when the next packets
    are due (at most every ``LEAN_TICK_S``; what is due within it goes out together),
    and its pacer (``_sendpath.Pacer``, in C) builds, SRTP-protects and sends every
    frame that is due; it reads every lean socket at most every ``LEAN_READ_S`` and
    counts RTP in C (``_sendpath.RtpCount``): the datagrams wait in the kernel's socket
    buffer meanwhile, and the event loop no longer watches those sockets. Every
    ``LEAN_CHECK_S`` each peer's connection, pair and keys are looked at in Python (a
    sink whose socket closed in between sends nothing). What reaches the server is
    unchanged: each peer's frames at its own 30 fps phase and its 20 ms audio,
    SRTP-protected with its own keys.
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
        self.pacer = _sendpath.Pacer()
        self.senders: set[LeanMedia] = set()
        self.readers: dict[int, tuple] = {}  # fd -> (socket, protocol, peer)
        self.poll = select.epoll()
        self.read_at = self.check_at = 0.0
        self.task: asyncio.Task | None = None
        self.released = asyncio.Event()  # cleared: peers connect but do not send yet
        self.released.set()

    def add(self, lean: "LeanMedia", sockets: list[tuple]) -> None:
        """Send ``lean``'s media (its streams on the pacer) from now on, and read its
        ``(socket, protocol)`` pairs (taken off the event loop where it allows that;
        else the loop keeps them)."""
        self.senders.add(lean)
        if not lean.check():
            self.remove(lean)
            return
        remove_reader = getattr(self.loop, "_remove_reader", None)  # the selector loop's
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
        self.senders.discard(lean)
        self.pacer.remove(lean)
        for fd, (_sock, _protocol, owner) in list(self.readers.items()):
            if owner is lean:
                self._forget(fd)

    def _forget(self, fd: int) -> None:
        self.readers.pop(fd, None)
        with contextlib.suppress(OSError):  # closed already (epoll dropped it)
            self.poll.unregister(fd)

    async def _run(self) -> None:
        try:
            while self.senders or self.readers:
                now = time.monotonic()
                if now >= self.check_at:
                    for lean in list(self.senders):
                        if not lean.check():
                            self.senders.discard(lean)
                            self.pacer.remove(lean)
                    self.check_at = now + LEAN_CHECK_S
                due = self.pacer.run(now)  # (each frame's send time: the clock's)
                if now >= self.read_at:
                    self._read()
                    self.read_at = now + LEAN_READ_S
                wake = min(due, self.read_at, self.check_at)
                await asyncio.sleep(max(LEAN_TICK_S, wake - time.monotonic()))
        finally:  # also when the loop closes with the task pending
            self._of.pop(self.loop, None)
            self.poll.close()

    def _read(self) -> None:
        """Every datagram waiting on a lean socket (recvmmsg, in C): RTP counted from its
        clear header, the rest (STUN, DTLS, RTCP) to its protocol's handler (aioice and
        aiortc); a decrypting peer's RTP to it."""
        for fd, _events in self.poll.poll(0):
            entry = self.readers.get(fd)
            if entry is None:
                continue
            _sock, protocol, lean = entry
            if protocol.transport is None or protocol.transport.is_closing():
                self._forget(fd)
                continue
            datagrams = lean.tally.read(fd, keep_rtp=lean.decrypt)
            if datagrams is None:  # the socket is gone
                self._forget(fd)
                continue
            for data, address in datagrams:
                if lean.decrypt and _is_rtp(data):
                    lean.receive_encrypted(data)
                else:
                    protocol.datagram_received(data, address)


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
        self._frames: dict[str, int] = {}  # mid -> encoded video frames received
        self._audio_packets: dict[str, int] = {}
        self.latencies: list[float] = []
        self._first_frame_at: float | None = None
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

    @property
    def frames(self) -> dict[str, int]:
        """Encoded video frames received, per mid (a lean peer's counted in C)."""
        if self.lean is not None:
            self.lean.sync()
        return self._frames

    @property
    def audio_packets(self) -> dict[str, int]:
        """Audio packets received, per mid."""
        if self.lean is not None:
            self.lean.sync()
        return self._audio_packets

    @property
    def first_frame_at(self) -> float | None:
        """time.monotonic() when the first remote video frame arrived."""
        if self.lean is not None and self._first_frame_at is None:
            self.lean.sync()
        return self._first_frame_at

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
        if self._first_frame_at is None:
            self._first_frame_at = time.monotonic()
        self._frames[mid] = self._frames.get(mid, 0) + 1
        data = packet.payload
        if len(data) > STAMP.size and data[-STAMP.size : -STAMP.size + 4] == MARK:
            _, sent = STAMP.unpack(data[-STAMP.size :])
            self.latencies.append((time.time() - sent) * 1000)

    def _audio(self, mid: str) -> None:
        self._audio_packets[mid] = self._audio_packets.get(mid, 0) + 1

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
