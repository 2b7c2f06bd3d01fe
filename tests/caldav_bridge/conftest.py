"""A real CalDAV server (Radicale) on loopback for the bridge's tests."""

from pathlib import Path

import pytest
import requests
import socket
import subprocess
import sys
import time

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _radicale_command(folder: Path, port: int) -> list[str]:
    """Radicale with its own storage; any user/password (auth none), no hooks."""
    return [
        str(BIN / "radicale"),
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(folder / "collections"),
        "--auth-type",
        "none",
        "--rights-type",
        "owner_only",
        "--hook-type",
        "none",
        "--logging-level",
        "warning",
    ]


def _xandikos_command(folder: Path, port: int) -> list[str]:
    """Xandikos (the other sync-token server the bridge is tested with); iMIP off."""
    return [
        str(BIN / "xandikos"),
        "serve",
        "-d",
        str(folder / "xandikos"),
        "--defaults",
        "--current-user-principal",
        "/sara/",
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "--imip-send",
        "off",
    ]


COMMANDS = {"radicale": _radicale_command, "xandikos": _xandikos_command}


class _Launched:
    """A server process started with a fresh, empty storage folder of its own."""

    def __init__(self, kind: str, folder: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            COMMANDS[kind](folder, self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        # The storage is thrown away: no graceful shutdown to wait for (Xandikos takes
        # seconds over one).
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)


class CalDAVServers:
    """Each test still gets a new server process on an empty storage, as before; the next
    one of the same kind is started while the current test runs, so a test does not wait
    for the interpreter start-up (seconds each on a busy machine, for ~90 tests)."""

    def __init__(self, tmp_path_factory):
        self._tmp = tmp_path_factory
        self._spare: dict[str, _Launched] = {}

    def _launch(self, kind: str) -> _Launched:
        return _Launched(kind, self._tmp.mktemp(kind))

    def take(self, kind: str) -> _Launched:
        server = self._spare.pop(kind, None)
        if server is None or server.process.poll() is not None:
            server = self._launch(kind)
        self._spare[kind] = self._launch(kind)
        return server

    def stop_spares(self) -> None:
        for server in self._spare.values():
            server.stop()
        self._spare.clear()


@pytest.fixture(scope="session")
def _caldav_servers(tmp_path_factory):
    servers = CalDAVServers(tmp_path_factory)
    yield servers
    servers.stop_spares()


def _serve(servers: CalDAVServers, kind: str):
    """A fresh CalDAV server on loopback, once it answers; stopped afterwards.

    Connections the bridge kept from an earlier test's rounds (``client._POOL``, per URL
    and user) are dropped first: that test's server is gone, and this one may listen on
    the same port with an empty storage, where a kept connection's calendar and principal
    do not exist (a round then failed, "retrying later", and the test read an empty
    calendar)."""
    from prorenata.videomote.caldav_bridge import client

    client._POOL.clear()
    server = servers.take(kind)
    try:
        _wait(server.url, server.process)
        yield {"url": server.url, "process": server.process}
    finally:
        server.stop()


def _wait(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or listening but still busy starting (a loaded machine).
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"CalDAV server at {url} did not start")


@pytest.fixture
def xandikos(_caldav_servers):
    """Xandikos (the other sync-token server the bridge is tested with); iMIP off."""
    yield from _serve(_caldav_servers, "xandikos")


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request):
    """The client's tests run against both servers."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def radicale(_caldav_servers):
    """Radicale with its own storage; any user/password (auth none), no hooks."""
    yield from _serve(_caldav_servers, "radicale")
