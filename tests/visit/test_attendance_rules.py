"""The outcome and each person's presence from recorded join/leave events, on a clock
the test sets (plain Python: every time is an argument)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.visit.attendance import COMPLETED
from prorenata.videomote.visit.attendance import INTERRUPTED
from prorenata.videomote.visit.attendance import NO_SHOW
from prorenata.videomote.visit.attendance import Event
from prorenata.videomote.visit.attendance import outcome
from prorenata.videomote.visit.attendance import presences
from prorenata.videomote.visit.attendance import together

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09.00 in Stockholm
END = START + timedelta(minutes=30)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def staff(kind, minutes, reason=""):
    return Event(at(minutes), "staff-1", "Sara Skolsköterska", "staff", kind, reason)


def guardian(kind, minutes, reason=""):
    return Event(at(minutes), "invitee", "Anna Andersson", "participant", kind, reason)


def ended(events, minutes):
    people = presences(events, at(minutes))
    return outcome(people, END), people


def test_a_participant_who_never_joined_is_a_no_show():
    result, people = ended([staff("join", 0), staff("leave", 20, "ended")], 20)
    assert result == NO_SHOW
    assert [p.name for p in people] == ["Sara Skolsköterska"]


def test_no_events_at_all_is_a_no_show():
    assert ended([], 45)[0] == NO_SHOW


def test_staff_ending_with_the_participant_in_the_room_is_completed():
    events = [staff("join", 0), guardian("join", 2), staff("leave", 25, "ended")]
    result, people = ended(events, 25)
    assert result == COMPLETED
    anna = people[1]
    assert (anna.joined, anna.left, anna.seconds, anna.reconnects) == (at(2), at(25), 23 * 60, 0)


def test_a_connection_lost_before_the_end_and_never_back_is_interrupted():
    events = [staff("join", 0), guardian("join", 1), guardian("leave", 10, "lost")]
    result, people = ended(events, 15)
    assert result == INTERRUPTED
    assert people[1].seconds == 9 * 60


def test_a_lost_connection_that_came_back_is_completed_with_a_reconnect():
    events = [
        staff("join", 0),
        guardian("join", 1),
        guardian("leave", 10, "lost"),
        guardian("join", 10.5),
        guardian("leave", 28, "left"),
    ]
    result, people = ended(events, 29)
    assert result == COMPLETED
    anna = people[1]
    assert anna.reconnects == 1
    assert anna.seconds == 9 * 60 + int(17.5 * 60)
    assert (anna.joined, anna.left) == (at(1), at(28))


def test_a_participant_who_hung_up_early_is_completed_not_interrupted():
    events = [staff("join", 0), guardian("join", 1), guardian("leave", 12, "left")]
    assert ended(events, 14)[0] == COMPLETED


def test_a_connection_lost_after_the_booked_end_is_completed():
    events = [staff("join", 0), guardian("join", 1), guardian("leave", 31, "lost")]
    assert ended(events, 33)[0] == COMPLETED


def test_a_new_connection_replacing_the_old_counts_as_a_reconnect():
    # A reloaded page: the media server replaces the old connection, no leave between.
    events = [guardian("join", 1), guardian("join", 5), guardian("leave", 20, "ended")]
    result, people = ended(events, 20)
    assert (result, people[0].reconnects, people[0].seconds) == (COMPLETED, 1, 19 * 60)


def test_time_after_the_end_does_not_count_and_late_joins_are_ignored():
    events = [
        staff("join", 0),
        guardian("join", 1),
        guardian("leave", 40, "ended"),  # the media server's report came after the end
        guardian("join", 41),
    ]
    result, people = ended(events, 20)
    assert result == COMPLETED
    assert (people[1].left, people[1].seconds, people[1].reconnects) == (at(20), 19 * 60, 0)


def test_events_reported_out_of_order_give_the_same_result():
    events = [staff("join", 0), guardian("join", 1), guardian("leave", 10, "lost")]
    assert ended(list(reversed(events)), 15)[0] == INTERRUPTED


def test_the_interpreter_alone_can_be_left_out_of_the_outcome():
    interpreter = Event(at(1), "tolk", "Tove Tolk", "participant", "join")
    people = presences([staff("join", 0), interpreter], at(20))
    assert outcome(people, END) == COMPLETED
    assert outcome(people, END, counts=lambda p: p.who == "invitee") == NO_SHOW


def test_while_the_meeting_is_on_someone_in_the_room_has_not_left():
    people = presences([guardian("join", 1)])
    assert people[0].present and people[0].left is None


def test_the_actual_time_is_when_staff_and_participant_were_in_together():
    events = [
        guardian("join", 1),
        staff("join", 3),
        staff("leave", 10, "lost"),
        staff("join", 11),
        guardian("leave", 27, "left"),
        staff("leave", 28, "ended"),
    ]
    people = presences(events, at(28))
    assert together(people) == (at(3), at(27))


def test_never_together_has_no_actual_time():
    events = [staff("join", 0), staff("leave", 5, "left"), guardian("join", 6)]
    assert together(presences(events, at(10))) == (None, None)
