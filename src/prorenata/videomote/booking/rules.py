"""Rules every booking must follow, independent of how it is made.

The length limits live here, next to the other rules, so that the schema fields
(``max_length``), the booking dialog, the REST API, the edit form and the calendar bridge
all refuse the same thing: every text that reaches the database, an e-mail, an SMS, an
iCalendar file or the room has a maximum length.
"""

from datetime import datetime
from datetime import timedelta
from prorenata.videomote import _

#: A meeting's title: shown in the invitation's Subject, the calendar and the room.
MAX_TITLE = 200
#: A person's name (student/patient, guardian, custom invitee, display name in the room).
MAX_NAME = 100
#: An e-mail address (RFC 5321: at most 254 characters in a path).
MAX_EMAIL = 254
#: A mobile number as typed, before it is normalised to E.164 ("070-123 45 67").
MAX_MOBILE = 32
#: A personal identity number as typed ("19900101-1234", "900101+1234").
MAX_PERSONNUMMER = 20
#: Guardians/relatives of one student/patient.
MAX_GUARDIANS = 20
#: A record's UID, a contact choice, a time zone name, a date: short tokens.
MAX_TOKEN = 100
#: An iCalendar UID (kept as the meeting's ``ical_uid``).
MAX_ICAL_UID = 255
#: An event's DESCRIPTION in a clinician's calendar (we add a note to it).
MAX_DESCRIPTION = 10_000
#: Attendees of one event read from a clinician's calendar.
MAX_ATTENDEES = 50
#: One calendar object read from a clinician's calendar, in bytes (an ordinary event with
#: its time zones is a few kB).
MAX_EVENT_BYTES = 256 * 1024
#: A JSON request body, in bytes: a booking is well under 2 kB.
MAX_BODY_BYTES = 64 * 1024
#: How long a meeting may last unless the control panel says otherwise (minutes).
DEFAULT_MAX_MEETING_MINUTES = 4 * 60
#: How far ahead a meeting may be booked: the participant's session lives until its end.
MAX_DAYS_AHEAD = 2 * 365

#: Swedish names of the fields that messages name.
FIELD_LABELS = {
    "title": _("Titel"),
    "custom_name": _("Namn"),
    "custom_mobile": _("Mobilnummer"),
    "custom_email": _("E-postadress"),
    "patient_uid": _("Elev/patient"),
    "contact_choice": _("Videomöte"),
    "timezone": _("Tidszon"),
    "start": _("Start"),
    "end": _("Slut"),
}


class BookingRefused(ValueError):
    """A booking that cannot be completed; ``field`` names the field, ``message`` why."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class AccessRefused(BookingRefused):
    """The user may not book for (or even see) this student/patient."""


def too_long_message(label, limit: int):
    """The one wording of "too long", naming the field (a translatable label)."""
    return _("${field} får vara högst ${max} tecken.", mapping={"field": label, "max": limit})


def check_length(value: str | None, field: str, limit: int, label=None) -> None:
    """Refuse text longer than ``limit`` characters, naming the field."""
    if value is not None and len(value) > limit:
        raise BookingRefused(
            too_long_message(label or FIELD_LABELS.get(field, field), limit), field=field
        )


def check_times(start: datetime | None, end: datetime | None) -> None:
    """Refuse a meeting without start or end, or that ends before it starts."""
    if start is None:
        raise BookingRefused(_("Ange när mötet startar."), field="start")
    if end is None:
        raise BookingRefused(_("Ange när mötet slutar."), field="end")
    if end <= start:
        raise BookingRefused(_("Slut måste vara efter start."), field="end")


def check_length_of_meeting(start: datetime, end: datetime, max_minutes: int) -> None:
    """Refuse a meeting longer than the set maximum: its participant session, codes and
    room live until its end."""
    if end - start > timedelta(minutes=max_minutes):
        hours, minutes = divmod(max_minutes, 60)
        length = f"{hours} h {minutes} min" if minutes else f"{hours} h"
        raise BookingRefused(
            _("Ett videomöte får vara högst ${length}.", mapping={"length": length}),
            field="end",
        )


def too_far_ahead(field: str = "start") -> BookingRefused:
    return BookingRefused(
        _(
            "Ett videomöte kan bokas högst ${days} dagar framåt.",
            mapping={"days": MAX_DAYS_AHEAD},
        ),
        field=field,
    )


def check_not_too_far_ahead(start: datetime, now: datetime) -> None:
    """Refuse a start further ahead than :data:`MAX_DAYS_AHEAD`."""
    if start > now + timedelta(days=MAX_DAYS_AHEAD):
        raise too_far_ahead()


def missing_custom_fields(name: str | None, mobile: str | None, email: str | None) -> list[str]:
    """Name the fields (in Swedish) that a custom contact still lacks."""
    labels = (("Namn", name), ("Mobilnummer", mobile), ("E-postadress", email))
    return [label for label, value in labels if not (value or "").strip()]
