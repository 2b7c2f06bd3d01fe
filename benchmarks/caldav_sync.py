"""CalDAV sync cost on Radicale: first import, full sync and incremental sync.

For calendars of 1,000 and 10,000 events (written straight into Radicale's storage
before it starts, then read once so the server is warm, as a server in use is): the
bridge's first load (sync REPORT + multiget into events: the import), a full sync (no
token; median of three), and an incremental sync after one event changed (RFC 6578
token; median of five, each after one more change), in the same run. Reported apart:
the cold server's first load, an incremental sync on a new connection (what keeping
the account between rounds saves), and a full listing that knows the stored ETags (what
losing the token costs the bridge: after a 412, an expired token, or on a server without
tokens; median of three, each after one more change), and Radicale's own answer to a sync
REPORT after one change, by plain HTTP (what no incremental sync can undercut: the full
sync divided by it bounds the ratio). Prints one JSON object last; its main figures are
for 10,000 events.
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import json
import re
import requests
import statistics
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
#: ``--smoke``: the same steps on tiny calendars, only to show the benchmark still runs.
SMOKE = "--smoke" in sys.argv
SMALL, BIG = (20, 50) if SMOKE else (1_000, 10_000)
START = datetime(2027, 1, 4, 7, 0, tzinfo=UTC)
FULL_RUNS = 1 if SMOKE else 3
INCREMENTAL_RUNS = 2 if SMOKE else 5
LISTING_RUNS = 1 if SMOKE else 3
#: The events changed before the listings and before the server's own reports.
LISTED, REPORTED = (10, 15) if SMOKE else (100, 200)


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


def _change(account: CalendarAccount, first, i: int) -> None:
    """Move event ``i`` by three hours, as a clinician would in their calendar."""
    changed = first.changed[f"bench-{i}@videomote"]
    account.put(
        changed.event.uid,
        to_ical(event(i, 3), "Europe/Stockholm", "x"),
        etag=changed.etag,
        href=changed.href,
    )


SYNC_REPORT = """<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token>
<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"""


def _raw_sync_report(account: CalendarAccount, token: str, changed: str) -> str:
    response = requests.request(
        "REPORT",
        str(account.calendar().url),
        data=SYNC_REPORT.format(token).encode(),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        auth=("sara", "x"),
        timeout=600,
    )
    assert response.status_code == 207, response.status_code
    assert f"{changed}.ics" in response.text
    return re.search(r"<(?:\w+:)?sync-token>([^<]+)<", response.text).group(1)


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
            # Medians (this shared machine varies by ±10 % run to run): full syncs, and
            # incremental syncs each after one more event changed.
            fulls = []
            for _ in range(FULL_RUNS):
                started = time.perf_counter()
                full = account.changes_since(None)
                fulls.append((time.perf_counter() - started) * 1000)
            token = full.token
            known = {item.href: item.etag for item in full.changed.values()}
            incrementals = []
            for n in range(INCREMENTAL_RUNS):
                _change(account, first, 7 + n)
                started = time.perf_counter()
                incremental = account.changes_since(token)
                incrementals.append((time.perf_counter() - started) * 1000)
                assert list(incremental.changed) == [f"bench-{7 + n}@videomote"]
                token = incremental.token
                known.update({item.href: item.etag for item in incremental.changed.values()})
            listings = []
            for n in range(LISTING_RUNS):
                _change(account, first, LISTED + n)
                started = time.perf_counter()
                listing = account.changes_since(None, known=known)
                listings.append((time.perf_counter() - started) * 1000)
                assert list(listing.changed) == [f"bench-{LISTED + n}@videomote"]
                known.update({item.href: item.etag for item in listing.changed.values()})
            token = listing.token
            # The server alone: Radicale's answer to a sync REPORT after one change, by
            # plain HTTP with nothing parsed (no incremental sync can cost less; full
            # divided by it bounds the ratio whatever the client does).
            reports = []
            for n in range(LISTING_RUNS):
                _change(account, first, REPORTED + n)
                started = time.perf_counter()
                token = _raw_sync_report(account, token, f"bench-{REPORTED + n}")
                reports.append((time.perf_counter() - started) * 1000)
            # What the sync keeps between rounds (borrow_account): a new connection would
            # discover the calendar again (and negotiate authentication) on every round.
            _change(account, first, 7 + INCREMENTAL_RUNS)
            started = time.perf_counter()
            fresh = CalendarAccount(url, "sara", "x", timeout=600).changes_since(token)
            fresh_ms = (time.perf_counter() - started) * 1000
            assert list(fresh.changed) == [f"bench-{7 + INCREMENTAL_RUNS}@videomote"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "import_s": import_s,
        "full_ms": statistics.median(fulls),
        "full_runs_ms": [round(ms) for ms in fulls],
        "incremental_ms": statistics.median(incrementals),
        "incremental_runs_ms": [round(ms) for ms in incrementals],
        "incremental_new_connection_ms": fresh_ms,
        "listing_ms": statistics.median(listings),
        "server_report_ms": statistics.median(reports),
        "cold_server_first_load_s": cold_s,
    }


def main() -> None:
    results = {}
    for count in (SMALL, BIG):
        results[count] = measure(count)
        print(f"{count} events: {results[count]}", file=sys.stderr, flush=True)
    big, small = results[BIG], results[SMALL]
    print(
        json.dumps(
            {
                "events": BIG,
                "import_s": round(big["import_s"], 2),
                "full_sync_ms": round(big["full_ms"], 1),
                "incremental_sync_ms": round(big["incremental_ms"], 1),
                "ratio": round(big["full_ms"] / big["incremental_ms"], 1),
                "full_sync_runs_ms": big["full_runs_ms"],
                "incremental_sync_runs_ms": big["incremental_runs_ms"],
                "incremental_new_connection_ms": round(big["incremental_new_connection_ms"], 1),
                "full_listing_with_status_ms": round(big["listing_ms"], 1),
                "server_sync_report_ms": round(big["server_report_ms"], 1),
                "ratio_bound_by_server": round(big["full_ms"] / big["server_report_ms"], 1),
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
