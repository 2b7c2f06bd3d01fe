"""The bandwidth estimate a receiver reports to the browser (REMB), at a fraction of the cost.

Browsers adapt their video bitrate to the receiver estimated maximum bitrate the server
reports (RTCP REMB): aiortc's receiver feeds every packet to ``aiortc.rate``'s
``RemoteBitrateEstimator`` (webrtc.org's delay-based estimator: inter-arrival groups, a
Kalman filter on the queueing delay, an overuse detector and AIMD rate control). Its
per-packet part is what costs: the incoming bitrate lives in one-millisecond buckets, and
every packet walks the buckets of every millisecond since the last one — twice — and builds
group objects. On the forwarding path that was a fifth of the server's packet work.

:class:`BandwidthEstimator` keeps the algorithm and its figures: the rate control is
aiortc's own class; the per-packet part — the packets of the last second (merged per
millisecond, with a running sum), the inter-arrival groups, aiortc's Kalman filter and
overuse detector — is C (``_sendpath.Estimator`` in ``_receive.c``), the same arithmetic in
the same order on doubles, so every state is aiortc's to the last bit. One deliberate
difference: while the link is overused, aiortc lowers the estimate — and sends a REMB — on
*every* packet; here at most once per :data:`REDUCE_INTERVAL_MS` (webrtc.org's
``TimeToReduceFurther``: once per round trip, at most 200 ms), unless the incoming rate
has fallen below half the estimate. ``tests/media/test_remb.py`` compares both
estimators on the same packet traces, state by state.
"""

from aiortc.rate import AimdRateControl
from aiortc.rate import BandwidthUsage
from prorenata.videomote.media import _sendpath

#: Bitrate window: the packets of the last second count.
RATE_WINDOW_MS = 1000
#: How often the estimate is reported when nothing is overused (aiortc: every 500 ms).
FEEDBACK_INTERVAL_MS = 500
#: While overused, the estimate is lowered at most this often (webrtc.org: RTT, ≤200 ms).
REDUCE_INTERVAL_MS = 200

_USAGES = (BandwidthUsage.NORMAL, BandwidthUsage.UNDERUSING, BandwidthUsage.OVERUSING)


class BandwidthEstimator(_sendpath.Estimator):
    """Receiver-side estimate of the bitrate one incoming video stream can have.

    Feed it every RTP packet that carries abs-send-time: :meth:`add` returns
    ``(bitrate, ssrcs)`` when a REMB should be sent, else None (the contract of aiortc's
    ``RemoteBitrateEstimator.add``). What it is made of: ``offset``, ``slope`` and
    ``var_noise`` (the Kalman filter), ``threshold`` and ``hypothesis`` (the detector),
    :meth:`incoming_rate`; ``rate_control`` is aiortc's.
    """

    def __init__(self) -> None:
        super().__init__(AimdRateControl(), _USAGES)
