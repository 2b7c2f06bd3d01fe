"""The production topology on real engines: PostgreSQL (RelStorage), two Zope instances
behind HAProxy with TLS. Bookings go on while an instance is killed; the instances share
one per-client limit; every invitation arrives once."""

from cluster_helpers import ADMIN  # noqa: F401 - imported from here by other modules
from cluster_helpers import STAFF
from cluster_helpers import book_soon
from cluster_helpers import https_request
from cluster_helpers import missing_engines
from cluster_helpers import student_uid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from datetime import timedelta
from prorenata.videomote.notify.outbox import CLAIM_SECONDS

import http.client
import json
import os
import pytest
import re
import shutil
import subprocess
import time
import urllib.parse

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

#: The earlier names of the shared helpers (other modules import them from here).
_request = https_request
_student_uid = student_uid


@pytest.fixture(scope="module")
def cluster(cluster_module, smtp_sink_server):
    reason = missing_engines()
    if reason:
        pytest.skip(reason)
    topology = cluster_module.on_free_ports("videomote-cluster-", smtp_sink_server.port)
    path = topology.directory
    environ = {k: v for k, v in os.environ.items() if k != "VIDEOMOTE_DSN"}
    processes = cluster_module.start(topology, environ, with_site=True, with_extras=False)
    topology.processes = processes
    topology.environ = environ
    yield topology
    cluster_module.stop(processes)
    shutil.rmtree(path, ignore_errors=True)


def _served_by(cluster, n: int, needle: str) -> int:
    """POST requests of instance ``n`` whose path ends in ``needle`` (its access log shows
    HAProxy's VirtualHostMonster path)."""
    log = cluster.var / "log" / f"access-{n}.log"
    if not log.exists():
        return 0
    return sum(1 for line in log.read_text().splitlines() if '"POST ' in line and needle in line)


def test_two_instances_enforce_one_limit_per_client_address(cluster):
    """60 code attempts per address and 10 minutes, counted in the database: the instances
    serve them in turn and refuse the 61st together; X-Forwarded-For carries the address
    through HAProxy, so another client is not refused."""
    statuses = [
        https_request(
            cluster,
            "POST",
            "/Plone/videomote",
            {"code": "ZZZZ-ZZZZ-ZZZZ"},
            source="127.0.0.2",
            json=False,
        )
        for _ in range(61)
    ]
    assert statuses[-1][0] == 429
    assert "För många försök från din dator" in statuses[-1][1]
    assert [status for status, _text in statuses[:-1]] == [200] * 60
    assert _served_by(cluster, 1, "/Plone/videomote HTTP") >= 10
    assert _served_by(cluster, 2, "/Plone/videomote HTTP") >= 10
    other = https_request(
        cluster,
        "POST",
        "/Plone/videomote",
        {"code": "ZZZZ-ZZZZ-ZZZZ"},
        source="127.0.0.3",
        json=False,
    )
    assert other[0] == 200
    # the instances saw the clients' addresses, not HAProxy's
    assert "127.0.0.2" in (cluster.var / "log" / "access-1.log").read_text()


def _invitation_text(sink, title: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(sink.messages):
            if title in str(message["Subject"]):
                return message.get_body(preferencelist=("plain",)).get_content()
        time.sleep(0.3)
    raise AssertionError(f"no invitation for {title}")


def test_two_instances_keep_one_sms_quota_per_sign_in(cluster, smtp_sink_server):
    """A participant's "send code" posts go to both instances in turn; the fifth SMS of
    the hour is the last, whichever instance is asked (the quota is in the database)."""
    import requests

    book_soon(cluster, "Klustertest SMS", minutes=10)
    invitation = _invitation_text(smtp_sink_server, "Klustertest SMS")
    # links lead to the public https address behind HAProxy
    assert f"https://localhost:{cluster.https_port}/Plone/videomote" in invitation
    code = re.search(
        r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b",
        invitation,
    ).group(0)
    base = f"https://localhost:{cluster.https_port}/Plone/videomote"
    browser = requests.Session()
    browser.trust_env = False  # REQUESTS_CA_BUNDLE would replace the cluster's certificate
    browser.verify = str(cluster.var / "tls" / "site.crt")
    started = browser.post(base, data={"code": code}, timeout=60)
    assert started.status_code == 200 and "/logga-in" in started.url, started.text[:500]
    pages = [
        browser.post(f"{base}/logga-in", data={"send_code": "1"}, timeout=60).text for _ in range(6)
    ]
    assert all("Du har fått för många SMS-koder" not in page for page in pages[:5])
    assert "Du har fått för många SMS-koder" in pages[5]
    assert _served_by(cluster, 1, "/Plone/videomote/logga-in HTTP") >= 2
    assert _served_by(cluster, 2, "/Plone/videomote/logga-in HTTP") >= 2


def test_bookings_survive_a_killed_instance_and_each_invitation_arrives_once(
    cluster, cluster_module, smtp_sink_server
):
    patient = student_uid(cluster)
    first_day = date.today() + timedelta(days=3)

    def book(number: int):
        day = first_day + timedelta(days=number // 8)
        hour = 8 + number % 8
        title = f"Klustertest {number}"
        body = {
            "title": title,
            "start": f"{day.isoformat()}T{hour:02d}:00",
            "end": f"{day.isoformat()}T{hour:02d}:30",
            "patient": patient,
            "contact_choice": "guardian",
        }
        try:
            status, text = https_request(cluster, "POST", "/Plone/@videomote-meetings", body, STAFF)
        except (OSError, http.client.HTTPException) as error:
            return title, None, repr(error)
        return title, status, text

    results = []
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = [pool.submit(book, number) for number in range(30)]
        for index, future in enumerate(futures):
            results.append(future.result(timeout=120))
            if index == 7:
                cluster.processes["zope1"].kill()  # mid-run, requests in flight
                killed_at = time.time()
    succeeded = {title: json.loads(text) for title, status, text in results if status == 201}
    assert len(succeeded) >= 20, [(t, s) for t, s, _ in results if s != 201]
    assert cluster.processes["zope1"].poll() is not None

    # every booking the client saw succeed is saved (read back through the survivor)
    for title, meeting in succeeded.items():
        path = urllib.parse.urlsplit(meeting["@id"]).path
        status, text = https_request(cluster, "GET", path, auth=STAFF)
        assert status == 200, (title, text)

    # bring the killed instance back: both delivery workers run again
    cluster.processes["zope1"] = subprocess.Popen(
        cluster_module.zope_command(cluster, 1),
        cwd=cluster_module.ROOT,
        env=cluster_module.cluster_environment(cluster, cluster.environ),
    )
    cluster_module.wait_for_port(cluster.zope_port, 300, cluster.processes["zope1"])

    def ours() -> Counter:
        return Counter({title: len(times) for title, times in _arrivals(smtp_sink_server).items()})

    # A mail the killed instance had claimed but not yet handed to SMTP waits for its
    # claim to expire (CLAIM_SECONDS after the kill); everything else comes within 120 s.
    deadline = time.monotonic() + 120
    claim_expired = time.monotonic() + max(0.0, killed_at + CLAIM_SECONDS - time.time()) + 60
    while not set(succeeded) <= set(ours()):
        missing = set(succeeded) - set(ours())
        if time.monotonic() > deadline and (len(missing) > 1 or time.monotonic() > claim_expired):
            break
        time.sleep(0.5)
    _wait_until_nothing_left_to_send(cluster, first_day, len(succeeded))
    counts = ours()
    assert set(succeeded) <= set(counts), sorted(set(succeeded) - set(counts))
    _assert_once_but_the_one_in_flight(_arrivals(smtp_sink_server), killed_at)


def _wait_until_nothing_left_to_send(cluster, first_day: date, booked: int):
    """A second copy comes from a mail still waiting in the outbox: wait a worker round
    (15 s) and more, or less once every invitation is recorded as sent (then only an
    SMTP hand-over in flight as the last was recorded can still land: a moment for it).
    While one waits (the killed instance may hold some, claimed until CLAIM_SECONDS
    after the kill), the whole time: a claim the survivor ignored shows as a copy."""
    quiet_by = time.monotonic() + 20
    while time.monotonic() < quiet_by:
        if _all_invitations_sent(cluster, first_day, booked):
            time.sleep(2)
            return
        time.sleep(1)


def _all_invitations_sent(cluster, first_day: date, booked: int) -> bool:
    """Whether every "Klustertest N" invitation is recorded as sent (as staff see it),
    at least ``booked`` of them."""
    status, text = https_request(
        cluster,
        "GET",
        "/Plone/@videomote-meetings?"
        + urllib.parse.urlencode({"start": first_day, "end": first_day + timedelta(days=4)}),
        auth=STAFF,
    )
    if status != 200:
        return False
    ours = [
        item["invitation"]["status"]
        for item in json.loads(text)["items"]
        if re.fullmatch(r"Klustertest \d+", item["title"])
    ]
    return len(ours) >= booked and all(status == "sent" for status in ours)


def _arrivals(sink) -> dict[str, list[float]]:
    """When each "Klustertest N" invitation arrived at the SMTP sink."""
    found: dict[str, list[float]] = {}
    for message, at in zip(list(sink.messages), list(sink.arrivals), strict=False):
        title = re.search(r"Klustertest \d+", str(message["Subject"]))
        if title:
            found.setdefault(title.group(0), []).append(at)
    return found


def _assert_once_but_the_one_in_flight(arrivals: dict[str, list[float]], killed_at: float):
    """Each invitation once. The one exception is the mail the killed instance was sending
    at that moment: SMTP had taken it, the instance died before recording that, so after
    its claim expires (CLAIM_SECONDS) the survivor sends it again, never earlier. No sender
    can tell "delivered, then died" from "died before delivering" (at least once beats
    losing an invitation)."""
    for title, times in arrivals.items():
        if len(times) == 1:
            continue
        first, *again = sorted(times)
        assert len(again) == 1, (title, times)
        assert first <= killed_at + 5 and again[0] >= killed_at + CLAIM_SECONDS - 1, (
            title,
            [round(t - killed_at, 1) for t in times],
        )
