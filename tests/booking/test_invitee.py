"""Which contact is invited, and what refuses a booking (the guide's rules, plain Python)."""

from prorenata.videomote.booking.invitee import Contact
from prorenata.videomote.booking.invitee import invite_contact_for
from prorenata.videomote.booking.rules import BookingRefused
from zope.i18n import translate

import pytest

ALVA = Contact("Alva Andersson", "alva@example.se", "+46701234501")
ANNA = {
    "name": "Anna Andersson",
    "email": "anna@example.se",
    "mobile": "0701234502",
    "primary": True,
}
BODIL = {"name": "Bodil Berg", "email": "bodil@example.se", "mobile": None, "primary": True}


def _text(error) -> str:
    return translate(error.value.message, target_language="sv")


def test_student_primary_contact_is_invited():
    invitee = invite_contact_for("student", ALVA)
    assert (invitee.name, invitee.mobile, invitee.role) == (
        "Alva Andersson",
        "+46701234501",
        "student",
    )


def test_primary_guardian_is_invited_with_normalised_mobile():
    second = {**ANNA, "name": "Adam", "primary": False}
    invitee = invite_contact_for("guardian", ALVA, [second, ANNA])
    assert invitee.name == "Anna Andersson"
    assert invitee.mobile == "+46701234502"


def test_guardian_without_mobile_cannot_be_invited():
    with pytest.raises(BookingRefused) as error:
        invite_contact_for(
            "guardian", Contact("Bruno Berg", "b@example.se", "+46701234511"), [BODIL]
        )
    assert error.value.field == "contact_choice"
    assert _text(error) == (
        "Vårdnadshavaren Bodil Berg saknar mobilnummer (primär kontaktuppgift). "
        "Komplettera uppgifterna eller välj Anpassad."
    )


def test_student_without_email_and_mobile_names_both():
    with pytest.raises(BookingRefused) as error:
        invite_contact_for("student", Contact("Eli Ek"))
    assert "Eleven Eli Ek saknar e-postadress och mobilnummer" in _text(error)


def test_no_primary_guardian_is_refused():
    with pytest.raises(BookingRefused) as error:
        invite_contact_for("guardian", ALVA, [{**ANNA, "primary": False}])
    assert _text(error) == "Alva Andersson har ingen vårdnadshavare markerad som primär kontakt."


def test_custom_contact_needs_name_mobile_and_email():
    with pytest.raises(BookingRefused) as error:
        invite_contact_for("custom", ALVA, custom=Contact("Tolk Tina", None, None))
    assert _text(error) == "Vid Anpassad behöver du fylla i Mobilnummer, E-postadress."
    assert error.value.field == "custom_mobile"


def test_custom_contact_with_invalid_mobile_is_refused_on_that_field():
    with pytest.raises(BookingRefused) as error:
        invite_contact_for("custom", ALVA, custom=Contact("Tina", "tina@example.se", "12345"))
    assert error.value.field == "custom_mobile"
    assert "Ogiltigt mobilnummer" in _text(error)


def test_custom_contact_is_invited():
    invitee = invite_contact_for(
        "custom", ALVA, custom=Contact(" Tina ", "tina@example.se", "070-111 22 33")
    )
    assert (invitee.name, invitee.mobile, invitee.role) == ("Tina", "+46701112233", "custom")
