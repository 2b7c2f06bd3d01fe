"""Start-up cost of the add-on: a fresh instance with the demo site, measured end to end.

Measures, in one run: creating the demo site, time until the site answers, resident
memory of the serving process, and the median render time of a student/patient record
(add-on view) against Plone's own front page, both as the same logged-in user.
Prints one JSON object last.
"""

from pathlib import Path

import json
import requests
import statistics
import sys
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.instance import demo_instance  # noqa: E402
from support.instance import rss_mb  # noqa: E402

#: ``--smoke``: a few requests, only to show the benchmark still runs.
REQUESTS = 5 if "--smoke" in sys.argv else 30
ADMIN = ("admin", "admin")


def median_ms(session: requests.Session, url: str) -> float:
    for _ in range(3):
        session.get(url, timeout=30)
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        session.get(url, timeout=30).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    timings: dict = {}
    with demo_instance(timings) as (url, server):
        session = requests.Session()
        session.auth = ADMIN
        listing = session.get(f"{url}/elever", headers={"Accept": "application/json"}, timeout=30)
        record_url = listing.json()["items"][0]["@id"]
        front_ms = median_ms(session, url)
        record_ms = median_ms(session, record_url)
        memory = rss_mb(server.pid)
    print(
        json.dumps(
            {
                "create_site_s": round(timings["create_site_s"], 2),
                "start_to_first_response_s": round(timings["start_to_first_response_s"], 2),
                "rss_mb": round(memory, 1),
                "front_page_p50_ms": round(front_ms, 1),
                "patient_record_p50_ms": round(record_ms, 1),
                "record_vs_front_page_ratio": round(record_ms / front_ms, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
