"""The plain rules for extra participants: checked like the invitee, refused naming the
person and the field; "Båda vårdnadshavarna" picks the guardians with full details."""

from prorenata.videomote.booking.participants import both_guardians
from prorenata.videomote.booking.participants import check_extra_participants
from prorenata.videomote.booking.rules import BookingRefused
from zope.i18n import translate

import pytest

TOLK = {"name": " Tina  Tolk ", "mobile": "070-111 22 33", "email": "Tina@Tolk.se", "role": "tolk"}
ANNA = {"name": "Anna", "email": "anna@example.se", "mobile": "0701234502", "primary": True}
BERTIL = {"name": "Bertil", "email": "bertil@example.se", "mobile": "0701234503"}


def _refusal(raw, **kw) -> tuple[str, str]:
    with pytest.raises(BookingRefused) as refused:
        check_extra_participants(raw, **kw)
    return refused.value.field, translate(refused.value.message, target_language="sv")


def test_a_person_is_normalised():
    (tina,) = check_extra_participants([TOLK])
    assert (tina.name, tina.mobile, tina.email, tina.role) == (
        "Tina Tolk",
        "+46701112233",
        "Tina@tolk.se",
        "tolk",
    )
    assert check_extra_participants(None) == []


def test_refusals_name_the_person_and_the_field():
    assert _refusal([TOLK, dict(TOLK, email="x@", mobile="0702223344")]) == (
        "extra_participants.1.email",
        "Deltagare 3: Ogiltig e-postadress. Skriv den som namn@exempel.se.",
    )
    assert _refusal([dict(TOLK, name="")]) == (
        "extra_participants.0.name",
        "Deltagare 2: fyll i Namn.",
    )
    assert _refusal([dict(TOLK, mobile=["070"])])[0] == "extra_participants.0.mobile"
    assert _refusal([TOLK] * 3)[0] == "extra_participants"
    assert _refusal("Tina")[0] == "extra_participants"
    assert _refusal([TOLK], taken_mobiles=["+46701112233"])[0] == "extra_participants.0.mobile"
    # The numbering follows the people already kept.
    assert _refusal([dict(TOLK, name="")], offset=1)[1] == "Deltagare 3: fyll i Namn."


def test_both_guardians_needs_two_with_full_details_and_skips_the_invitee():
    people = both_guardians([ANNA, BERTIL], invitee_mobile="+46701234502")
    assert [(p["name"], p["role"]) for p in people] == [("Bertil", "vardnadshavare")]
    assert len(both_guardians([ANNA, BERTIL], invitee_mobile="+46701234501")) == 2
    with pytest.raises(BookingRefused) as refused:
        both_guardians([ANNA, dict(BERTIL, mobile="")], invitee_mobile="")
    assert refused.value.field == "both_guardians"
