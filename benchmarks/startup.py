"""Start-up cost of the add-on: a fresh instance with the demo site, measured end to end.

Measures, in one run: creating the demo site, time until the site answers, resident
memory of the serving process, and the median render time of a student/patient record
(add-on view) against Plone's own front page, both as the same logged-in user.
Prints one JSON object last.
"""

from pathlib import Path

import json
import os
import requests
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REQUESTS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_get(url: str, auth: str | None = None) -> float:
    request = urllib.request.Request(url)
    if auth:
        import base64

        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return (time.perf_counter() - started) * 1000


def median_ms(url: str, auth: str | None = None) -> float:
    for _ in range(3):
        timed_get(url, auth)
    return statistics.median(timed_get(url, auth) for _ in range(REQUESTS))


def main() -> None:
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
        create_s = time.perf_counter() - started
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
                    timed_get(url)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            start_s = time.perf_counter() - started
            front_ms = median_ms(url, auth="admin:admin")
            listing = requests.get(
                f"{url}/elever",
                headers={"Accept": "application/json"},
                auth=("admin", "admin"),
                timeout=30,
            )
            record_url = listing.json()["items"][0]["@id"]
            record_ms = median_ms(record_url, auth="admin:admin")
            memory = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    result = {
        "create_site_s": round(create_s, 2),
        "start_to_first_response_s": round(start_s, 2),
        "rss_mb": round(memory, 1),
        "front_page_p50_ms": round(front_ms, 1),
        "patient_record_p50_ms": round(record_ms, 1),
        "record_vs_front_page_ratio": round(record_ms / front_ms, 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
