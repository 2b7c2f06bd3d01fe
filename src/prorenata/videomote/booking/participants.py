"""Extra participants of a meeting: an interpreter, a second guardian, someone else.

Plain Python. A meeting has its invitee ("Deltagare 1") and at most
:data:`MAX_EXTRA_PARTICIPANTS` more people ("Deltagare 2", "Deltagare 3"), each with a
name, a mobile number (their own SMS code), an e-mail address (their own invitation) and
a role. They are checked with the invitee's rules and limits; a refusal names the person
and the field, in Swedish, and ``field`` says which (``extra_participants.0.mobile``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from prorenata.videomote import _
from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from prorenata.videomote.booking.contacts import normalise_mobile
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_MOBILE
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.booking.rules import too_long_message

#: More people than the invitee: the media server's rooms hold four (staff included).
MAX_EXTRA_PARTICIPANTS = 2
FIELD = "extra_participants"

TOLK = "tolk"
VARDNADSHAVARE = "vardnadshavare"
ANNAN = "annan"
#: Role token → what staff choose in the dialog.
ROLE_TITLES = {
    TOLK: _("Tolk"),
    VARDNADSHAVARE: _("Vårdnadshavare"),
    ANNAN: _("Annan"),
}
#: Role token → how the room and the audit log name it after the person's name
#: ("Anna Svensson (tolk)").
ROLE_NAMES = {
    TOLK: _("tolk"),
    VARDNADSHAVARE: _("vårdnadshavare"),
    ANNAN: _("annan deltagare"),
}
#: The fields of one person, in the order the dialog shows them, with their labels.
PERSON_FIELDS = (
    ("name", _("Namn"), MAX_NAME),
    ("mobile", _("Mobilnummer"), MAX_MOBILE),
    ("email", _("E-postadress"), MAX_EMAIL),
)


@dataclass(frozen=True)
class ExtraParticipant:
    """One more person, checked and normalised (E.164 mobile, normalised e-mail)."""

    name: str
    mobile: str
    email: str
    role: str


def person_label(index: int):
    """ "Deltagare 2" for the first extra person (the invitee is Deltagare 1)."""
    return _("Deltagare ${number}", mapping={"number": index + 2})


def field_id(index: int, key: str = "") -> str:
    """The ``field`` of a refusal about extra person ``index`` (0-based)."""
    return f"{FIELD}.{index}.{key}" if key else f"{FIELD}.{index}"


def refused(index: int, key: str, message) -> BookingRefused:
    """A refusal naming the person ("Deltagare 2: …") and the field."""
    return BookingRefused(
        _("${person}: ${message}", mapping={"person": person_label(index), "message": message}),
        field=field_id(index, key),
    )


def _text(value, index: int, key: str, label, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise refused(index, key, _("Skriv ${field} som text.", mapping={"field": label}))
    if len(value) > limit:
        raise refused(index, key, too_long_message(label, limit))
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def check_person(raw, index: int) -> ExtraParticipant:
    """One person as given (a mapping with name, mobile, email, role), or a refusal."""
    if not isinstance(raw, dict):
        raise BookingRefused(
            _(
                "${person}: ange namn, mobilnummer, e-postadress och roll.",
                mapping={"person": person_label(index)},
            ),
            field=field_id(index),
        )
    values = {
        key: _text(raw.get(key), index, key, label, limit) for key, label, limit in PERSON_FIELDS
    }
    missing = [label for key, label, _limit in PERSON_FIELDS if not values[key]]
    if missing:
        first = next(key for key, _label, _limit in PERSON_FIELDS if not values[key])
        raise refused(
            index,
            first,
            _("fyll i ${fields}.", mapping={"fields": ", ".join(str(m) for m in missing)}),
        )
    role = raw.get("role")
    if not isinstance(role, str) or role not in ROLE_TITLES:
        raise refused(index, "role", _("välj roll: Tolk, Vårdnadshavare eller Annan."))
    try:
        mobile = normalise_mobile(values["mobile"])
    except InvalidContactDetail as error:
        raise refused(index, "mobile", error.message) from None
    try:
        email = normalise_email(values["email"])
    except InvalidContactDetail as error:
        raise refused(index, "email", error.message) from None
    if len(email) > MAX_EMAIL:
        raise refused(index, "email", too_long_message(_("E-postadress"), MAX_EMAIL))
    return ExtraParticipant(name=values["name"], mobile=mobile, email=email, role=role)


def check_extra_participants(
    raw, taken_mobiles: Iterable[str] = (), offset: int = 0
) -> list[ExtraParticipant]:
    """The extra people of a booking (a list of mappings; None: nobody), checked.

    ``taken_mobiles`` are the numbers already invited (the invitee's, people kept): each
    person signs in with an SMS to their own mobile, so two people cannot share one.
    ``offset`` numbers the people after those kept (``Deltagare 3`` when one is kept).
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BookingRefused(_("Ange extra deltagare som en lista med personer."), field=FIELD)
    if len(raw) + offset > MAX_EXTRA_PARTICIPANTS:
        raise too_many()
    people = []
    seen = {mobile for mobile in taken_mobiles if mobile}
    for number, item in enumerate(raw):
        person = check_person(item, number + offset)
        if person.mobile in seen:
            raise refused(
                number + offset,
                "mobile",
                _(
                    "Mobilnumret är redan inbjudet till mötet. Var och en loggar in med en "
                    "SMS-kod till sin egen mobil."
                ),
            )
        seen.add(person.mobile)
        people.append(person)
    return people


def too_many() -> BookingRefused:
    return BookingRefused(
        _(
            "Högst ${max} deltagare till kan bjudas in (videomötet rymmer fyra personer).",
            mapping={"max": MAX_EXTRA_PARTICIPANTS},
        ),
        field=FIELD,
    )


def guardians_with_contacts(guardians: list[dict] | None) -> list[dict]:
    """The guardians with name, e-mail and mobile all filled in, primary first."""
    rows = [
        row
        for row in guardians or []
        if all((row.get(key) or "").strip() for key in ("name", "email", "mobile"))
    ]
    return sorted(rows, key=lambda row: not row.get("primary"))


def both_guardians(guardians: list[dict] | None, invitee_mobile: str) -> list[dict]:
    """ "Båda vårdnadshavarna": the guardians (with all contact details) not already the
    invitee, as extra people (role Vårdnadshavare); refused unless two guardians have
    them, naming what is missing."""
    complete = guardians_with_contacts(guardians)
    if len(complete) < 2:
        raise BookingRefused(
            _(
                "Båda vårdnadshavarna kan bara bjudas in när två vårdnadshavare har namn, "
                "mobilnummer och e-postadress i elevens uppgifter."
            ),
            field="both_guardians",
        )
    people = []
    for row in complete[:2]:
        try:
            same = normalise_mobile(row["mobile"]) == invitee_mobile
        except InvalidContactDetail:
            same = False
        if not same:
            people.append(
                {
                    "name": row["name"],
                    "mobile": row["mobile"],
                    "email": row["email"],
                    "role": VARDNADSHAVARE,
                }
            )
    return people


def display_name(name: str, role_name: str) -> str:
    """How the room shows a person: "Anna Svensson (tolk)"."""
    return f"{name} ({role_name})" if role_name else name
