"""E-mails follow from what happens to a meeting: booked, moved, cancelled, deleted."""

from plone import api
from prorenata.videomote.access.codes import hash_meeting_code
from prorenata.videomote.access.codes import hash_secret
from prorenata.videomote.access.codes import new_join_token
from prorenata.videomote.access.codes import new_meeting_code
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.content.meeting import new_ical_uid
from prorenata.videomote.notify.delivery import enqueue
from prorenata.videomote.notify.imip import CANCELLATION
from prorenata.videomote.notify.imip import INVITATION
from prorenata.videomote.notify.imip import UPDATE
from prorenata.videomote.notify.imip import MeetingNotice
from prorenata.videomote.notify.imip import build_message
from zope.lifecycleevent.interfaces import IObjectRemovedEvent


def _snapshot(meeting) -> tuple:
    """What the participant was last told: time and title."""
    return (meeting.start.isoformat(), meeting.end.isoformat(), meeting.title)


def issue_secrets(meeting) -> tuple[str, str]:
    """New meeting code and personal join token; only their hashes are stored.

    Issued at booking and again whenever the time changes (as the room closes then, see
    ``close_room_if_moved``), so only the newest time's link works. A new title keeps them.
    """
    key = secret_key(api.portal.get())
    code, token = new_meeting_code(), new_join_token()
    meeting.meeting_code_hash = hash_meeting_code(code, key)
    meeting.join_token_hash = hash_secret(token, key)
    meeting.reindexObject(idxs=["meeting_code_hash", "join_token_hash"])
    return code, token


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
):
    organiser = api.user.get(userid=meeting.organiser) if meeting.organiser else None
    organiser_name = (organiser.getProperty("fullname") if organiser else "") or "Vårdpersonal"
    sender_name, sender_address = _sender()
    portal = api.portal.get()
    return MeetingNotice(
        kind=kind,
        uid=meeting.ical_uid,
        sequence=meeting.sequence,
        title=meeting.title,
        start=meeting.start,
        end=meeting.end,
        timezone=meeting.meeting_timezone or "Europe/Stockholm",
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
    meeting._notified = _snapshot(meeting)


def meeting_added(meeting, event) -> None:
    """Booked: fix the calendar UID, issue code and link, queue the invitation."""
    if "ical_uid" not in meeting.__dict__:
        # The schema default is a factory: store one value, or every read differs.
        meeting.ical_uid = new_ical_uid()
    code, token = issue_secrets(meeting)
    _send(meeting, INVITATION, code, token)


def meeting_modified(meeting, event) -> None:
    """Moved or retitled: higher SEQUENCE and an update saying what changed.

    A new time brings a new code and link (the room for the old time closes, see
    ``close_room_if_moved``, which compares the times the same way); a new title alone
    keeps them: the earlier e-mail's link still works and the e-mail says so. SEQUENCE
    grows for a new title too (RFC 5546 leaves it to the organiser; every client takes a
    higher SEQUENCE as the newer version, not all take an equal one).
    """
    if meeting.state in (STATE_CANCELLED, STATE_ENDED):
        return
    told, now = getattr(meeting, "_notified", None), _snapshot(meeting)
    if told in (None, now):
        return  # nothing the participant was told has changed
    moved = tuple(told[:2]) != now[:2]
    previous_title = told[2] if told[2] != now[2] else None
    meeting.sequence = (meeting.sequence or 0) + 1
    code, token = issue_secrets(meeting) if moved else (None, None)
    _send(meeting, UPDATE, code, token, moved=moved, previous_title=previous_title)


def meeting_cancelled(meeting, event) -> None:
    meeting.sequence = (meeting.sequence or 0) + 1
    meeting.meeting_code_hash = meeting.join_token_hash = None
    meeting.reindexObject(idxs=["meeting_code_hash", "join_token_hash"])
    _send(meeting, CANCELLATION)


def meeting_removed(meeting, event) -> None:
    """Deleted from the calendar: the same as a cancellation, unless it already was."""
    if not IObjectRemovedEvent.providedBy(event) or event.newParent is not None:
        return  # moved within the site, not deleted
    if meeting.state in (STATE_CANCELLED, STATE_ENDED) or not meeting.invitee_email:
        return
    meeting.sequence = (meeting.sequence or 0) + 1
    message = build_message(notice_for(meeting, CANCELLATION))
    enqueue(api.portal.get(), message, meeting.UID(), CANCELLATION)
