"""The media server reports who joined and left each room to the journal named in the
join token: signed with the media secret, with why each connection ended, and again
after the journal failed to answer (each event once, by its id)."""

from mediaserver import run_server
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media.attendance import SIGNATURE_HEADER
from prorenata.videomote.media.attendance import sign_body

import aiohttp
import asyncio
import json

SECRET = b"media-secret-for-tests"
MEETING = "meeting-uid-7"


class FakeJournal:
    """``@@videomote-narvaro`` on loopback: answers ``failures`` times 503, then 200."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.bodies: list[dict] = []
        self.refused = 0
        self.runner = None
        self.url = ""

    async def handle(self, request):
        body = await request.read()
        assert request.headers[SIGNATURE_HEADER] == sign_body(body, SECRET)
        if self.failures:
            self.failures -= 1
            self.refused += 1
            return aiohttp.web.Response(status=503)
        self.bodies.append(json.loads(body))
        return aiohttp.web.json_response({"stored": 1})

    async def start(self):
        app = aiohttp.web.Application()
        app.router.add_post("/plone/@@videomote-narvaro", self.handle)
        self.runner = aiohttp.web.AppRunner(app)
        await self.runner.setup()
        site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/plone/@@videomote-narvaro"

    def events(self) -> list[dict]:
        return [event for body in self.bodies for event in body["events"]]

    async def wait_for(self, count: int, seconds: float = 10) -> list[dict]:
        for _ in range(int(seconds * 20)):
            if len(self.events()) >= count:
                return self.events()
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.events())} events reported, expected {count}")


async def join(session, url, journal, role, name, who):
    socket = await session.ws_connect(url)
    token = issue_join_token(MEETING, role, name, SECRET, who=who, report_url=journal.url)
    await socket.send_json({"type": "join", "meeting": MEETING, "token": token})
    while json.loads((await socket.receive(timeout=5)).data)["type"] != "welcome":
        pass
    return socket


def drop(socket) -> None:
    """The network goes: no close frame, the connection just ends."""
    socket._response.connection.transport.abort()


def test_joins_and_leaves_are_reported_with_why_each_connection_ended():
    async def scenario(session, url):
        journal = FakeJournal()
        await journal.start()
        try:
            staff = await join(session, url, journal, "staff", "Sara", "staff-hash")
            anna = await join(session, url, journal, "participant", "Anna", "invitee")
            drop(anna)
            await journal.wait_for(3)
            anna = await join(session, url, journal, "participant", "Anna", "invitee")
            await anna.close()  # "Lämna mötet"
            await journal.wait_for(5)
            anna = await join(session, url, journal, "participant", "Anna", "invitee")
            await staff.send_json({"type": "end"})
            events = await journal.wait_for(8)
        finally:
            await journal.runner.cleanup()
        summary = [(e["who"], e["kind"], e["reason"]) for e in events]
        assert summary[:5] == [
            ("staff-hash", "join", ""),
            ("invitee", "join", ""),
            ("invitee", "leave", "lost"),
            ("invitee", "join", ""),
            ("invitee", "leave", "left"),
        ]
        assert sorted(summary[5:]) == [
            ("invitee", "join", ""),
            ("invitee", "leave", "ended"),
            ("staff-hash", "leave", "ended"),
        ]
        assert {e["meeting"] for e in events} == {MEETING}
        assert {e["name"] for e in events} == {"Sara", "Anna"}
        assert len({e["id"] for e in events}) == 8

    run_server(scenario, SECRET)


def test_a_journal_that_does_not_answer_gets_the_events_later_once_each():
    async def scenario(session, url):
        journal = FakeJournal(failures=2)
        await journal.start()
        try:
            anna = await join(session, url, journal, "participant", "Anna", "invitee")
            await anna.close()
            events = await journal.wait_for(2, seconds=15)
        finally:
            await journal.runner.cleanup()
        assert journal.refused == 2
        assert [(e["kind"], e["reason"]) for e in events] == [("join", ""), ("leave", "left")]

    run_server(scenario, SECRET)


def test_a_token_without_a_journal_address_reports_nothing():
    async def scenario(session, url):
        socket = await session.ws_connect(url)
        token = issue_join_token(MEETING, "participant", "Anna", SECRET)
        await socket.send_json({"type": "join", "meeting": MEETING, "token": token})
        await socket.receive(timeout=5)
        await socket.close()

    run_server(scenario, SECRET)
