"""The production topology under load and under failure (``make bench-cluster``).

Starts the cluster of ``scripts/cluster.py`` (PostgreSQL, two Zope instances on
RelStorage, HAProxy with TLS) on free loopback ports with an in-process SMTP sink, then:

- ``verify_burst_p95_ms_two`` / ``_one``: 50 participants checking a (wrong) meeting code
  (``POST /videomote``) at the same instant, four times, each on a kept-alive TLS
  connection from its own client address, through HAProxy with both instances, then with
  one stopped; with requests/s and the CPU of each part and of the load generator over
  the burst (``verify_burst_cpu_pct_*``), so the JSON shows what limits it;
- ``bookings`` booked over REST while instance 1 is killed part-way: ``bookings_lost``
  (answered 201 but not readable afterwards), ``duplicate_invitations`` (a meeting's
  invitation arriving more than once), ``invitations_missing`` (a saved booking whose
  invitation never came within the wait);
- ``media_failover_s``: two staff members in one meeting on two media nodes; the node it
  lives on is killed; seconds until both, with fresh tokens from Plone (which names the
  other node), receive each other's video again;
- ``turn_tcp_first_frame_ms``: a participant on a network that drops all UDP (a network
  namespace of its own, ``scripts/udp_blocked.py``, shared with the test) and staff in one
  room through coturn and a media node: ms from the participant opening the room to its
  first decoded remote frame, over TURN/TCP (``turn_tcp_relay``: the relay protocol its
  selected candidate used); null where namespaces cannot be made (not root);
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
BURST_METHOD = (
    f"{BURST_PARTICIPANTS} threads, each its own kept-alive TLS connection through HAProxy "
    "from its own 127.0.x.y (opened and used once before), post a wrong meeting code "
    f"(POST /Plone/videomote) at the same instant (a barrier), {BURST_ROUNDS} rounds; "
    "p50/p95 over all answers, requests/s over the rounds, CPU % over the rounds of each "
    "Zope instance, PostgreSQL (all backends), HAProxy and the load generator from /proc "
    "(and 'machine': every process, 100 per core); "
    "4 waitress threads per instance, HAProxy maxconn 4 per instance (queue beyond)"
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


class Sink:
    """An SMTP server that counts subjects."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.subjects: list[str] = []
        self.port = CLUSTER.free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        import email
        import email.policy

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.subjects.append(str(message["Subject"]))
        return "250 OK"


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


def _burst(cluster, base: int, processes: dict) -> dict:
    """BURST_PARTICIPANTS participants, each a thread with its own kept-alive TLS
    connection from its own client address (``base`` on; the per-client limit is 60 per
    10 min), which it opened and used once beforehand, so the handshakes are not in the
    figure; then BURST_ROUNDS times all of them post a wrong meeting code at the same
    instant (a barrier). p50/p95 of the answers, requests per second over the rounds,
    and the CPU each part of the cluster and the load generator used meanwhile."""
    context = ssl.create_default_context(cafile=str(cluster.var / "tls" / "site.crt"))
    body = urllib.parse.urlencode({"code": "ZZZZ-ZZZZ-ZZZZ"}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    barrier = threading.Barrier(BURST_PARTICIPANTS + 1, timeout=300)
    times: list[float] = []
    failures: list[str] = []

    def post(connection) -> None:
        connection.request("POST", "/Plone/videomote", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            failures.append(str(response.status))

    def participant(number: int) -> None:
        index = base + number
        source = f"127.0.{1 + index // 240}.{10 + index % 240}"
        connection = http.client.HTTPSConnection(
            "localhost", cluster.https_port, context=context, timeout=120,
            source_address=(source, 0),
        )  # fmt: skip
        try:
            post(connection)  # handshake and a first answer, outside the measurement
            for _ in range(BURST_ROUNDS):
                barrier.wait()
                started = time.perf_counter()
                post(connection)
                times.append((time.perf_counter() - started) * 1000)
            barrier.wait()
        finally:
            connection.close()

    threads = [threading.Thread(target=participant, args=(n,)) for n in range(BURST_PARTICIPANTS)]
    for thread in threads:
        thread.start()
    barrier.wait()  # everyone connected: the first round starts
    before, started = _cpu_snapshot(processes), time.perf_counter()
    for _ in range(BURST_ROUNDS):
        barrier.wait()  # the round ended (and the next one starts)
    elapsed = time.perf_counter() - started
    after = _cpu_snapshot(processes)
    for thread in threads:
        thread.join(60)
    if failures:
        raise RuntimeError(f"code checks answered {sorted(set(failures))}")
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(statistics.quantiles(times, n=20)[18], 1),
        "requests_per_s": round(len(times) / elapsed, 1),
        "cpu_pct": {
            name: round(100 * (after[name] - before[name]) / elapsed, 1)
            for name in after
            if name in before
        },
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }


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
    status, text = _request(
        cluster, "GET", "/Plone/elever/@search?portal_type=Patient&metadata_fields=UID", auth=ADMIN
    )
    patient = json.loads(text)["items"][0]["UID"]
    first_day = date.today() + timedelta(days=20)
    answers = []
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(_book_one, cluster, patient, first_day, n) for n in range(BOOKINGS)]
        for index, future in enumerate(futures):
            answers.append(future.result(timeout=300))
            if index == BOOKINGS // 4:
                cluster.processes["zope1"].kill()
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
        status, text = _request(
            cluster,
            "GET",
            "/Plone/elever/@search?portal_type=Patient&metadata_fields=UID",
            auth=ADMIN,
        )
        patient = json.loads(text)["items"][0]["UID"]
        status, text = _book_one(cluster, patient, date.today() + timedelta(days=1), 7)
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


def _turn_tcp_first_frame(cluster, module, environ, network, log) -> dict:
    """Staff and the UDP-less participant (``network``) in one room: ms to the
    participant's first remote frame, through coturn reached over TCP."""
    if network is None:
        return {"turn_tcp_first_frame_ms": None, "turn_tcp_relay": None}
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
        status, text = _request(
            cluster, "GET", "/Plone/elever/@search?portal_type=Patient&metadata_fields=UID",
            auth=ADMIN,
        )  # fmt: skip
        patient = json.loads(text)["items"][0]["UID"]
        status, text = _book_one(cluster, patient, date.today() + timedelta(days=2), 9)
        if status != 201:
            raise RuntimeError(f"booking answered {status}")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            call = UDP_BLOCKED.call_through_turn_tcp(
                network, playwright, json.loads(text)["@id"], STAFF, ADMIN
            )
        local = call.get("participant", {}).get("local") or {}
        if call["first_frame_ms"] is None or local.get("type") != "relay":
            raise RuntimeError(f"no video through TURN: {call}")
        return {
            "turn_tcp_first_frame_ms": call["first_frame_ms"],
            "turn_tcp_relay": local.get("relayProtocol"),
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
    try:
        started = time.monotonic()
        processes = module.start(cluster, environ, with_extras=False, output=log)
        cluster.processes = processes
        result["start_s"] = round(time.monotonic() - started, 1)
        _burst(cluster, 0, processes)  # warm both instances' caches
        two = _burst(cluster, 100, processes)
        processes["zope2"].terminate()
        processes["zope2"].wait(30)
        time.sleep(module.HEALTH_SETTLE_SECONDS + 1)  # HAProxy has marked it down
        one = _burst(cluster, 200, processes)
        print(json.dumps({"verify_burst_two": two, "verify_burst_one": one}), flush=True)
        result.update(
            {
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
        result.update(_turn_tcp_first_frame(cluster, module, environ, network, log))
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
