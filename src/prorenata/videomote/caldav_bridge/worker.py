"""``videomote-caldav-sync``: asks Plone to sync clinicians' calendars, on an interval.

Every ``--changes-interval`` seconds (5) an incremental round for every account: a sync
REPORT with the stored token (the server says what changed, usually nothing) and the
meetings changed in the journal since, so a change on either side reaches the other within
seconds. Every ``--interval`` seconds (300) a full round for every account, the safety net
(e.g. a clinician who lost access to a record loses its meetings from the calendar). Rounds
start on a fixed cadence (start to start), so a slow round does not stretch the interval.
Plone keeps the sync state, so restarts lose nothing.

Any number of workers may run, on any hosts, against any of the site's Zope instances:
each account's round takes the account's lease in the database (``lease.py``), so one of
them at a time syncs it and the others skip it that round. A second worker is therefore a
hot standby that needs no configuration and takes over at once when the first stops. (A
worker-wide lease would have added a heartbeat of its own, a write to the database every
few seconds, and still not covered two Zope instances serving one worker's requests.)
"""

import argparse
import os
import requests
import signal
import sys
import time

HEADER = "X-Videomote-Worker"
#: Seconds between incremental rounds (start to start) and between full rounds.
CHANGES_INTERVAL = 5.0
FULL_INTERVAL = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site", default="http://localhost:8080/Plone")
    parser.add_argument("--interval", type=float, default=FULL_INTERVAL)
    parser.add_argument(
        "--changes-interval", "--dirty-interval", type=float, default=CHANGES_INTERVAL
    )
    # Ignored: the lock file of earlier versions (one host only), kept so that the command
    # lines of existing deployments still start.
    parser.add_argument("--lock", help=argparse.SUPPRESS)
    parser.add_argument("--once", action="store_true", help="one full round, then exit")
    args = parser.parse_args()
    secret = os.environ.get("VIDEOMOTE_WORKER_SECRET")
    if not secret:
        print("VIDEOMOTE_WORKER_SECRET is not set", file=sys.stderr)
        return 2
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    last_full = -args.interval  # the first round is a full one
    while not stopping:
        started = time.monotonic()
        full = started - last_full >= args.interval
        try:
            response = requests.post(
                f"{args.site}/@@videomote-caldav-sync",
                params={} if full else {"only": "changes"},
                headers={HEADER: secret},
                timeout=300,
            )
            if response.status_code == 200 and full:
                last_full = started
        except requests.RequestException as error:
            print(f"Plone not reachable ({type(error).__name__}); retrying", file=sys.stderr)
        if args.once:
            return 0
        deadline = started + args.changes_interval
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
