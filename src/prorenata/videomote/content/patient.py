"""The student/patient record ("Elev/patient")."""

from plone.dexterity.content import Container
from plone.supermodel import model
from prorenata.videomote import _
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.content.fields import BoundedTextLine
from zope.interface import implementer


class IPatient(model.Schema):
    """A student/patient; contact details come from the contact-details behavior."""

    title = BoundedTextLine(title=_("Namn"), required=True, max_length=MAX_NAME)


@implementer(IPatient)
class Patient(Container):
    """A student/patient record; its video meetings are stored inside it, so whoever
    may see the record may see its meetings, and nobody else."""
