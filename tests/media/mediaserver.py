"""Run a scenario against a fresh media server on 127.0.0.1, bounded in time; the steps
of the scenarios' people (a signalling join, a synthetic peer, waiting for a message or a
condition)."""

from as_make_run import loopback_only
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.server import make_app
from prorenata.videomote.media.synthetic import SyntheticPeer

import aiohttp
import asyncio
import json
import threading
import time


def run_server(scenario, secret: bytes, config: MediaConfig | None = None, seconds: float = 30):
    """``await scenario(session, ws_url)`` with the server up; re-raises its errors.

    Without ``config``: the shipped defaults in ``make test``'s network namespace,
    elsewhere media on 127.0.0.1 only.
    """
    default = MediaConfig() if loopback_only() else MediaConfig(ice_addresses=("127.0.0.1",))

    async def main():
        app = make_app(secret, config or default)
        runner = aiohttp.web.AppRunner(app)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with aiohttp.ClientSession() as session:
                await asyncio.wait_for(scenario(session, f"ws://127.0.0.1:{port}/ws"), seconds)
        finally:
            await runner.cleanup()

    run_in_thread(main, seconds + 30)


def run_in_thread(coroutine_function, seconds: float):
    """``asyncio.run(coroutine_function())`` in a thread of its own; its result or error.

    Playwright's session keeps an event loop in the main thread.
    """
    results, errors = [], []

    def target():
        try:
            results.append(asyncio.run(coroutine_function()))
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError("the media scenario did not finish")
    if errors:
        raise errors[0]
    return results[0]


async def join_socket(session, url, meeting, secret, role, name, token=None):
    """A WebSocket that sent ``join`` for ``meeting`` with a join token for ``role`` and
    ``name`` signed by ``secret`` (or with ``token`` as given): signalling only."""
    socket = await session.ws_connect(url)
    token = token or issue_join_token(meeting, role, name, secret)
    await socket.send_json({"type": "join", "meeting": meeting, "token": token})
    return socket


async def receive(socket, kind, timeout=5):
    """The next message of type ``kind`` (others skipped), or the closing message."""
    while True:
        message = await socket.receive(timeout=timeout)
        if message.type != aiohttp.WSMsgType.TEXT:
            return message
        data = json.loads(message.data)
        if data["type"] == kind:
            return data


def synthetic_peer(url, meeting, secret, name, role, clip, **options) -> SyntheticPeer:
    """A media-sending person (aiortc) with a join token for ``role`` and ``name``;
    ``options`` go to SyntheticPeer (a screen share, its clip)."""
    person = SyntheticPeer(
        url, meeting, issue_join_token(meeting, role, name, secret), clip, **options
    )
    person.name = name
    return person


async def each_receives_from_the_others(people, frames, names=None):
    """Wait (bounded) until every one of ``people`` has counted ``frames`` video frames from
    each of the others (by their ``name``; ``names``: the whole room, if more than these)."""
    names = names or [person.name for person in people]
    for person in people:
        others = [name for name in names if name != person.name]
        await until(
            lambda person=person, others=others: all(
                person.frames_from(name) >= frames for name in others
            ),
            what=f"{person.name} receives video from {others}",
        )


async def until(condition, seconds=15, what="condition"):
    """Wait (bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not met within {seconds} s")


async def ice_socket_and_browser():
    """A server-side ICE socket (aioice's StunProtocol on a real UDP socket, a host
    candidate) and a "browser": a plain UDP socket (5 s time-out) it can send to.
    Returns ``(transport, protocol, browser)``; close the first and the last."""
    from aioice.ice import StunProtocol
    from types import SimpleNamespace

    import socket

    loop = asyncio.get_running_loop()
    ice = SimpleNamespace(protocol_lost=lambda protocol, error: None)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: StunProtocol(receiver=ice), local_addr=("127.0.0.1", 0)
    )
    protocol.local_candidate = SimpleNamespace(type="host")
    browser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    browser.bind(("127.0.0.1", 0))
    browser.settimeout(5)
    return transport, protocol, browser


def connected_dtls(session, pair):
    """What forwarding's route reads of aiortc's DTLS transport: connected, ``session``
    for sending, ``pair`` nominated by ICE."""
    from aiortc.rtcdtlstransport import State
    from types import SimpleNamespace

    return SimpleNamespace(
        _state=State.CONNECTED,
        _tx_srtp=session,
        transport=SimpleNamespace(_connection=SimpleNamespace(_nominated={1: pair})),
    )
