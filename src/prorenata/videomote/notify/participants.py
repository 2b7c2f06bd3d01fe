"""E-mails to a meeting's extra participants: each person their own invitation (with
their own link and code), update and cancellation; a person removed gets a
cancellation.

These subscribers only react, like ``subscribers.py``: the domain
(``content/scheduling.py``, ``content/participants.py``) has issued or voided each
person's code and link and puts them in clear on its event (``extra_secrets``). Each
message names only its own recipient as ATTENDEE: people do not learn each other's
addresses.
"""

from dataclasses import replace
from plone import api
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.notify.delivery import enqueue
from prorenata.videomote.notify.imip import CANCELLATION
from prorenata.videomote.notify.imip import INVITATION
from prorenata.videomote.notify.imip import UPDATE
from prorenata.videomote.notify.imip import build_message
from prorenata.videomote.notify.subscribers import notice_for
from zope.lifecycleevent.interfaces import IObjectRemovedEvent


def send_to(meeting, person: dict, kind: str, secrets: tuple | None = None, **what) -> None:
    """One e-mail about ``meeting`` to one extra ``person``."""
    code, token = secrets or (None, None)
    notice = notice_for(meeting, kind, code, token, **what)
    notice = replace(notice, invitee_name=person["name"], invitee_email=person["email"])
    enqueue(api.portal.get(), build_message(notice), meeting.UID(), kind)


def _secrets(event) -> dict:
    return getattr(event, "extra_secrets", None) or {}


def meeting_booked(meeting, event) -> None:
    issued = _secrets(event)
    for person in participants.people(meeting):
        send_to(meeting, person, INVITATION, issued.get(person["id"]))


def meeting_updated(meeting, event) -> None:
    issued = _secrets(event)
    for person in participants.people(meeting):
        send_to(
            meeting,
            person,
            UPDATE,
            issued.get(person["id"]),
            moved=event.moved,
            previous_title=event.previous_title,
            sequence=event.sequence,
        )


def meeting_cancelled(meeting, event) -> None:
    for person in participants.people(meeting):
        send_to(meeting, person, CANCELLATION)


def meeting_removed(meeting, event) -> None:
    """Deleted: everyone gets the cancellation, unless it already was cancelled."""
    if not IObjectRemovedEvent.providedBy(event) or event.newParent is not None:
        return
    if meeting.state in (STATE_CANCELLED, STATE_ENDED):
        return
    for person in participants.people(meeting):
        send_to(meeting, person, CANCELLATION, sequence=(meeting.sequence or 0) + 1)


def people_invited(meeting, event) -> None:
    """Added to a booked meeting: an invitation with the person's own link and code."""
    for person in event.people:
        send_to(meeting, person, INVITATION, event.secrets.get(person["id"]))


def person_removed(meeting, event) -> None:
    """Removed: a cancellation (their link and code no longer work)."""
    send_to(meeting, event.person, CANCELLATION)
