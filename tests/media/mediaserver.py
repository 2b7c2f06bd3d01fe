"""Run a scenario against a fresh media server on 127.0.0.1, bounded in time."""

from as_make_run import loopback_only
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.server import make_app

import aiohttp
import asyncio
import threading


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
