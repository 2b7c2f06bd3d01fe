"""The audit log names each extra participant invited to or removed from a meeting."""

from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import record
from prorenata.videomote.content import participants


def _invited(meeting, people) -> None:
    for person in people:
        record(log.PARTICIPANT_INVITED, meeting, person=person["name"], person_role=person["role"])


def booked(meeting, event) -> None:
    _invited(meeting, participants.people(meeting))


def invited(meeting, event) -> None:
    _invited(meeting, event.people)


def removed(meeting, event) -> None:
    person = event.person
    record(log.PARTICIPANT_REMOVED, meeting, person=person["name"], person_role=person["role"])
