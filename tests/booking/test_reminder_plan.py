"""When a meeting's reminders go out, and when a due one still may (plain rules)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.booking.reminders import EMAIL
from prorenata.videomote.booking.reminders import SMS
from prorenata.videomote.booking.reminders import PlannedReminder
from prorenata.videomote.booking.reminders import ReminderSettings
from prorenata.videomote.booking.reminders import plan_reminders
from prorenata.videomote.booking.reminders import reason_not_to_send

import pytest

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DEFAULTS = ReminderSettings()


def test_a_meeting_days_ahead_gets_an_email_a_day_before_and_an_sms_an_hour_before():
    start = NOW + timedelta(days=3)
    assert plan_reminders(start, NOW, DEFAULTS) == [
        PlannedReminder(EMAIL, start - timedelta(hours=24)),
        PlannedReminder(SMS, start - timedelta(hours=1)),
    ]


def test_the_chosen_times_before_are_used():
    start = NOW + timedelta(days=3)
    settings = ReminderSettings(email_before=timedelta(hours=48), sms_before=timedelta(minutes=15))
    assert plan_reminders(start, NOW, settings) == [
        PlannedReminder(EMAIL, start - timedelta(hours=48)),
        PlannedReminder(SMS, start - timedelta(minutes=15)),
    ]


def test_an_email_reminder_whose_time_has_passed_at_booking_is_left_out():
    start = NOW + timedelta(hours=5)  # the invitation goes out now: no e-mail reminder
    assert plan_reminders(start, NOW, DEFAULTS) == [
        PlannedReminder(SMS, start - timedelta(hours=1))
    ]


def test_an_sms_reminder_whose_time_has_passed_goes_two_minutes_later_unless_imminent():
    """Two minutes: staff who correct or cancel a booking at once text nobody."""
    start = NOW + timedelta(minutes=30)  # SMS one hour before: already passed
    soon = NOW + timedelta(minutes=2)
    assert plan_reminders(start, NOW, DEFAULTS) == [PlannedReminder(SMS, soon)]
    assert plan_reminders(NOW + timedelta(minutes=10), NOW, DEFAULTS) == [
        PlannedReminder(SMS, soon)
    ]


def test_no_sms_reminder_when_the_meeting_starts_within_ten_minutes():
    assert plan_reminders(NOW + timedelta(minutes=9), NOW, DEFAULTS) == []


def test_switched_off_channels_and_missing_contact_details_plan_nothing_for_them():
    start = NOW + timedelta(days=3)
    assert plan_reminders(start, NOW, ReminderSettings(sms_on=False)) == [
        PlannedReminder(EMAIL, start - timedelta(hours=24))
    ]
    assert plan_reminders(start, NOW, ReminderSettings(email_on=False)) == [
        PlannedReminder(SMS, start - timedelta(hours=1))
    ]
    assert plan_reminders(start, NOW, DEFAULTS, has_email=False, has_mobile=False) == []


@pytest.mark.parametrize(
    ("state", "start", "now", "reason"),
    [
        ("booked", NOW + timedelta(hours=1), NOW, None),
        ("cancelled", NOW + timedelta(hours=1), NOW, "cancelled"),
        ("started", NOW + timedelta(hours=1), NOW, "started"),
        ("ended", NOW + timedelta(hours=1), NOW, "ended"),
        ("booked", NOW + timedelta(hours=2), NOW, "moved"),
        ("booked", NOW + timedelta(hours=1), NOW + timedelta(hours=1), "started"),
    ],
)
def test_a_due_reminder_goes_out_only_for_a_booked_meeting_at_its_planned_time_before_it_begins(
    state, start, now, reason
):
    planned_for = NOW + timedelta(hours=1)
    assert reason_not_to_send(state, start, planned_for, now) == reason
