"""Schema fields that validate and normalise contact details.

``fromUnicode`` normalises (z3c.form converters and plone.restapi deserialisers both
call it), ``_validate`` refuses anything that cannot be normalised, so a value that
reaches the database is always in its canonical form.
"""

from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from prorenata.videomote.booking.contacts import normalise_mobile
from prorenata.videomote.booking.contacts import normalise_personnummer
from zope import schema
from zope.interface import implementer
from zope.schema.interfaces import ITextLine


class ContactDetailError(schema.ValidationError):
    """A validation error whose text is the Swedish message of the contact rules."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def doc(self):
        return self.message

    def __str__(self):
        return str(self.message)


class _NormalisedTextLine(schema.TextLine):
    @staticmethod
    def normalise(value: str) -> str:
        raise NotImplementedError

    def _normalised(self, value: str) -> str:
        try:
            return self.normalise(value)
        except InvalidContactDetail as error:
            raise ContactDetailError(error.message).with_field_and_value(self, value) from None

    def fromUnicode(self, value):
        value = value.strip()
        if not value:
            return value
        value = self._normalised(value)
        self.validate(value)
        return value

    def _validate(self, value):
        super()._validate(value)
        self._normalised(value)


class IMobileNumber(ITextLine):
    """A mobile number stored in E.164."""


class IEmailAddress(ITextLine):
    """A normalised e-mail address."""


class IPersonnummer(ITextLine):
    """A Swedish personal identity number: sensitive."""


@implementer(IMobileNumber)
class MobileNumber(_NormalisedTextLine):
    normalise = staticmethod(normalise_mobile)


@implementer(IEmailAddress)
class EmailAddress(_NormalisedTextLine):
    normalise = staticmethod(normalise_email)


@implementer(IPersonnummer)
class Personnummer(_NormalisedTextLine):
    normalise = staticmethod(normalise_personnummer)
