"""CalDAV sync cost on Radicale: first import, full sync and incremental sync; and the
journal's side: how soon a change made in a calendar reaches the journal and the family.

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

Then a throw-away demo Plone and one Radicale with 50 connected accounts (48 clinicians
with 4 meetings, one with 50, one with 5,000; booked by ``book_meeting`` in transactions
of 1,000 without queueing invitations, ``setup_s``). The first round pushes each meeting
by one PUT (``first_push_s_50`` for the clinician with 50); the calendar of the one with
5,000 is written by the set-up into Radicale's storage, with the item status and token
that push leaves, since Radicale checks each new item against every item already there
(``BENCH_CALDAV_FIRST_PUSH=1`` pushes them by the product's round and reports
``first_push_s_5000``). Then the worker ``videomote-caldav-sync`` with its shipped
intervals: the CPU the worker and Plone spend per idle account per
minute (``/proc/<pid>/stat``); 40 changes made in the calendars by plain HTTP (moves and
deletions, at random times) and the seconds until the journal shows each (REST
``@videomote-meeting``) and the family's e-mail arrives (``calendar_to_journal_p95_s``,
``calendar_to_mail_p95_s``); and, the worker stopped, a round for the clinician with 5,000
meetings after one change in her calendar against one with 50 (``round_ms_5000_meetings``,
``round_ms_50_meetings``; medians of five), idle rounds, and one full round of each;
beside each round Radicale's own answer to a sync REPORT for the same change, by plain
HTTP (``server_report_ms_*``), and the round less it: the journal's side, which does not
grow with the number of meetings (``round_ratio_5000_vs_50_without_server``).
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path

import json
import os
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
        server, url = _radicale(storage)
        try:
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
    if "--journal-only" in sys.argv:  # the journal's figures alone (a quicker run)
        print(json.dumps(measure_journal()))
        return
    results = {}
    for count in (SMALL, BIG):
        results[count] = measure(count)
        print(f"{count} events: {results[count]}", file=sys.stderr, flush=True)
    big, small = results[BIG], results[SMALL]
    journal = measure_journal()
    print(
        json.dumps(
            {
                **journal,
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


# The journal: Plone (the demo instance) and the worker against one Radicale.

#: Connected accounts: the regular ones have a few meetings each; "small" and "big" are
#: the two whose rounds are compared.
ACCOUNTS = 3 if SMOKE else 50
REGULAR_MEETINGS = 2 if SMOKE else 4
SMALL_MEETINGS, BIG_MEETINGS = (5, 20) if SMOKE else (50, 5_000)
#: Changes made in the calendar (moves and deletions) while the worker runs.
PROBES = 4 if SMOKE else 40
# A shorter run on a busy machine (booking 5,000 meetings takes a while): fewer of them.
BIG_MEETINGS = int(os.environ.get("BENCH_CALDAV_BIG_MEETINGS", BIG_MEETINGS))
PROBES = int(os.environ.get("BENCH_CALDAV_PROBES", PROBES))
#: ``BENCH_CALDAV_FIRST_PUSH=1``: the clinician with 5,000 meetings gets them into her
#: calendar by the product's first round, one PUT each, timed (``first_push_s_5000``).
#: Radicale checks each new item's UID against every item already there, so that takes
#: most of an hour on a busy 2-core machine. By default the set-up writes her calendar into
#: Radicale's storage and stores the status the first push leaves (``seed_calendar`` in
#: support/caldav_accounts.py): what is measured after it is the same.
FIRST_PUSH = os.environ.get("BENCH_CALDAV_FIRST_PUSH") == "1"
#: Seconds of idle (only the worker's short rounds) over which CPU is measured.
IDLE_S = 10 if SMOKE else 60
ROUND_RUNS = 2 if SMOKE else 5
WORKER_SECRET = "bench-worker-secret"
#: Longest wait for one change to reach the journal (a probe that never arrives counts so).
PROBE_TIMEOUT_S = 90


class MailSink:
    """The arrival times of the e-mails about each iCalendar UID."""

    def __init__(self):
        self.arrivals: dict[str, list[float]] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        import email
        import email.policy
        import icalendar

        arrived = time.monotonic()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                vevent = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]
                self.arrivals.setdefault(str(vevent["UID"]), []).append(arrived)
                break
        return "250 OK"


def _radicale(storage: Path) -> tuple[subprocess.Popen, str]:
    """Radicale serving ``storage`` on a free port, once it answers: (process, its URL)."""
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
    for _ in range(200):
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    return server, url


def _sync_now(site: str, params: dict | None = None) -> float:
    """One round by the worker's endpoint (the worker stopped); its milliseconds."""
    started = time.perf_counter()
    _post_sync(site, params)
    return (time.perf_counter() - started) * 1000


def _post_sync(site: str, params: dict | None = None) -> dict:
    response = requests.post(
        f"{site}/@@videomote-caldav-sync",
        params=params or {},
        headers={"X-Videomote-Worker": WORKER_SECRET},
        timeout=3600,
    )
    response.raise_for_status()
    return response.json()


def _server_report(collection: str, userid: str, token: str) -> tuple[float, str]:
    """Radicale's answer to a sync REPORT since ``token`` ("" for all), by plain HTTP with
    nothing parsed: (its milliseconds, the new token)."""
    started = time.perf_counter()
    response = requests.request(
        "REPORT",
        collection,
        data=SYNC_REPORT.format(token).encode(),
        headers={"Depth": "1", "Content-Type": "application/xml"},
        auth=(userid, "x"),
        timeout=600,
    )
    took = (time.perf_counter() - started) * 1000
    assert response.status_code == 207, response.status_code
    return took, re.search(r"<(?:\w+:)?sync-token>([^<]+)<", response.text).group(1)


def _until_no_round_runs(site: str) -> None:
    """Incremental rounds until none finds an account whose lease another round holds."""
    for _ in range(600):
        if not _post_sync(site, {"only": "changes"}).get("busy"):
            return
        time.sleep(0.5)


def _client_change(radicale: str, userid: str, href: str, delete: bool) -> None:
    """What Thunderbird does: a plain PUT of the moved event (one hour later), or a DELETE."""
    import icalendar

    auth = (userid, "x")
    if delete:
        requests.delete(href, auth=auth, timeout=60).raise_for_status()
        return
    current = requests.get(href, auth=auth, timeout=60)
    current.raise_for_status()
    calendar = icalendar.Calendar.from_ical(current.content)
    vevent = calendar.walk("VEVENT")[0]
    for name in ("DTSTART", "DTEND"):
        moved = vevent.decoded(name) + timedelta(hours=1)
        vevent.pop(name)
        vevent.add(name, moved)
    requests.put(
        href,
        data=calendar.to_ical(),
        auth=auth,
        headers={"Content-Type": "text/calendar", "If-Match": current.headers["ETag"]},
        timeout=60,
    ).raise_for_status()


def _reached_journal(session, site: str, path: str, before: dict, delete: bool) -> bool:
    meeting = session.get(f"{site}/{path}/@videomote-meeting", timeout=60).json()
    if delete:
        return meeting["state"] == "cancelled"
    return meeting["start"] != before["start"]


def measure_journal() -> dict:
    """Calendar to journal latency with the shipped worker, CPU per idle account, and the
    cost of a round for a clinician with many meetings against one with few."""
    from support.instance import cpu_seconds
    from support.instance import demo_with_mail_sink
    from support.instance import percentile
    from urllib.parse import quote

    import random

    rng = random.Random(14)
    clinicians = [(f"klin{i}", REGULAR_MEETINGS) for i in range(ACCOUNTS - 2)]
    clinicians += [("small", SMALL_MEETINGS), ("big", BIG_MEETINGS)]
    os.environ["VIDEOMOTE_WORKER_SECRET"] = WORKER_SECRET  # the Plone server reads it
    sink = MailSink()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        radicale, caldav_url = _radicale(Path(tmp) / "collections")
        made = Path(tmp) / "meetings.json"
        prepare = (
            (
                ROOT / "benchmarks/support/caldav_accounts.py",
                {
                    "BENCH_CALDAV_URL": caldav_url,
                    "BENCH_CLINICIANS": json.dumps(clinicians),
                    "BENCH_OUT": str(made),
                    "BENCH_SEEDED": json.dumps([] if FIRST_PUSH else ["big"]),
                    "BENCH_CALDAV_STORAGE": str(Path(tmp) / "collections"),
                },
            ),
        )
        servers: list = []
        worker = None
        try:
            started = time.perf_counter()
            with demo_with_mail_sink(sink, prepare=prepare, server_out=servers) as (site, _s):
                out["setup_s"] = round(time.perf_counter() - started, 1)
                meetings = json.loads(made.read_text())
                plone = servers[0]
                # The first round writes every meeting into its calendar (the import), one
                # PUT each: the clinician with 50 alone first, then all (with FIRST_PUSH
                # the one with 5,000 too; otherwise her calendar and status were written
                # in the set-up, and her first round finds all in place).
                out["first_push_s_50"] = round(_sync_now(site, {"account": "small"}) / 1000, 1)
                if FIRST_PUSH:
                    out["first_push_s_5000"] = round(_sync_now(site, {"account": "big"}) / 1000, 1)
                else:
                    out["first_push_s_5000"] = None
                    out["first_round_seeded_s_5000"] = round(
                        _sync_now(site, {"account": "big"}) / 1000, 1
                    )
                out["first_full_round_s"] = round(_sync_now(site) / 1000, 1)
                collections = {
                    userid: str(CalendarAccount(caldav_url, userid, "x").calendar().url)
                    for userid, _count in clinicians
                }
                worker = subprocess.Popen(
                    [
                        str(BIN / "videomote-caldav-sync"),
                        "--site",
                        site,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                # Its first round is a full one: measure idle only once it is done (an
                # account whose round runs elsewhere is answered as "busy").
                time.sleep(3)
                _until_no_round_runs(site)
                cpu_before = cpu_seconds(worker.pid), cpu_seconds(plone.pid)
                time.sleep(IDLE_S)
                cpu_after = cpu_seconds(worker.pid), cpu_seconds(plone.pid)
                per = 60 / IDLE_S / ACCOUNTS
                out["worker_cpu_s_per_idle_account_min"] = round(
                    (cpu_after[0] - cpu_before[0]) * per, 4
                )
                out["plone_cpu_s_per_idle_account_min"] = round(
                    (cpu_after[1] - cpu_before[1]) * per, 4
                )
                # Changes in the calendars at random times: 2 of 3 moves, 1 of 3 deletions.
                untouched = {u: list(m.items()) for u, m in meetings.items()}
                latencies, mail_latencies = [], []
                for n in range(PROBES):
                    userid = rng.choice(sorted(u for u, m in untouched.items() if m))
                    ical_uid, path = untouched[userid].pop(rng.randrange(len(untouched[userid])))
                    delete = n % 3 == 2
                    session = requests.Session()
                    session.auth = (userid, "bench-password")
                    session.headers["Accept"] = "application/json"
                    before = session.get(f"{site}/{path}/@videomote-meeting", timeout=60).json()
                    time.sleep(rng.uniform(0, 5))
                    href = f"{collections[userid].rstrip('/')}/{quote(ical_uid, safe='')}.ics"
                    _client_change(caldav_url, userid, href, delete)
                    changed = time.monotonic()
                    deadline = changed + PROBE_TIMEOUT_S
                    while time.monotonic() < deadline:
                        if _reached_journal(session, site, path, before, delete):
                            break
                        time.sleep(0.25)
                    latencies.append(time.monotonic() - changed)
                    mails = [t for t in sink.arrivals.get(ical_uid, []) if t >= changed]
                    while not mails and time.monotonic() < deadline:
                        time.sleep(0.1)
                        mails = [t for t in sink.arrivals.get(ical_uid, []) if t >= changed]
                    mail_latencies.append((mails[0] if mails else time.monotonic()) - changed)
                out["calendar_to_journal_p50_s"] = round(statistics.median(latencies), 2)
                out["calendar_to_journal_p95_s"] = round(percentile(latencies, 0.95), 2)
                out["calendar_to_journal_max_s"] = round(max(latencies), 2)
                out["calendar_to_mail_p95_s"] = round(percentile(mail_latencies, 0.95), 2)
                worker.terminate()
                worker.wait(timeout=60)
                worker = None
                # A round for one clinician after one change in her calendar, and idle.
                for userid, count in (("small", SMALL_MEETINGS), ("big", BIG_MEETINGS)):
                    _sync_now(site, {"only": "changes", "account": userid})
                    _ms, token = _server_report(collections[userid], userid, "")
                    rounds, idle, server, ours = [], [], [], []
                    for _ in range(ROUND_RUNS):
                        ical_uid, _path = untouched[userid].pop()
                        href = f"{collections[userid].rstrip('/')}/{quote(ical_uid, safe='')}.ics"
                        _client_change(caldav_url, userid, href, delete=False)
                        # Radicale alone, the same change: its sync REPORT reads the state
                        # of every item of the calendar, whatever the client asks for.
                        report_ms, token = _server_report(collections[userid], userid, token)
                        rounds.append(_sync_now(site, {"only": "changes", "account": userid}))
                        server.append(report_ms)
                        ours.append(rounds[-1] - report_ms)
                        idle.append(_sync_now(site, {"only": "changes", "account": userid}))
                    full = _sync_now(site, {"account": userid})
                    name = "5000" if userid == "big" else "50"
                    out[f"round_ms_{name}_meetings"] = round(statistics.median(rounds), 1)
                    out[f"server_report_ms_{name}_meetings"] = round(statistics.median(server), 1)
                    out[f"round_without_server_ms_{name}_meetings"] = round(
                        statistics.median(ours), 1
                    )
                    out[f"idle_round_ms_{name}_meetings"] = round(statistics.median(idle), 1)
                    out[f"full_round_ms_{name}_meetings"] = round(full, 1)
                    out[f"meetings_of_{name}"] = count
                out["round_ratio_5000_vs_50"] = round(
                    out["round_ms_5000_meetings"] / out["round_ms_50_meetings"], 2
                )
                # What the journal's side costs (the round less Radicale's answer to the
                # same sync REPORT): what the bridge can make independent of the number of
                # meetings; Radicale's own REPORT is not.
                out["round_ratio_5000_vs_50_without_server"] = round(
                    max(out["round_without_server_ms_5000_meetings"], 1.0)
                    / max(out["round_without_server_ms_50_meetings"], 1.0),
                    2,
                )
                out["server_report_ratio_5000_vs_50"] = round(
                    out["server_report_ms_5000_meetings"] / out["server_report_ms_50_meetings"], 2
                )
                out["accounts"] = ACCOUNTS
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=60)
            radicale.terminate()
            radicale.wait(timeout=30)
    print(f"journal: {out}", file=sys.stderr, flush=True)
    return out


if __name__ == "__main__":
    main()
