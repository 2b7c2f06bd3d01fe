"""The draft visit note ("Besöksanteckning"): made in the student's record when a
meeting ends, completed and signed by the clinician.

What the journal knows for certain is filled in and cannot be changed through a form
(the date, the clinician, who took part and how each was identified, the actual start and
end, the outcome): those fields are written only here. The clinician writes the note's
text and signs it (the workflow transition ``sign``, draft → signed; a signed note cannot
be changed). Nothing from the chat is put in. Like a meeting, a note keeps no local roles
of its own: whoever may see the record sees its notes, and nobody else.

A journal with its own note type registers an :class:`IVisitNoteWriter` adapter for its
record type; the default writes this add-on's ``VisitNote``.
"""

from plone.autoform import directives
from plone.dexterity.content import Item
from plone.supermodel import model
from prorenata.videomote import _
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.content.fields import BoundedTextLine
from prorenata.videomote.visit.attendance import OUTCOME_TITLES
from zope import schema
from zope.interface import Interface
from zope.interface import implementer
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary

#: The facts of the visit are written by the journal only (granted to no role).
WRITE_FACTS = "prorenata.videomote.EditBooking"
FACT_FIELDS = (
    "meeting_uid",
    "visit_date",
    "clinician",
    "clinician_name",
    "participants",
    "actual_start",
    "actual_end",
    "outcome",
    "signed_by",
    "signed_at",
)
MAX_NOTE_TEXT = 20_000

OUTCOMES = SimpleVocabulary([SimpleTerm(key, key, title) for key, title in OUTCOME_TITLES.items()])


class IVisitNote(model.Schema):
    """A visit note about one video meeting."""

    title = BoundedTextLine(title=_("Titel"), required=True, max_length=MAX_TITLE)
    text = schema.Text(
        title=_("Anteckning"),
        description=_(
            "Skriv det du vill dokumentera om besöket. Inget från chatten kommer med om du "
            "inte själv kopierar in det."
        ),
        required=False,
        max_length=MAX_NOTE_TEXT,
    )
    directives.write_permission(**dict.fromkeys(FACT_FIELDS, WRITE_FACTS))
    meeting_uid = schema.ASCIILine(title=_("Videomöte"), required=False, max_length=MAX_TOKEN)
    visit_date = schema.Date(title=_("Datum"), required=False)
    clinician = schema.TextLine(title=_("Behandlare (användar-id)"), required=False)
    clinician_name = BoundedTextLine(title=_("Behandlare"), required=False, max_length=MAX_NAME)
    participants = schema.List(
        title=_("Deltagare och hur de identifierades"),
        value_type=schema.TextLine(),
        required=False,
        max_length=100,
    )
    actual_start = schema.Datetime(title=_("Faktisk start"), required=False)
    actual_end = schema.Datetime(title=_("Faktiskt slut"), required=False)
    outcome = schema.Choice(title=_("Utfall"), vocabulary=OUTCOMES, required=False)
    signed_by = schema.TextLine(title=_("Signerad av"), required=False)
    signed_at = schema.Datetime(title=_("Signerad"), required=False)


@implementer(IVisitNote)
class VisitNote(Item):
    """Its roles are its record's (like a meeting's): no local roles of its own."""

    #: The participants as data (name, role, identification, times) for REST and tests.
    participant_details = ()

    def manage_addLocalRoles(self, userid, roles):
        """Ignored: a note's roles are its record's (give them on the record)."""

    def manage_setLocalRoles(self, userid, roles):
        """Ignored: a note's roles are its record's (give them on the record)."""


class IVisitNoteWriter(Interface):
    """Adapter of a record: writes the draft note of an ended meeting into it and keeps
    it up to date while it is a draft. A journal with its own note type provides one."""

    def create(meeting, facts: dict):
        """Make the draft note in the record; return it (it needs a UID)."""

    def update(note, facts: dict) -> bool:
        """Refresh a draft note's facts (late reports); False if it may not change."""
