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


def _serve(command: list[str], port: int):
    """Start a CalDAV server on loopback, wait until it answers, stop it afterwards."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    _wait(url, process)
    yield {"url": url, "process": process}
    process.terminate()
    process.wait(timeout=10)


def _wait(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    process.kill()
    pytest.fail(f"CalDAV server at {url} did not start")


@pytest.fixture
def xandikos(tmp_path):
    """Xandikos (the other sync-token server the bridge is tested with); iMIP off."""
    port = _free_port()
    yield from _serve(
        [
            str(BIN / "xandikos"),
            "serve",
            "-d",
            str(tmp_path / "xandikos"),
            "--defaults",
            "--current-user-principal",
            "/sara/",
            "-l",
            "127.0.0.1",
            "-p",
            str(port),
            "--imip-send",
            "off",
        ],
        port,
    )


@pytest.fixture(params=["radicale", "xandikos"])
def caldav_server(request):
    """The client's tests run against both servers."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def radicale(tmp_path):
    """Radicale with its own storage; any user/password (auth none), no hooks."""
    port = _free_port()
    yield from _serve(
        [
            str(BIN / "radicale"),
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--storage-filesystem-folder",
            str(tmp_path / "collections"),
            "--auth-type",
            "none",
            "--rights-type",
            "owner_only",
            "--hook-type",
            "none",
            "--logging-level",
            "warning",
        ],
        port,
    )
