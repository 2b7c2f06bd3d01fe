"""Contact details are validated and normalised before anything is stored (plain Python)."""

from datetime import date
from datetime import datetime
from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from prorenata.videomote.booking.contacts import normalise_mobile
from prorenata.videomote.booking.contacts import normalise_personnummer
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.booking.rules import check_times
from prorenata.videomote.booking.rules import missing_custom_fields

import pytest


@pytest.mark.parametrize(
    "typed",
    ["070-123 45 67", "0701234567", "+46 70 123 45 67", "0046701234567", " 070 1234567 "],
)
def test_swedish_mobile_numbers_are_stored_in_e164(typed):
    assert normalise_mobile(typed) == "+46701234567"


def test_foreign_mobile_number_with_country_code_is_accepted():
    assert normalise_mobile("+47 412 34 567") == "+4741234567"


@pytest.mark.parametrize("typed", ["12345", "070-123", "abc", "+46 70 123 45 67 89 01"])
def test_invalid_mobile_number_is_refused_with_swedish_message(typed):
    with pytest.raises(InvalidContactDetail) as error:
        normalise_mobile(typed)
    assert "Ogiltigt mobilnummer" in error.value.message


def test_landline_number_is_refused_because_no_sms_can_reach_it():
    with pytest.raises(InvalidContactDetail) as error:
        normalise_mobile("08-123 456 78")
    assert "inte ett mobilnummer" in error.value.message


def test_missing_mobile_is_named():
    with pytest.raises(InvalidContactDetail) as error:
        normalise_mobile("  ")
    assert error.value.message == "Mobilnummer saknas."


def test_email_is_normalised():
    assert normalise_email(" Anna.Andersson@Example.SE ") == "Anna.Andersson@example.se"


def test_email_with_a_swedish_domain_is_kept_in_the_form_every_mail_server_takes():
    assert normalise_email("anna@skövde.se") == "anna@xn--skvde-kua.se"


def test_email_with_swedish_letters_before_the_at_sign_is_refused_saying_why():
    with pytest.raises(InvalidContactDetail) as error:
        normalise_email("åsa@exempel.se")
    assert error.value.message == (
        "E-postadressen kan inte ha å, ä, ö eller andra sådana tecken före @."
    )


@pytest.mark.parametrize("typed", ["anna", "anna@", "@example.se", "anna@@example.se", "a b@c.se"])
def test_invalid_email_is_refused_with_swedish_message(typed):
    with pytest.raises(InvalidContactDetail) as error:
        normalise_email(typed)
    assert "Ogiltig e-postadress" in error.value.message


@pytest.mark.parametrize("typed", ["811218-9876", "8112189876", "19811218-9876", "198112189876"])
def test_personnummer_is_normalised_to_twelve_digits(typed):
    assert normalise_personnummer(typed, today=date(2026, 11, 25)) == "19811218-9876"


def test_personnummer_with_wrong_check_digit_is_refused():
    with pytest.raises(InvalidContactDetail):
        normalise_personnummer("811218-9875")


def test_personnummer_with_impossible_date_is_refused():
    with pytest.raises(InvalidContactDetail):
        normalise_personnummer("811318-9876")


def test_end_before_start_is_refused():
    with pytest.raises(BookingRefused) as error:
        check_times(datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 9))
    assert error.value.field == "end"
    assert error.value.message == "Slut måste vara efter start."


def test_end_equal_to_start_is_refused():
    with pytest.raises(BookingRefused):
        check_times(datetime(2026, 12, 1, 10), datetime(2026, 12, 1, 10))


def test_custom_contact_names_every_missing_field():
    assert missing_custom_fields("", None, "a@b.se") == ["Namn", "Mobilnummer"]
    assert missing_custom_fields("Eva", "0701234567", "a@b.se") == []
