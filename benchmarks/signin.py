"""Participant sign-in under load: 50 participants at once, each from its own address.

Against a fresh demo instance: 50 students with their own meeting and mobile. Every
participant (a thread bound to its own loopback address, 127.0.0.x, so the per-client
limit applies as it would to 50 homes) enters the meeting code, asks for an SMS code
and verifies it, each at a random moment within the same five seconds. Reports p50/p95
of the SMS request and of the verification, verification with all 50 at the very same
instant (a burst), one at a time as a baseline, and every refusal (HTTP 429 or a limit
message), which must be zero. The site sends its SMS through the real 46elks client to a
local server speaking 46elks' API (the tests' fake operator), and the benchmark reads the
codes from what that server received, as a phone would. Prints one JSON object last;
``--smoke`` runs the same steps with five participants.
"""

from datetime import datetime
from datetime import timedelta
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import email
import email.policy
import json
import random
import re
import statistics
import sys
import threading
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_46elks import FortySixElks  # noqa: E402
from http.server import ThreadingHTTPServer  # noqa: E402
from support.instance import demo_with_mail_sink  # noqa: E402
from support.instance import percentile  # noqa: E402

SMOKE = "--smoke" in sys.argv
PARTICIPANTS = 5 if SMOKE else 50
# Seconds over which the participants act "at the same time" in the main phases.
SPREAD = 1.0 if SMOKE else 5.0
#: Seconds to wait for every invitation (with its meeting code) at the SMTP server.
DELIVERY_WAIT = 180


class Sink:
    def __init__(self):
        self.codes: dict[str, str] = {}  # recipient -> meeting code

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(("plain",)).get_content()
        found = re.search(r"möteskoden: (\S+)", text)
        if found:
            self.codes[envelope.rcpt_tos[0]] = found.group(1)
        return "250 OK"


class Participant:
    """A browser of one participant: its own source address and cookies."""

    def __init__(self, base: str, address: str):
        parsed = urlparse(base)
        self.host, self.port, self.path = parsed.hostname, parsed.port, parsed.path
        self.address = address
        self.cookies: dict[str, str] = {}
        self.refusals = 0

    def post(self, step: str, fields: dict) -> tuple[float, int, str]:
        connection = HTTPConnection(
            self.host, self.port, timeout=60, source_address=(self.address, 0)
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        connection.request("POST", f"{self.path}/videomote{step}", urlencode(fields), headers)
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        elapsed = (time.perf_counter() - started) * 1000
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";")[0].strip('"')
        connection.close()
        if response.status == 429 or "För många" in body or "för många" in body:
            self.refusals += 1
        return elapsed, response.status, body


def run_phase(participants, action, spread_seconds: float = 0.0) -> list:
    """Everyone at once, or each at a random moment within ``spread_seconds``."""
    barrier = threading.Barrier(len(participants))
    results = [None] * len(participants)
    offsets = [random.uniform(0, spread_seconds) for _ in participants]

    def work(index, participant):
        barrier.wait()
        time.sleep(offsets[index])
        results[index] = action(participant)

    threads = [threading.Thread(target=work, args=(i, p)) for i, p in enumerate(participants)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def wait_for(found: dict, wanted: list[str], what: str) -> None:
    """Until every key in ``wanted`` is in ``found``, or fail saying what is missing."""
    deadline = time.monotonic() + DELIVERY_WAIT
    while time.monotonic() < deadline:
        if all(key in found for key in wanted):
            return
        time.sleep(0.1)
    missing = [key for key in wanted if key not in found]
    sys.exit(
        f"bench-signin: {len(missing)} of {len(wanted)} {what} did not arrive within "
        f"{DELIVERY_WAIT} s (first missing: {missing[0]})"
    )


def latest_codes(received: list[dict]) -> dict[str, str]:
    """The newest one-time code each mobile number got from the SMS operator."""
    codes = {}
    for message in received:
        found = re.search(r"\b(\d{6})$", message["message"])
        if found:
            codes[message["to"]] = found.group(1)
    return codes


def main() -> None:
    sink = Sink()
    FortySixElks.received = []
    operator = ThreadingHTTPServer(("127.0.0.1", 0), FortySixElks)
    threading.Thread(target=operator.serve_forever, daemon=True).start()
    with demo_with_mail_sink(sink) as (url, admin):
        admin.patch(
            f"{url}/@registry",
            json={
                "prorenata.videomote.sms_gateway": "46elks",
                "prorenata.videomote.sms_api_url": (
                    f"http://127.0.0.1:{operator.server_port}/a1/sms"
                ),
                "prorenata.videomote.sms_api_username": "u123",
                "prorenata.videomote.sms_api_password": "secret",
            },
            timeout=30,
        ).raise_for_status()
        start = datetime.now(ZoneInfo("Europe/Stockholm")).replace(tzinfo=None)
        start = start + timedelta(minutes=10)
        mobiles = {}
        for i in range(PARTICIPANTS):
            address = f"bench{i}@example.se"
            mobile = f"+467012346{i:02d}"
            patient = admin.post(
                f"{url}/elever",
                json={
                    "@type": "Patient",
                    "title": f"Elev {i}",
                    "contact_email": address,
                    "contact_mobile": mobile,
                },
            ).json()
            admin.post(
                f"{url}/@videomote-meetings",
                json={
                    "title": f"Samtal {i}",
                    "start": start.isoformat(timespec="minutes"),
                    "end": (start + timedelta(minutes=30)).isoformat(timespec="minutes"),
                    "patient": patient["UID"],
                    "contact_choice": "student",
                },
            ).raise_for_status()
            mobiles[address] = mobile
        wait_for(sink.codes, list(mobiles), "invitations")
        people = [Participant(url, f"127.0.0.{i + 2}") for i in range(PARTICIPANTS)]
        codes = [sink.codes[f"bench{i}@example.se"] for i in range(PARTICIPANTS)]

        entered = run_phase(people, lambda p: p.post("", {"code": codes[people.index(p)]}))
        assert all(status == 302 for _, status, _ in entered), "code page refused"
        sms = run_phase(people, lambda p: p.post("/logga-in", {"send_code": "1"}), SPREAD)
        latest = latest_codes(FortySixElks.received)
        wait_for(latest, list(mobiles.values()), "SMS codes")
        sms_codes = [latest[mobiles[f"bench{i}@example.se"]] for i in range(PARTICIPANTS)]
        # All 50 at the same instant (a wrong code: checked and counted, nothing ends).
        burst = run_phase(
            people, lambda p: p.post("/logga-in", {"continue": "1", "one_time_code": "000000"})
        )
        verified = run_phase(
            people,
            lambda p: p.post(
                "/logga-in", {"continue": "1", "one_time_code": sms_codes[people.index(p)]}
            ),
            SPREAD,
        )
        signed_in = sum(1 for _, status, _ in verified if status == 302)
        # Baseline: the same verification, one participant at a time (wrong code, so
        # each call checks a code without ending the sign-in).
        alone = [Participant(url, f"127.0.1.{i + 2}") for i in range(min(10, PARTICIPANTS))]
        for i, participant in enumerate(alone):
            participant.post("", {"code": codes[i]})
            participant.post("/logga-in", {"send_code": "1"})
        single = [
            p.post("/logga-in", {"continue": "1", "one_time_code": "000000"})[0] for p in alone
        ]
    operator.shutdown()
    sms_ms = [elapsed for elapsed, _, _ in sms]
    verify_ms = [elapsed for elapsed, _, _ in verified]
    burst_ms = [elapsed for elapsed, _, _ in burst]
    print(
        json.dumps(
            {
                "participants": PARTICIPANTS,
                "signed_in": signed_in,
                "refusals": sum(p.refusals for p in people),
                "sms_request_p50_ms": round(statistics.median(sms_ms), 1),
                "sms_request_p95_ms": round(percentile(sms_ms, 0.95), 1),
                "verify_p50_ms": round(statistics.median(verify_ms), 1),
                "verify_p95_ms": round(percentile(verify_ms, 0.95), 1),
                "verify_burst_p50_ms": round(statistics.median(burst_ms), 1),
                "verify_burst_p95_ms": round(percentile(burst_ms, 0.95), 1),
                "verify_alone_p50_ms": round(statistics.median(single), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
