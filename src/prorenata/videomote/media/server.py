"""Signalling, room events and chat for the meeting room, over one WebSocket per person.

Its own asyncio program (``videomote-media``): aiohttp, stdlib signing helpers, nothing
from the Zope application server. A person joins by sending
``{"type": "join", "meeting": <uid>, "token": <join token from Plone>}`` as the first
message (never in the URL); the server checks signature, expiry, meeting and role and
closes with a clear reason otherwise. Chat works over this socket even when media (UDP)
cannot. WebRTC media (aiortc, forwarding without re-encoding) is the next step.
"""

from aiohttp import web
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from prorenata.videomote.access.jointoken import verify_join_token

import aiohttp
import argparse
import json
import logging
import os
import time
import unicodedata

logger = logging.getLogger("prorenata.videomote.media")

MAX_PEOPLE = 4
MAX_CHAT_LENGTH = 1000
MAX_MESSAGE_BYTES = 64 * 1024
CHAT_PER_10_SECONDS = 20
JOIN_TIMEOUT_SECONDS = 10

CLOSE_BAD_TOKEN = 4401
CLOSE_ROOM_FULL = 4403
CLOSE_PROTOCOL = 4400
CLOSE_ENDED = 4410
CLOSE_FLOOD = 4429


@dataclass(eq=False)
class Person:
    socket: web.WebSocketResponse
    name: str
    role: str
    chat_times: list[float] = field(default_factory=list)


@dataclass
class Room:
    meeting_uid: str
    people: list[Person] = field(default_factory=list)
    ended: bool = False

    async def broadcast(self, message: dict, skip: Person | None = None) -> None:
        text = json.dumps(message)
        for person in list(self.people):
            if person is not skip and not person.socket.closed:
                await person.socket.send_str(text)


class Rooms:
    """The only global state: open rooms by meeting UID."""

    def __init__(self):
        self._rooms: dict[str, Room] = {}
        self._ended: set[str] = set()

    def join(self, meeting_uid: str, person: Person) -> Room | str:
        """The room, or why not: ``"ended"`` or ``"full"``."""
        if meeting_uid in self._ended:
            return "ended"
        room = self._rooms.setdefault(meeting_uid, Room(meeting_uid))
        if len(room.people) >= MAX_PEOPLE:
            return "full"
        room.people.append(person)
        return room

    def leave(self, room: Room, person: Person) -> None:
        if person in room.people:
            room.people.remove(person)
        if room.ended:
            self._ended.add(room.meeting_uid)
        if not room.people:
            self._rooms.pop(room.meeting_uid, None)

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            for person in list(room.people):
                await person.socket.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"restart")
        self._rooms.clear()


def clean_chat(text: str) -> str:
    """Chat text without control characters, at most MAX_CHAT_LENGTH characters."""
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    return kept.strip()[:MAX_CHAT_LENGTH]


async def websocket(request: web.Request) -> web.WebSocketResponse:
    app = request.app
    socket = web.WebSocketResponse(heartbeat=20, max_msg_size=MAX_MESSAGE_BYTES)
    await socket.prepare(request)
    try:
        first = await socket.receive(timeout=JOIN_TIMEOUT_SECONDS)
        data = json.loads(first.data) if first.type == aiohttp.WSMsgType.TEXT else {}
    except (TimeoutError, ValueError, TypeError):
        data = {}
    if data.get("type") != "join":
        await socket.close(code=CLOSE_PROTOCOL, message=b"join first")
        return socket
    claims = verify_join_token(
        str(data.get("token", "")), app[SECRET_KEY], str(data.get("meeting", ""))
    )
    if claims is None:
        await socket.close(code=CLOSE_BAD_TOKEN, message=b"invalid or expired token")
        return socket
    person = Person(socket=socket, name=claims["n"], role=claims["r"])
    room = app[ROOMS_KEY].join(claims["m"], person)
    if room == "ended":
        await socket.close(code=CLOSE_ENDED, message=b"meeting ended")
        return socket
    if room == "full":
        await socket.close(code=CLOSE_ROOM_FULL, message=b"room full")
        return socket
    await socket.send_str(
        json.dumps(
            {
                "type": "welcome",
                "people": [
                    {"name": p.name, "role": p.role} for p in room.people if p is not person
                ],
            }
        )
    )
    await room.broadcast({"type": "joined", "name": person.name, "role": person.role}, person)
    try:
        async for message in socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            if not await handle(room, person, message.data):
                break
    finally:
        app[ROOMS_KEY].leave(room, person)
        await room.broadcast({"type": "left", "name": person.name, "role": person.role})
    return socket


async def handle(room: Room, person: Person, raw: str) -> bool:
    """One message from ``person``; False closes their socket."""
    try:
        data = json.loads(raw)
        kind = data["type"]
    except (ValueError, TypeError, KeyError):
        await person.socket.send_str(json.dumps({"type": "error", "reason": "malformed"}))
        return True
    if kind == "chat":
        now = time.monotonic()
        person.chat_times = [t for t in person.chat_times if now - t < 10] + [now]
        if len(person.chat_times) > CHAT_PER_10_SECONDS:
            await person.socket.close(code=CLOSE_FLOOD, message=b"too many messages")
            return False
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
    if kind in ("muted", "camera"):
        await room.broadcast(
            {"type": kind, "name": person.name, "on": bool(data.get("on"))}, person
        )
        return True
    if kind == "end" and person.role == "staff":
        # Everyone is told; their pages show "Mötet är avslutat" and hang up. Nobody can
        # join this room again in this process.
        room.ended = True
        await room.broadcast({"type": "ended"})
        return False
    await person.socket.send_str(json.dumps({"type": "error", "reason": "unknown type"}))
    return True


SECRET_KEY = web.AppKey("secret", bytes)
ROOMS_KEY = web.AppKey("rooms", Rooms)


def make_app(secret: bytes) -> web.Application:
    app = web.Application()
    app[SECRET_KEY] = secret
    app[ROOMS_KEY] = Rooms()
    app.router.add_get("/ws", websocket)
    app.router.add_get("/health", lambda request: web.json_response({"ok": True}))

    async def close_rooms(app):
        await app[ROOMS_KEY].close()

    app.on_shutdown.append(close_rooms)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Säkert Videomöte media server")
    parser.add_argument("--host", default=os.environ.get("VIDEOMOTE_MEDIA_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("VIDEOMOTE_MEDIA_PORT", "8090"))
    )
    args = parser.parse_args()
    secret = os.environ.get("VIDEOMOTE_MEDIA_SECRET")
    if not secret:
        parser.error("VIDEOMOTE_MEDIA_SECRET must be set (shared with Plone)")
    logging.basicConfig(level=logging.INFO)
    web.run_app(
        make_app(secret.encode("utf-8")),
        host=args.host,
        port=args.port,
        print=lambda *a: logger.info("media server on %s:%s", args.host, args.port),
    )


if __name__ == "__main__":
    main()
