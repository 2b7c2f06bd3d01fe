"""Signed cookies and the per-client page limit (plain Python)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.access.ratelimit import SlidingWindow
from prorenata.videomote.access.signing import sign
from prorenata.videomote.access.signing import unsign

KEY = b"s" * 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_signed_value_round_trips_until_it_expires():
    value = sign({"m": "uid"}, KEY, "session", NOW + timedelta(minutes=30))
    assert unsign(value, KEY, "session", NOW)["m"] == "uid"
    assert unsign(value, KEY, "session", NOW + timedelta(minutes=31)) is None


def test_tampered_or_foreign_values_are_refused():
    value = sign({"m": "uid"}, KEY, "session", NOW + timedelta(minutes=30))
    data, mac = value.split(".")
    assert unsign(f"{data}x.{mac}", KEY, "session", NOW) is None
    assert unsign(value, b"other-key", "session", NOW) is None
    assert unsign(value, KEY, "pending", NOW) is None  # a pending sign-in is no session
    assert unsign("garbage", KEY, "session", NOW) is None


def test_sliding_window_limits_each_client():
    clock = [0.0]
    window = SlidingWindow(limit=3, seconds=60, clock=lambda: clock[0])
    assert [window.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert window.allow("10.0.0.2")
    clock[0] = 61.0
    assert window.allow("10.0.0.1")
