"""The server's REMB estimate against aiortc's own estimator, on the same packet traces.

A trace is what a receiver sees of a browser's video: frames at 30 fps split into packets
(sent back to back, or paced), each with its abs-send-time, through a link of a given
capacity and base delay with some jitter; the arrival time is when the last bit is through.
"""

from aiortc.rate import RemoteBitrateEstimator
from prorenata.videomote.media.remb import REDUCE_INTERVAL_MS
from prorenata.videomote.media.remb import BandwidthEstimator

import pytest
import random

SSRC = 0x1234


def trace(
    seconds: float,
    bitrate: int = 500_000,
    capacity: int = 50_000_000,
    jitter_ms: float = 2.0,
    pacing_ms: float = 0.0,
    start_ms: float = 1_000_000.0,
    send_offset_s: float = 12.0,
    pause: tuple[float, float] | None = None,
    squeeze: tuple[float, float, int] | None = None,
    seed: int = 7,
):
    """(arrival ms, abs-send-time, payload bytes) of every packet, in arrival order.

    ``squeeze``: (from s, to s, bit/s) the link's capacity for a while (cross traffic).
    """
    rng = random.Random(seed)
    packets = []
    link_free = 0.0
    frame_bytes = bitrate / 8 / 30
    for frame in range(int(seconds * 30)):
        sent = frame * 1000 / 30
        if pause and pause[0] <= sent / 1000 < pause[1]:
            continue
        size = frame_bytes * (6 if frame % 90 == 0 else rng.uniform(0.6, 1.4))
        count = max(1, round(size / 1100))
        for index in range(count):
            at = sent + index * pacing_ms
            rate = capacity
            if squeeze and squeeze[0] <= at / 1000 < squeeze[1]:
                rate = squeeze[2]
            link_free = max(link_free, at + 20) + 1100 * 8 * 1000 / rate
            arrival = link_free + rng.uniform(0, jitter_ms)
            abs_send_time = int((send_offset_s + at / 1000) * (1 << 18)) & 0xFFFFFF
            packets.append((int(start_ms + arrival), abs_send_time, 1100))
    packets.sort(key=lambda packet: packet[0])
    return packets


def run(estimator, packets) -> list[tuple[int, int]]:
    """(packet index, bitrate) of every REMB the estimator asks for."""
    return run_watched(estimator, packets)[0]


def run_watched(estimator, packets):
    """The REMBs, and after every packet what the estimate is made of: the incoming
    bitrate, the Kalman filter's delay offset, slope and noise, the detector's threshold
    and hypothesis."""
    reports, states = [], []
    ours = isinstance(estimator, BandwidthEstimator)
    for index, (arrival, abs_send_time, size) in enumerate(packets):
        result = estimator.add(
            arrival_time_ms=arrival, abs_send_time=abs_send_time, payload_size=size, ssrc=SSRC
        )
        if result is not None:
            assert result[1] == [SSRC]
            reports.append((index, result[0]))
        if ours:
            incoming = estimator.incoming_rate(arrival)
            kalman = (estimator.offset, estimator.slope, estimator.var_noise)
        else:
            incoming = estimator.incoming_bitrate.rate(arrival)
            filter_ = estimator.estimator
            kalman = (filter_.offset(), filter_.slope, filter_.var_noise)
        states.append(
            (incoming, *kalman, estimator.detector.threshold, estimator.detector.hypothesis)
            if not ours
            else (incoming, *kalman, estimator.threshold, estimator.hypothesis)
        )
    return reports, states


@pytest.mark.parametrize(
    "shape",
    [
        {"seconds": 60},
        {"seconds": 60, "pacing_ms": 1.5, "jitter_ms": 4.0},
        {"seconds": 40, "bitrate": 1_500_000, "jitter_ms": 0.5},
        # abs-send-time (24 bits, 64 s) wraps in the middle of this one, between the first
        # two packets of the key frame at 15 s
        {"seconds": 30, "send_offset_s": 64 - 15 - 0.0005, "pacing_ms": 1.0},
        # the camera is off for three seconds: the incoming rate starts again
        {"seconds": 30, "pause": (10.0, 13.0)},
    ],
)
def test_the_estimate_is_aiortcs_estimate_on_a_link_that_is_not_overused(shape):
    packets = trace(**shape)
    ours, our_states = run_watched(BandwidthEstimator(), packets)
    theirs, their_states = run_watched(RemoteBitrateEstimator(), packets)
    assert len(ours) > 1.5 * shape["seconds"]  # one about every 500 ms, after 3 s
    assert ours == theirs
    assert our_states == their_states


def test_an_overused_link_lowers_the_estimate_to_what_gets_through_at_most_every_200_ms():
    # 1.5 Mbit/s sent into a 600 kbit/s link: the queue grows, the delay with it.
    packets = trace(30, bitrate=1_500_000, capacity=600_000, jitter_ms=0.5)
    ours, our_states = run_watched(BandwidthEstimator(), packets)
    theirs, their_states = run_watched(RemoteBitrateEstimator(), packets)
    # What the estimate is made of does not depend on how often it is reported.
    assert our_states == their_states
    assert any(state[-1].name == "OVERUSING" for state in our_states)

    def settled(reports):
        end = packets[-1][0]
        late = [bitrate for index, bitrate in reports if packets[index][0] > end - 10_000]
        return min(late), max(late)

    low, high = settled(ours)
    assert low > 300_000 and high < 1_000_000  # the estimate follows the link, not the sender
    their_low, their_high = settled(theirs)
    assert abs(low - their_low) < 0.25 * their_low

    arrivals = [packets[index][0] for index, _ in ours]
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= REDUCE_INTERVAL_MS or _halved(ours)
    # aiortc reports on every packet while overused: many times more REMBs
    assert len(theirs) > 3 * len(ours)


def test_a_queue_that_builds_up_and_drains_is_read_as_aiortc_reads_it():
    # Cross traffic leaves 300 kbit/s for four seconds, then the queue empties at once.
    packets = trace(30, squeeze=(10.0, 14.0, 300_000), jitter_ms=0.5)
    ours, our_states = run_watched(BandwidthEstimator(), packets)
    theirs, their_states = run_watched(RemoteBitrateEstimator(), packets)
    assert our_states == their_states
    seen = {state[-1].name for state in our_states}
    assert {"OVERUSING", "UNDERUSING", "NORMAL"} <= seen


def _halved(reports) -> bool:
    pairs = zip(reports, reports[1:], strict=False)
    return any(later < earlier / 2 for (_, earlier), (_, later) in pairs)


def test_the_incoming_rate_starts_afresh_exactly_when_aiortcs_does():
    # Packets in the same millisecond after a fresh start, and gaps of a second give or
    # take a millisecond: the edges of aiortc's one-second window.
    start = 1_000_000
    times = [0, 0, 1000, 1000, 1001, 2000, 2999, 3000, 3000, 4000, 4001, 5001, 5002, 5003]
    packets = [(start + t, (t * 262) & 0xFFFFFF, 1000 + t % 7) for t in times]
    packets += [
        (start + 6000 + 33 * i, ((6000 + 33 * i) * 262) & 0xFFFFFF, 1100) for i in range(40)
    ]
    assert run_watched(BandwidthEstimator(), packets) == run_watched(
        RemoteBitrateEstimator(), packets
    )
