"""Booking, moving and cancelling meetings: the Plone shell over the booking rules.

Every path (the dialog, the REST API, the CalDAV bridge) goes through these functions,
and Plone's own edit form and stock REST PATCH through :func:`meeting_modified`. Here,
and only here, the meeting's calendar state changes: SEQUENCE, the meeting code and join
link, what the participant was last told, the room. Then one explicit event says what
happened (``interfaces.IMeetingBookedEvent``, ``IMeetingUpdatedEvent``,
``IMeetingCancelledEvent``); the e-mail (``notify``) and the audit log (``audit``)
subscribe to it independently and only react, in whatever order they run.
"""

from AccessControl import Unauthorized
from AccessControl.security import checkPermission
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from plone import api
from plone.app.uuid.utils import uuidToObject
from plone.app.uuid.utils import uuidToPhysicalPath
from plone.dexterity.utils import createContentInContainer
from prorenata.videomote import _
from prorenata.videomote.access import signins
from prorenata.videomote.access.codes import hash_meeting_code
from prorenata.videomote.access.codes import hash_secret
from prorenata.videomote.access.codes import new_join_token
from prorenata.videomote.access.codes import new_meeting_code
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.access.media_room import tell_media_server_ended
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.booking.invitee import Contact
from prorenata.videomote.booking.invitee import Invitee
from prorenata.videomote.booking.invitee import invite_contact_for
from prorenata.videomote.booking.participants import both_guardians
from prorenata.videomote.booking.participants import check_extra_participants
from prorenata.videomote.booking.rules import DEFAULT_MAX_MEETING_MINUTES
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_ICAL_UID
from prorenata.videomote.booking.rules import MAX_MOBILE
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.booking.rules import AccessRefused
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.booking.rules import check_length
from prorenata.videomote.booking.rules import check_length_of_meeting
from prorenata.videomote.booking.rules import check_not_too_far_ahead
from prorenata.videomote.booking.rules import check_times
from prorenata.videomote.booking.rules import too_far_ahead
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.content.meeting import new_ical_uid
from prorenata.videomote.interfaces import MeetingBookedEvent
from prorenata.videomote.interfaces import MeetingCancelledEvent
from prorenata.videomote.interfaces import MeetingUpdatedEvent
from prorenata.videomote.timezone import NonExistentTime
from prorenata.videomote.timezone import configured_zone
from prorenata.videomote.timezone import is_zone
from prorenata.videomote.timezone import localize
from prorenata.videomote.timezone import meeting_zone
from zope.event import notify
from zope.lifecycleevent import ObjectModifiedEvent

PAST = _("Starttiden har redan passerat. Välj en senare tid.")
NO_ACCESS = _("Du har inte behörighet att boka videomöten för den här eleven/patienten.")

# A booking may start a moment ago (the dialog was open a while), not earlier.
PAST_TOLERANCE = timedelta(minutes=5)


@dataclass
class Booking:
    """What the dialog or the REST API asks for."""

    title: str
    start: datetime
    end: datetime
    patient_uid: str
    contact_choice: str
    custom_name: str = ""
    custom_mobile: str = ""
    custom_email: str = ""
    #: An IANA zone; empty: the configured one (``timezone.configured_zone``).
    timezone: str = ""
    #: More people ("Lägg till deltagare"): mappings with name, mobile, email, role.
    extra_participants: list | None = None
    #: "Båda vårdnadshavarna": the student's guardians with contact details are added.
    both_guardians: bool = False


def localise(value: datetime, zone: str, field: str = "start") -> datetime:
    """Naive times from a form are wall-clock times in the meeting's zone.

    Stored with pytz zones, as plone.app.event stores them (zoneinfo objects do not
    pickle into the ZODB; see ``timezone.py``). A wall-clock
    time that does not exist (the hour skipped when summer time begins) is refused
    saying so; one that exists twice (autumn) is read in winter time, as before.
    A time no meeting can have (year 1, year 9999: its offset overflows) is refused too.
    """
    try:
        return localize(value, zone)
    except NonExistentTime:
        raise BookingRefused(
            _(
                "Klockan ${time} finns inte natten till ${date}: då ställs klockan fram en "
                "timme (sommartid börjar). Välj en annan tid.",
                mapping={"time": f"{value:%H.%M}", "date": f"{value:%Y-%m-%d}"},
            ),
            field=field,
        ) from None
    except (OverflowError, ValueError):
        if value.year < 1900:
            raise BookingRefused(PAST, field=field) from None
        raise too_far_ahead(field) from None


def max_meeting_minutes() -> int:
    """The longest meeting the control panel allows (a missing record: the default)."""
    value = api.portal.get_registry_record("prorenata.videomote.max_meeting_minutes", default=None)
    return value or DEFAULT_MAX_MEETING_MINUTES


def check_schedule(start: datetime, end: datetime, now: datetime | None = None) -> None:
    """Every rule about when a meeting may be: ends after it starts, not in the past, not
    too far ahead, not longer than the set maximum (its session and codes live until its
    end)."""
    now = now or datetime.now(UTC)
    check_times(start, end)
    check_not_past(start, now)
    check_not_too_far_ahead(start, now)
    check_length_of_meeting(start, end, max_meeting_minutes())


def one_line(value, field: str, limit: int = MAX_TOKEN) -> str:
    """Text from the dialog, the REST API or a calendar as one line.

    Line breaks and tabs become spaces and control characters go (a title ends up in an
    e-mail's Subject header, where a line break is refused); anything but text, and text
    longer than ``limit``, is refused naming the field.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BookingRefused(_("Skriv ${field} som text.", mapping={"field": field}), field=field)
    check_length(value, field, limit)
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def _title(value) -> str:
    title = one_line(value, "title", MAX_TITLE)
    if not title:
        raise BookingRefused(_("Skriv en titel. Den visas för deltagarna."), field="title")
    return title


def check_not_past(start: datetime, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    if start < now - PAST_TOLERANCE:
        raise BookingRefused(PAST, field="start")


def patient_for(uid: str):
    """The student/patient record, if the current user may book for it."""
    try:
        patient = uuidToObject(uid) if uid else None
    except Unauthorized:
        patient = None
        if uuidToPhysicalPath(uid):
            raise AccessRefused(NO_ACCESS, field="patient_uid") from None
    if patient is None or not IContactDetails.providedBy(patient):
        raise BookingRefused(_("Välj en elev/patient."), field="patient_uid")
    if not checkPermission("prorenata.videomote.AddVideoMeeting", patient):
        raise AccessRefused(NO_ACCESS, field="patient_uid")
    type_info = patient.getTypeInfo()
    if not (
        getattr(patient, "isPrincipiaFolderish", False)
        and type_info is not None
        and type_info.allowType("VideoMeeting")
    ):
        # A journal's own record type with the contact details, not set up to hold them.
        raise BookingRefused(
            _(
                "Den här journalposten kan inte ha videomöten. Be administratören tillåta "
                "innehållstypen Videomöte i den."
            ),
            field="patient_uid",
        )
    return patient


def resolve_invitee(patient, booking: Booking) -> Invitee:
    student = Contact(
        patient.Title(),
        getattr(patient, "contact_email", None),
        getattr(patient, "contact_mobile", None),
    )
    custom = Contact(booking.custom_name or "", booking.custom_email, booking.custom_mobile)
    return invite_contact_for(
        booking.contact_choice, student, getattr(patient, "guardians", None) or [], custom
    )


def book_meeting(
    booking: Booking, organiser: str, now: datetime | None = None, ical_uid: str | None = None
):
    """Store a new meeting inside the patient record; the invitation follows on commit.

    Raises :class:`BookingRefused` (naming the field) and stores nothing when a rule fails.
    """
    title = _title(booking.title)
    check_length(ical_uid, "ical_uid", MAX_ICAL_UID, label="UID")
    limits = {"custom_mobile": MAX_MOBILE, "custom_email": MAX_EMAIL}
    for field in ("patient_uid", "contact_choice", "timezone", "custom_mobile", "custom_email"):
        # Refuses what is not text, or too long
        one_line(getattr(booking, field), field, limits.get(field, MAX_TOKEN))
    custom_name = one_line(booking.custom_name, "custom_name", MAX_NAME)
    zone = booking.timezone or configured_zone()
    if not is_zone(zone):
        raise BookingRefused(
            _("Okänd tidszon. Ange den som t.ex. Europe/Stockholm."), field="timezone"
        )
    booking = replace(booking, title=title, custom_name=custom_name, timezone=zone)
    start = localise(booking.start, booking.timezone, "start")
    end = localise(booking.end, booking.timezone, "end")
    check_schedule(start, end, now)
    patient = patient_for(booking.patient_uid)
    invitee = resolve_invitee(patient, booking)
    # Names and addresses from the record (or a journal's own record type, whose fields
    # are not ours) go into the e-mail, the SMS and the room: the same limits hold.
    check_length(invitee.name, "contact_choice", MAX_NAME, label=_("Namn"))
    check_length(invitee.email, "contact_choice", MAX_EMAIL, label=_("E-postadress"))
    extra = check_extra_participants(
        _extra_people(patient, booking, invitee), taken_mobiles=[invitee.mobile]
    )
    return createContentInContainer(
        patient,
        "VideoMeeting",
        checkConstraints=True,
        title=title,
        start=start,
        end=end,
        meeting_timezone=booking.timezone,
        patient_uid=booking.patient_uid,
        contact_choice=booking.contact_choice,
        custom_name=custom_name or None,
        custom_mobile=invitee.mobile if booking.contact_choice == "custom" else None,
        custom_email=invitee.email if booking.contact_choice == "custom" else None,
        invitee_name=invitee.name,
        invitee_email=invitee.email,
        invitee_mobile=invitee.mobile,
        organiser=organiser,
        state=STATE_BOOKED,
        extra_participants=participants.new_records(extra),
        # A meeting booked from a clinician's calendar keeps that event's UID.
        **({"ical_uid": ical_uid} if ical_uid else {}),
    )


def _extra_people(patient, booking: Booking, invitee: Invitee):
    """The extra people asked for; with "Båda vårdnadshavarna" the student's guardians
    (those not already invited) come first."""
    raw = booking.extra_participants
    if not booking.both_guardians:
        return raw
    guardians = both_guardians(getattr(patient, "guardians", None) or [], invitee.mobile)
    return [*guardians, *raw] if isinstance(raw, list) else (guardians if raw is None else raw)


CANCELLED_NOT_MOVED = _("Mötet är avbokat och kan inte flyttas.")
NOT_WHOLE_DAY = _(
    "Ett videomöte har alltid en start- och en sluttid: det kan inte vara heldag eller sakna slut."
)


def move_meeting(meeting, start: datetime, end: datetime, title: str | None = None, now=None):
    """Change time (and optionally title); an update e-mail follows if anything changed."""
    if meeting.state == STATE_CANCELLED:
        raise BookingRefused(CANCELLED_NOT_MOVED, field="start")
    zone = meeting_zone(meeting)
    start, end = localise(start, zone, "start"), localise(end, zone, "end")
    check_schedule(start, end, now)
    if title is not None:
        meeting.title = _title(title)
    meeting.start, meeting.end = start, end
    meeting.reindexObject()
    settle_changes(meeting)
    notify(ObjectModifiedEvent(meeting))
    return meeting


def _wall_clock(meeting, value: datetime, field: str) -> datetime:
    """``value`` if it is a wall-clock time of its zone (naive: of the meeting's zone)."""
    if value.tzinfo is None:
        return localise(value, meeting_zone(meeting), field)
    zone = getattr(value.tzinfo, "zone", None)
    if zone and value.replace(tzinfo=None) != value.tzinfo.normalize(value).replace(tzinfo=None):
        # Read with localize in the hour skipped in spring: refused saying so.
        localise(value.replace(tzinfo=None), zone, field)
    return value


def _unchanged(value: datetime, before: str) -> bool:
    """The same instant, in whatever zone it was read; or the same with its seconds cut
    (the edit form shows and sends minutes only): never later than it was."""
    before = datetime.fromisoformat(before)
    return value in (before, before.replace(second=0, microsecond=0))


def check_edited_times(
    meeting,
    start: datetime | None,
    end: datetime | None,
    whole_day: bool = False,
    open_end: bool = False,
    now: datetime | None = None,
) -> None:
    """The rules of :func:`move_meeting` for times that Plone's own edit form or a stock
    REST PATCH sets on ``meeting`` (plone.app.event's ``IEventBasic`` fields).

    Those paths have already read the times in a zone: the edit form's widget in the
    meeting's zone with ``localize`` (a time in the hour skipped in spring silently gets
    winter time; see ``edit_times.py``), the REST API as given (without an offset: as
    UTC), converted to the stored time's zone. Refuses (naming the field) a wall-clock
    time that does not exist, a whole-day or open-ended meeting (plone.app.event would
    then show and index it as lasting all day), and, when the time differs from the one
    the room is for, every rule of a move. A time left as it was is not checked again:
    a past meeting's title can still be corrected.
    """
    if whole_day or open_end:
        raise BookingRefused(NOT_WHOLE_DAY, field="whole_day" if whole_day else "open_end")
    start = start and _wall_clock(meeting, start, "start")
    end = end and _wall_clock(meeting, end, "end")
    check_times(start, end)
    if all(map(_unchanged, (start, end), _times_before(meeting))):
        return
    if meeting.state == STATE_CANCELLED:
        raise BookingRefused(CANCELLED_NOT_MOVED, field="start")
    check_schedule(start, end, now)


def cancel_meeting(meeting) -> bool:
    """Cancel ("Avboka"): a higher SEQUENCE, the code and link stop working, and the
    cancellation e-mail follows. False if already cancelled."""
    if meeting.state == STATE_CANCELLED:
        return False
    if meeting.state == STATE_STARTED:
        # Cancelled while people are in the room: it ends on the media servers too, and
        # everyone in it sees "Mötet är avslutat" (by any path: dialog, REST, CalDAV).
        tell_media_server_ended(meeting)
    meeting.state = STATE_CANCELLED
    meeting.sequence = (meeting.sequence or 0) + 1
    meeting.meeting_code_hash = meeting.join_token_hash = None
    participants.void_all(meeting)
    meeting.reindexObject()
    notify(MeetingCancelledEvent(meeting))
    return True


def _times(meeting) -> tuple:
    return (meeting.start.isoformat(), meeting.end.isoformat())


def _snapshot(meeting) -> tuple:
    """What the participant is told about: time and title."""
    return (*_times(meeting), meeting.title)


def last_told(meeting) -> tuple | None:
    """(start, end, title) as the participant was last told (``VideoMeeting.last_told``).

    Until upgrade step 1002 has run, a meeting told before keeps it as ``_notified``.
    """
    return meeting.last_told or meeting.__dict__.get("_notified")


def _times_before(meeting) -> tuple:
    """The time the room, sign-ins and sessions are for (the last one booked or moved to);
    for meetings booked before that was kept, the time the participant was told."""
    return getattr(meeting, "_room_times", None) or tuple(
        (last_told(meeting) or _times(meeting))[:2]
    )


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


def meeting_booked(meeting, event) -> None:
    """A meeting was added (booked): fix its calendar UID, remember the time its room is
    for and what the participant is told, issue code and link; then say so."""
    if "ical_uid" not in meeting.__dict__:
        # The schema default is a factory: store one value, or every read differs.
        meeting.ical_uid = new_ical_uid()
    meeting._room_times = _times(meeting)
    meeting.last_told = _snapshot(meeting)
    code, token = issue_secrets(meeting)
    event = MeetingBookedEvent(meeting, code, token)
    # Each extra participant's own code and link (person id → (code, token)).
    event.extra_secrets = participants.issue_all(meeting)
    notify(event)


def tell_what_changed(meeting) -> MeetingUpdatedEvent | None:
    """If the time or title differs from what the participant was told: a higher
    SEQUENCE, for a new time a new code and link, and :class:`MeetingUpdatedEvent`
    (the update e-mail and the audit entry follow from it). Nothing otherwise, so calling
    it twice for one change tells once.

    SEQUENCE grows for a new title too (RFC 5546 leaves it to the organiser; every client
    takes a higher SEQUENCE as the newer version, not all take an equal one). A cancelled
    or ended meeting is told nothing more.
    """
    if meeting.state in (STATE_CANCELLED, STATE_ENDED):
        return None
    told, now = last_told(meeting), _snapshot(meeting)
    if told is None or tuple(told) == now:
        return None  # nothing the participant was told has changed
    moved = tuple(told[:2]) != now[:2]
    previous_title = told[2] if told[2] != now[2] else None
    meeting.sequence = (meeting.sequence or 0) + 1
    code, token = issue_secrets(meeting) if moved else (None, None)
    meeting.last_told = now
    meeting.__dict__.pop("_notified", None)
    meeting._p_changed = True
    event = MeetingUpdatedEvent(meeting, meeting.sequence, moved, previous_title, code, token)
    event.extra_secrets = participants.issue_all(meeting) if moved else {}
    notify(event)
    return event


def settle_changes(meeting) -> None:
    """What follows a new time or title, by any path: the old time's room closes, then
    the participant is told."""
    close_room_if_moved(meeting)
    tell_what_changed(meeting)


def meeting_modified(meeting, event) -> None:
    """Plone's edit form and a stock REST PATCH change a meeting and fire only
    ``IObjectModifiedEvent``: the same as :func:`move_meeting` follows (after a move it
    finds nothing left to do)."""
    settle_changes(meeting)


def close_room_if_moved(meeting) -> None:
    """A new time, by whatever path (the dialog, REST, CalDAV, the edit form): what was
    opened for the old time closes. The room is no longer started (staff start it again
    at the new time), the media server ends the old room, and every participant session,
    pending sign-in and join token for the old time is refused: they carry the meeting's
    room generation, counted up here. The participant signs in anew with the update
    e-mail's link or code."""
    now = _times(meeting)
    before = _times_before(meeting)
    if before == now:
        return
    meeting._room_times = now
    old = signins.generation(meeting)
    meeting.room_generation = old + 1
    signins.drop_all_pending(meeting)
    was_started = meeting.state == STATE_STARTED
    if was_started:
        meeting.state = STATE_BOOKED
        meeting.reindexObject(idxs=["meeting_state"])
        tell_media_server_ended(meeting, generation=old, reason="moved")
    record(audit.ROOM_CLOSED_BY_MOVE, meeting, started="yes" if was_started else "no")
