"""Staff actions on meetings go to the audit log as they happen."""

from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import record
from zope.lifecycleevent.interfaces import IObjectRemovedEvent


def booked(meeting, event) -> None:
    record(log.BOOKED, meeting, contact=meeting.contact_choice)


def modified(meeting, event) -> None:
    # Only a change the participant is told about counts as a move (see notify).
    if getattr(meeting, "_audited_sequence", 0) != meeting.sequence:
        meeting._audited_sequence = meeting.sequence
        record(log.MOVED, meeting, sequence=meeting.sequence)


def cancelled(meeting, event) -> None:
    record(log.CANCELLED, meeting)


def removed(meeting, event) -> None:
    if IObjectRemovedEvent.providedBy(event) and event.newParent is None:
        record(log.CANCELLED, meeting, deleted="yes")
