"""The bandwidth estimate a receiver reports to the browser (REMB), at a fraction of the cost.

Browsers adapt their video bitrate to the receiver estimated maximum bitrate the server
reports (RTCP REMB): aiortc's receiver feeds every packet to ``aiortc.rate``'s
``RemoteBitrateEstimator`` (webrtc.org's delay-based estimator: inter-arrival groups, a
Kalman filter on the queueing delay, an overuse detector and AIMD rate control). Its
per-packet part is what costs: the incoming bitrate lives in one-millisecond buckets, and
every packet walks the buckets of every millisecond since the last one — twice — and builds
group objects. On the forwarding path that was a fifth of the server's packet work.

:class:`BandwidthEstimator` keeps the algorithm and its figures: the overuse detector and
the rate control are aiortc's own classes, the Kalman filter is aiortc's with its update
written out on plain floats in the same order, and the per-packet bookkeeping is written
here with the same arithmetic on plain integers (the packets of the last second in a deque
with a running sum, the groups as a few numbers). Two deliberate differences: while the
link is overused, aiortc lowers the estimate — and sends a REMB — on *every* packet; here
at most once per :data:`REDUCE_INTERVAL_MS` (webrtc.org's ``TimeToReduceFurther``: once per
round trip, at most 200 ms), unless the incoming rate has fallen below half the estimate.
And the server notes packets as they come and estimates them together every
:data:`BATCH_MS` (:meth:`BandwidthEstimator.note`). ``tests/media/test_remb.py`` compares
both estimators on the same packet traces, state by state.
"""

from aiortc.rate import DELTA_COUNTER_MAX
from aiortc.rate import INTER_ARRIVAL_SHIFT
from aiortc.rate import MIN_FRAME_PERIOD_HISTORY_LENGTH
from aiortc.rate import TIMESTAMP_GROUP_LENGTH_MS
from aiortc.rate import TIMESTAMP_TO_MS
from aiortc.rate import AimdRateControl
from aiortc.rate import BandwidthUsage
from aiortc.rate import OveruseDetector
from aiortc.rate import OveruseEstimator
from collections import deque

import math

#: Bitrate window: the packets of the last second count.
RATE_WINDOW_MS = 1000
#: How often the estimate is reported when nothing is overused (aiortc: every 500 ms).
FEEDBACK_INTERVAL_MS = 500
#: While overused, the estimate is lowered at most this often (webrtc.org: RTT, ≤200 ms).
REDUCE_INTERVAL_MS = 200
#: Packets are noted as they come and estimated together this often (see ``note``).
BATCH_MS = 100

_GROUP_LENGTH = (TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) // 1000
_BURST_DELTA_THRESHOLD_MS = 5
_HALF = 0x80000000
_MASK = 0xFFFFFFFF
_OVERUSING = BandwidthUsage.OVERUSING
_UNDERUSING = BandwidthUsage.UNDERUSING
_NORMAL = BandwidthUsage.NORMAL


class _KalmanFilter(OveruseEstimator):
    """aiortc's filter, the same arithmetic in the same order on plain floats (aiortc
    builds five small lists per update) and the smallest of the last frame periods
    without a Python loop."""

    def __init__(self) -> None:
        super().__init__()
        self.ts_delta_hist = deque()

    def update(
        self,
        time_delta_ms: int,
        timestamp_delta_ms: float,
        size_delta: int,
        current_hypothesis: BandwidthUsage,
        now_ms: int,
    ) -> None:
        min_frame_period = self.update_min_frame_period(timestamp_delta_ms)
        t_ts_delta = time_delta_ms - timestamp_delta_ms
        self._num_of_deltas = min(self._num_of_deltas + 1, DELTA_COUNTER_MAX)
        (e00, e01), (e10, e11) = self.E
        process_noise = self.process_noise
        e00 += process_noise[0]
        e11 += process_noise[1]
        offset = self._offset
        if (current_hypothesis is _OVERUSING and offset < self.previous_offset) or (
            current_hypothesis is _UNDERUSING and offset > self.previous_offset
        ):
            e11 += 10 * process_noise[1]
        h0 = size_delta
        eh0 = e00 * h0 + e01
        eh1 = e10 * h0 + e11
        residual = t_ts_delta - self.slope * h0 - offset
        if current_hypothesis is _NORMAL:
            max_residual = 3.0 * math.sqrt(self.var_noise)
            if abs(residual) < max_residual:
                self.update_noise_estimate(residual, min_frame_period)
            else:
                self.update_noise_estimate(
                    -max_residual if residual < 0 else max_residual, min_frame_period
                )
        denom = self.var_noise + h0 * eh0 + eh1
        k0 = eh0 / denom
        k1 = eh1 / denom
        ikh00 = 1.0 - k0 * h0
        ikh01 = -k0
        ikh10 = -k1 * h0
        ikh11 = 1.0 - k1
        self.E = [
            [e00 * ikh00 + e10 * ikh01, e01 * ikh00 + e11 * ikh01],
            [e00 * ikh10 + e10 * ikh11, e01 * ikh10 + e11 * ikh11],
        ]
        self.previous_offset = offset
        self.slope += k0 * residual
        self._offset = offset + k1 * residual

    def update_min_frame_period(self, ts_delta: float) -> float:
        history = self.ts_delta_hist
        if len(history) >= MIN_FRAME_PERIOD_HISTORY_LENGTH:
            history.popleft()
        smallest = min(min(history), ts_delta) if history else ts_delta
        history.append(ts_delta)
        return smallest


class BandwidthEstimator:
    """Receiver-side estimate of the bitrate one incoming video stream can have.

    Feed it every RTP packet that carries abs-send-time (:meth:`note`, or :meth:`add` one
    at a time); it returns ``(bitrate, ssrcs)`` when a REMB should be sent, else None
    (``add``: the same contract as aiortc's ``RemoteBitrateEstimator.add``).
    """

    def __init__(self) -> None:
        self.filter = _KalmanFilter()
        self.detector = OveruseDetector()
        self.rate_control = AimdRateControl()
        self.ssrcs: dict[int, int] = {}
        self.last_update_ms: int | None = None
        # Incoming bitrate: (arrival ms, bytes) of the last second, and their sum.
        self._packets: deque[tuple[int, int]] = deque()
        self._bytes = 0
        self._origin_ms: int | None = None
        self._newest_ms = 0
        self._rate_valid = True
        # Inter-arrival groups: packets sent within 5 ms of each other form one group.
        self._first_ts: int | None = None  # current group
        self._last_ts = 0
        self._arrival_ms = 0
        self._size = 0
        self._previous: tuple[int, int, int] | None = None  # last_ts, arrival, size
        self._pending: list[tuple[int, int, int, int]] = []

    def note(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        """Keep a packet for the estimate; every :data:`BATCH_MS` run :meth:`add` over the
        packets kept and return the newest REMB to send, if there is one.

        Between packets the server sleeps and other processes run: the estimator's
        objects are out of the CPU caches again for every single packet, which made it
        cost ten times more per packet in the server than in a loop. Taken together
        they stay warm; the estimate is the same, reported up to 100 ms later.
        """
        pending = self._pending
        pending.append((arrival_time_ms, abs_send_time, payload_size, ssrc))
        if 0 <= arrival_time_ms - pending[0][0] < BATCH_MS:  # (a clock set back: now)
            return None
        self._pending = []
        add = self.add
        newest = None
        for packet in pending:
            newest = add(*packet) or newest
        return newest

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        now = arrival_time_ms
        self.ssrcs[ssrc] = now
        # Incoming bitrate. aiortc asks its counter for the rate on every packet only to
        # start it afresh when there is none (nothing for a second, or a window of one
        # millisecond); the same answer, without computing the rate every time:
        origin = self._origin_ms
        if origin is not None and self._newest_ms > now - RATE_WINDOW_MS and origin < now:
            self._rate_valid = True
        elif self._rate_valid:
            self._packets.clear()
            self._bytes = 0
            self._origin_ms = origin = None
            self._rate_valid = False
        if origin is None:
            self._origin_ms = now
        self._packets.append((now, payload_size))
        self._bytes += payload_size
        self._newest_ms = now

        deltas = self._group(abs_send_time << 8, now, payload_size)
        detector = self.detector
        if deltas is not None:
            timestamp_delta_ms = deltas[0] * TIMESTAMP_TO_MS
            kalman = self.filter
            kalman.update(deltas[1], timestamp_delta_ms, deltas[2], detector.hypothesis, now)
            detector.detect(kalman.offset(), timestamp_delta_ms, kalman.num_of_deltas(), now)

        last = self.last_update_ms
        if last is None or now - last > FEEDBACK_INTERVAL_MS:
            incoming = self._incoming_rate(now)
        elif detector.hypothesis is _OVERUSING:
            incoming = self._incoming_rate(now)
            if now - last < REDUCE_INTERVAL_MS and not self._fallen_below_half(incoming):
                return None
        else:
            return None
        bitrate = self.rate_control.update(detector.hypothesis, incoming, now)
        if bitrate is None:
            return None
        self.last_update_ms = now
        return bitrate, list(self.ssrcs)

    def _fallen_below_half(self, incoming: int | None) -> bool:
        control = self.rate_control
        return (
            control.current_bitrate_initialized
            and incoming is not None
            and incoming * 2 < control.current_bitrate
        )

    def _incoming_rate(self, now: int) -> int | None:
        """Bits per second over the last second (aiortc's ``RateCounter.rate``)."""
        origin = self._origin_ms
        if origin is None:
            return None
        oldest = now - RATE_WINDOW_MS + 1
        if origin < oldest:
            packets = self._packets
            while packets and packets[0][0] < oldest:
                self._bytes -= packets.popleft()[1]
            self._origin_ms = origin = oldest
        window = now - origin + 1
        if not self._packets or window <= 1:
            return None
        return round(8000 * self._bytes / window)

    def _group(self, timestamp: int, arrival: int, size: int) -> tuple[int, int, int] | None:
        """(send-time delta, arrival delta, size delta) between the last two complete
        groups when ``timestamp`` starts a new one (aiortc's ``InterArrival``)."""
        deltas = None
        first = self._first_ts
        if first is None:
            self._first_ts = self._last_ts = timestamp
            self._size = 0
        elif (timestamp - first) & _MASK >= _HALF:
            return None  # out of order: older than the group being collected
        elif not self._in_burst(timestamp, arrival) and (timestamp - first) & _MASK > (
            _GROUP_LENGTH
        ):
            previous = self._previous
            if previous is not None:
                deltas = (
                    (self._last_ts - previous[0]) & _MASK,
                    self._arrival_ms - previous[1],
                    self._size - previous[2],
                )
            self._previous = (self._last_ts, self._arrival_ms, self._size)
            self._first_ts = self._last_ts = timestamp
            self._size = 0
        elif 0 < (timestamp - self._last_ts) & _MASK < _HALF:
            self._last_ts = timestamp
        self._size += size
        self._arrival_ms = arrival
        return deltas

    def _in_burst(self, timestamp: int, arrival: int) -> bool:
        timestamp_delta_ms = round(TIMESTAMP_TO_MS * ((timestamp - self._last_ts) & _MASK))
        arrival_delta = arrival - self._arrival_ms
        return timestamp_delta_ms == 0 or (
            arrival_delta - timestamp_delta_ms < 0 and arrival_delta <= _BURST_DELTA_THRESHOLD_MS
        )
