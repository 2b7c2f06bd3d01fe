"""When a meeting leaves a node whose media fails while its WebSocket works: the plain
rules (``access/media_failover.py``) and how placement uses them."""

from prorenata.videomote.access.media_failover import MAX_REPORTS_PER_NODE
from prorenata.videomote.access.media_failover import MOVE_COOLDOWN_SECONDS
from prorenata.videomote.access.media_failover import REPORT_WINDOW_SECONDS
from prorenata.videomote.access.media_failover import FailureReport
from prorenata.videomote.access.media_failover import MediaEvent
from prorenata.videomote.access.media_failover import add_report
from prorenata.videomote.access.media_failover import media_plane_failing
from prorenata.videomote.access.media_failover import meeting_moves
from prorenata.videomote.access.media_failover import node_failed
from prorenata.videomote.access.media_nodes import choose_node

NOW = 1_000_000.0
ONE, TWO = "wss://media1.example.se/ws", "wss://media2.example.se/ws"
HEALTHY = {"ok": True, "rooms": 1, "people": 2, "media": {"failing": False}}
FAILING = {"ok": True, "rooms": 1, "people": 2, "media": {"failing": True}}


def reports(*entries):
    """(seconds ago, meeting, who) → the reports a node has."""
    found = ()
    for ago, meeting, who in entries:
        found = add_report(found, FailureReport(NOW - ago, meeting, who)) or found
    return found


def test_one_persons_failure_with_the_others_fine_does_not_move_the_meeting():
    one = reports((1, "m1", "guardian"))
    assert not meeting_moves(one, "m1", HEALTHY, NOW)
    assert not node_failed(one, HEALTHY, NOW)


def test_the_same_person_reporting_again_and_again_is_still_one_person():
    again = reports(*[(30 - n, "m1", "guardian") for n in range(0, 30, 3)])
    assert len(again) == 1
    assert not meeting_moves(again, "m1", HEALTHY, NOW)


def test_a_repeat_within_seconds_is_not_even_written():
    first = reports((1, "m1", "guardian"))
    assert add_report(first, FailureReport(NOW, "m1", "guardian")) is None


def test_two_people_of_the_meeting_failing_on_the_node_move_that_meeting_only():
    both = reports((2, "m1", "staff"), (1, "m1", "guardian"))
    assert meeting_moves(both, "m1", HEALTHY, NOW)
    # One family's (one meeting's) trouble is not the node's: no other meeting moves.
    assert not node_failed(both, HEALTHY, NOW)
    assert not meeting_moves(both, "m2", HEALTHY, NOW)


def test_reports_from_two_meetings_fail_the_node_for_everyone():
    two = reports((2, "m1", "guardian"), (1, "m2", "staff"))
    assert node_failed(two, HEALTHY, NOW)
    assert meeting_moves(two, "m3", HEALTHY, NOW)
    assert choose_node([ONE, TWO], ONE, lambda url: HEALTHY, avoid={ONE}) == TWO


def test_old_reports_no_longer_count():
    old = reports((REPORT_WINDOW_SECONDS + 1, "m1", "staff"), (1, "m1", "guardian"))
    assert len(old) == 1
    assert not meeting_moves(old, "m1", HEALTHY, NOW)


def test_a_node_that_says_its_media_fails_is_left_by_the_first_report_and_not_placed_on():
    one = reports((1, "m1", "guardian"))
    assert meeting_moves(one, "m1", FAILING, NOW)
    assert node_failed((), FAILING, NOW)
    assert choose_node([ONE, TWO], ONE, lambda url: FAILING if url == ONE else HEALTHY) == TWO
    assert choose_node([ONE, TWO], None, lambda url: FAILING if url == ONE else HEALTHY) == TWO


def test_a_meeting_moves_for_failed_media_at_most_once_in_the_cooldown():
    both = reports((2, "m1", "staff"), (1, "m1", "guardian"))
    assert not meeting_moves(both, "m1", HEALTHY, NOW, last_moved=NOW - 10)
    assert meeting_moves(both, "m1", HEALTHY, NOW, last_moved=NOW - MOVE_COOLDOWN_SECONDS - 1)


def test_reports_per_node_are_bounded():
    many = reports(*[(1, f"m{n}", "guardian") for n in range(MAX_REPORTS_PER_NODE + 50)])
    assert len(many) == MAX_REPORTS_PER_NODE


def test_the_nodes_own_verdict_needs_failures_in_two_rooms_none_connected_no_success_since():
    failed = [MediaEvent(NOW - 20, False, "room1"), MediaEvent(NOW - 10, False, "room2")]
    assert media_plane_failing(failed, connected_now=0, now=NOW)
    # One room's failures: one family's network.
    one_room = [MediaEvent(NOW - 20, False, "room1"), MediaEvent(NOW - 10, False, "room1")]
    assert not media_plane_failing(one_room, connected_now=0, now=NOW)
    # Somebody's media works now, or someone connected since the failures began.
    assert not media_plane_failing(failed, connected_now=1, now=NOW)
    assert not media_plane_failing([*failed, MediaEvent(NOW - 5, True, "room3")], 0, NOW)
    # Successes before the trouble began do not hide it; failures long ago do not count.
    assert media_plane_failing([MediaEvent(NOW - 30, True, "room1"), *failed], 0, NOW)
    stale = [MediaEvent(NOW - REPORT_WINDOW_SECONDS - 5, False, "room1"), failed[1]]
    assert not media_plane_failing(stale, 0, NOW)
