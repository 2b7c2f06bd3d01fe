"""Schema fields that bound text and validate and normalise contact details.

``fromUnicode`` normalises (z3c.form converters and plone.restapi deserialisers both
call it), ``_validate`` refuses anything that cannot be normalised, so a value that
reaches the database is always in its canonical form. Every text field has a maximum
length (the limits of ``booking/rules.py``), refused in Swedish naming the field: in
the edit form next to it, over REST as a 400 naming it.
"""

from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from prorenata.videomote.booking.contacts import normalise_mobile
from prorenata.videomote.booking.contacts import normalise_personnummer
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_MOBILE
from prorenata.videomote.booking.rules import MAX_PERSONNUMMER
from prorenata.videomote.booking.rules import too_long_message
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


class TextTooLong(ContactDetailError):
    """Longer than the field's ``max_length``: says so in Swedish, naming the field."""


class BoundedTextLine(schema.TextLine):
    """A text line that must have a maximum length (``max_length``, required)."""

    def __init__(self, max_length: int, **kw):
        super().__init__(max_length=max_length, **kw)

    def check_length(self, value) -> None:
        if isinstance(value, str) and len(value) > self.max_length:
            raise TextTooLong(too_long_message(self.title, self.max_length)).with_field_and_value(
                self, value[:20]
            )

    def _validate(self, value):
        self.check_length(value)
        super()._validate(value)


class _NormalisedTextLine(BoundedTextLine):
    default_max_length = 100

    def __init__(self, max_length: int | None = None, **kw):
        super().__init__(max_length=max_length or self.default_max_length, **kw)

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
        self.check_length(value)  # before the rules read it
        value = self._normalised(value)
        self.validate(value)
        return value

    def _validate(self, value):
        super()._validate(value)  # the length first
        self._normalised(value)


class IMobileNumber(ITextLine):
    """A mobile number stored in E.164."""


class IEmailAddress(ITextLine):
    """A normalised e-mail address."""


class IPersonnummer(ITextLine):
    """A Swedish personal identity number: sensitive."""


@implementer(IMobileNumber)
class MobileNumber(_NormalisedTextLine):
    default_max_length = MAX_MOBILE
    normalise = staticmethod(normalise_mobile)


@implementer(IEmailAddress)
class EmailAddress(_NormalisedTextLine):
    default_max_length = MAX_EMAIL
    normalise = staticmethod(normalise_email)


@implementer(IPersonnummer)
class Personnummer(_NormalisedTextLine):
    default_max_length = MAX_PERSONNUMMER
    normalise = staticmethod(normalise_personnummer)
