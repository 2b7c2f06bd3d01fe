"""E-mails follow from what happens to a meeting: booked, moved or retitled, cancelled,
deleted.

These subscribers only react: the domain (``content/scheduling.py``) has already raised
SEQUENCE, issued or dropped the code and link and recorded what the participant is told,
and its event carries what changed and the new code and link in clear.
"""

from plone import api
from prorenata.videomote import _
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.notify.delivery import enqueue
from prorenata.videomote.notify.imip import CANCELLATION
from prorenata.videomote.notify.imip import INVITATION
from prorenata.videomote.notify.imip import UPDATE
from prorenata.videomote.notify.imip import MeetingNotice
from prorenata.videomote.notify.imip import build_message
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.translation import in_site_language
from zope.lifecycleevent.interfaces import IObjectRemovedEvent

#: The inviter an e-mail names when the organiser has no full name.
STAFF_FALLBACK = _("Vårdpersonal")


def base_url() -> str:
    configured = api.portal.get_registry_record("prorenata.videomote.public_base_url", default="")
    return (configured or api.portal.get().absolute_url()).rstrip("/")


def _sender() -> tuple[str, str]:
    address = api.portal.get_registry_record(
        "prorenata.videomote.sender_address", default=None
    ) or api.portal.get_registry_record("plone.email_from_address", default=None)
    name = (
        api.portal.get_registry_record("prorenata.videomote.sender_name", default=None)
        or "Prorenata Videomöte"
    )
    return name, address or "noreply@localhost"


def notice_for(
    meeting,
    kind: str,
    code: str | None = None,
    token: str | None = None,
    moved: bool = True,
    previous_title: str | None = None,
    sequence: int | None = None,
):
    organiser = api.user.get(userid=meeting.organiser) if meeting.organiser else None
    organiser_name = (organiser.getProperty("fullname") if organiser else "") or in_site_language(
        STAFF_FALLBACK
    )
    sender_name, sender_address = _sender()
    portal = api.portal.get()
    return MeetingNotice(
        kind=kind,
        uid=meeting.ical_uid,
        sequence=meeting.sequence if sequence is None else sequence,
        title=meeting.title,
        start=meeting.start,
        end=meeting.end,
        timezone=meeting_zone(meeting),
        organiser_name=organiser_name,
        organiser_unit=portal.Title(),
        invitee_name=meeting.invitee_name,
        invitee_email=meeting.invitee_email,
        code_page_url=f"{base_url()}/videomote",
        service_address=sender_address,
        sender_name=sender_name,
        join_url=f"{base_url()}/videomote/logga-in#{token}" if token else None,
        meeting_code=code,
        language=api.portal.get_default_language() or "sv",
        moved=moved,
        previous_title=previous_title,
    )


def _send(meeting, kind: str, code: str | None = None, token: str | None = None, **what) -> None:
    if not meeting.invitee_email:
        return
    message = build_message(notice_for(meeting, kind, code, token, **what))
    enqueue(api.portal.get(), message, meeting.UID(), kind)


def meeting_booked(meeting, event) -> None:
    """Booked: the invitation, with the code and link the booking issued."""
    _send(meeting, INVITATION, event.code, event.token)


def meeting_updated(meeting, event) -> None:
    """Moved or retitled: an update saying what changed.

    A new time brings the new code and link (the old time's room is closed); a new title
    alone keeps them: the earlier e-mail's link still works and the e-mail says so.
    """
    _send(
        meeting,
        UPDATE,
        event.code,
        event.token,
        moved=event.moved,
        previous_title=event.previous_title,
        sequence=event.sequence,
    )


def meeting_cancelled(meeting, event) -> None:
    _send(meeting, CANCELLATION)


def meeting_removed(meeting, event) -> None:
    """Deleted from the calendar: the same as a cancellation, unless it already was.

    The deleted meeting is not changed: its cancellation carries the next SEQUENCE."""
    if not IObjectRemovedEvent.providedBy(event) or event.newParent is not None:
        return  # moved within the site, not deleted
    if meeting.state in (STATE_CANCELLED, STATE_ENDED) or not meeting.invitee_email:
        return
    notice = notice_for(meeting, CANCELLATION, sequence=(meeting.sequence or 0) + 1)
    enqueue(api.portal.get(), build_message(notice), meeting.UID(), CANCELLATION)
