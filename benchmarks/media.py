"""The media server under load: forwarding versus aiortc's stock re-encoding.

No Plone: the server (``videomote-media``) runs in a process of its own on 127.0.0.1 and
its CPU time is read from /proc. Synthetic aiortc peers (``media/synthetic.py``) run in
two worker processes: publishers replay 640×480 VP8 frames encoded once up front (30 fps,
≈500 kbit/s), receivers count and timestamp frames without decoding them, so the load
measured is the server's. In the same run:

1. CPU per forwarded video stream in a four-person room (each sees three: 12 streams),
   forwarding (with and without REMB) and re-encoding (the baseline), and forwarding in
   the same room while staff also share a screen (1280×720 VP8 at 30 fps, ≈1.2 Mbit/s,
   to the three others: 15 streams), seven rounds of the four taken in turn, medians;
2. four-person rooms with video and audio, added until a receiver falls below 95 % of
   the sent frame rate: the most rooms that all still got full frame rate;
3. time from joining to the first remote video frame (median of several joins);
4. latency the relay adds: send-to-arrival through the server minus the same for a
   direct peer-to-peer connection (the send time travels after each frame's VP8 data).

Rooms (2) are measured with synthetic.py's lean peers (``ROOMS_METHOD``; ``MEDIA_LEAN=0``
for full aiortc peers): the clients share the cores with the server, so they must cost less
than the server per packet, or a second media process has no core to use. Every peer of a
step joins before the lean peers send (the steady state; ``joined_s`` says how long joining
took), and the JSON says how much the clients cost against the server
(``clients_to_media_cpu_at_best_one``) and what two media processes can gain at most on
cores shared with them (``rooms_media_ratio_ceiling``). Each step reports
the media processes' CPU (each pinned to its own CPU; ``MEDIA_PIN=0`` not), the clients',
the whole machine's, packets lost, connections dropped and the load average, and a failed
step names what was full (``limit``). ``--rooms`` measures only four-person rooms on one and
on two media processes (``rooms_one_media`` / ``rooms_two_media``, as bench-cluster does after
its cluster stopped); ``ROOM_STEPS=1,2,4`` sets the steps.

Prints one JSON object last. ``--quick`` shortens every phase (for a smoke run).
"""

from pathlib import Path

import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))

from prorenata.videomote.media import synthetic  # noqa: E402
from support.instance import percentile  # noqa: E402

SECRET = "media-benchmark-secret"
FPS = 30
FULL_FPS = 0.95 * FPS
#: The shared screen in the "with share" round: a 720p capture, as Chromium's getDisplayMedia
#: gives by default here, at a screen share's higher bitrate.
SCREEN = {"width": 1280, "height": 720, "bit_rate": 1_200_000}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: ``--smoke``: every step once at the smallest size, only to show the benchmark runs;
#: ``--quick``: a short run with a few room steps.
SMOKE = "--smoke" in sys.argv
QUICK = SMOKE or "--quick" in sys.argv
WARMUP, WINDOW = (1.0, 1.5) if SMOKE else (2.0, 3.0) if QUICK else (3.0, 8.0)
ROOM_STEPS = tuple(int(n) for n in os.environ.get("ROOM_STEPS", "").split(",") if n) or (
    (1,) if SMOKE else (1, 2, 4) if QUICK else (1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 48, 56, 64)
)
#: A media process using this much of a core (% over the window) counts as saturated.
SATURATED_PCT = 85


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine, all cores (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Server:
    def __init__(self, mode: str, remb: bool = True):
        from prorenata.videomote.media.synthetic import free_port
        from prorenata.videomote.media.synthetic import start_server_process

        self.port = free_port()
        # A fresh file of our own (0600, unpredictable name), not a fixed name in a shared
        # directory another user could have put a symlink at. Kept only if the server dies.
        self.output = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by stop()
            prefix=f"videomote-media-{mode}-", suffix=".log", delete=False
        )
        self.log = Path(self.output.name)
        settings = {
            "secret": SECRET,
            "ice_addresses": "127.0.0.1",
            "mode": mode,
            "remb": "on" if remb else "off",
        }
        self.process = start_server_process(self.port, settings, output=self.output)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def stop(self) -> None:
        died = self.process.poll() is not None
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # closing many connections on a starved machine
            self.process.kill()
            self.process.wait(10)
        self.output.close()
        if died:
            print(f"the media server exited early; its log: {self.log}", file=sys.stderr)
        else:
            self.log.unlink(missing_ok=True)


# -- load workers (processes of their own) ---------------------------------------------
def worker(url, rooms, people, audio, ready, window, results, share=False, lean=False):
    """Join ``rooms`` rooms of ``people`` peers; count frames in the window it is given.
    ``share``: the first of each room is staff and shares a screen too. ``lean``: every
    peer sends on synthetic.py's lean path (pre-built packets) and counts from the clear
    header, but the first of the worker, which decrypts what it receives (the check).

    Peers that cannot join in time (a machine full of other work) fail the step, not the
    run: the worker says so on both queues (``None``, ``{"failed": …}``)."""
    joined: list[bool] = []
    try:
        result = asyncio.run(_load(url, rooms, people, audio, ready, window, share, lean, joined))
    except Exception as error:
        if not joined:
            ready.put(None)
        result = {"failed": type(error).__name__}
    results.put(result)


async def _load(url, rooms, people, audio, ready, window, share=False, lean=False, joined=None):
    from prorenata.videomote.media.synthetic import encoded_clip

    clip = encoded_clip(90)
    screen = encoded_clip(60, **SCREEN) if share else None
    peers: list = []
    if lean:  # every peer of every worker joins first; all send once the window is set
        synthetic.hold_lean_media()
    try:
        await _join_rooms(url, rooms, people, audio, share, lean, clip, screen, peers)
    except Exception:
        for peer in peers:  # none left on the server for the next step
            with contextlib.suppress(Exception):
                await peer.leave()
        raise
    ready.put(len(peers))
    if joined is not None:
        joined.append(True)
    window_at, end_at = await asyncio.get_running_loop().run_in_executor(None, window.get)
    if lean:
        synthetic.hold_lean_media(False)
    return await _measure(peers, window_at, end_at)


async def _measure(peers: list, window_at: float, end_at: float) -> dict:
    """Frame rates, latencies, lost packets and dropped connections of ``peers`` over the
    window; then they leave."""
    await asyncio.sleep(max(0.0, window_at - time.time()))
    before = [dict(p.frames) for p in peers]
    latency_mark = [len(p.latencies) for p in peers]
    lost_mark = [p.lean.lost_packets() if p.lean else 0 for p in peers]
    await asyncio.sleep(max(0.0, end_at - time.time()))
    seconds = end_at - window_at
    rates, full_rates, latencies = [], [], []
    for peer, counts, mark in zip(peers, before, latency_mark, strict=True):
        frames = peer.frames  # (a lean peer's counts gathered once)
        # The people's cameras, and the screen share where this peer is shown one.
        mids = [slot["video"] for slot in peer.slots]
        if peer.screen.get("mid"):
            mids.append(peer.screen["mid"])
        for mid in mids:
            rate = (frames.get(mid, 0) - counts.get(mid, 0)) / seconds
            rates.append(rate)
            if peer.lean is None or peer.lean.decrypt:
                full_rates.append(rate)
        latencies += peer.latencies[mark:]
    # Sequence numbers the lean peers saw skipped within the window.
    lost = sum(p.lean.lost_packets() - m for p, m in zip(peers, lost_mark, strict=True) if p.lean)
    # ICE consent (RFC 7675, aioice: 6 checks of 0.5 s missed) closes a connection whose
    # process was starved for ~30 s: on a machine that busy the figure says so.
    dropped = sum(1 for peer in peers if peer.pc.connectionState in ("closed", "failed"))
    # Frames a lean peer could not send (its stream stopped), packets of SSRCs it did not
    # count one by one: a low frame rate that was the client's, not the server's.
    drivers = {p.lean._driver for p in peers if p.lean is not None and p.lean._driver}
    send_failures = sum(driver.pacer.failures for driver in drivers)
    uncounted = sum(p.lean.tally.other for p in peers if p.lean is not None)
    for peer in peers:
        await peer.leave()
    return {
        "rates": rates,
        "full_rates": full_rates,
        "latencies": latencies,
        "lost": lost,
        "dropped": dropped,
        "undecryptable": sum(p.lean.undecryptable for p in peers if p.lean),
        "send_failures": send_failures,
        "uncounted": uncounted,
    }


async def _join_rooms(url, rooms, people, audio, share, lean, clip, screen, peers) -> None:
    """Every room's peers joined, added to ``peers`` as they join (the caller makes them
    leave when one fails)."""
    from prorenata.videomote.access.jointoken import issue_join_token
    from prorenata.videomote.media.synthetic import SyntheticPeer

    first = len(peers)
    for room in rooms:
        meeting = f"bench-room-{room}-{os.getpid()}"
        members = []
        for index in range(people):
            sharer = share and index == 0
            role = "staff" if sharer else "participant"
            token = issue_join_token(meeting, role, f"P{index}", SECRET.encode())
            peer = SyntheticPeer(
                url,
                meeting,
                token,
                clip,
                audio=audio,
                screen=share,
                screen_clip=screen if sharer else None,
                lean=lean,
                # The first of each worker decrypts what it receives: the check on the
                # others' counting from the clear header.
                decrypt=lean and len(peers) == first,
            )
            peers.append(peer)
            await peer.join(timeout=30)
            members.append(peer)
        if share:
            await members[0].share()
            await _until(lambda members=members: all(p.screen.get("id") for p in members))


async def _until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the screen share was not accepted in time")
        await asyncio.sleep(0.05)


def run_load(
    server: "Server | list[Server]",
    rooms: int,
    people: int,
    audio: bool,
    share: bool = False,
    lean: bool = False,
) -> dict:
    """Rooms spread over two worker processes; once all have joined, warm up, then
    measure frame rates at the receivers, each server's CPU and the workers' CPU over
    the same window.

    Several servers (media nodes): rooms taken in turn, as Plone places meetings on the
    least loaded node; their CPU is added up (and kept per node)."""
    servers = server if isinstance(server, list) else [server]
    ready, results = multiprocessing.Queue(), multiprocessing.Queue()
    # Worker i joins rooms i, i + workers, …; on node (room mod nodes).
    workers = max(2, len(servers))
    parts = [(servers[room % len(servers)].url, room) for room in range(rooms)]
    groups: dict[tuple[str, int], list[int]] = {}
    for url, room in parts:
        groups.setdefault((url, room % workers), []).append(room)
    windows = [multiprocessing.Queue() for _ in groups]
    processes = [
        multiprocessing.Process(
            target=worker,
            args=(url, group, people, audio, ready, window, results, share, lean),
        )
        for ((url, _), group), window in zip(groups.items(), windows, strict=True)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    joins_failed = 0
    for _ in processes:
        joins_failed += ready.get(timeout=60 + 5 * rooms * people) is None
    joined_s = time.monotonic() - started
    window_at = time.time() + WARMUP
    end_at = window_at + WINDOW
    for window in windows:
        window.put((window_at, end_at))
    time.sleep(max(0.0, window_at - time.time()))
    first = [node.cpu() for node in servers]
    first_workers = [cpu_seconds(process.pid) for process in processes]
    first_machine = machine_cpu_seconds()
    load_before = os.getloadavg()[0]
    time.sleep(max(0.0, end_at - time.time()))
    window_s = end_at - window_at
    per_node = [
        100 * (node.cpu() - before) / window_s for node, before in zip(servers, first, strict=True)
    ]
    workers_pct = sum(
        100 * (cpu_seconds(process.pid) - before) / window_s
        for process, before in zip(processes, first_workers, strict=True)
    )
    merged = {
        "rates": [],
        "full_rates": [],
        "latencies": [],
        "lost": 0,
        "dropped": 0,
        "undecryptable": 0,
        "send_failures": 0,
        "uncounted": 0,
        "cpu_pct": sum(per_node),
        "cpu_pct_per_node": per_node,
        "clients_cpu_pct": workers_pct,
        "machine_cpu_pct": 100 * (machine_cpu_seconds() - first_machine) / window_s,
        "loadavg_1min": round(max(load_before, os.getloadavg()[0]), 2),
        "joined_s": joined_s,
        "joins_failed": joins_failed,
    }
    for _ in processes:
        result = results.get(timeout=60)
        if "failed" in result:
            merged["joins_failed"] = max(merged["joins_failed"], 1)
            continue
        for key in ("rates", "full_rates", "latencies"):
            merged[key] += result[key]
        merged["lost"] += result["lost"]
        merged["dropped"] += result["dropped"]
        for key in ("undecryptable", "send_failures", "uncounted"):
            merged[key] += result[key]
    for process in processes:
        process.join(30)
    return merged


def cpu_per_stream(
    mode: str, remb: bool = True, share: bool = False, lean: bool | None = None
) -> dict:
    """One four-person room: the server's CPU per forwarded (or re-encoded) stream;
    ``share``: staff share a screen as well (three more streams). ``lean`` (default
    ``LEAN``): synthetic.py's lean peers, the first decrypting (``CPU_METHOD``); False:
    full aiortc peers, which share the cores with the server and wake for every packet."""
    server = Server(mode, remb)
    try:
        load = run_load(
            server, rooms=1, people=4, audio=False, share=share, lean=LEAN if lean is None else lean
        )
    finally:
        server.stop()
    if load["joins_failed"]:
        raise SystemExit("the synthetic peers of one room could not all join in time")
    streams = len(load["rates"])
    return {
        "per_stream": load["cpu_pct"] / streams,
        "cpu_pct": load["cpu_pct"],
        "streams": streams,
        "min_fps": min(load["rates"]),
        "undecryptable": load["undecryptable"],
    }


def compare_cpu(repeat: int) -> dict[str, dict]:
    """Forwarding (with and without REMB) and re-encoding, ``repeat`` rounds taken in
    turn, so that the ratio compares runs from the same minutes (this shared 2-core
    machine drifts and varies by ±20 % run to run); the median run of each."""
    variants = {
        "forward": ("forward", True, False, None),
        "forward without REMB": ("forward", False, False, None),
        "reencode": ("reencode", True, False, None),
        "forward with share": ("forward", True, True, None),
        # The same rooms with full aiortc peers as clients (the method before issue #18's
        # last round): the server's CPU then includes waking them on this machine.
        "forward, full clients": ("forward", True, False, False),
        "forward with share, full clients": ("forward", True, True, False),
    }
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (mode, remb, share, lean) in variants.items():
            runs[name].append(cpu_per_stream(mode, remb, share, lean))
    result = {}
    for name, measured in runs.items():
        measured.sort(key=lambda run: run["per_stream"])
        median = dict(measured[len(measured) // 2])
        median["per_stream_runs"] = [round(run["per_stream"], 3) for run in measured]
        median["min_fps"] = min(run["min_fps"] for run in measured)
        median["undecryptable"] = sum(run["undecryptable"] for run in measured)
        result[name] = median
        print(json.dumps({name: median}), flush=True)
    return result


#: ``MEDIA_PIN=0``: leave the media processes where the scheduler puts them.
PIN = os.environ.get("MEDIA_PIN", "1") != "0"
#: ``MEDIA_LEAN=0``: every synthetic peer a full aiortc peer (as before issue #15).
LEAN = os.environ.get("MEDIA_LEAN", "1") != "0"
#: How the CPU per stream is measured (bench-media's JSON).
CPU_METHOD = (
    "one four-person room per run on a fresh videomote-media process (unpinned), video only, "
    "the server's CPU from /proc over the window divided by the streams it forwards; the "
    "clients are synthetic.py lean peers in 2 worker processes (pre-built VP8 RTP, one task "
    "per worker sending and reading in batches; the first peer decrypts all it receives and "
    "a packet that does not decrypt fails the run), the screen sent by a full aiortc sender; "
    "*_full_clients: the same with full aiortc peers, which wake for every packet on the "
    "same 2 cores, so that the server's sends include waking them. Variants taken in turn, "
    "medians of the rounds"
    if LEAN
    else "as above with full aiortc peers as clients (MEDIA_LEAN=0)"
)

#: How rooms_at_full_fps measures (bench-media and bench-cluster put it in their JSON).
ROOMS_METHOD = {
    "server": "real videomote-media processes (aiortc, DTLS-SRTP, UDP on 127.0.0.1), "
    "rooms placed on the nodes in turn",
    "clients": (
        "synthetic.py lean peers in 2 worker processes: pre-built VP8/Opus RTP packets "
        "SRTP-protected and sent on the nominated ICE pair (30 fps from a random phase per "
        "peer, 20 ms audio); frames counted from the clear RTP header (marker bit, per "
        "SSRC) without decrypting; one task per worker sends what is due (at most every "
        f"{synthetic.LEAN_TICK_S * 1000:g} ms) and reads all its peers' sockets with "
        f"recvmmsg every {synthetic.LEAN_READ_S * 1000:g} ms (the datagrams wait in the "
        "kernel meanwhile), building, protecting, sending and counting in C (_lean.c); "
        "the first peer of each worker decrypts every RTP packet it "
        "receives with its own DTLS-SRTP keys (check: its frame rate, packets that fail "
        "to decrypt, and the send-to-arrival latency it reads from inside the payload, "
        f"which includes up to {synthetic.LEAN_READ_S * 1000:g} ms of its read interval)"
        if LEAN
        else "full aiortc peers in 2 worker processes (decrypting, aiortc's send path)"
    ),
    "full_fps": f"every received camera stream >= {FULL_FPS:g} fps over the window",
    "joining": "every peer of a step joins first; the lean peers send once all have joined, "
    "then the warm-up, then the window",
    "window_s": WINDOW,
    "warmup_s": WARMUP,
    "pinning": (
        "media process i pinned to CPU i mod cpus (sched_setaffinity); clients unpinned"
        if PIN
        else "none"
    ),
    "search": "room_steps until a step fails, then halving the gap; a failed step is "
    "measured once more and fails only if it fails again",
    "cpus": os.cpu_count(),
    "cpu": "from /proc/<pid>/stat over the window, per media process and for the clients; "
    "machine_cpu_pct: every process on the machine from /proc/stat (100 per core)",
}


def _pin(servers: list[Server]) -> None:
    if not PIN or not hasattr(os, "sched_setaffinity"):
        return
    cpus = sorted(os.sched_getaffinity(0))
    for index, server in enumerate(servers):
        os.sched_setaffinity(server.process.pid, {cpus[index % len(cpus)]})


def _room_step(servers: list[Server], rooms: int) -> dict:
    load = run_load(servers, rooms=rooms, people=4, audio=True, lean=LEAN)
    low = min(load["rates"], default=0.0)
    per_node = load["cpu_pct_per_node"]
    step = {
        "rooms": rooms,
        # Full frame rate of media that decrypts, every peer joined: a forged or damaged
        # packet, or peers that could not join in time, fail the step.
        "full_fps": low >= FULL_FPS and not load["undecryptable"] and not load["joins_failed"],
        "receivers": len(load["rates"]),
        "joins_failed": load["joins_failed"],
        "min_fps": round(low, 1),
        "median_fps": round(statistics.median(load["rates"] or [0.0]), 1),
        "full_viewer_min_fps": round(min(load["full_rates"]), 1) if load["full_rates"] else None,
        "lost_packets": load["lost"],
        "connections_dropped": load["dropped"],
        "undecryptable_packets": load["undecryptable"],
        "client_send_failures": load["send_failures"],
        "uncounted_packets": load["uncounted"],
        "server_cpu_pct": round(load["cpu_pct"], 1),
        "server_cpu_pct_per_node": [round(pct, 1) for pct in per_node],
        "server_cpu_pct_per_room": round(load["cpu_pct"] / rooms, 1),
        "clients_cpu_pct": round(load["clients_cpu_pct"], 1),
        # Every process on the machine (100 per core): near full with the media processes
        # well below a core each means other work took the rest.
        "machine_cpu_pct": round(load["machine_cpu_pct"], 1),
        "latency_p50_ms": (
            round(statistics.median(load["latencies"]), 1) if load["latencies"] else None
        ),
        "loadavg_1min": load["loadavg_1min"],
        "joined_s": round(load["joined_s"], 1),
    }
    if load["joins_failed"]:
        step["limit"] = "peers could not join in time (a worker's joins timed out)"
    elif load["undecryptable"]:
        step["limit"] = "packets that did not decrypt at the checking peer"
    elif low < FULL_FPS:
        # Who ran out: a media process near a whole core, or something else (the clients,
        # or other load on the machine) while the media processes still had room.
        step["limit"] = _limit(per_node, load)
    print(json.dumps(step), flush=True)
    return step


def _limit(per_node: list[float], load: dict) -> str:
    """Who ran out when a step fell below full frame rate."""
    full_machine = 0.9 * 100 * (os.cpu_count() or 1)
    ours = load["cpu_pct"] + load["clients_cpu_pct"]
    if max(per_node) >= SATURATED_PCT:
        return "a media process at a whole core"
    if load["machine_cpu_pct"] >= full_machine:
        if ours >= 0.75 * load["machine_cpu_pct"]:
            return "all cores full, mostly with the media processes and the clients"
        return "all cores full, mostly with other work on the machine"
    return "neither a media process nor the machine was full"


def rooms_at_full_fps(
    nodes: int = 1, room_steps=ROOM_STEPS, refine: bool = not SMOKE
) -> tuple[int, list[dict]]:
    """The most four-person rooms that all still get full frame rate, on ``nodes`` media
    processes (rooms spread over them in turn). Steps up through ``room_steps`` until a
    receiver falls below full frame rate, then (``refine``) halves the gap between the
    last good and the first bad count. A step that fails is measured once more and
    counts as failed only if it fails again (one burst of other load on a shared machine
    is not the server's limit). Each step also says what the media processes and the
    synthetic clients cost, so a limit set by the clients shows as such."""
    servers = [Server("forward") for _ in range(nodes)]
    _pin(servers)
    steps: list[dict] = []

    def full(rooms: int) -> bool:
        for _ in range(2):
            steps.append(_room_step(servers, rooms))
            if steps[-1]["full_fps"]:
                return True
        return False

    best, failed = 0, None
    try:
        for rooms in room_steps:
            if not full(rooms):
                failed = rooms
                break
            best = rooms
        while refine and failed is not None and failed - best > 1:
            middle = (best + failed) // 2
            if full(middle):
                best = middle
            else:
                failed = middle
    finally:
        for server in servers:
            server.stop()
    return best, steps


def rooms_per_media(room_steps=ROOM_STEPS) -> dict:
    """``rooms_one_media`` / ``rooms_two_media`` and how they were measured."""
    load_before = os.getloadavg()
    one, one_steps = rooms_at_full_fps(1, room_steps)
    two, two_steps = rooms_at_full_fps(2, room_steps)

    def at(steps: list[dict], rooms: int) -> dict:
        good = [step for step in steps if step["rooms"] == rooms and step["full_fps"]]
        return good[-1] if good else {}

    def limit(steps: list[dict]) -> str | None:
        failed = [step for step in steps if not step["full_fps"]]
        return failed[-1]["limit"] if failed else None

    best = at(one_steps, one)
    server, clients = best.get("server_cpu_pct"), best.get("clients_cpu_pct")
    return {
        "rooms_one_media": one,
        "rooms_two_media": two,
        "rooms_media_ratio": round(two / one, 2) if one else None,
        # The clients share the cores: at the costs of the best one-media step (server s
        # and clients c per room) two media processes can gain at most 2 s / (s + c).
        "clients_to_media_cpu_at_best_one": round(clients / server, 2) if server else None,
        "rooms_media_ratio_ceiling": (
            round(2 * server / (server + clients), 2) if server and clients is not None else None
        ),
        # Measured at the largest count that held full frame rate: what a room costs.
        "media_cpu_pct_per_room_one": at(one_steps, one).get("server_cpu_pct_per_room"),
        "media_cpu_pct_per_room_two": at(two_steps, two).get("server_cpu_pct_per_room"),
        "clients_cpu_pct_at_best_one": at(one_steps, one).get("clients_cpu_pct"),
        "clients_cpu_pct_at_best_two": at(two_steps, two).get("clients_cpu_pct"),
        "rooms_one_media_limit": limit(one_steps),
        "rooms_two_media_limit": limit(two_steps),
        "rooms_one_media_steps": one_steps,
        "rooms_two_media_steps": two_steps,
        "rooms_media_method": ROOMS_METHOD,
        "rooms_media_loadavg": [round(x, 2) for x in load_before + os.getloadavg()],
    }


async def _first_frames(url: str, joins: int) -> list[float]:
    from prorenata.videomote.access.jointoken import issue_join_token
    from prorenata.videomote.media.synthetic import SyntheticPeer
    from prorenata.videomote.media.synthetic import encoded_clip

    clip = encoded_clip(90)
    meeting = "bench-first-frame"

    def token(name):
        return issue_join_token(meeting, "participant", name, SECRET.encode())

    publisher = SyntheticPeer(url, meeting, token("Publisher"), clip)
    await publisher.join()
    await asyncio.sleep(1.5)  # a joiner arrives mid-stream and needs a fresh keyframe
    times = []
    for index in range(joins):
        viewer = SyntheticPeer(url, meeting, token(f"Viewer{index}"), None)
        started = time.monotonic()
        await viewer.join()
        deadline = time.monotonic() + 10
        while viewer.first_frame_at is None and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        if viewer.first_frame_at is not None:
            times.append((viewer.first_frame_at - started) * 1000)
        await viewer.leave()
        await asyncio.sleep(0.3)
    await publisher.leave()
    return times


async def _direct_latency(seconds: float) -> list[float]:
    """Baseline: the same clip over a direct aiortc connection, no server in between."""
    from aiortc import RTCPeerConnection
    from prorenata.videomote.media import forwarding
    from prorenata.videomote.media.synthetic import MARK
    from prorenata.videomote.media.synthetic import STAMP
    from prorenata.videomote.media.synthetic import ReplayTrack
    from prorenata.videomote.media.synthetic import encoded_clip

    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTransceiver(ReplayTrack(encoded_clip(90)), direction="sendonly")
    latencies = []

    def arrived(packet):
        data = packet.payload
        if packet.marker and data[-STAMP.size : -STAMP.size + 4] == MARK:
            latencies.append((time.time() - STAMP.unpack(data[-STAMP.size :])[1]) * 1000)

    @receiver.on("track")
    def on_track(track):
        forwarding.receive_raw(forwarding.receiver_for(receiver, track), arrived)

    forwarding.use_host_addresses(sender, ["127.0.0.1"])
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    forwarding.use_host_addresses(receiver, ["127.0.0.1"])
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    await asyncio.sleep(seconds)
    await sender.close()
    await receiver.close()
    return latencies[FPS:]  # leave out the first second


def wakeup_cost(rounds: int = 200, idle_s: float = 0.002) -> dict:
    """The same SRTP unprotect of a 1,200-byte packet done warm (the tenth of ten in a row)
    and as the first work after ``idle_s`` asleep, medians in µs. On a virtual machine the
    second is many times the first: a media process that wakes for every few packets pays
    that on each wake-up, which is most of its CPU time per stream at one room's load."""
    import pylibsrtp

    key = bytes(range(30))
    sender = pylibsrtp.Session(
        policy=pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
    )
    receiver = pylibsrtp.Session(
        policy=pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
    )
    first, warm = [], []
    sequence = 0
    for _ in range(rounds):
        packets = []
        for _ in range(10):
            sequence += 1
            header = struct.pack("!BBHII", 0x80, 96, sequence & 0xFFFF, sequence * 3000, 1)
            packets.append(sender.protect(header + bytes(1188)))
        time.sleep(idle_s)
        for index, packet in enumerate(packets):
            started = time.perf_counter_ns()
            receiver.unprotect(packet)
            took = (time.perf_counter_ns() - started) / 1000
            if index == 0:
                first.append(took)
            elif index == 9:
                warm.append(took)
    warm_us, first_us = statistics.median(warm), statistics.median(first)
    return {
        "unprotect_warm_us": round(warm_us, 1),
        f"unprotect_after_{idle_s * 1000:g}ms_idle_us": round(first_us, 1),
        "ratio": round(first_us / warm_us, 1),
    }


def main() -> None:
    multiprocessing.set_start_method("fork")
    if "--rooms" in sys.argv:  # only rooms_one_media / rooms_two_media (as bench-cluster)
        print(json.dumps(rooms_per_media()))
        return
    repeat = 1 if QUICK else 7
    wakeup = wakeup_cost(50 if SMOKE else 200)
    cpu = compare_cpu(repeat)
    forward, without_remb, reencode, with_share = (
        cpu["forward"],
        cpu["forward without REMB"],
        cpu["reencode"],
        cpu["forward with share"],
    )
    undecryptable = sum(run["undecryptable"] for run in cpu.values())
    if undecryptable:
        raise SystemExit(f"{undecryptable} packets did not decrypt at the checking peers")

    best, steps = rooms_at_full_fps()

    server = Server("forward")
    try:
        first = asyncio.run(_first_frames(server.url, 1 if SMOKE else 3 if QUICK else 7))
        relayed = run_load(server, rooms=1, people=2, audio=True)
    finally:
        server.stop()
    direct = asyncio.run(_direct_latency(WINDOW))
    relay_p50 = statistics.median(relayed["latencies"])
    direct_p50 = statistics.median(direct)

    print(
        json.dumps(
            {
                "forward_cpu_pct_per_stream": round(forward["per_stream"], 3),
                "forward_no_remb_cpu_pct_per_stream": round(without_remb["per_stream"], 3),
                "forward_cpu_pct_per_stream_with_share": round(with_share["per_stream"], 3),
                "forward_with_share_runs": with_share["per_stream_runs"],
                "forward_with_share_streams": with_share["streams"],
                "forward_with_share_min_fps": round(with_share["min_fps"], 1),
                "screen_stream": "{width}x{height} VP8 {fps} fps, {bit_rate} bit/s".format(
                    fps=FPS, **SCREEN
                ),
                "forward_runs": forward["per_stream_runs"],
                "forward_cpu_pct_per_stream_full_clients": round(
                    cpu["forward, full clients"]["per_stream"], 3
                ),
                "forward_cpu_pct_per_stream_with_share_full_clients": round(
                    cpu["forward with share, full clients"]["per_stream"], 3
                ),
                "cpu_method": CPU_METHOD,
                "wakeup_cost": wakeup,
                "forward_no_remb_runs": without_remb["per_stream_runs"],
                "reencode_cpu_pct_per_stream": round(reencode["per_stream"], 2),
                "reencode_runs": reencode["per_stream_runs"],
                "cpu_ratio": round(reencode["per_stream"] / forward["per_stream"], 1),
                "rooms_at_full_fps": best,
                "rooms_tried": steps[-1]["rooms"],
                "room_steps": steps,
                "rooms_method": ROOMS_METHOD,
                "first_frame_ms": round(statistics.median(first), 1),
                "first_frame_ms_max": round(max(first), 1),
                "relay_latency_p50_ms": round(max(0.0, relay_p50 - direct_p50), 2),
                "through_relay_p50_ms": round(relay_p50, 2),
                "through_relay_p95_ms": round(percentile(relayed["latencies"], 0.95), 2),
                "direct_p50_ms": round(direct_p50, 2),
                "stream": f"640x480 VP8 {FPS} fps, pre-encoded",
                "forward_min_fps": round(forward["min_fps"], 1),
                "reencode_min_fps": round(reencode["min_fps"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
