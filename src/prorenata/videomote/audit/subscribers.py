"""Staff actions on meetings go to the audit log as they happen.

These subscribers only react to the domain's events (``content/scheduling.py``): they
keep no state of their own on the meeting and need no other subscriber to have run.
"""

from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import record
from zope.lifecycleevent.interfaces import IObjectRemovedEvent


def booked(meeting, event) -> None:
    record(log.BOOKED, meeting, contact=meeting.contact_choice)


def updated(meeting, event) -> None:
    # Only a change the participant is told about counts as a move (a new time or title).
    record(log.MOVED, meeting, sequence=event.sequence)


def cancelled(meeting, event) -> None:
    record(log.CANCELLED, meeting)


def removed(meeting, event) -> None:
    if IObjectRemovedEvent.providedBy(event) and event.newParent is None:
        record(log.CANCELLED, meeting, deleted="yes")
