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
"""

from aiortc import RTCConfiguration
from aiortc import RTCPeerConnection
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy
from fractions import Fraction
from prorenata.videomote.media import forwarding

import aiohttp
import asyncio
import av
import json
import os
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
        codec = av.CodecContext.create("libopus", "w")
        codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(frame.planes[0].buffer_size))
        frame.sample_rate, frame.pts = 48000, 0
        packets = list(codec.encode(frame))
        self._data = bytes(packets[0]) if packets else b"\xf8\xff\xfe"
        self._index = 0
        self._start: float | None = None

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
    ):
        self.url, self.meeting, self.token = url, meeting, token
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
        own_video = pc.addTransceiver(
            ReplayTrack(self.clip) if self.clip else "video",
            direction="sendrecv" if self.clip else "recvonly",
        )
        pc.addTransceiver(
            SilenceTrack() if self.audio else "audio",
            direction="sendrecv" if self.audio else "recvonly",
        )
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
        self._reader = asyncio.ensure_future(self._read())
        offer = {"type": "offer", "sdp": pc.localDescription.sdp}
        if screen is not None:
            self.screen_mid = offer["screen"] = screen.mid
        await self.socket.send_json(offer)
        await asyncio.wait_for(self.answered.wait(), timeout)

    def _keyframe_requested(self) -> None:
        self.keyframe_requests += 1
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
