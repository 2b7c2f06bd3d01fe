"""When a meeting leaves a media node whose *media* fails while its WebSocket still
works (plain rules, no Zope).

A node that dies is left by its pages' next token request (``media_nodes.choose_node``).
A node whose UDP media plane is blocked, or whose media path is stuck, still answers
``/health`` and keeps every page's socket open: the pages would stay on it, without
video, for ever. Pages therefore report "my media failed on node X" when they ask for a
fresh token; these rules decide whether that moves the meeting.

One person's failure while the others' media works is their own network (a family's
router, a school's firewall): they retry on the same node (through TURN, when there is
one), and nobody else's meeting moves. Evidence that the node itself is at fault:

- the node says so itself: its ``/health`` ``media.failing`` (ICE/DTLS failures from at
  least two rooms in the last minute, not one success since the first of them, nobody
  connected: :func:`media_plane_failing`); no meeting is placed there then;
- failure reports about the node from two or more *meetings* within
  :data:`REPORT_WINDOW_SECONDS`: no meeting is placed there (:func:`node_failed`);
- two or more *people of one meeting* report it failing within the window: that
  meeting (and only that one) moves (:func:`meeting_moves`).

Everything is bounded: one report per person, meeting and node counts (a repeat only
refreshes its time), reports older than the window are dropped, at most
:data:`MAX_REPORTS_PER_NODE` per node are kept, and a meeting moves for failed media at
most once per :data:`MOVE_COOLDOWN_SECONDS` (a network that fails on every node must
not make it hop between them).
"""

from collections.abc import Iterable
from collections.abc import Mapping
from typing import NamedTuple

#: How long a failure report (and a node's own ICE failure) counts.
REPORT_WINDOW_SECONDS = 60.0
#: A person's repeated report about one node within this time changes nothing.
REPORT_INTERVAL_SECONDS = 5.0
#: At most this many reports are kept per node (the newest).
MAX_REPORTS_PER_NODE = 200
#: A meeting moves for failed media at most once in this time.
MOVE_COOLDOWN_SECONDS = 120.0
#: Distinct people of one meeting / distinct meetings whose reports condemn a node.
PEOPLE_TO_MOVE_A_MEETING = 2
MEETINGS_TO_FAIL_A_NODE = 2
#: Distinct rooms whose ICE failed on a node before it calls its own media plane failing.
ROOMS_TO_FAIL_A_MEDIA_PLANE = 2


class FailureReport(NamedTuple):
    """A page's "media failed on this node": when (seconds since the epoch), in which
    meeting (its UID), by whom (an opaque person key within the meeting) and role."""

    at: float
    meeting: str
    who: str
    role: str = ""


class MediaEvent(NamedTuple):
    """A node's own record of one connection: connected (``ok``) or failed, and in
    which room (an opaque key)."""

    at: float
    ok: bool
    room: str


def recent(reports: Iterable[FailureReport], now: float) -> list[FailureReport]:
    """The reports still inside the window (newest last)."""
    return sorted(
        (r for r in reports if 0 <= now - r.at < REPORT_WINDOW_SECONDS), key=lambda r: r.at
    )


def add_report(
    reports: Iterable[FailureReport], report: FailureReport
) -> tuple[FailureReport, ...] | None:
    """The node's reports with ``report`` added, expired ones dropped and at most
    :data:`MAX_REPORTS_PER_NODE` kept; None when it changes nothing worth a write
    (the same person reported the same meeting's failure a moment ago)."""
    kept = recent(reports, report.at)
    same = [r for r in kept if (r.meeting, r.who) == (report.meeting, report.who)]
    if same and report.at - same[-1].at < REPORT_INTERVAL_SECONDS:
        return None
    kept = [r for r in kept if (r.meeting, r.who) != (report.meeting, report.who)]
    kept.append(report)
    return tuple(kept[-MAX_REPORTS_PER_NODE:])


def node_failed(reports: Iterable[FailureReport], health: object, now: float) -> bool:
    """Whether no meeting should be placed on the node: it says its media plane fails,
    or reports about it came from :data:`MEETINGS_TO_FAIL_A_NODE` meetings lately."""
    if media_failing_in(health):
        return True
    meetings = {r.meeting for r in recent(reports, now)}
    return len(meetings) >= MEETINGS_TO_FAIL_A_NODE


def meeting_moves(
    reports: Iterable[FailureReport],
    meeting: str,
    health: object,
    now: float,
    last_moved: float | None = None,
) -> bool:
    """Whether ``meeting`` leaves the node its people report failing: the node failed
    (:func:`node_failed`), or :data:`PEOPLE_TO_MOVE_A_MEETING` of its own people reported
    it within the window. Never twice within :data:`MOVE_COOLDOWN_SECONDS`."""
    if last_moved is not None and 0 <= now - last_moved < MOVE_COOLDOWN_SECONDS:
        return False
    reports = recent(reports, now)
    if node_failed(reports, health, now):
        return True
    people = {r.who for r in reports if r.meeting == meeting}
    return len(people) >= PEOPLE_TO_MOVE_A_MEETING


def media_failing_in(health: object) -> bool:
    """Whether a node's ``/health`` answer says its media plane fails."""
    if not isinstance(health, Mapping):
        return False
    media = health.get("media")
    return isinstance(media, Mapping) and media.get("failing") is True


def media_plane_failing(events: Iterable[MediaEvent], connected_now: int, now: float) -> bool:
    """The media server's verdict on itself (``/health`` ``media.failing``): within the
    window connections failed in :data:`ROOMS_TO_FAIL_A_MEDIA_PLANE` rooms or more, none
    succeeded since the first of those failures, and nobody is connected now. One room's
    failures (one family's network) never make it, nor failures while others connect."""
    if connected_now > 0:
        return False
    window = [e for e in events if 0 <= now - e.at < REPORT_WINDOW_SECONDS]
    failures = [e for e in window if not e.ok]
    if len({e.room for e in failures}) < ROOMS_TO_FAIL_A_MEDIA_PLANE:
        return False
    first = min(e.at for e in failures)
    return not any(e.ok and e.at >= first for e in window)
