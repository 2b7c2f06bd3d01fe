"""Run every benchmark at a tiny size and check the JSON it prints: a benchmark that
breaks (or stops reporting a figure) stops the submission, not the next person who runs it.

Each ``benchmarks/<name>.py`` takes ``--smoke`` (the same steps, tiny sizes) and must end
with one JSON object holding at least the keys listed here. A new benchmark must be added
here too, or this script fails.
"""

from pathlib import Path

import json
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parents[1]
#: The figures each benchmark reports (README and the issues quote them by these names).
KEYS = {
    "startup": (
        "create_site_s",
        "start_to_first_response_s",
        "rss_mb",
        "front_page_p50_ms",
        "patient_record_p50_ms",
        "record_vs_front_page_ratio",
    ),
    "booking": (
        "bookings",
        "booking_p50_ms",
        "plain_event_p50_ms",
        "ratio",
        "delivered",
        "delivery_p50_ms",
        "delivery_p95_ms",
    ),
    "signin": (
        "participants",
        "signed_in",
        "refusals",
        "sms_request_p95_ms",
        "verify_p95_ms",
        "verify_burst_p95_ms",
        "verify_alone_p50_ms",
    ),
    "caldav_sync": (
        "events",
        "import_s",
        "full_sync_ms",
        "incremental_sync_ms",
        "ratio",
        "full_listing_with_status_ms",
        "server_sync_report_ms",
        "ratio_bound_by_server",
        "calendar_to_journal_p95_s",
        "calendar_to_mail_p95_s",
        "worker_cpu_s_per_idle_account_min",
        "plone_cpu_s_per_idle_account_min",
        "round_ms_5000_meetings",
        "round_ms_50_meetings",
        "round_ratio_5000_vs_50",
        "server_report_ms_5000_meetings",
        "server_report_ms_50_meetings",
        "round_without_server_ms_5000_meetings",
        "round_without_server_ms_50_meetings",
        "round_ratio_5000_vs_50_without_server",
        "first_push_s_50",
        "first_push_s_5000",
        "setup_s",
    ),
    "media": (
        "forward_cpu_pct_per_stream",
        "forward_cpu_pct_per_stream_with_share",
        "forward_cpu_pct_per_stream_full_clients",
        "forward_cpu_pct_per_stream_with_share_full_clients",
        "cpu_method",
        "wakeup_cost",
        "reencode_cpu_pct_per_stream",
        "cpu_ratio",
        "rooms_at_full_fps",
        "rooms_method",
        "first_frame_ms",
        "relay_latency_p50_ms",
        "through_relay_p95_ms",
    ),
    "cluster": (
        "verify_burst_p95_ms_two",
        "verify_burst_p95_ms_one",
        "verify_burst_rps_two",
        "verify_burst_rps_one",
        "verify_burst_cpu_pct_two",
        "verify_burst_cpu_pct_one",
        "verify_burst_failures_two",
        "verify_burst_failures_one",
        "verify_burst_method",
        "bookings",
        "bookings_lost",
        "duplicate_invitations",
        "invitations_missing",
        "media_failover_s",
        "turn_tcp_first_frame_ms",
        "turn_tcp_method",
        "rooms_one_media",
        "rooms_two_media",
        "rooms_media_ratio",
        "rooms_media_ratio_ceiling",
        "clients_to_media_cpu_at_best_one",
        "media_cpu_pct_per_room_one",
        "media_cpu_pct_per_room_two",
        "rooms_media_method",
    ),
}
#: Seconds one benchmark may take at its tiny size.
TIMEOUT = 600


def last_json(output: str) -> dict:
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON object in its output")


def run(name: str) -> list[str]:
    """Problems found running ``benchmarks/<name>.py --smoke`` (none: it works)."""
    started = time.monotonic()
    try:
        # S603: this interpreter on one of the repository's own benchmark files, no shell.
        done = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), "--smoke"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return [f"took over {TIMEOUT} s"]
    elapsed = time.monotonic() - started
    if done.returncode != 0:
        tail = "\n    ".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        return [f"exited {done.returncode} after {elapsed:.0f} s:\n    {tail}"]
    try:
        result = last_json(done.stdout)
    except ValueError as error:
        return [str(error)]
    missing = [key for key in KEYS[name] if key not in result]
    if missing:
        return [f"its JSON lacks {', '.join(missing)}"]
    print(f"bench-smoke: {name} ok in {elapsed:.0f} s: {json.dumps(result)[:300]}", flush=True)
    return []


def main() -> int:
    found = sorted(path.stem for path in (ROOT / "benchmarks").glob("*.py"))
    unknown = [name for name in found if name not in KEYS]
    problems = {name: [f"not listed in {Path(__file__).name}"] for name in unknown}
    for name in sys.argv[1:] or [name for name in found if name in KEYS]:
        problems[name] = run(name)
    failed = {name: found for name, found in problems.items() if found}
    for name, found in failed.items():
        for problem in found:
            print(f"bench-smoke: {name} FAILED: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
