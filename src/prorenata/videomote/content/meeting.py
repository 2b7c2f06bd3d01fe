"""The video meeting ("Videomöte"): a calendar event with an invitee."""

from plone.autoform import directives
from plone.dexterity.content import Item
from plone.supermodel import model
from plone.uuid.interfaces import IUUID
from prorenata.videomote import _
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.booking.rules import MAX_ICAL_UID
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.booking.rules import missing_custom_fields
from prorenata.videomote.content.fields import BoundedTextLine
from prorenata.videomote.content.fields import EmailAddress
from prorenata.videomote.content.fields import MobileNumber
from prorenata.videomote.timezone import configured_zone
from zope import schema
from zope.interface import Invalid
from zope.interface import implementer
from zope.interface import invariant
from zope.interface import provider
from zope.schema.interfaces import IContextAwareDefaultFactory
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary

import uuid

CONTACT_STUDENT = "student"
CONTACT_GUARDIAN = "guardian"
CONTACT_CUSTOM = "custom"

CONTACT_CHOICES = SimpleVocabulary(
    [
        SimpleTerm(CONTACT_STUDENT, CONTACT_STUDENT, _("Elev (Primär kontaktuppgift)")),
        SimpleTerm(CONTACT_GUARDIAN, CONTACT_GUARDIAN, _("Vårdnadshavare (Primär kontaktuppgift)")),
        SimpleTerm(CONTACT_CUSTOM, CONTACT_CUSTOM, _("Anpassad (Om annan kontaktuppgift)")),
    ]
)

STATE_BOOKED = "booked"
STATE_STARTED = "started"
STATE_ENDED = "ended"
STATE_CANCELLED = "cancelled"

MEETING_STATES = SimpleVocabulary(
    [
        SimpleTerm(STATE_BOOKED, STATE_BOOKED, _("Bokat")),
        SimpleTerm(STATE_STARTED, STATE_STARTED, _("Startat")),
        SimpleTerm(STATE_ENDED, STATE_ENDED, _("Avslutat")),
        SimpleTerm(STATE_CANCELLED, STATE_CANCELLED, _("Avbokat")),
    ]
)


@provider(IContextAwareDefaultFactory)
def patient_of_context(context):
    """When booking from inside a student/patient record, that record is preselected."""
    if IContactDetails.providedBy(context):
        return IUUID(context, None)
    return None


EDIT_BOOKING = "prorenata.videomote.EditBooking"
#: Resolved when a meeting is booked and kept by its functions: no form shows them.
BOOKKEEPING_FIELDS = (
    "invitee_name",
    "invitee_email",
    "invitee_mobile",
    "organiser",
    "state",
    "ical_uid",
    "sequence",
)
#: How to reach the invitee: only in the audited meeting views (granted to no role).
CONTACT_DETAILS_UNAUDITED = "prorenata.videomote.ContactDetailsUnaudited"
CONTACT_FIELDS = ("invitee_email", "invitee_mobile", "custom_email", "custom_mobile")
#: Whom a meeting is with, and its bookkeeping: written only by booking and its functions.
BOOKING_FIELDS = (
    "patient_uid",
    "contact_choice",
    "custom_name",
    "custom_mobile",
    "custom_email",
    *BOOKKEEPING_FIELDS,
)


def new_ical_uid() -> str:
    """A random, stable iCalendar UID that reveals nothing about the journal."""
    return f"{uuid.uuid4()}@videomote"


@provider(IContextAwareDefaultFactory)
def default_meeting_timezone(context):
    """The time zone set in the control panel, else the site's (``timezone.py``)."""
    return configured_zone(context)


class IVideoMeeting(model.Schema):
    """Title, invitee choice and the bookkeeping of one video meeting.

    Start and end come from plone.app.event's ``IEventBasic`` behavior.
    """

    title = BoundedTextLine(
        title=_("Titel"),
        description=_("Titeln visas för deltagarna i videomötet."),
        required=True,
        max_length=MAX_TITLE,
    )
    meeting_timezone = schema.Choice(
        title=_("Tidszon"),
        vocabulary="plone.app.vocabularies.Timezones",
        defaultFactory=default_meeting_timezone,
        required=True,
    )
    patient_uid = schema.Choice(
        title=_("Elev/patient"),
        vocabulary="prorenata.videomote.Patients",
        defaultFactory=patient_of_context,
        required=True,
    )
    contact_choice = schema.Choice(
        title=_("Videomöte"),
        description=_("Vilka kontaktuppgifter ska inbjudan skickas till?"),
        vocabulary=CONTACT_CHOICES,
        default=CONTACT_STUDENT,
        required=True,
    )
    custom_name = BoundedTextLine(title=_("Namn"), required=False, max_length=MAX_NAME)
    custom_mobile = MobileNumber(title=_("Mobilnummer"), required=False)
    custom_email = EmailAddress(title=_("E-postadress"), required=False)

    # Whom it is with and the bookkeeping are set when it is booked: the edit form shows
    # them, neither it nor a REST PATCH changes them (nothing would follow: no new
    # invitation, no new code). To invite someone else: cancel and book again.
    directives.write_permission(**dict.fromkeys(BOOKING_FIELDS, EDIT_BOOKING))
    directives.omitted(*BOOKKEEPING_FIELDS)
    # E-mail and mobile are shown only by the meeting's own views, which audit each read
    # (the dialog, @videomote-meeting(s)): Plone's serializer, searches with full objects
    # and edit forms neither show nor write them, for any role.
    directives.read_permission(**dict.fromkeys(CONTACT_FIELDS, CONTACT_DETAILS_UNAUDITED))
    directives.write_permission(**dict.fromkeys(CONTACT_FIELDS, CONTACT_DETAILS_UNAUDITED))
    invitee_name = BoundedTextLine(title=_("Inbjuden"), required=False, max_length=MAX_NAME)
    invitee_email = EmailAddress(title=_("Inbjudens e-postadress"), required=False)
    invitee_mobile = MobileNumber(title=_("Inbjudens mobilnummer"), required=False)
    organiser = BoundedTextLine(title=_("Organisatör"), required=False, max_length=MAX_TOKEN)
    state = schema.Choice(
        title=_("Status"), vocabulary=MEETING_STATES, default=STATE_BOOKED, required=True
    )
    ical_uid = schema.ASCIILine(
        title=_("Kalender-UID"), defaultFactory=new_ical_uid, max_length=MAX_ICAL_UID
    )
    sequence = schema.Int(title=_("Kalenderversion"), default=0, min=0)

    @invariant
    def custom_contact_is_complete(data):
        if getattr(data, "contact_choice", None) != CONTACT_CUSTOM:
            return
        missing = missing_custom_fields(
            getattr(data, "custom_name", None),
            getattr(data, "custom_mobile", None),
            getattr(data, "custom_email", None),
        )
        if missing:
            raise Invalid(
                _(
                    "Vid Anpassad behöver du fylla i ${fields}.",
                    mapping={"fields": ", ".join(missing)},
                )
            )


@implementer(IVideoMeeting)
class VideoMeeting(Item):
    """A video meeting, stored inside the student/patient record it concerns.

    It keeps no local roles of its own: whoever may see the record may see the meeting,
    and nobody else (``content/security.py``). Zope would make whoever books it its
    Owner, and the Sharing page could give someone a role on the meeting alone, either
    outliving or bypassing access to the student; so roles are given on the record.
    """

    #: Counted up by every move to a new time; participant sessions, sign-ins and join
    #: tokens carry it and are refused once it differs (see ``close_room_if_moved``).
    room_generation = 0
    #: What the participant was last told, ``(start, end, title)`` (ISO 8601 times): set
    #: at booking and by every update told (``scheduling.tell_what_changed``, the only
    #: writer), compared there with the meeting's time and title to decide what changed.
    #: None for a meeting booked before it was kept (such a meeting is told no updates).
    #: No type annotation here: it would give the class an ``__annotations__`` dict,
    #: which zope.annotation would take as every meeting's shared annotation storage.
    last_told = None
    #: The extra participants ("Lägg till deltagare"): a tuple of plain dicts, replaced
    #: whole by ``content/participants.py`` (the only writer); meetings stored before
    #: read this empty default. Not a schema field, and no type annotation (see above).
    extra_participants = ()

    def manage_addLocalRoles(self, userid, roles):
        """Ignored: a meeting's roles are its record's (give them on the record)."""

    def manage_setLocalRoles(self, userid, roles):
        """Ignored: a meeting's roles are its record's (give them on the record)."""
