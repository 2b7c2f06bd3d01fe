"""A throw-away instance with the demo site, started and stopped by a benchmark."""

from contextlib import contextmanager
from pathlib import Path

import os
import requests
import socket
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def demo_instance(timings: dict | None = None, prepare: tuple = ()):
    """Yield (site_url, server process); ``timings`` receives create/start seconds.

    ``prepare``: (script, environment) pairs run by ``zconsole run`` after the site is
    made and before the server starts (a benchmark's own content)."""
    timings = timings if timings is not None else {}
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp) / "instance"
        subprocess.run(
            [
                sys.executable,
                ROOT / "scripts/make_instance.py",
                "--dir",
                instance,
                "--port",
                str(port),
            ],
            check=True,
            capture_output=True,
        )
        started = time.perf_counter()
        subprocess.run(
            [BIN / "zconsole", "run", instance / "etc/zope.conf", ROOT / "scripts/create_site.py"],
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "VIDEOMOTE_PORT": str(port)},
        )
        timings["create_site_s"] = time.perf_counter() - started
        for script, environment in prepare:
            subprocess.run(
                [BIN / "zconsole", "run", instance / "etc/zope.conf", script],
                check=True,
                capture_output=True,
                timeout=3600,
                env={**os.environ, **environment},
            )
        started = time.perf_counter()
        server = subprocess.Popen(
            [BIN / "runwsgi", instance / "etc/zope.ini"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://localhost:{port}/Plone"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    # A fresh Zope's first answer can take well over 5 s on a busy machine.
                    requests.get(url, timeout=30)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            timings["start_to_first_response_s"] = time.perf_counter() - started
            yield url, server
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextmanager
def demo_with_mail_sink(handler, prepare: tuple = (), server_out: list | None = None):
    """The demo instance sending its e-mail to an aiosmtpd server run by ``handler``.

    Yields (site_url, an admin ``requests.Session`` that accepts JSON); ``server_out``
    receives the server process (``prepare``: see :func:`demo_instance`).
    """
    from aiosmtpd.controller import Controller

    smtp_port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        with demo_instance(prepare=prepare) as (url, server):
            if server_out is not None:
                server_out.append(server)
            admin = requests.Session()
            admin.auth = ("admin", "admin")
            admin.headers["Accept"] = "application/json"
            admin.patch(
                f"{url}/@registry",
                json={"plone.smtp_host": "127.0.0.1", "plone.smtp_port": smtp_port},
                timeout=30,
            ).raise_for_status()
            yield url, admin
    finally:
        controller.stop()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]
