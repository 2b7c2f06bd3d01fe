"""The reconciliation rules (plain Python): who wins, what is never deleted."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.reconcile import Do
from prorenata.videomote.caldav_bridge.reconcile import ItemStatus
from prorenata.videomote.caldav_bridge.reconcile import RemoteItem
from prorenata.videomote.caldav_bridge.reconcile import reconcile
from prorenata.videomote.caldav_bridge.reconcile import removed

NINE = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _event(uid="m1", hour=0, title="Samtal", cancelled=False):
    start = NINE + timedelta(hours=hour)
    return CalendarEvent(
        uid=uid,
        title=title,
        start=start,
        end=start + timedelta(minutes=30),
        cancelled=cancelled,
        attendee_email="anna@example.se",
    )


def _agreed(*events):
    return {
        e.uid: ItemStatus(f"/{e.uid}.ics", f'"{e.uid}"', e.fingerprint(), e.fingerprint())
        for e in events
    }


def _remote(event, etag='"x"'):
    return RemoteItem(f"/{event.uid}.ics", etag, event)


def _plan(**kwargs):
    base = {"local": {}, "remote_changed": {}, "remote_deleted": set(), "status": {}}
    base.update(kwargs)
    plan = reconcile(**base)
    return [(a.do, a.uid) for a in plan.actions], plan


def test_new_meeting_is_pushed():
    assert _plan(local={"m1": _event()})[0] == [(Do.PUSH_CREATE, "m1")]


def test_same_state_twice_does_nothing():
    event = _event()
    actions, _ = _plan(
        local={"m1": event}, remote_changed={"m1": _remote(event)}, status=_agreed(event)
    )
    assert actions == []


def test_move_in_the_calendar_is_pulled():
    event = _event()
    actions, _ = _plan(
        local={"m1": event}, remote_changed={"m1": _remote(_event(hour=3))}, status=_agreed(event)
    )
    assert actions == [(Do.PULL_UPDATE, "m1")]


def test_server_reserialisation_is_not_a_change():
    event = _event()
    actions, _ = _plan(
        local={"m1": event}, remote_changed={"m1": _remote(event, '"new"')}, status=_agreed(event)
    )
    assert actions == []


def test_both_changed_the_journal_wins_and_the_conflict_is_reported():
    event = _event()
    actions, plan = _plan(
        local={"m1": _event(hour=2)},
        remote_changed={"m1": _remote(_event(hour=5))},
        status=_agreed(event),
    )
    assert actions == [(Do.PUSH_UPDATE, "m1")]
    assert plan.conflicts == ["m1"]


def test_deleted_in_the_calendar_cancels_the_meeting():
    event = _event()
    actions, _ = _plan(local={"m1": event}, remote_deleted={"m1"}, status=_agreed(event))
    assert actions == [(Do.PULL_DELETE, "m1")]


def test_deleted_in_the_calendar_but_moved_in_the_journal_is_written_back():
    event = _event()
    actions, plan = _plan(
        local={"m1": _event(hour=4)}, remote_deleted={"m1"}, status=_agreed(event)
    )
    assert actions == [(Do.PUSH_CREATE, "m1")]
    assert plan.conflicts == ["m1"]


def test_calendar_that_suddenly_looks_empty_deletes_nothing():
    events = [_event(uid=f"m{i}", hour=i) for i in range(6)]
    actions, plan = _plan(
        local={e.uid: e for e in events},
        remote_deleted={e.uid for e in events},
        status=_agreed(*events),
    )
    assert actions == [(Do.PUSH_CREATE, e.uid) for e in events]  # written back
    assert sorted(plan.mass_deletion_blocked) == sorted(e.uid for e in events)


def test_new_event_in_the_calendar_is_a_booking_candidate():
    actions, _ = _plan(remote_changed={"x1": _remote(_event(uid="x1"))})
    assert actions == [(Do.PULL_CREATE, "x1")]


def test_meeting_gone_from_the_journal_is_removed_from_the_calendar():
    event = _event()
    actions, _ = _plan(status=_agreed(event))
    assert actions == [(Do.PUSH_DELETE, "m1")]


def test_calendar_event_that_is_no_meeting_is_left_alone_until_it_changes():
    other = _event(uid="x1")
    unlinked = {"x1": ItemStatus("/x1.ics", '"e"', "", other.fingerprint())}
    assert _plan(status=unlinked)[0] == []
    assert _plan(remote_changed={"x1": _remote(other)}, status=unlinked)[0] == []
    changed = _remote(_event(uid="x1", hour=2))
    assert _plan(remote_changed={"x1": changed}, status=unlinked)[0] == [(Do.PULL_CREATE, "x1")]


def test_a_cancelled_meeting_is_removed_from_the_calendar_once():
    cancelled = _event(cancelled=True)
    actions, plan = _plan(local={"m1": cancelled}, status=_agreed(_event()))
    assert actions == [(Do.PUSH_DELETE, "m1")]
    assert plan.conflicts == []
    gone = {"m1": removed(cancelled.fingerprint())}
    assert _plan(local={"m1": cancelled}, status=gone)[0] == []  # and stays removed


def test_a_meeting_cancelled_before_it_reached_the_calendar_is_never_written():
    assert _plan(local={"m1": _event(cancelled=True)})[0] == []


def test_a_deleted_meetings_event_is_not_written_back():
    """Deleted by the clinician: an ended meeting keeps its time, a cancelled one is
    cancelled; neither is pushed, however often reconciled."""
    for event in (_event(), _event(cancelled=True)):
        gone = {"m1": removed(event.fingerprint())}
        assert _plan(local={"m1": event}, status=gone)[0] == []


def test_a_cancelled_meetings_event_that_comes_back_is_removed_again():
    cancelled = _event(cancelled=True)
    gone = {"m1": removed(cancelled.fingerprint())}
    actions, plan = _plan(
        local={"m1": cancelled}, remote_changed={"m1": _remote(_event())}, status=gone
    )
    assert actions == [(Do.PUSH_DELETE, "m1")]
    assert plan.conflicts == ["m1"]


def test_a_removed_meeting_gone_from_the_journal_is_forgotten():
    gone = {"m1": removed(_event().fingerprint())}
    assert _plan(status=gone)[0] == [(Do.FORGET, "m1")]


def test_removed_meetings_do_not_weaken_the_mass_deletion_guard():
    """Five live meetings all gone at once is a lost calendar, however many cancelled
    meetings the status remembers as removed."""
    events = [_event(uid=f"m{i}", hour=i) for i in range(5)]
    gone = {f"c{i}": removed(_event(uid=f"c{i}").fingerprint()) for i in range(10)}
    actions, plan = _plan(
        local={e.uid: e for e in events} | {uid: _event(uid=uid, cancelled=True) for uid in gone},
        remote_deleted={e.uid for e in events},
        status=_agreed(*events) | gone,
    )
    assert actions == [(Do.PUSH_CREATE, e.uid) for e in events]  # written back
    assert sorted(plan.mass_deletion_blocked) == [e.uid for e in events]
