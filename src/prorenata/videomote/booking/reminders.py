"""When reminders go out, and whether one still may (plain Python, no Zope).

A meeting gets an e-mail reminder a set time before it starts (default 24 hours) and an
SMS reminder shortly before (default 1 hour, can be switched off). They are planned when
the meeting is booked or moved and checked again just before sending: a reminder is
never sent for a meeting that has been cancelled, moved, has begun or has ended.
"""

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

EMAIL = "email"
SMS = "sms"
CHANNELS = (EMAIL, SMS)

DEFAULT_EMAIL_HOURS = 24
DEFAULT_SMS_MINUTES = 60
#: An SMS reminder whose time has already passed when the meeting is booked or moved
#: (booked 30 minutes ahead, SMS one hour before) is sent soon after, unless the meeting
#: starts sooner than this: then it would arrive as the meeting begins.
SMS_AT_ONCE_MARGIN = timedelta(minutes=10)
#: "Soon after": a booking or move corrected (or cancelled) within this time texts nobody.
SMS_AT_ONCE_DELAY = timedelta(minutes=2)

# Why a due reminder was not sent (stored, shown to staff and in the audit log).
CANCELLED = "cancelled"
ENDED = "ended"
STARTED = "started"
MOVED = "moved"
SWITCHED_OFF = "off"
GONE = "gone"


@dataclass(frozen=True)
class ReminderSettings:
    """The control panel's reminder settings."""

    email_on: bool = True
    email_before: timedelta = timedelta(hours=DEFAULT_EMAIL_HOURS)
    sms_on: bool = True
    sms_before: timedelta = timedelta(minutes=DEFAULT_SMS_MINUTES)

    def on(self, channel: str) -> bool:
        return self.email_on if channel == EMAIL else self.sms_on


@dataclass(frozen=True)
class PlannedReminder:
    channel: str
    due: datetime


def plan_reminders(
    start: datetime,
    now: datetime,
    settings: ReminderSettings,
    has_email: bool = True,
    has_mobile: bool = True,
) -> list[PlannedReminder]:
    """The reminders a meeting starting at ``start`` gets when booked or moved at ``now``.

    An e-mail reminder whose time has already passed is left out: the invitation (or the
    update about the new time) that goes out now says all it would, and more. An SMS
    reminder whose time has passed is sent :data:`SMS_AT_ONCE_DELAY` after ``now`` if
    the meeting is at least :data:`SMS_AT_ONCE_MARGIN` away: the SMS is the one message
    that reaches the phone, and the short wait lets staff correct a slip first.
    """
    planned = []
    if settings.email_on and has_email:
        due = start - settings.email_before
        if due > now:
            planned.append(PlannedReminder(EMAIL, due))
    if settings.sms_on and has_mobile:
        due = start - settings.sms_before
        if due > now:
            planned.append(PlannedReminder(SMS, due))
        elif start - now >= SMS_AT_ONCE_MARGIN:
            planned.append(PlannedReminder(SMS, now + SMS_AT_ONCE_DELAY))
    return planned


def reason_not_to_send(
    state: str, start: datetime, planned_for: datetime, now: datetime
) -> str | None:
    """Why a due reminder must not go out now, or None if it may.

    ``state`` is the meeting's state (booked, started, ended, cancelled), ``start`` its
    start now, ``planned_for`` the start the reminder was planned for.
    """
    if state == "cancelled":
        return CANCELLED
    if state == "ended":
        return ENDED
    if state == "started":
        return STARTED
    if start != planned_for:
        return MOVED
    if now >= start:
        return STARTED
    return None
