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

Prints one JSON object last. ``--quick`` shortens every phase (for a smoke run).
"""

from pathlib import Path

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    (1,) if SMOKE else (1, 2, 4) if QUICK else (1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28)
)


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
        self.process.wait(15)
        self.output.close()
        if died:
            print(f"the media server exited early; its log: {self.log}", file=sys.stderr)
        else:
            self.log.unlink(missing_ok=True)


# -- load workers (processes of their own) ---------------------------------------------
def worker(url, rooms, people, audio, ready, window, results, share=False):
    """Join ``rooms`` rooms of ``people`` peers; count frames in the window it is given.
    ``share``: the first of each room is staff and shares a screen too."""
    results.put(asyncio.run(_load(url, rooms, people, audio, ready, window, share)))


async def _load(url, rooms, people, audio, ready, window, share=False):
    from prorenata.videomote.access.jointoken import issue_join_token
    from prorenata.videomote.media.synthetic import SyntheticPeer
    from prorenata.videomote.media.synthetic import encoded_clip

    clip = encoded_clip(90)
    screen = encoded_clip(60, **SCREEN) if share else None
    peers = []
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
            )
            await peer.join(timeout=30)
            members.append(peer)
        if share:
            await members[0].share()
            await _until(lambda members=members: all(p.screen.get("id") for p in members))
        peers += members
    ready.put(len(peers))
    window_at, end_at = await asyncio.get_running_loop().run_in_executor(None, window.get)
    await asyncio.sleep(max(0.0, window_at - time.time()))
    before = [dict(p.frames) for p in peers]
    latency_mark = [len(p.latencies) for p in peers]
    await asyncio.sleep(max(0.0, end_at - time.time()))
    seconds = end_at - window_at
    rates = []
    latencies = []
    for peer, counts, mark in zip(peers, before, latency_mark, strict=True):
        # The people's cameras, and the screen share where this peer is shown one.
        mids = [slot["video"] for slot in peer.slots]
        if peer.screen.get("mid"):
            mids.append(peer.screen["mid"])
        for mid in mids:
            rates.append((peer.frames.get(mid, 0) - counts.get(mid, 0)) / seconds)
        latencies += peer.latencies[mark:]
    for peer in peers:
        await peer.leave()
    return {"rates": rates, "latencies": latencies}


async def _until(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the screen share was not accepted in time")
        await asyncio.sleep(0.05)


def run_load(
    server: "Server | list[Server]", rooms: int, people: int, audio: bool, share: bool = False
) -> dict:
    """Rooms spread over two worker processes; once all have joined, warm up, then
    measure frame rates at the receivers and the server's CPU over the same window.

    Several servers (media nodes): rooms taken in turn, as Plone places meetings on the
    least loaded node; their CPU is added up."""
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
            target=worker, args=(url, group, people, audio, ready, window, results, share)
        )
        for ((url, _), group), window in zip(groups.items(), windows, strict=True)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    for _ in processes:
        ready.get(timeout=60 + 5 * rooms * people)
    joined_s = time.monotonic() - started
    window_at = time.time() + WARMUP
    end_at = window_at + WINDOW
    for window in windows:
        window.put((window_at, end_at))
    time.sleep(max(0.0, window_at - time.time()))
    first = sum(node.cpu() for node in servers)
    time.sleep(max(0.0, end_at - time.time()))
    cpu_pct = 100 * (sum(node.cpu() for node in servers) - first) / (end_at - window_at)
    merged = {"rates": [], "latencies": [], "cpu_pct": cpu_pct, "joined_s": joined_s}
    for _ in processes:
        result = results.get(timeout=60)
        merged["rates"] += result["rates"]
        merged["latencies"] += result["latencies"]
    for process in processes:
        process.join(30)
    return merged


def cpu_per_stream(mode: str, remb: bool = True, share: bool = False) -> dict:
    """One four-person room: the server's CPU per forwarded (or re-encoded) stream;
    ``share``: staff share a screen as well (three more streams)."""
    server = Server(mode, remb)
    try:
        load = run_load(server, rooms=1, people=4, audio=False, share=share)
    finally:
        server.stop()
    streams = len(load["rates"])
    return {
        "per_stream": load["cpu_pct"] / streams,
        "cpu_pct": load["cpu_pct"],
        "streams": streams,
        "min_fps": min(load["rates"]),
    }


def compare_cpu(repeat: int) -> dict[str, dict]:
    """Forwarding (with and without REMB) and re-encoding, ``repeat`` rounds taken in
    turn, so that the ratio compares runs from the same minutes (this shared 2-core
    machine drifts and varies by ±20 % run to run); the median run of each."""
    variants = {
        "forward": ("forward", True, False),
        "forward without REMB": ("forward", False, False),
        "reencode": ("reencode", True, False),
        "forward with share": ("forward", True, True),
    }
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, (mode, remb, share) in variants.items():
            runs[name].append(cpu_per_stream(mode, remb, share))
    result = {}
    for name, measured in runs.items():
        measured.sort(key=lambda run: run["per_stream"])
        median = dict(measured[len(measured) // 2])
        median["per_stream_runs"] = [round(run["per_stream"], 3) for run in measured]
        median["min_fps"] = min(run["min_fps"] for run in measured)
        result[name] = median
        print(json.dumps({name: median}), flush=True)
    return result


def rooms_at_full_fps(nodes: int = 1, room_steps=ROOM_STEPS) -> tuple[int, list[dict]]:
    """The most four-person rooms that all still get full frame rate, on ``nodes`` media
    processes (rooms spread over them in turn)."""
    servers = [Server("forward") for _ in range(nodes)]
    steps, best = [], 0
    try:
        for rooms in room_steps:
            load = run_load(servers, rooms=rooms, people=4, audio=True)
            low = min(load["rates"])
            steps.append(
                {
                    "rooms": rooms,
                    "receivers": len(load["rates"]),
                    "min_fps": round(low, 1),
                    "median_fps": round(statistics.median(load["rates"]), 1),
                    "server_cpu_pct": round(load["cpu_pct"], 1),
                    "joined_s": round(load["joined_s"], 1),
                }
            )
            print(json.dumps(steps[-1]), flush=True)
            if low < FULL_FPS:
                break
            best = rooms
    finally:
        for server in servers:
            server.stop()
    return best, steps


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


def main() -> None:
    multiprocessing.set_start_method("fork")
    repeat = 1 if QUICK else 7
    cpu = compare_cpu(repeat)
    forward, without_remb, reencode, with_share = (
        cpu["forward"],
        cpu["forward without REMB"],
        cpu["reencode"],
        cpu["forward with share"],
    )

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
                "forward_no_remb_runs": without_remb["per_stream_runs"],
                "reencode_cpu_pct_per_stream": round(reencode["per_stream"], 2),
                "reencode_runs": reencode["per_stream_runs"],
                "cpu_ratio": round(reencode["per_stream"] / forward["per_stream"], 1),
                "rooms_at_full_fps": best,
                "rooms_tried": steps[-1]["rooms"],
                "room_steps": steps,
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
