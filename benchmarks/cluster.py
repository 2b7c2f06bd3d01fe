"""The production topology under load and under failure (``make bench-cluster``).

Starts the cluster of ``scripts/cluster.py`` (PostgreSQL, two Zope instances on
RelStorage, HAProxy with TLS) on free loopback ports with an in-process SMTP sink, then:

- ``verify_burst_p95_ms_two`` / ``_one``: 50 participants, each invited to a meeting of
  their own (a student with their own e-mail and mobile), signed in up to the SMS code
  (meeting code from the invitation, an SMS code from the site's outbox), then all 50
  submitting their SMS code (``POST /videomote/logga-in``) at the same instant, each on a
  kept-alive TLS connection from its own client address, through HAProxy with both
  instances, then with one stopped; four rounds, each a fresh sign-in; every submission
  must open the participant's session (``verify_burst_failures_*``, the run fails
  otherwise); with submissions/s and the CPU of each part and of the load generator over
  the submissions (``verify_burst_cpu_pct_*``), so the JSON shows what limits it;
- ``bookings`` booked over REST while instance 1 is killed part-way: ``bookings_lost``
  (answered 201 but not readable afterwards), ``duplicate_invitations`` (a meeting's
  invitation arriving more than once), ``invitations_missing`` (a saved booking whose
  invitation never came within the wait);
- ``media_failover_s``: two staff members in one meeting on two media nodes; the node it
  lives on is killed; seconds until both, with fresh tokens from Plone (which names the
  other node), receive each other's video again;
- ``turn_tcp_first_frame_ms``: a guardian on a network that drops all UDP (a network
  namespace of its own, ``scripts/udp_blocked.py``, shared with the test) comes in as the
  invitation brings them (link, SMS code, waiting room) to a meeting starting soon; staff
  start it; ms from the guardian's click on "Gå med nu" to their first decoded remote
  frame, over TURN/TCP (``turn_tcp_relay``: the relay protocol its selected candidate
  used); null where namespaces cannot be made (not root);
- ``rooms_one_media`` / ``rooms_two_media``: four-person rooms at full frame rate (as
  ``benchmarks/media.py``) on one media process and on two (after the cluster stopped).

``--smoke`` runs the same steps at a tiny size. Prints one JSON object last.
"""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from datetime import timedelta
from pathlib import Path

import asyncio
import base64
import html.parser
import http.client
import importlib.util
import json
import multiprocessing
import os
import re
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

ROOT = Path(__file__).resolve().parents[1]
SMOKE = "--smoke" in sys.argv
#: The verification burst: this many participants at the same instant, this many times.
BURST_PARTICIPANTS = 5 if SMOKE else 50
BURST_ROUNDS = 2 if SMOKE else 4
#: The burst's meetings start this many minutes after booking: their join window (from
#: 30 minutes before the start) is open, and stays open for the whole run.
BURST_START_MINUTES = 15
#: Participants entering their meeting code and asking for their SMS code at the same
#: time while a round is prepared (untimed). One: two SMS requests at once can conflict in
#: the database, and Zope's retry of the request keeps the code of its first attempt (as it
#: must for a real operator, whose SMS has gone) while the outbox gateway's copy of that
#: SMS was rolled back with the attempt, so the code could never be read.
BURST_PREPARING = 1
BURST_METHOD = (
    f"{BURST_PARTICIPANTS} meetings booked over REST, each with its own student (own "
    "e-mail and mobile: the invitee). Each round, every participant (a thread with its own "
    "kept-alive TLS connection through HAProxy from its own 127.0.x.y) enters the meeting "
    "code from its invitation e-mail (POST /Plone/videomote) and asks for an SMS code "
    "(POST /Plone/videomote/logga-in send_code; one participant at a time; the "
    "site's SMS outbox gateway, codes read from @@videomote-sms-utkorg as a manager); then, "
    "each connection used just before (GET /Plone/videomote/status), all "
    f"{BURST_PARTICIPANTS} submit their 6-digit SMS code (POST /Plone/videomote/logga-in "
    "continue, one_time_code) at the same instant (a barrier). Only the submissions are "
    "timed; each must answer 302 to /videomote/vantrum with the session cookie "
    f"(verify_burst_failures_*: any other answer, the run fails). {BURST_ROUNDS} rounds, "
    "each a fresh sign-in (meeting code and SMS code) per participant, after one untimed "
    "warm-up round with both instances; p50/p95 over all submissions, submissions/s and "
    "CPU % over the timed phases only, of each Zope instance, PostgreSQL (all backends), "
    "HAProxy and the load generator from /proc (and 'machine': every process, 100 per "
    "core); 4 waitress threads per instance, HAProxy maxconn 4 per instance (queue "
    "beyond). Product limits at their defaults, no benchmark-only setting: each "
    "participant's own address keeps it below the per-client limit (60 sign-in posts per "
    "10 min; 3 per round), each sign-in gets one SMS (limit 5 an hour) and each meeting "
    f"{1 + 2 * BURST_ROUNDS} (limit 20 an hour)"
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BOOKINGS = 8 if SMOKE else 40
CONCURRENCY = 16
STAFF = ("skolskoterska", "videomote")
ADMIN = ("admin", "admin")


def _script(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: scripts/cluster.py itself: the benchmark builds its cluster with the runner's functions.
CLUSTER = _script("cluster_script", "scripts/cluster.py")
#: The participant whose network drops UDP (the same set-up as tests/cluster/).
UDP_BLOCKED = _script("udp_blocked", "scripts/udp_blocked.py")
#: Booking, invitations' codes and the SMS outbox as tests/cluster/ use them.
CLIENT = _script("cluster_client", "scripts/cluster_client.py")


class Sink:
    """An SMTP server that keeps what arrived: subjects, recipients and plain text."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.subjects: list[str] = []
        self.messages: list[tuple[str, list[str], str]] = []
        self.port = CLUSTER.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        self.messages.append((str(message["Subject"]), list(envelope.rcpt_tos), text))
        self.subjects.append(str(message["Subject"]))
        return "250 OK"

    def wait_for(
        self, pattern: re.Pattern, seconds: float, to: str | None = None, title: str = ""
    ) -> str:
        """The first group of ``pattern`` in the newest message to ``to`` (any recipient if
        None) whose subject holds ``title``, waiting up to ``seconds`` for it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for subject, recipients, text in reversed(list(self.messages)):
                found = pattern.search(text)
                if found and title in subject and (to is None or to in recipients):
                    return found.group(1)
            time.sleep(0.2)
        raise RuntimeError(f"no e-mail to {to or 'anyone'} about {title!r} within {seconds} s")


def _request(
    cluster, method, path, body=None, auth=None, source="127.0.0.1", form=False, headers=None
):
    context = ssl.create_default_context(cafile=str(cluster.var / "tls" / "site.crt"))
    connection = http.client.HTTPSConnection(
        "localhost", cluster.https_port, context=context, timeout=60, source_address=(source, 0)
    )
    headers = {"Accept": "application/json", **(headers or {})}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant (and the reaped children it
    waited for): PostgreSQL's backends, a runner's child."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo, seen = 0, [pid], set()
    while todo and len(seen) < 10_000:
        current = todo.pop()
        if current in seen or current not in stats:
            continue
        seen.add(current)
        fields = stats[current]
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
        todo += children.get(current, [])
    return total / CLOCK_TICKS


def _cpu_snapshot(processes: dict) -> dict[str, float]:
    """CPU seconds so far of the cluster's parts and of this process (the load generator)."""
    parts = {
        name: _tree_cpu(process.pid)
        for name, process in processes.items()
        if name in ("zope1", "zope2", "postgres", "haproxy") and process.poll() is None
    }
    usage = resource.getrusage(resource.RUSAGE_SELF)
    parts["load_generator"] = usage.ru_utime + usage.ru_stime
    parts["machine"] = machine_cpu_seconds()
    return parts


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all processes, every core): beside the parts,
    this shows whether the machine was full (100 % per core) with other work."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _address(index: int) -> str:
    """The ``index``-th participant's own client address (127.0.1.10 on)."""
    return f"127.0.{1 + index // 240}.{10 + index % 240}"


def _burst_invitees(cluster, sink) -> list[tuple[str, str]]:
    """BURST_PARTICIPANTS meetings starting soon, each with a student of its own (own
    e-mail and mobile: the invitee): (meeting code from the invitation e-mail, mobile)."""
    invitees = []
    for number in range(BURST_PARTICIPANTS):
        address, mobile = f"verifiering{number}@example.se", f"+4670123{7000 + number}"
        patient = {
            "@type": "Patient",
            "title": f"Verifieringselev {number}",
            "contact_email": address,
            "contact_mobile": mobile,
        }
        status, text = _request(cluster, "POST", "/Plone/elever", patient, ADMIN)
        if status != 201:
            raise RuntimeError(f"student not created ({status}): {text[:300]}")
        uid = json.loads(text)["UID"]
        CLIENT.book_soon(
            cluster, f"Verifiering {number}", BURST_START_MINUTES, patient=uid, contact="student"
        )
        invitees.append((address, mobile))
    return [(sink.wait_for(CLIENT.MEETING_CODE, 180, to=a), mobile) for a, mobile in invitees]


class _Participant:
    """One participant's browser: a kept-alive TLS connection from its own address, and
    its cookies (the pending sign-in, then the session)."""

    def __init__(self, cluster, context, source: str):
        self.connection = http.client.HTTPSConnection(
            "localhost", cluster.https_port, context=context, timeout=120,
            source_address=(source, 0),
        )  # fmt: skip
        self.cookies: dict[str, str] = {}

    def send(self, method: str, path: str, fields: dict | None = None) -> tuple[int, str, str]:
        """(status, Location, page) of one request on the kept-alive connection."""
        headers = {"Accept": "text/html"}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        page = response.read().decode("utf-8", "replace")
        for value in response.headers.get_all("Set-Cookie") or ():
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0].strip('"')
        return response.status, response.getheader("Location", ""), page

    def up_to_the_sms_code(self, meeting_code: str) -> None:
        """A fresh sign-in: the meeting code entered, an SMS code asked for (and sent)."""
        self.cookies = {}
        status, location, page = self.send("POST", "/Plone/videomote", {"code": meeting_code})
        if status != 302 or not location.endswith("/videomote/logga-in"):
            raise RuntimeError(f"meeting code answered {status} {location} {_alert(page)}")
        status, _, page = self.send("POST", "/Plone/videomote/logga-in", {"send_code": "1"})
        if status != 200 or "Vi har skickat en engångskod till" not in page:
            raise RuntimeError(f"SMS code request answered {status} {_alert(page)}")

    def keep_alive(self) -> None:
        """Use the connection once more just before the instant (HAProxy closes a
        connection idle for 15 s), so no handshake falls into the timed submission."""
        self.send("GET", "/Plone/videomote/status")
        if self.connection.sock is None:
            raise RuntimeError("the kept-alive connection was closed before the burst")

    def submit(self, sms_code: str) -> str | None:
        """The SMS code submitted: None if it opened the session (302 to the waiting room
        with the session cookie), else what came instead."""
        fields = {"continue": "1", "one_time_code": sms_code}
        status, location, page = self.send("POST", "/Plone/videomote/logga-in", fields)
        opened = "videomote_session" in self.cookies
        if status == 302 and location.endswith("/videomote/vantrum") and opened:
            return None
        return f"{status} {location} {_alert(page)}".strip()


def _alert(page: str) -> str:
    """The page's error message, if any (what a participant would read)."""
    found = re.search(r'role="alert"[^>]*>\s*([^<]{1,200})', page)
    return found.group(1).strip() if found else ""


def _until_waiting(barrier: threading.Barrier, parties: int, seconds: float = 600) -> None:
    """Until ``parties`` threads wait at ``barrier`` (then the caller releases them)."""
    deadline = time.monotonic() + seconds
    while barrier.n_waiting < parties:
        if barrier.broken or time.monotonic() > deadline:
            raise threading.BrokenBarrierError
        time.sleep(0.001)


def _burst(cluster, base: int, processes: dict, invitees: list, rounds: int) -> dict:
    """``rounds`` times: every invitee signs in up to the SMS code (a thread each, with
    its own kept-alive TLS connection from its own client address, ``base`` on), the codes
    are read from the SMS outbox, and then all submit their code at the same instant (a
    barrier). p50/p95 of the submissions, submissions per second and the CPU each part of
    the cluster and the load generator used, over the timed submissions only."""
    context = ssl.create_default_context(cafile=str(cluster.var / "tls" / "site.crt"))
    parties = len(invitees)
    barrier = threading.Barrier(parties + 1, timeout=600)
    preparing = threading.Semaphore(BURST_PREPARING)
    codes = CLIENT.newest_sign_in_codes(cluster)  # each round's must be new
    times: list[float] = []
    failures: list[str] = []
    problems: list[str] = []

    def participant(number: int) -> None:
        meeting_code, mobile = invitees[number]
        browser = _Participant(cluster, context, _address(base + number))
        try:
            for _ in range(rounds):
                with preparing:
                    browser.up_to_the_sms_code(meeting_code)
                barrier.wait()  # every code sent
                barrier.wait()  # every code read
                browser.keep_alive()
                barrier.wait()  # the instant
                started = time.perf_counter()
                failure = browser.submit(codes[mobile])
                times.append((time.perf_counter() - started) * 1000)
                if failure:
                    failures.append(failure)
                barrier.wait()  # every answer in
        except threading.BrokenBarrierError:
            pass  # another participant failed: its problem is reported
        except Exception as error:  # noqa: BLE001 - reported below, the run fails
            problems.append(f"participant {number}: {error}")
            barrier.abort()
        finally:
            browser.connection.close()

    threads = [threading.Thread(target=participant, args=(n,)) for n in range(parties)]
    for thread in threads:
        thread.start()
    try:
        elapsed, used = _burst_rounds(cluster, processes, barrier, codes, invitees, rounds)
    except threading.BrokenBarrierError:
        problems.append("a round did not complete (a participant failed or timed out)")
    finally:
        for thread in threads:
            thread.join(120)
    if problems:
        raise RuntimeError(f"the burst could not be prepared: {problems[:5]}")
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(statistics.quantiles(times, n=20)[18], 1),
        "requests_per_s": round(len(times) / elapsed, 1),
        "cpu_pct": {name: round(100 * seconds / elapsed, 1) for name, seconds in used.items()},
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "submissions": len(times),
        "failures": len(failures),
        "failed_answers": sorted(set(failures))[:5],
    }


def _codes_sent(cluster, invitees, barrier, before: dict, seconds: float = 30) -> dict:
    """The newest sign-in code in the outbox for each invitee's mobile (every participant
    was told "Vi har skickat en engångskod"), which must be a new one (``before``: the
    newest codes before the round); the round is called off if one is missing."""
    deadline = time.monotonic() + seconds
    while True:
        newest = CLIENT.newest_sign_in_codes(cluster)
        missing = [
            mobile
            for _code, mobile in invitees
            if mobile not in newest or newest[mobile] == before.get(mobile)
        ]
        if not missing:
            return newest
        if time.monotonic() > deadline:
            barrier.abort()
            raise RuntimeError(f"no SMS code in the outbox for {missing[:5]}")
        time.sleep(1)


def _burst_rounds(cluster, processes, barrier, codes, invitees, rounds) -> tuple[float, dict]:
    """The load generator's side of :func:`_burst`: reads the codes each round, then
    releases the participants at one instant and measures until the last answer. The
    timed phases' seconds, and the CPU seconds each part used in them."""
    elapsed, used = 0.0, Counter()
    for _ in range(rounds):
        barrier.wait()  # every code sent
        codes.update(_codes_sent(cluster, invitees, barrier, dict(codes)))
        barrier.wait()  # every code read
        _until_waiting(barrier, len(invitees))
        before, started = _cpu_snapshot(processes), time.perf_counter()
        barrier.wait()  # the instant
        barrier.wait()  # every answer in
        elapsed += time.perf_counter() - started
        after = _cpu_snapshot(processes)
        used.update({name: after[name] - before[name] for name in after if name in before})
    return elapsed, used


def _book_one(cluster, patient: str, first_day: date, number: int):
    """One booking through HAProxy: (status, body), or (None, "") if the connection broke."""
    day = first_day + timedelta(days=number // 8)
    hour = 8 + number % 8
    body = {
        "title": f"Belastning {number}",
        "start": f"{day.isoformat()}T{hour:02d}:00",
        "end": f"{day.isoformat()}T{hour:02d}:30",
        "patient": patient,
        "contact_choice": "guardian",
    }
    try:
        return _request(cluster, "POST", "/Plone/@videomote-meetings", body, STAFF)
    except (OSError, http.client.HTTPException):
        return None, ""


def _invitation_counts(sink) -> Counter:
    """How many invitations arrived per booking title."""
    found = Counter()
    for subject in list(sink.subjects):
        match = re.search(r"Belastning \d+", subject)
        if match:
            found[match.group(0)] += 1
    return found


def _bookings_with_a_kill(cluster, module, sink) -> dict:
    patient = CLIENT.student_uid(cluster)  # the demo's first student, whose guardian has a mobile
    first_day = date.today() + timedelta(days=20)
    answers = []
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_book_one, cluster, patient, first_day, n) for n in range(BOOKINGS)]
        for index, future in enumerate(futures):
            answers.append(future.result(timeout=300))
            if index == BOOKINGS // 4:
                cluster.processes["zope1"].kill()
    refused = [text for status, text in answers if status is not None and 400 <= status < 500]
    if refused:  # the booking itself was wrong (not the kill): no figure to report
        raise RuntimeError(f"{len(refused)} bookings refused: {refused[0][:300]}")
    saved = [json.loads(text) for status, text in answers if status == 201]
    lost = 0
    for meeting in saved:
        path = urllib.parse.urlsplit(meeting["@id"]).path
        if _request(cluster, "GET", path, auth=STAFF)[0] != 200:
            lost += 1
    titles = {meeting["title"] for meeting in saved}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not titles <= set(_invitation_counts(sink)):
        time.sleep(0.5)
    time.sleep(20)  # one more delivery round: a second copy would have come by now
    found = _invitation_counts(sink)
    return {
        "bookings": BOOKINGS,
        "bookings_answered_201": len(saved),
        "bookings_lost": lost,
        "duplicate_invitations": sum(count - 1 for count in found.values() if count > 1),
        "invitations_missing": len(titles - set(found)),
    }


# -- media nodes --------------------------------------------------------------------------
def _media_module():
    spec = importlib.util.spec_from_file_location("media_bench", ROOT / "benchmarks/media.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rooms_per_media() -> dict:
    """Four-person rooms at full frame rate on one media process and on two (rooms
    placed in turn, as Plone places meetings on the least loaded node): media.py's
    ``rooms_per_media``, whose JSON says how it measured (``rooms_media_method``)."""
    media = _media_module()
    return media.rooms_per_media((1,) if SMOKE else media.ROOM_STEPS)


class _RoomPage(html.parser.HTMLParser):
    """The staff room's data attributes, or the start form's CSRF token."""

    room: dict | None = None
    authenticator = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id") == "vm-room":
            self.room = attrs
        if attrs.get("name") == "_authenticator":
            self.authenticator = attrs.get("value", "")


def _room(cluster, path: str, auth) -> dict:
    """The started meeting's room page as ``auth`` sees it (starting it first)."""
    for _ in range(2):
        status, text = _request(cluster, "GET", f"{path}/@@videomote-rum", auth=auth)
        page = _RoomPage()
        page.feed(text)
        if page.room:
            return page.room
        _request(
            cluster,
            "POST",
            f"{path}/@@videomote-rum",
            {"start_meeting": "1", "_authenticator": page.authenticator},
            auth=auth,
            form=True,
        )
    raise RuntimeError(f"no room at {path} ({status})")


async def _until_frames(peers, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not all(peer.total_frames() > 0 for peer in peers):
        if time.monotonic() > deadline:
            raise RuntimeError("no video between the two within the wait")
        await asyncio.sleep(0.05)


async def _failover(cluster, path: str, rooms: dict[tuple, dict], nodes: dict) -> float:
    """Two staff members in one meeting; the node it lives on is killed; seconds until
    both receive each other's video again, each doing what room.js does: a fresh token
    from Plone (which names the new node), then joining there."""
    from prorenata.videomote.media.synthetic import SyntheticPeer
    from prorenata.videomote.media.synthetic import encoded_clip

    clip = encoded_clip(30)

    def peer(room, token, server):
        return SyntheticPeer(server, room["data-meeting"], token, clip, audio=False)

    peers = [
        peer(room, room["data-join-token"], room["data-media-server"]) for room in rooms.values()
    ]
    for one in peers:
        await one.join(timeout=30)
    await _until_frames(peers)
    node = nodes[peers[0].url]
    node.kill()
    node.wait(10)
    killed = time.monotonic()
    for one in peers:
        await one.leave()

    async def back(auth, room):
        delay = 0.5
        for _ in range(20):
            await asyncio.sleep(delay)
            status, text = await asyncio.to_thread(
                _request,
                cluster,
                "POST",
                f"{path}/@@videomote-rum-token",
                auth=auth,
                headers={"X-CSRF-TOKEN": room["data-csrf"]},
            )
            answer = json.loads(text) if status == 200 else {}
            if answer.get("server") in nodes and nodes[answer["server"]].poll() is None:
                again = peer(room, answer["token"], answer["server"])
                await again.join(timeout=30)
                return again
            delay = min(delay * 2, 8)
        raise RuntimeError("no healthy node named within the wait")

    peers = await asyncio.gather(*(back(auth, room) for auth, room in rooms.items()))
    await _until_frames(peers)
    elapsed = time.monotonic() - killed
    for one in peers:
        await one.leave()
    return round(elapsed, 2)


def _media_failover(cluster, module, environ, log) -> dict:
    from prorenata.videomote.media.synthetic import free_port
    from prorenata.videomote.media.synthetic import start_server_process

    secret = module.load_secrets(cluster, environ)["VIDEOMOTE_MEDIA_SECRET"]
    ports = [free_port(), free_port()]
    settings = {"secret": secret, "ice_addresses": "127.0.0.1"}
    nodes = {
        f"ws://127.0.0.1:{port}/ws": start_server_process(port, settings, output=log)
        for port in ports
    }
    try:
        status, _ = _request(
            cluster,
            "PATCH",
            "/Plone/@registry",
            {"prorenata.videomote.media_nodes": list(nodes)},
            auth=ADMIN,
        )
        if status >= 300:
            raise RuntimeError(f"media nodes not configured ({status})")
        patient = CLIENT.student_uid(cluster)
        status, text = _book_one(cluster, patient, date.today() + timedelta(days=1), 7)
        if status != 201:
            raise RuntimeError(f"meeting for the failover not booked ({status}): {text[:300]}")
        path = urllib.parse.urlsplit(json.loads(text)["@id"]).path
        rooms = {STAFF: _room(cluster, path, STAFF)}
        rooms[ADMIN] = _room(cluster, path, ADMIN)
        return {"media_failover_s": asyncio.run(_failover(cluster, path, rooms, nodes))}
    finally:
        for process in nodes.values():
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:  # a starved machine: not the figure
                    process.kill()
                    process.wait(10)


#: The meeting of turn_tcp_first_frame_ms, and how it is measured.
TURN_TITLE = "Samtal utan UDP (mätning)"
TURN_METHOD = (
    "a guardian (no account) whose Chromium runs in a network namespace that drops all UDP "
    "(scripts/udp_blocked.py, as tests/cluster/test_udp_blocked.py): a meeting with the "
    "demo student's guardian booked to start in 5 minutes, the invitation e-mail's link, "
    "an SMS code from the site's outbox, the waiting room; staff (logged in, our "
    "namespace) open the room and start the meeting; ms from the guardian's click on "
    "'Gå med nu' (once enabled) to the first staff video frame their page decoded "
    "(getStats framesDecoded, polled every 100 ms), through coturn over TCP; "
    "turn_tcp_relay: the relay protocol of the guardian's selected candidate"
)


def _turn_tcp_first_frame(cluster, module, environ, network, sink, log) -> dict:
    """Staff and the UDP-less guardian (``network``) in one room: ms from the guardian's
    click on "Gå med nu" to their first remote frame, through coturn reached over TCP."""
    if network is None:
        return {
            "turn_tcp_first_frame_ms": None,
            "turn_tcp_relay": None,
            "turn_tcp_method": "not measured: network namespaces need root",
        }
    parts = module.start_turn_and_media(cluster, environ, log)
    try:
        module.wait_for_port(cluster.turn_port, 30, parts.get("coturn"), cluster.turn_address)
        for port in cluster.media_ports:
            module.wait_for_port(port, 60)
        status, _ = _request(
            cluster,
            "PATCH",
            "/Plone/@registry",
            {"prorenata.videomote.media_nodes": module.media_node_lines(cluster)},
            auth=ADMIN,
        )
        if status >= 300:
            raise RuntimeError(f"media nodes not configured ({status})")
        meeting = CLIENT.book_soon(cluster, TURN_TITLE, minutes=5)  # the guardian is invited
        link = sink.wait_for(CLIENT.INVITATION_LINK, 120, title=TURN_TITLE)
        guardian = UDP_BLOCKED.Guardian(
            link, lambda: CLIENT.sms_texts(cluster, CLIENT.DEMO_GUARDIAN_MOBILE)
        )
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            call = UDP_BLOCKED.call_through_turn_tcp(
                network, playwright, meeting["@id"], STAFF, guardian
            )
        local = call.get("participant", {}).get("local") or {}
        if not call.get("participant_url", "").endswith("/Plone/videomote/rum"):
            raise RuntimeError(f"the guardian is not in the participant's room: {call}")
        if call["first_frame_ms"] is None or local.get("type") != "relay":
            raise RuntimeError(f"no video through TURN: {call}")
        return {
            "turn_tcp_first_frame_ms": call["first_frame_ms"],
            "turn_tcp_relay": local.get("relayProtocol"),
            "turn_tcp_method": TURN_METHOD,
        }
    finally:
        module.stop(parts)


def main() -> int:
    multiprocessing.set_start_method("fork")
    module = CLUSTER
    sink = Sink()
    sink.controller.start()
    cluster = module.on_free_ports("videomote-bench-cluster-", sink.port)
    network = None
    if UDP_BLOCKED.missing() is None:
        # HAProxy, coturn and the media node on the participant's link (before they start)
        network = UDP_BLOCKED.ParticipantNetwork()
        for key, value in UDP_BLOCKED.cluster_settings(module).items():
            setattr(cluster, key, value)
    path = cluster.directory
    environ = {k: v for k, v in os.environ.items() if k != "VIDEOMOTE_DSN"}
    log = open(path / "bench.log", "ab")  # noqa: SIM115 - closed below
    result: dict = {"smoke": SMOKE, "burst": BURST_PARTICIPANTS * BURST_ROUNDS}
    processes = {}
    finished = False
    failed = 0
    try:
        started = time.monotonic()
        processes = module.start(cluster, environ, with_extras=False, output=log)
        cluster.processes = processes
        result["start_s"] = round(time.monotonic() - started, 1)
        invitees = _burst_invitees(cluster, sink)
        warm = _burst(cluster, 0, processes, invitees, 1)  # warm both instances' caches
        two = _burst(cluster, 100, processes, invitees, BURST_ROUNDS)
        processes["zope2"].terminate()
        processes["zope2"].wait(30)
        time.sleep(module.HEALTH_SETTLE_SECONDS + 1)  # HAProxy has marked it down
        one = _burst(cluster, 200, processes, invitees, BURST_ROUNDS)
        print(json.dumps({"verify_burst_two": two, "verify_burst_one": one}), flush=True)
        failed = warm["failures"] + two["failures"] + one["failures"]
        result.update(
            {
                "verify_burst_failures_two": two["failures"],
                "verify_burst_failures_one": one["failures"],
                "verify_burst_failures_warmup": warm["failures"],
                "verify_burst_failed_answers": sorted(
                    set(warm["failed_answers"] + two["failed_answers"] + one["failed_answers"])
                )[:5],
                "verify_burst_p95_ms_two": two["p95_ms"],
                "verify_burst_p95_ms_one": one["p95_ms"],
                "verify_burst_p50_ms_two": two["p50_ms"],
                "verify_burst_p50_ms_one": one["p50_ms"],
                "verify_burst_rps_two": two["requests_per_s"],
                "verify_burst_rps_one": one["requests_per_s"],
                "verify_burst_cpu_pct_two": two["cpu_pct"],
                "verify_burst_cpu_pct_one": one["cpu_pct"],
                "verify_burst_loadavg": [two["loadavg_1min"], one["loadavg_1min"]],
                "verify_burst_method": BURST_METHOD,
            }
        )
        processes["zope2"] = module.subprocess.Popen(
            module.zope_command(cluster, 2),
            cwd=module.ROOT,
            env=module.cluster_environment(cluster, environ),
            stdout=log,
            stderr=log,
        )
        module.wait_for_port(cluster.zope_port + 1, 300, processes["zope2"])
        time.sleep(module.HEALTH_SETTLE_SECONDS + 1)
        result.update(_bookings_with_a_kill(cluster, module, sink))
        result.update(_media_failover(cluster, module, environ, log))
        result.update(_turn_tcp_first_frame(cluster, module, environ, network, sink, log))
        finished = True
    finally:
        module.stop(processes)
        if network is not None:
            network.close()
        sink.controller.stop()
        log.close()
        if finished:
            shutil.rmtree(path, ignore_errors=True)
        else:
            print(f"kept for reading: {path} (bench.log, var/log/)", file=sys.stderr)
    result.update(_rooms_per_media())  # the cluster stopped: the media processes alone
    print(json.dumps(result), flush=True)
    if failed:
        print(f"bench-cluster: {failed} SMS-code submissions failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
