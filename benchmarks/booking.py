"""Booking through the REST API against plain Plone events, and e-mail delivery time.

In one run against a fresh demo instance: 200 bookings (POST @videomote-meetings: rules,
codes, iMIP message, outbox) and 200 plain plone.app.event Events (POST with @type
Event) as the baseline; then the time from the saved booking (response received) to the
message's arrival at a real SMTP server (aiosmtpd). Prints one JSON object last.
"""

from datetime import date
from datetime import timedelta
from pathlib import Path

import email
import email.policy
import icalendar
import json
import statistics
import sys
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.instance import demo_with_mail_sink  # noqa: E402
from support.instance import percentile  # noqa: E402

#: ``--smoke``: a handful of bookings, only to show the benchmark still runs.
SMOKE = "--smoke" in sys.argv
COUNT = 10 if SMOKE else 200
WARMUP = 2 if SMOKE else 10
#: Seconds to wait for every invitation at the SMTP server after the last booking.
DELIVERY_WAIT = 120


class Sink:
    """Records the arrival time of each iCalendar UID."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        arrived = time.perf_counter()
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                uid = str(icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")[0]["UID"])
                with self.lock:
                    self.arrivals.setdefault(uid, arrived)
                break
        return "250 OK"


def main() -> None:
    sink = Sink()
    with demo_with_mail_sink(sink) as (url, session):
        students = session.get(f"{url}/elever", timeout=30).json()["items"]
        alva = session.get(students[0]["@id"], timeout=30).json()["UID"]
        day = date.today() + timedelta(days=7)

        def slot(i: int) -> tuple[str, str]:
            start = day + timedelta(days=i // 20)
            hour, minute = 7 + (i % 20) // 2, 30 * (i % 2)
            return (f"{start}T{hour:02d}:{minute:02d}", f"{start}T{hour:02d}:{minute + 29:02d}")

        def book(i: int) -> tuple[float, str, float]:
            start, end = slot(i)
            began = time.perf_counter()
            response = session.post(
                f"{url}/@videomote-meetings",
                json={
                    "title": f"Samtal {i}",
                    "start": start,
                    "end": end,
                    "patient": alva,
                    "contact_choice": "student",
                },
                timeout=60,
            )
            done = time.perf_counter()
            response.raise_for_status()
            return (done - began) * 1000, response.json()["ical_uid"], done

        def plain_event(i: int) -> float:
            start, end = slot(i)
            began = time.perf_counter()
            session.post(
                url,
                json={"@type": "Event", "title": f"Händelse {i}", "start": start, "end": end},
                timeout=60,
            ).raise_for_status()
            return (time.perf_counter() - began) * 1000

        for i in range(WARMUP):
            book(COUNT + i)
            plain_event(COUNT + i)
        # Interleave the two so that both see the same machine and database size.
        booking_ms, event_ms, saved = [], [], {}
        for i in range(COUNT):
            elapsed, uid, done = book(i)
            booking_ms.append(elapsed)
            saved[uid] = done
            event_ms.append(plain_event(i))
        deadline = time.monotonic() + DELIVERY_WAIT
        while time.monotonic() < deadline:
            with sink.lock:
                if all(uid in sink.arrivals for uid in saved):
                    break
            time.sleep(0.1)
        with sink.lock:
            delivery = [
                max(0.0, (sink.arrivals[uid] - done) * 1000)
                for uid, done in saved.items()
                if uid in sink.arrivals
            ]
    if len(delivery) < len(saved):
        sys.exit(
            f"bench-booking: only {len(delivery)} of {len(saved)} invitations reached the "
            f"SMTP server within {DELIVERY_WAIT} s of the last booking"
        )
    booking_p50 = statistics.median(booking_ms)
    event_p50 = statistics.median(event_ms)
    print(
        json.dumps(
            {
                "bookings": COUNT,
                "booking_p50_ms": round(booking_p50, 1),
                "plain_event_p50_ms": round(event_p50, 1),
                "ratio": round(booking_p50 / event_p50, 2),
                "delivered": len(delivery),
                "delivery_p50_ms": round(statistics.median(delivery), 1) if delivery else None,
                "delivery_p95_ms": round(percentile(delivery, 0.95), 1) if delivery else None,
            }
        )
    )


if __name__ == "__main__":
    main()
