"""Validation and normalisation of contact details (mobile, e-mail, personnummer).

Plain functions used by the schema fields, the booking rules and the REST API alike.
Each raises :class:`InvalidContactDetail` with a translatable Swedish message.
"""

from datetime import date
from prorenata.videomote import _

import email_validator
import phonenumbers
import re

DEFAULT_REGION = "SE"

MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


class InvalidContactDetail(ValueError):
    """A contact detail that cannot be used; ``message`` says why, in Swedish."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def normalise_mobile(text: str, region: str = DEFAULT_REGION) -> str:
    """Return ``text`` as an E.164 mobile number (``+46701234567``).

    Swedish national format (``070-123 45 67``) and international format are accepted.
    """
    candidate = (text or "").strip()
    if not candidate:
        raise InvalidContactDetail(_("Mobilnummer saknas."))
    if candidate.startswith("00"):
        candidate = "+" + candidate[2:]
    try:
        number = phonenumbers.parse(candidate, region)
    except phonenumbers.NumberParseException:
        raise InvalidContactDetail(
            _(
                "Ogiltigt mobilnummer. Skriv ett svenskt mobilnummer (07x-xxx xx xx) "
                "eller ett nummer med landsnummer (+46…)."
            )
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContactDetail(
            _(
                "Ogiltigt mobilnummer. Skriv ett svenskt mobilnummer (07x-xxx xx xx) "
                "eller ett nummer med landsnummer (+46…)."
            )
        )
    if phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidContactDetail(
            _("Numret är inte ett mobilnummer. SMS-koden kan bara skickas till en mobiltelefon.")
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(text: str) -> str:
    """Return a syntactically valid, normalised e-mail address (no DNS look-up)."""
    candidate = (text or "").strip()
    if not candidate:
        raise InvalidContactDetail(_("E-postadress saknas."))
    if not candidate.rpartition("@")[0].isascii():
        # Mail servers need SMTPUTF8 for that, and ours cannot count on it.
        raise InvalidContactDetail(
            _("E-postadressen kan inte ha å, ä, ö eller andra sådana tecken före @.")
        )
    try:
        result = email_validator.validate_email(
            candidate, check_deliverability=False, allow_smtputf8=False
        )
    except email_validator.EmailNotValidError:
        raise InvalidContactDetail(
            _("Ogiltig e-postadress. Skriv den som namn@exempel.se.")
        ) from None
    # A domain with å, ä or ö is kept in its ASCII form (xn--...), which every server takes.
    return result.ascii_email or result.normalized


_PERSONNUMMER = re.compile(r"^(\d{2})?(\d{2})(\d{2})(\d{2})([-+]?)(\d{4})$")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(digits):
        value = int(char) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def normalise_personnummer(text: str, today: date | None = None) -> str:
    """Return a Swedish personal identity number as ``YYYYMMDD-NNNN``.

    Accepts 10 or 12 digits with or without separator; checks date (coordination
    numbers add 60 to the day) and the Luhn check digit.
    """
    candidate = re.sub(r"\s", "", text or "")
    match = _PERSONNUMMER.match(candidate)
    invalid = InvalidContactDetail(_("Ogiltigt personnummer. Skriv det som ÅÅÅÅMMDD-NNNN."))
    if not match:
        raise invalid
    century, yy, mm, dd, separator, tail = match.groups()
    today = today or date.today()
    if century is None:
        year = 2000 + int(yy)
        if year > today.year:
            year -= 100
        if separator == "+":  # 100 years or older
            year -= 100
        century = str(year)[:2]
    day = int(dd) - 60 if int(dd) > 60 else int(dd)
    try:
        date(int(century + yy), int(mm), day)
    except ValueError:
        raise invalid from None
    if not _luhn_ok(yy + mm + dd + tail):
        raise invalid
    return f"{century}{yy}{mm}{dd}-{tail}"
