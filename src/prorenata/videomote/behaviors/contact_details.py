"""Contact details of a student/patient: primary contact and guardians/relatives.

Provided as a behavior so that a journal whose record type already exists can enable
it there instead of using this add-on's own "Elev/patient" type.
"""

from collective.z3cform.datagridfield.datagridfield import DataGridFieldFactory
from collective.z3cform.datagridfield.row import DictRow
from plone.autoform import directives
from plone.autoform.interfaces import IFormFieldProvider
from plone.supermodel import model
from prorenata.videomote import _
from prorenata.videomote.booking.rules import MAX_GUARDIANS
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.content.fields import BoundedTextLine
from prorenata.videomote.content.fields import EmailAddress
from prorenata.videomote.content.fields import MobileNumber
from prorenata.videomote.content.fields import Personnummer
from zope import schema
from zope.interface import Interface
from zope.interface import Invalid
from zope.interface import invariant
from zope.interface import provider

VIEW_PERSONNUMMER = "prorenata.videomote.ViewPersonnummer"


class IGuardian(Interface):
    """One guardian or relative, as a row of the guardians table."""

    name = BoundedTextLine(title=_("Namn"), required=True, max_length=MAX_NAME)
    email = EmailAddress(title=_("E-postadress"), required=False)
    mobile = MobileNumber(title=_("Mobilnummer"), required=False)
    primary = schema.Bool(title=_("Primär kontakt"), required=False, default=False)


@provider(IFormFieldProvider)
class IContactDetails(model.Schema):
    """Personnummer, primary contact and guardians/relatives."""

    model.fieldset(
        "contacts",
        label=_("Kontaktuppgifter"),
        fields=["personnummer", "contact_email", "contact_mobile", "guardians"],
    )

    directives.read_permission(personnummer=VIEW_PERSONNUMMER)
    directives.write_permission(personnummer=VIEW_PERSONNUMMER)
    personnummer = Personnummer(
        title=_("Personnummer"),
        description=_(
            "Känslig uppgift: skickas aldrig i e-post eller SMS och visas aldrig i adresser."
        ),
        required=False,
    )
    contact_email = EmailAddress(
        title=_("E-postadress (primär kontaktuppgift)"),
        required=False,
    )
    contact_mobile = MobileNumber(
        title=_("Mobilnummer (primär kontaktuppgift)"),
        description=_("Dit skickas SMS-koden för inloggning till videomötet."),
        required=False,
    )
    directives.widget("guardians", DataGridFieldFactory, allow_reorder=True)
    guardians = schema.List(
        title=_("Vårdnadshavare/anhöriga"),
        description=_("Markera en som primär kontakt."),
        value_type=DictRow(title=_("Vårdnadshavare/anhörig"), schema=IGuardian),
        required=False,
        default=[],
        missing_value=[],
        max_length=MAX_GUARDIANS,
    )

    @invariant
    def one_primary_guardian(data):
        guardians = getattr(data, "guardians", None) or []
        primaries = [row for row in guardians if row.get("primary")]
        if guardians and len(primaries) != 1:
            raise Invalid(_("Markera exakt en vårdnadshavare/anhörig som primär kontakt."))
