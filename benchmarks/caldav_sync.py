"""CalDAV sync cost on Radicale: first import, full sync and incremental sync.

For calendars of 1,000 and 10,000 events (written straight into Radicale's storage
before it starts, then read once so the server is warm, as a server in use is): the
bridge's first load (sync REPORT + multiget into events: the import), a full sync (no
token), and an incremental sync after one event changed (RFC 6578 token), in the same
run; the cold server's first load is reported apart, and the incremental sync on a new
connection (what keeping the account between rounds saves). Prints one JSON object last; its
main figures are for 10,000 events.
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import json
import requests
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prorenata.videomote.caldav_bridge.client import CalendarAccount  # noqa: E402
from prorenata.videomote.caldav_bridge.events import CalendarEvent  # noqa: E402
from prorenata.videomote.caldav_bridge.events import to_ical  # noqa: E402
from support.instance import free_port  # noqa: E402

BIN = Path(sys.executable).parent
SIZES = (1_000, 10_000)
START = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)


def event(i: int, hour_shift: int = 0) -> CalendarEvent:
    start = START + timedelta(days=i // 8, hours=(i % 8) + hour_shift)
    return CalendarEvent(
        uid=f"bench-{i}@videomote",
        title=f"Samtal {i}",
        start=start,
        end=start + timedelta(minutes=30),
        attendee_email=f"p{i}@example.se",
        meeting_uid=f"uid-{i}",
    )


def populate(storage: Path, count: int) -> None:
    collection = storage / "collection-root" / "sara" / "videomoten"
    collection.mkdir(parents=True)
    (collection / ".Radicale.props").write_text(
        json.dumps({"tag": "VCALENDAR", "D:displayname": "Videomöten"}), encoding="utf-8"
    )
    for i in range(count):
        (collection / f"bench-{i}.ics").write_text(
            to_ical(event(i), "Europe/Stockholm", "http://localhost/rum"), encoding="utf-8"
        )


def measure(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        storage = Path(tmp) / "collections"
        populate(storage, count)
        port = free_port()
        server = subprocess.Popen(
            [
                str(BIN / "radicale"),
                "--server-hosts",
                f"127.0.0.1:{port}",
                "--storage-filesystem-folder",
                str(storage),
                "--auth-type",
                "none",
                "--rights-type",
                "owner_only",
                "--hook-type",
                "none",
                # Radicale's own speed setting: item cache keyed by mtime and size instead
                # of a SHA-256 of every file (what a production Radicale would set).
                "--storage-use-mtime-and-size-for-item-cache",
                "True",
                "--logging-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(200):
                try:
                    requests.get(url, timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            # Radicale parses every item once after it starts (files written behind its
            # back). A calendar server in use has long done that: warm it first, and report
            # the cold figure apart, since it is the server's start-up, not the import.
            started = time.perf_counter()
            CalendarAccount(url, "sara", "x", timeout=600).changes_since(None)
            cold_s = time.perf_counter() - started
            account = CalendarAccount(url, "sara", "x", timeout=600)
            started = time.perf_counter()
            first = account.changes_since(None)
            import_s = time.perf_counter() - started
            assert len(first.changed) == count, len(first.changed)
            started = time.perf_counter()
            full = account.changes_since(None)
            full_ms = (time.perf_counter() - started) * 1000
            changed = first.changed["bench-7@videomote"]
            account.put(
                changed.event.uid,
                to_ical(event(7, 3), "Europe/Stockholm", "x"),
                etag=changed.etag,
                href=changed.href,
            )
            started = time.perf_counter()
            incremental = account.changes_since(full.token)
            incremental_ms = (time.perf_counter() - started) * 1000
            assert list(incremental.changed) == ["bench-7@videomote"]
            # What the sync keeps between rounds (borrow_account): a new connection would
            # discover the calendar again (and negotiate authentication) on every round.
            changed = first.changed["bench-8@videomote"]
            account.put(
                changed.event.uid,
                to_ical(event(8, 3), "Europe/Stockholm", "x"),
                etag=changed.etag,
                href=changed.href,
            )
            started = time.perf_counter()
            fresh = CalendarAccount(url, "sara", "x", timeout=600).changes_since(incremental.token)
            fresh_ms = (time.perf_counter() - started) * 1000
            assert list(fresh.changed) == ["bench-8@videomote"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "import_s": import_s,
        "full_ms": full_ms,
        "incremental_ms": incremental_ms,
        "incremental_new_connection_ms": fresh_ms,
        "cold_server_first_load_s": cold_s,
    }


def main() -> None:
    results = {}
    for count in SIZES:
        results[count] = measure(count)
        print(f"{count} events: {results[count]}", file=sys.stderr, flush=True)
    big, small = results[10_000], results[1_000]
    print(
        json.dumps(
            {
                "events": 10_000,
                "import_s": round(big["import_s"], 2),
                "full_sync_ms": round(big["full_ms"], 1),
                "incremental_sync_ms": round(big["incremental_ms"], 1),
                "ratio": round(big["full_ms"] / big["incremental_ms"], 1),
                "incremental_new_connection_ms": round(big["incremental_new_connection_ms"], 1),
                "import_1000_s": round(small["import_s"], 2),
                "full_sync_1000_ms": round(small["full_ms"], 1),
                "incremental_sync_1000_ms": round(small["incremental_ms"], 1),
                "cold_server_first_load_1000_s": round(small["cold_server_first_load_s"], 2),
                "cold_server_first_load_s": round(big["cold_server_first_load_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
