"""Slot tracks: what a viewer's peer connection sends, whoever currently fills the slot.

Each viewer's browser offers one send-receive pair (its own camera and microphone, and
the first other person) and receive-only pairs for the others. Every pair is a
:class:`Slot` with two :class:`SlotTrack`\\ s that live as long as the viewer's
connection: aiortc's sender stops for good when its track ends, so people come, leave
and come back by being assigned to a slot, never by replacing tracks.
"""

from aiortc.mediastreams import MediaStreamTrack
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field

import asyncio
import time

#: Items a slot may hold before the viewer counts as stalled (≈1 s of video).
MAX_QUEUED = 30


class SlotTrack(MediaStreamTrack):
    """Encoded packets (or, in re-encode mode, decoded frames) for one viewer.

    Video starts at a keyframe for every new source; timestamps stay continuous when the
    source changes, so the browser's jitter buffer never sees time run backwards.
    """

    def __init__(self, kind: str, need_keyframe: Callable[[], None] = lambda: None):
        super().__init__()
        self.kind = kind
        self.need_keyframe = need_keyframe
        self._queue: asyncio.Queue = asyncio.Queue()
        self._source: object = None
        self._waiting_for_keyframe = kind == "video"
        self._offset = 0
        self._rebase = False
        self._last_pts: int | None = None
        self._last_rate = 0
        self._last_wall = 0.0

    def assign(self, source: object) -> None:
        """Start taking media from ``source`` (a person, or None for nobody)."""
        if source is self._source:
            return
        self._source = source
        self._waiting_for_keyframe = self.kind == "video"
        self._rebase = True
        while not self._queue.empty():
            self._queue.get_nowait()

    def push(self, source: object, item, keyframe: bool) -> None:
        if source is not self._source or self.readyState != "live":
            return
        if self._waiting_for_keyframe:
            if not keyframe:
                self.need_keyframe()
                return
            self._waiting_for_keyframe = False
        if self._queue.qsize() >= MAX_QUEUED:
            # The viewer does not keep up: drop what is queued, restart at a keyframe.
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                self._waiting_for_keyframe = True
                self.need_keyframe()
                return
        rate = int(1 / item.time_base)
        now = time.monotonic()
        if self._rebase:
            self._rebase = False
            if self._last_pts is None:
                self._offset = 0
            else:
                gap = max(1, int((now - self._last_wall) * rate))
                self._offset = self._last_pts * rate // max(self._last_rate, 1) + gap - item.pts
        item.pts += self._offset
        self._last_pts, self._last_rate, self._last_wall = item.pts, rate, now
        self._queue.put_nowait(item)

    async def recv(self):
        return await self._queue.get()


@dataclass(eq=False)
class Slot:
    """One other person as a viewer sees them: a video and an audio transceiver.

    In forwarding mode ``writers`` (``forwarding.RtpRewriter``) send the occupant's RTP
    packets; in re-encode mode the ``tracks`` feed aiortc's own senders.
    """

    video: SlotTrack
    audio: SlotTrack
    video_mid: str | None = None
    audio_mid: str | None = None
    occupant: object = None
    tracks: dict = field(init=False)
    writers: dict = field(default_factory=dict)

    def __post_init__(self):
        self.tracks = {"video": self.video, "audio": self.audio}

    def assign(self, person: object) -> None:
        self.occupant = person
        self.video.assign(person)
        self.audio.assign(person)
        for writer in self.writers.values():
            writer.assign(person)


@dataclass(eq=False)
class ScreenSlot:
    """The screen share as one viewer sees it: one video transceiver, its own (a viewer's
    page offers one, after the people's pairs). The page sends its own screen on it when
    it shares and receives the room's screen share on it otherwise; the server fills it
    with the room's one sharer (never the viewer themselves), so a share costs no
    renegotiation. ``writers``/``tracks`` are keyed ``"screen"`` as the publisher's
    input is."""

    screen: SlotTrack
    mid: str | None = None
    occupant: object = None
    tracks: dict = field(init=False)
    writers: dict = field(default_factory=dict)

    def __post_init__(self):
        self.tracks = {"screen": self.screen}

    def assign(self, person: object) -> None:
        self.occupant = person
        self.screen.assign(person)
        for writer in self.writers.values():
            writer.assign(person)
