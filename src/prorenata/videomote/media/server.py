"""Signalling, room events and chat for the meeting room, over one WebSocket per person.

Its own asyncio program (``videomote-media``): aiohttp, aiortc, stdlib signing helpers,
nothing from the Zope application server. A person joins by sending
``{"type": "join", "meeting": <uid>, "token": <join token from Plone>}`` as the first
message (never in the URL); the server checks signature, expiry, meeting and role and
closes with a clear reason otherwise. Chat works over this socket even when media (UDP)
cannot.

Media: the browser then sends ``{"type": "offer", "sdp": ...}`` (complete, candidates
included) for its camera and microphone plus receive-only slots for the others; the server
answers from one aiortc peer connection per person (DTLS-SRTP, VP8 + Opus, max-bundle,
only the configured ICE servers) and forwards every person's encoded frames into the
others' slots (``forwarding.py``; ``mode = reencode`` uses aiortc's stock decode and
encode instead). ``{"type": "slots"}`` tells each page which transceiver shows whom.

Screen sharing: the offer may name one more video transceiver (``"screen": <mid>``) that
carries the page's own screen when it shares and the room's screen share otherwise. One
person shares at a time; ``{"type": "screen", "on": true}`` asks to, and the server
refuses (``screen-refused``) a participant unless staff allowed it in this meeting
(``screen-permission``), whatever the page shows: only the accepted sharer's packets are
routed to anyone. ``{"type": "screen", "id", "name", "mid"}`` tells each page who shares
and on which of its transceivers (``id`` null: nobody).
"""

from aiohttp import web
from aiohttp import web_response
from aiortc import RTCConfiguration
from aiortc import RTCPeerConnection
from aiortc import RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from prorenata.videomote.access import media_failover
from prorenata.videomote.access.jointoken import media_secrets
from prorenata.videomote.access.jointoken import verify_control_token
from prorenata.videomote.access.jointoken import verify_join_token
from prorenata.videomote.access.revocation import Removals
from prorenata.videomote.access.revocation import clean_reason
from prorenata.videomote.access.revocation import clean_who
from prorenata.videomote.access.revocation import issued_at
from prorenata.videomote.media import attendance
from prorenata.videomote.media import forwarding
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.config import load as load_config
from prorenata.videomote.media.slots import ScreenSlot
from prorenata.videomote.media.slots import Slot
from prorenata.videomote.media.slots import SlotTrack

import aiohttp
import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import os
import secrets
import time
import unicodedata
import uvloop

logger = logging.getLogger("prorenata.videomote.media")

MAX_PEOPLE = 4
MAX_CHAT_LENGTH = 1000
MAX_MESSAGE_BYTES = 64 * 1024
#: The media sections an offer may have: a camera and microphone pair per other person
#: (the first also sends the page's own) and the screen (room.js, synthetic.py). Each
#: costs two transceivers and their part of the answer: a larger offer is refused
#: before anything is made for it.
MAX_OFFER_MEDIA = 2 * (MAX_PEOPLE - 1) + 1
#: The remote candidates an offer may name: each is a target of connectivity checks this
#: server sends (a browser names a handful).
MAX_OFFER_CANDIDATES = 32
#: Messages a person may send per 10 seconds in a room, over all their connections: of
#: any kind, chat, and offers (each offer makes a peer connection: a certificate, a UDP
#: port, candidate gathering); screen share starts/stops and staff's permission changes
#: (each tells everyone and asks the sharer for a keyframe).
PER_10_SECONDS = {"*": 60, "chat": 20, "offer": 5, "screen": 10, "screen-permission": 10}
FLOOD_WINDOW_SECONDS = 10.0
JOIN_TIMEOUT_SECONDS = 10
#: A publisher is asked for a keyframe at most this often.
KEYFRAME_INTERVAL_SECONDS = 0.5

CLOSE_BAD_TOKEN = 4401
CLOSE_ROOM_FULL = 4403
CLOSE_PROTOCOL = 4400
CLOSE_ENDED = 4410
CLOSE_FLOOD = 4429
CLOSE_REPLACED = 4409
#: The meeting left this node (its media failed here): the page asks Plone for a fresh
#: token, which names the new node.
CLOSE_MOVED = 4012
#: A peer connection closed after this long without ever connecting counts as a failed
#: one (ICE through a blocked UDP plane can take aioice half a minute to call "failed";
#: the page gives up sooner).
CONNECT_GRACE_SECONDS = 8.0
#: Removed from the meeting by the journal (an extra participant taken off it, staff who
#: lost access to the student's record): the page stops and says why; their tokens up to
#: then are refused.
CLOSE_REMOVED = 4411


@dataclass(eq=False)
class Person:
    socket: web.WebSocketResponse
    name: str
    role: str
    #: Who this is beyond the shown name (the token's ``w``): a newer connection of the
    #: same person replaces the older one, never someone else's who shows the same name.
    who: str = ""
    id: str = field(default_factory=lambda: secrets.token_hex(4))
    pc: RTCPeerConnection | None = None
    inputs: dict = field(default_factory=dict)  # kind -> RTCRtpReceiver of their own media
    slots: list[Slot] = field(default_factory=list)
    #: Their page's screen transceiver (the offer's ``screen`` mid): their own screen in,
    #: the room's screen share out. None for a page that offered none.
    screen_mid: str | None = None
    screen_slot: ScreenSlot | None = None
    #: The last ``screen`` message they were sent (only changes are sent).
    screen_told: dict | None = None
    last_keyframe_request: dict = field(default_factory=dict)  # input kind -> time
    tasks: set = field(default_factory=set)
    muted: bool = False
    camera: bool = True
    #: Where the journal takes this person's join and leave (the token's ``a``), and
    #: which meeting and time the reports are about.
    report_url: str = ""
    meeting: str = ""
    generation: int = 0

    def identity(self) -> tuple[str, str]:
        # Tokens without ``who`` (older Plone) fall back to the shown name.
        return (self.role, self.who or self.name)

    def same_person(self, other: "Person") -> bool:
        return self.identity() == other.identity()

    def public(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "muted": self.muted,
            "camera": self.camera,
        }

    async def send(self, message: dict) -> None:
        if not self.socket.closed:
            # ConnectionResetError: they are leaving; their own handler cleans up.
            with contextlib.suppress(ConnectionResetError):
                await self.socket.send_str(json.dumps(message))

    async def close_media(self) -> None:
        pc, self.pc = self.pc, None
        for task in self.tasks:
            task.cancel()
        self.inputs, self.slots = {}, []
        self.screen_slot, self.screen_told = None, None
        if pc is not None:
            forwarding.stop_forwarding(pc)  # before its receivers leave one by one
            await pc.close()


@dataclass
class Room:
    #: The meeting and which of its times (a moved meeting's room is another room).
    key: str
    people: list[Person] = field(default_factory=list)
    ended: bool = False
    # (publisher, kind) -> the writers of the viewers' slots that show them; made again
    # after every change of people or slots (None until then). ``kind`` "screen" is a
    # screen share: only the accepted sharer's has any writers.
    routes: dict | None = field(default=None, repr=False)
    #: Who shares their screen (one at a time), and whether participants may (staff
    #: always may). Kept only as long as the room: a new room starts without.
    sharer: Person | None = None
    participants_may_share: bool = False

    async def broadcast(self, message: dict, skip: Person | None = None) -> None:
        for person in list(self.people):
            if person is not skip:
                await person.send(message)

    # -- media ---------------------------------------------------------------------
    def forward(self, publisher: Person, kind: str, packet, keyframe: bool) -> None:
        """One RTP packet of ``publisher`` to every viewer's slot that shows them."""
        routes = self.routes
        if routes is None:
            routes = self.routes = self._route_table()
        writers = routes.get((publisher, kind))
        if writers:
            now = forwarding.ntp_now()
            for write in writers:
                try:
                    write(publisher, packet, keyframe, now)
                except Exception:  # one viewer's failure must not keep it from the others
                    logger.exception("forwarding an RTP packet to a viewer failed")

    def _route_table(self) -> dict:
        table: dict = {}
        for viewer in self.people:
            for slot in viewer_slots(viewer):
                if slot.occupant is not None and slot.occupant is not viewer:
                    for kind, writer in slot.writers.items():
                        table.setdefault((slot.occupant, kind), []).append(writer.write)
        return {key: tuple(writers) for key, writers in table.items()}

    def forward_decoded(self, publisher: Person, kind: str, frame) -> None:
        """Re-encode mode: one decoded frame to the viewers' slot tracks (encoded there)."""
        for viewer in self.people:
            if viewer is publisher:
                continue
            for slot in viewer_slots(viewer):
                if slot.occupant is publisher and kind in slot.tracks:
                    slot.tracks[kind].push(publisher, frame, True)

    def request_keyframe(self, publisher: Person | None, kind: str = "video") -> None:
        """Ask ``publisher`` for a keyframe of their camera (or ``kind`` "screen")."""
        if publisher is None or kind not in publisher.inputs:
            return
        now = time.monotonic()
        if now - publisher.last_keyframe_request.get(kind, 0.0) < KEYFRAME_INTERVAL_SECONDS:
            return
        publisher.last_keyframe_request[kind] = now
        task = asyncio.ensure_future(forwarding.request_keyframe(publisher.inputs[kind]))
        publisher.tasks.add(task)
        task.add_done_callback(publisher.tasks.discard)

    async def assign_slots(self) -> None:
        """Fill every viewer's slots with the other people, keeping who is where."""
        self.routes = None
        for viewer in self.people:
            if not viewer.slots:
                continue
            others = [p for p in self.people if p is not viewer and p.pc is not None]
            changed = False
            for slot in viewer.slots:
                if slot.occupant is not None and slot.occupant not in others:
                    slot.assign(None)
                    changed = True
            placed = {slot.occupant for slot in viewer.slots}
            for person in others:
                if person in placed:
                    continue
                free = next((slot for slot in viewer.slots if slot.occupant is None), None)
                if free is None:
                    break
                free.assign(person)
                changed = True
            self.routes = None
            if changed:
                await viewer.send(
                    {
                        "type": "slots",
                        "slots": [
                            dict(
                                slot.occupant.public(),
                                video=slot.video_mid,
                                audio=slot.audio_mid,
                            )
                            for slot in viewer.slots
                            if slot.occupant is not None
                        ],
                    }
                )
        await self.update_screen()

    # -- screen sharing ------------------------------------------------------------
    def may_share(self, person: Person) -> bool:
        return person.role == "staff" or self.participants_may_share

    def share_refusal(self, person: Person) -> str | None:
        """Why ``person`` may not share their screen now, or None."""
        if not self.may_share(person):
            return "not allowed"
        if self.sharer is not None and self.sharer is not person:
            return "busy"
        if person.pc is None or "screen" not in person.inputs:
            return "no screen"  # no offer with a screen transceiver (yet)
        return None

    async def update_screen(self) -> None:
        """Put the sharer (if still here, connected and allowed) in every other viewer's
        screen slot; tell each page who shares, when that changed for it."""
        sharer = self.sharer
        if sharer is not None and (
            sharer not in self.people
            or sharer.pc is None
            or "screen" not in sharer.inputs
            or not self.may_share(sharer)
        ):
            sharer = self.sharer = None
        for viewer in list(self.people):
            slot = viewer.screen_slot
            shown = sharer if sharer is not viewer else None
            if slot is not None and slot.occupant is not shown:
                slot.assign(shown)
                self.routes = None
            message = {
                "type": "screen",
                "id": sharer.id if sharer else None,
                "name": sharer.name if sharer else "",
                "role": sharer.role if sharer else "",
                "mid": slot.mid if slot is not None and shown is not None else None,
            }
            if viewer.pc is not None and message != viewer.screen_told:
                viewer.screen_told = message
                await viewer.send(message)
        if sharer is not None:
            self.request_keyframe(sharer, "screen")

    async def share(self, person: Person, on: bool) -> None:
        """``person`` starts (or stops) sharing their screen; refused unless allowed."""
        if not on:
            if self.sharer is person:
                self.sharer = None
                await self.update_screen()
            return
        refusal = self.share_refusal(person)
        if refusal is not None:
            await person.send({"type": "screen-refused", "reason": refusal})
            return
        self.sharer = person
        await self.update_screen()

    async def allow_sharing(self, on: bool) -> None:
        """Staff allow (or no longer allow) participants to share; a participant's share
        under way stops with the permission."""
        self.participants_may_share = on
        await self.broadcast({"type": "screen-permission", "on": on})
        await self.update_screen()


def viewer_slots(viewer: Person) -> list:
    """A viewer's slots for the others' cameras and, if their page has one, for the
    screen share."""
    if viewer.screen_slot is None:
        return viewer.slots
    return [*viewer.slots, viewer.screen_slot]


def room_key(claims: dict) -> str:
    """A join token's room: its meeting, and which time of it (the token's ``g``, counted
    up by every move), so that a moved meeting's old room can end and its new one start."""
    generation = claims.get("g", 0)
    return f"{claims['m']}#{generation}" if generation else claims["m"]


class FloodLimits:
    """Recent message times per (room, person) and kind, outside any one connection:
    coming back with a fresh connection (the same join token or a new one) starts no
    fresh count. Entries quiet for a window are swept, so memory follows who is active."""

    def __init__(self):
        self._times: dict[tuple, dict[str, list[float]]] = {}
        self._swept = 0.0

    def over(self, who: tuple, kind: str, now: float | None = None) -> bool:
        """Count one message of ``kind``; whether it takes ``who`` over a limit of
        :data:`PER_10_SECONDS`."""
        now = time.monotonic() if now is None else now
        self._sweep(now)
        buckets = self._times.setdefault(who, {})
        over = False
        for bucket in ("*", kind):
            limit = PER_10_SECONDS.get(bucket)
            if limit is None:
                continue
            recent = [t for t in buckets.get(bucket, ()) if now - t < FLOOD_WINDOW_SECONDS]
            buckets[bucket] = (recent + [now])[-(limit + 1) :]
            over = over or len(recent) + 1 > limit
        return over

    def _sweep(self, now: float) -> None:
        if now - self._swept < FLOOD_WINDOW_SECONDS:
            return
        self._swept = now
        quiet = [
            who
            for who, buckets in self._times.items()
            if all(
                not times or now - times[-1] >= FLOOD_WINDOW_SECONDS for times in buckets.values()
            )
        ]
        for who in quiet:
            del self._times[who]


class MediaHealth:
    """Whether this node's media plane works, from its own peer connections: which
    connected and which failed (ICE or DTLS) over the last minute, in which room (a
    UDP port range blocked by a firewall, a broken network path: signalling still works,
    media does not). ``/health`` reports it (``media_failover.media_plane_failing``)."""

    def __init__(self, now=time.monotonic):
        self._now = now
        #: open peer connection → [started, room key, connected, failed]
        self._open: dict = {}
        self._events: list[media_failover.MediaEvent] = []

    def started(self, pc: RTCPeerConnection, room_key: str) -> None:
        self._open[pc] = [self._now(), room_key, False, False]

    def observe(self, pc: RTCPeerConnection) -> None:
        """A connection state change of ``pc`` (its ``connectionstatechange``)."""
        entry = self._open.get(pc)
        if entry is None:
            return
        state, now = pc.connectionState, self._now()
        if state == "connected" and not entry[2]:
            entry[2] = True
            self._add(media_failover.MediaEvent(now, True, entry[1]))
        elif state == "failed" and not entry[3]:
            entry[3] = True
            self._add(media_failover.MediaEvent(now, False, entry[1]))
        elif state == "closed":
            del self._open[pc]
            if not entry[2] and not entry[3] and now - entry[0] >= CONNECT_GRACE_SECONDS:
                self._add(media_failover.MediaEvent(now, False, entry[1]))

    def _add(self, event: media_failover.MediaEvent) -> None:
        window = media_failover.REPORT_WINDOW_SECONDS
        self._events = [e for e in self._events if event.at - e.at < window][-999:]
        self._events.append(event)

    def summary(self) -> dict:
        """For ``/health``: counts over the last minute, and the verdict."""
        now = self._now()
        window = [e for e in self._events if now - e.at < media_failover.REPORT_WINDOW_SECONDS]
        connected = sum(
            1 for pc, entry in self._open.items() if entry[2] and pc.connectionState == "connected"
        )
        return {
            "failing": media_failover.media_plane_failing(window, connected, now),
            "connected": connected,
            "succeeded": sum(1 for e in window if e.ok),
            "failed": sum(1 for e in window if not e.ok),
        }


class Rooms:
    """The only global state: open rooms by room key (meeting and time), and the
    message counts of the people in them."""

    def __init__(self):
        self._rooms: dict[str, Room] = {}
        self._ended: set[str] = set()
        self.flood = FloodLimits()
        self.media = MediaHealth()

    def join(self, key: str, person: Person) -> tuple[Room | str, Person | None]:
        """The room, or why not (``"ended"``, ``"full"``); and whom ``person`` replaces.

        Coming back (a reconnect after a network drop, a reloaded page) replaces the
        earlier connection of the same person and role, which may not have noticed yet.
        """
        if key in self._ended:
            return "ended", None
        room = self._rooms.setdefault(key, Room(key))
        earlier = next((p for p in room.people if p.same_person(person)), None)
        if earlier is not None:
            room.people.remove(earlier)
        elif len(room.people) >= MAX_PEOPLE:
            return "full", None
        room.people.append(person)
        room.routes = None
        return room, earlier

    async def end(self, key: str, by: "Person | None" = None, reason: str = "") -> None:
        """End the meeting: from now on nobody joins its room again (in this process);
        everyone in it is told (``reason``: "moved" when it moved to a new time), loses
        their media and is disconnected (but ``by``, whose own connection ends with its
        handler)."""
        self._ended.add(key)
        room = self._rooms.get(key)
        if room is None:
            return
        room.ended = True
        await room.broadcast({"type": "ended", **({"reason": reason} if reason else {})})
        people = list(room.people)
        for someone in people:
            await someone.close_media()
        await asyncio.gather(
            *(
                someone.socket.close(code=CLOSE_ENDED, message=b"meeting ended")
                for someone in people
                if someone is not by
            )
        )

    async def move(self, key: str) -> int:
        """The meeting moved to another node: close its room's sockets here (it is not
        ended: its pages ask Plone for a fresh token and follow). How many were open."""
        room = self._rooms.get(key)
        people = list(room.people) if room is not None else []
        for someone in people:
            await someone.close_media()
        await asyncio.gather(
            *(
                someone.socket.close(code=CLOSE_MOVED, message=b"moved to another node")
                for someone in people
            )
        )
        return len(people)

    def leave(self, room: Room, person: Person) -> None:
        if person in room.people:
            room.people.remove(person)
        room.routes = None
        if not room.people:
            self._rooms.pop(room.key, None)

    def load(self) -> dict:
        """What Plone reads to place a new meeting on the least loaded node: open rooms
        and the people (each one stream up, up to three down) in them; no names."""
        return {
            "rooms": len(self._rooms),
            "people": sum(len(room.people) for room in self._rooms.values()),
        }

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            for person in list(room.people):
                await person.close_media()
                await person.socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"restart")
        self._rooms.clear()


def clean_chat(text: str) -> str:
    """Chat text without control characters, at most MAX_CHAT_LENGTH characters."""
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return kept.strip()[:MAX_CHAT_LENGTH]


#: Why Rooms.join turned someone away: the close code and reason their page gets.
REFUSALS = {
    "ended": (CLOSE_ENDED, b"meeting ended"),
    "full": (CLOSE_ROOM_FULL, b"room full"),
}


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """One person's connection: join, then their messages until either side closes."""
    app = request.app
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE_BYTES)
    await socket.prepare(request)
    data = await _first_message(socket)
    if not isinstance(data, dict) or data.get("type") != "join":
        await socket.close(code=CLOSE_PROTOCOL, message=b"join first")
        return socket
    claims = verify_join_token(
        str(data.get("token", "")), app[SECRET_KEY], str(data.get("meeting", ""))
    )
    if claims is None:
        await socket.close(code=CLOSE_BAD_TOKEN, message=b"invalid or expired token")
        return socket
    if await _refuse_removed(app, socket, claims):
        return socket
    person = Person(
        socket=socket,
        name=claims["n"],
        role=claims["r"],
        who=claims.get("w", ""),
        report_url=str(claims.get("a", "")),
        meeting=claims["m"],
        generation=int(claims.get("g", 0) or 0),
    )
    room, earlier = app[ROOMS_KEY].join(room_key(claims), person)
    if earlier is not None:
        await _replace(earlier, room)
    if isinstance(room, str):
        code, reason = REFUSALS[room]
        await socket.close(code=code, message=reason)
        return socket
    _report(app, person, attendance.JOIN)
    await _welcome(app, room, person, returning=earlier is not None)
    try:
        await _read_messages(app, room, person)
    finally:
        await _leave(app, room, person)
    return socket


def parse_json(text: str | bytes) -> object:
    """JSON from a page or a caller, or None where it is none (also nested too deep for
    the parser: ``[[[[…`` within the message size raises RecursionError)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return None


async def _first_message(socket: web.WebSocketResponse) -> object:
    """The parsed first text message (anything JSON), or {} when none came in time."""
    try:
        first = await socket.receive(timeout=JOIN_TIMEOUT_SECONDS)
    except TimeoutError:
        return {}
    parsed = parse_json(first.data) if first.type == aiohttp.WSMsgType.TEXT else None
    return {} if parsed is None else parsed


async def _replace(earlier: Person, room: Room) -> None:
    """Close the connection a returning person left behind."""
    await earlier.close_media()
    await earlier.socket.close(code=CLOSE_REPLACED, message=b"replaced")
    # Its picture goes from the others' pages now, not when (or if) the new
    # connection's offer succeeds.
    await room.assign_slots()


async def _welcome(app: web.Application, room: Room, person: Person, returning: bool) -> None:
    """Tell ``person`` who is here and how to reach the media; tell the others about a
    newcomer (not about someone coming back: they never saw them leave)."""
    await person.socket.send_str(
        json.dumps(
            {
                "type": "welcome",
                "you": person.id,
                "people": [p.public() for p in room.people if p is not person],
                "iceServers": app[CONFIG_KEY].browser_ice_servers(),
                "screenPermission": room.participants_may_share,
            }
        )
    )
    if not returning:
        await room.broadcast(dict(person.public(), type="joined"), person)


async def _read_messages(app: web.Application, room: Room, person: Person) -> None:
    """Handle ``person``'s text messages until the socket closes or a message ends it."""
    async for message in person.socket:
        if message.type != aiohttp.WSMsgType.TEXT:
            continue
        if not await handle(app, room, person, message.data):
            break


async def _leave(app: web.Application, room: Room, person: Person) -> None:
    """``person``'s connection is over: their media stops; unless a newer connection of
    theirs replaced this one, the others' slots are re-assigned and they are told."""
    replaced = person not in room.people
    app[ROOMS_KEY].leave(room, person)
    await person.close_media()
    if not replaced:
        _report(app, person, attendance.LEAVE, leave_reason(room, person))
        await room.assign_slots()
        await room.broadcast(dict(person.public(), type="left"))


#: Close codes a page sends when it hangs up on purpose ("Lämna", a closed tab).
HUNG_UP = (aiohttp.WSCloseCode.OK, aiohttp.WSCloseCode.GOING_AWAY)


def leave_reason(room: Room, person: Person) -> str:
    """Why ``person``'s connection ended: the meeting ended, they hung up, or it broke
    (no close frame, a failed heartbeat, any other code: the page reconnects if it can)."""
    if room.ended:
        return "ended"
    if person.socket.close_code == CLOSE_REMOVED:
        return "left"  # the journal took them out: no broken connection to wait for
    return "left" if person.socket.close_code in HUNG_UP else "lost"


def _report(app: web.Application, person: Person, kind: str, reason: str = "") -> None:
    """Tell the journal (if the token named one) that ``person`` joined or left."""
    if person.report_url:
        app[REPORTER_KEY].report(
            person.report_url,
            attendance.event(
                person.meeting,
                person.generation,
                person.who or person.name,
                person.name,
                person.role,
                kind,
                reason,
            ),
        )


async def answer(
    app: web.Application, room: Room, person: Person, sdp: str, screen_mid: str | None = None
) -> str:
    """Answer a browser's offer: its own media in, the other people out through slots;
    ``screen_mid``: the offer's transceiver for screen sharing (see the module's text)."""
    check_offer_size(sdp)
    config: MediaConfig = app[CONFIG_KEY]
    if room.sharer is person:
        # A new connection: the page asks again once it sends its screen on it.
        room.sharer = None
    await person.close_media()
    person.screen_mid = screen_mid
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=config.ice_servers(), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
    )
    person.pc = pc
    app[ROOMS_KEY].media.started(pc, room.key)
    pc.on("connectionstatechange", lambda: app[ROOMS_KEY].media.observe(pc))
    pc.on("track", lambda track: _take_input(config, room, person, pc, track))
    pc.on("connectionstatechange", lambda: _on_connection_state(room, person, pc))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
    _add_slots(config, room, person, pc)
    if not person.slots:
        raise ValueError("the offer has no audio and video to exchange")
    addresses = config.host_addresses()
    forwarding.use_host_addresses(pc, addresses, config.announced_address, config.udp_ports)
    await pc.setLocalDescription(await pc.createAnswer())
    _refuse_without_candidates(config, pc, addresses)
    if config.mode == "forward":
        forwarding.receive_directly(pc)
    await room.assign_slots()
    return pc.localDescription.sdp


def check_offer_size(sdp: str) -> None:
    """Refuse (ValueError) an offer with more media sections or remote candidates than a
    page makes, before a peer connection, transceiver or check is made for it."""
    lines = sdp.splitlines()
    if sum(1 for line in lines if line.startswith("m=")) > MAX_OFFER_MEDIA:
        raise ValueError("too many media sections")
    if sum(1 for line in lines if line.startswith("a=candidate:")) > MAX_OFFER_CANDIDATES:
        raise ValueError("too many candidates")


def _take_input(
    config: MediaConfig, room: Room, person: Person, pc: RTCPeerConnection, track
) -> None:
    """A track the browser sends (its camera or microphone, or on its screen transceiver
    its screen): forward its packets to the others' slots (``mode = forward``), or decode
    it for re-encoding."""
    receiver = forwarding.receiver_for(pc, track)
    if receiver is None:
        return
    mid = next((t.mid for t in pc.getTransceivers() if t.receiver is receiver), None)
    screen = track.kind == "video" and person.screen_mid is not None and mid == person.screen_mid
    kind = "screen" if screen else track.kind
    if kind in person.inputs:
        return
    person.inputs[kind] = receiver
    if config.mode == "forward":

        def on_packet(packet, keyframe):
            room.forward(person, kind, packet, keyframe)

        forwarding.forward_packets(receiver, on_packet, remb=config.remb)
    else:
        task = asyncio.ensure_future(read_decoded(room, person, track, kind))
        person.tasks.add(task)


async def _on_connection_state(room: Room, person: Person, pc: RTCPeerConnection) -> None:
    """Tell the page how its media connection is; a failed one frees its slots."""
    if person.pc is pc:
        await person.send({"type": "media", "state": pc.connectionState})
    if pc.connectionState == "failed" and person.pc is pc:
        await person.close_media()
        await room.assign_slots()


def _add_slots(config: MediaConfig, room: Room, person: Person, pc: RTCPeerConnection) -> None:
    """One slot (a video and an audio transceiver) per pair the offer has room for, and
    the screen slot on the transceiver the offer named for it."""
    screen = next(
        (
            t
            for t in pc.getTransceivers()
            if t.kind == "video" and person.screen_mid is not None and t.mid == person.screen_mid
        ),
        None,
    )
    if screen is None:
        person.screen_mid = None  # names no video transceiver of this offer
    videos = [t for t in pc.getTransceivers() if t.kind == "video" and t is not screen]
    audios = [t for t in pc.getTransceivers() if t.kind == "audio"]
    pairs = list(zip(videos, audios, strict=False))[: MAX_PEOPLE - 1]  # the others, at most
    for video, audio in pairs:
        person.slots.append(_slot(config, room, video, audio))
    if screen is not None and person.slots:
        person.screen_slot = _screen_slot(config, room, screen)


def _screen_slot(config: MediaConfig, room: Room, transceiver) -> ScreenSlot:
    """The viewer's screen transceiver: sends the room's sharer; receives their own
    screen (an input "screen", see ``_take_input``)."""
    forwarding.prefer_codec(transceiver, "video/VP8")
    slot = ScreenSlot(SlotTrack("video"), transceiver.mid)

    def keyframe_please(slot=slot):
        room.request_keyframe(slot.occupant, "screen")

    slot.screen.need_keyframe = keyframe_please
    transceiver.sender.replaceTrack(slot.screen)
    transceiver.direction = "sendrecv"
    if config.mode == "forward":
        slot.writers["screen"] = forwarding.RtpRewriter(
            transceiver.sender, transceiver, keyframe_please
        )
    forwarding.on_keyframe_request(transceiver.sender, keyframe_please)
    return slot


def _slot(config: MediaConfig, room: Room, video, audio) -> Slot:
    """A slot on ``video`` and ``audio``: sends whoever occupies it; a viewer's keyframe
    request goes to that occupant."""
    forwarding.prefer_codec(video, "video/VP8")
    slot = Slot(SlotTrack("video"), SlotTrack("audio"), video.mid, audio.mid)

    def keyframe_please(slot=slot):
        room.request_keyframe(slot.occupant)

    slot.video.need_keyframe = keyframe_please
    for transceiver, track in ((video, slot.video), (audio, slot.audio)):
        transceiver.sender.replaceTrack(track)
        transceiver.direction = "sendrecv"
        if config.mode == "forward":
            slot.writers[transceiver.kind] = forwarding.RtpRewriter(
                transceiver.sender, transceiver, keyframe_please
            )
    forwarding.on_keyframe_request(video.sender, keyframe_please)
    return slot


def _refuse_without_candidates(
    config: MediaConfig, pc: RTCPeerConnection, addresses: list[str]
) -> None:
    """An answer without candidates leaves the page "Ansluter…" for ever: refuse it."""
    if "\na=candidate:" in pc.localDescription.sdp:
        return
    low, high = config.udp_ports
    logger.error(
        "no ICE candidate to answer with: no UDP port free in %s-%s on %s "
        "(set ice_addresses and udp_ports)",
        low,
        high,
        ", ".join(addresses),
    )
    raise RuntimeError("no ICE candidates")


async def read_decoded(room: Room, person: Person, track, kind: str) -> None:
    """Re-encode mode: read the decoded track continuously and hand frames on."""
    try:
        while True:
            frame = await track.recv()
            room.forward_decoded(person, kind, frame)
    except Exception:  # MediaStreamError at the end; anything else ends the reader too
        return


async def handle(app: web.Application, room: Room, person: Person, raw: str) -> bool:
    """One message from ``person``; False closes their socket."""
    data = parse_json(raw)
    kind = data.get("type") if isinstance(data, dict) else None
    # Malformed messages count too (each is parsed): under "*", the limit of any kind.
    if app[ROOMS_KEY].flood.over((room.key, *person.identity()), str(kind)):
        await person.socket.close(code=CLOSE_FLOOD, message=b"too many messages")
        return False
    if not isinstance(kind, str):
        await person.socket.send_str(json.dumps({"type": "error", "reason": "malformed"}))
        return True
    if kind == "chat":
        text = clean_chat(str(data.get("text", "")))
        if text:
            await room.broadcast(
                {
                    "type": "chat",
                    "from": person.name,
                    "role": person.role,
                    "text": text,
                    "time": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
        return True
    if kind == "offer":
        try:
            screen = data.get("screen")
            sdp = await answer(
                app, room, person, str(data.get("sdp", "")), str(screen) if screen else None
            )
        except Exception as error:  # malformed SDP, no common codec, ...
            logger.info("refused an offer: %s", type(error).__name__)
            await person.close_media()
            await person.send({"type": "error", "reason": "bad offer"})
            return True
        await person.send({"type": "answer", "sdp": sdp})
        return True
    return await _control(app, room, person, str(kind), bool(data.get("on")))


async def _control(app: web.Application, room: Room, person: Person, kind: str, on: bool) -> bool:
    """Microphone, camera and screen states; staff's screen permission and "end"."""
    if kind in ("muted", "camera"):
        setattr(person, kind, on)
        await room.broadcast(dict(person.public(), type=kind, on=on), person)
        return True
    if kind == "screen":
        await room.share(person, on)
        return True
    if kind == "screen-permission" and person.role == "staff":
        await room.allow_sharing(on)
        return True
    if kind == "end" and person.role == "staff":
        # Everyone is told; their pages show "Mötet är avslutat" and hang up.
        await app[ROOMS_KEY].end(room.key, by=person)
        return False
    await person.socket.send_str(json.dumps({"type": "error", "reason": "unknown type"}))
    return True


async def _from_plone(request: web.Request, action: str) -> dict | web.Response:
    """The claims of Plone's call ``action`` (``{"meeting", "token"}``, the token signed
    for that call, with its details: ``jointoken.issue_control_token``), or the refusal
    to answer with. A join token, which every page in the room holds, is refused: staff
    who lost access to the record must not end the room or take the family out."""
    data = parse_json(await request.text())
    if not isinstance(data, dict):
        return web.json_response({"error": "malformed"}, status=400)
    claims = verify_control_token(
        str(data.get("token", "")), request.app[SECRET_KEY], str(data.get("meeting", "")), action
    )
    if claims is None:
        return web.json_response({"error": "Plone's signed call required"}, status=403)
    return claims


async def end_meeting(request: web.Request) -> web.Response:
    """POST by Plone when staff end the meeting there ("Avsluta mötet" while the page's
    own connection was down) or move it to a new time: ``{"meeting", "token"}``, the
    token Plone's "end" call for the room (time) to end, its ``reason`` "moved" or none."""
    claims = await _from_plone(request, "end")
    if isinstance(claims, web.Response):
        return claims
    reason = "moved" if claims.get("reason") == "moved" else ""
    await request.app[ROOMS_KEY].end(room_key(claims), reason=reason)
    return web.json_response({"ended": True})


async def move_meeting(request: web.Request) -> web.Response:
    """POST by Plone when a meeting left this node (its media failed here): ``{"meeting",
    "token"}``, Plone's "move" call for the room; its pages are disconnected and follow."""
    claims = await _from_plone(request, "move")
    if isinstance(claims, web.Response):
        return claims
    closed = await request.app[ROOMS_KEY].move(room_key(claims))
    return web.json_response({"moved": True, "closed": closed})


async def _refuse_removed(app: web.Application, socket: web.WebSocketResponse, claims) -> bool:
    """Close a connection whose token was issued to someone before the journal removed
    them from the room (``remove_people``): True if it was refused."""
    who = str(claims.get("w", "") or claims["n"])
    reason = app[REMOVALS_KEY].refusal(room_key(claims), who, issued_at(claims))
    if not reason:
        return False
    await socket.send_str(json.dumps({"type": "removed", "reason": reason}))
    await socket.close(code=CLOSE_REMOVED, message=b"removed")
    return True


async def remove_people(request: web.Request) -> web.Response:
    """POST by Plone once it committed that people lost the right to be in a meeting:
    ``{"meeting", "token"}``; ``token`` Plone's "remove" call for the room (time), with
    ``who`` (the join tokens' ``w`` of the people), ``before`` (Plone's time of the
    removal, seconds) and ``reason`` signed in it. Their connections close now (the
    page is told ``{"type": "removed", "reason"}`` and gets 4411) and their tokens issued
    up to ``before`` are refused from now on; everybody else stays connected."""
    claims = await _from_plone(request, "remove")
    if isinstance(claims, web.Response):
        return claims
    who, before = clean_who(claims.get("who")), _seconds(claims.get("before"))
    if not who or before is None:
        return web.json_response({"error": "malformed"}, status=400)
    reason = clean_reason(claims.get("reason"))
    key = room_key(claims)
    request.app[REMOVALS_KEY].add(key, who, before, reason)
    closed = await _close_removed(request.app, key, set(who), reason)
    # No names: how many connections closed, in which meeting.
    logger.info("removed %d connection(s) from meeting %s (%s)", closed, claims["m"], reason)
    return web.json_response({"removed": closed})


def _seconds(value: object) -> float | None:
    """A finite time in seconds, or None (not a number, NaN, or too large for a float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) else None


async def _close_removed(app: web.Application, key: str, who: set, reason: str) -> int:
    """Close the connections of ``who`` in room ``key`` (their media first: nothing of
    theirs reaches the others after this); the others' slots are assigned anew by each
    connection's own handler as it ends."""
    room = app[ROOMS_KEY]._rooms.get(key)
    if room is None:
        return 0
    gone = [p for p in room.people if (p.who or p.name) in who]
    for person in gone:
        await person.send({"type": "removed", "reason": reason})
        await person.close_media()
    if gone:
        await room.assign_slots()
    await asyncio.gather(*(p.socket.close(code=CLOSE_REMOVED, message=b"removed") for p in gone))
    return len(gone)


async def health(request: web.Request) -> web.Response:
    """GET by Plone before it hands out a join token: alive, how loaded, and whether its
    media plane works (``media.failing``: Plone then places no meeting here)."""
    rooms = request.app[ROOMS_KEY]
    return web.json_response(
        {"ok": True, **rooms.load(), "media": rooms.media.summary()},
        headers={"Cache-Control": "no-store"},
    )


#: The keys join tokens may be signed with, newest first (several while one is rotated).
SECRET_KEY = web.AppKey("secret", tuple)
ROOMS_KEY = web.AppKey("rooms", Rooms)
CONFIG_KEY = web.AppKey("config", MediaConfig)
REPORTER_KEY = web.AppKey("reporter", attendance.Reporter)
#: Who the journal removed from which room, and since when (access/revocation.py).
REMOVALS_KEY = web.AppKey("removals", Removals)


def make_app(secret: bytes | Sequence[bytes], config: MediaConfig | None = None) -> web.Application:
    """``secret``: the key join tokens are signed with, or several (newest first)."""
    app = web.Application()
    app[SECRET_KEY] = (secret,) if isinstance(secret, bytes) else tuple(secret)
    app[ROOMS_KEY] = Rooms()
    app[CONFIG_KEY] = config or MediaConfig()
    app[REPORTER_KEY] = attendance.Reporter(app[SECRET_KEY][0])
    app[REMOVALS_KEY] = Removals()
    app.router.add_get("/ws", websocket)
    app.router.add_post("/end", end_meeting)
    app.router.add_post("/move", move_meeting)
    app.router.add_post("/remove", remove_people)
    app.router.add_get("/health", health)

    async def close_rooms(app):
        await app[ROOMS_KEY].close()
        await app[REPORTER_KEY].close()

    app.on_shutdown.append(close_rooms)
    app.on_response_prepare.append(hide_server_software)
    return app


def log_start(host: str, port: int, config: MediaConfig) -> None:
    """Where the server listens and where it offers media (its own addresses)."""
    addresses = config.host_addresses()
    low, high = config.udp_ports
    logger.info(
        "media server on %s:%s (%s); media on UDP %s-%s at %s",
        host,
        port,
        config.mode,
        low,
        high,
        ", ".join(addresses),
    )
    if not config.ice_addresses and all(ipaddress.ip_address(a).is_loopback for a in addresses):
        logger.warning(
            "this machine has no address but loopback: only browsers on it can connect "
            "(set ice_addresses to offer others)"
        )


async def hide_server_software(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp names itself and its version (``Server: Python/3.11 aiohttp/3.x``) on every
    answer, the WebSocket upgrade included: runs after that header is set, before it is
    sent."""
    response.headers.pop("Server", None)


def main() -> None:
    parser = argparse.ArgumentParser(description="Säkert Videomöte media server")
    parser.add_argument("--config", help="INI file with a [media] section (see config.py)")
    parser.add_argument("--host", help="overrides host")
    parser.add_argument("--port", type=int, help="overrides port")
    args = parser.parse_args()
    secret = media_secrets()
    if not secret:
        parser.error("VIDEOMOTE_MEDIA_SECRET must be set (shared with Plone)")
    try:
        config = load_config(args.config)
    except ValueError as error:
        parser.error(str(error))
    host, port = args.host or config.host, args.port or config.port
    logging.basicConfig(level=logging.INFO)
    # aioice logs every candidate pair, i.e. participants' IP addresses: warnings only.
    logging.getLogger("aioice").setLevel(logging.WARNING)
    # A request aiohttp cannot even parse is answered (400) before any hook runs, with
    # aiohttp's default "Server: Python/3.x aiohttp/3.x": this process serves only us.
    web_response.SERVER_SOFTWARE = "videomote-media"
    loop = None
    if os.environ.get("VIDEOMOTE_MEDIA_UVLOOP", "on") != "off":
        loop = uvloop.new_event_loop()
    web.run_app(
        make_app(secret, config),
        host=host,
        port=port,
        loop=loop,
        print=lambda *a: log_start(host, port, config),
    )


if __name__ == "__main__":
    main()
