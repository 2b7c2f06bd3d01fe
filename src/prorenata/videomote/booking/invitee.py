"""Who is invited to a meeting, and when a booking must be refused for lack of contacts."""

from dataclasses import dataclass
from prorenata.videomote import _
from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from prorenata.videomote.booking.contacts import normalise_mobile
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.booking.rules import missing_custom_fields

STUDENT = "student"
GUARDIAN = "guardian"
CUSTOM = "custom"


@dataclass(frozen=True)
class Contact:
    """A person who can be invited: name, e-mail and mobile as registered."""

    name: str
    email: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class Invitee:
    """The resolved invitee of a meeting: every field present and normalised."""

    name: str
    email: str
    mobile: str
    role: str


def primary_guardian(guardians: list[dict]) -> Contact | None:
    """The guardian marked primary, as a :class:`Contact`."""
    for row in guardians or []:
        if row.get("primary"):
            return Contact(row.get("name") or "", row.get("email"), row.get("mobile"))
    return None


def _missing(contact: Contact) -> list[str]:
    labels = (("e-postadress", contact.email), ("mobilnummer", contact.mobile))
    return [label for label, value in labels if not (value or "").strip()]


def invite_contact_for(
    choice: str,
    student: Contact,
    guardians: list[dict] | None = None,
    custom: Contact | None = None,
) -> Invitee:
    """Resolve the invitee for the dialog's "Videomöte" choice or refuse the booking.

    A refusal names exactly what is missing and for whom, so staff can fix the record.
    """
    if choice == STUDENT:
        contact, who = student, _("Eleven ${name}", mapping={"name": student.name})
    elif choice == GUARDIAN:
        contact = primary_guardian(guardians or [])
        if contact is None:
            raise BookingRefused(
                _(
                    "${name} har ingen vårdnadshavare markerad som primär kontakt.",
                    mapping={"name": student.name},
                ),
                field="contact_choice",
            )
        who = _("Vårdnadshavaren ${name}", mapping={"name": contact.name})
    elif choice == CUSTOM:
        custom = custom or Contact("")
        missing = missing_custom_fields(custom.name, custom.mobile, custom.email)
        if missing:
            raise BookingRefused(
                _(
                    "Vid Anpassad behöver du fylla i ${fields}.",
                    mapping={"fields": ", ".join(missing)},
                ),
                field="custom_"
                + {"Namn": "name", "Mobilnummer": "mobile"}.get(missing[0], "email"),
            )
        contact, who = custom, None
    else:
        raise BookingRefused(_("Välj vem inbjudan ska skickas till."), field="contact_choice")

    missing = _missing(contact)
    if missing:
        raise BookingRefused(
            _(
                "${who} saknar ${missing} (primär kontaktuppgift). Komplettera "
                "uppgifterna eller välj Anpassad.",
                mapping={"who": who, "missing": " och ".join(missing)},
            ),
            field="contact_choice",
        )
    try:
        mobile = normalise_mobile(contact.mobile)
    except InvalidContactDetail as error:
        field = "custom_mobile" if choice == CUSTOM else "contact_choice"
        raise BookingRefused(error.message, field=field) from None
    try:
        email = normalise_email(contact.email)
    except InvalidContactDetail as error:
        field = "custom_email" if choice == CUSTOM else "contact_choice"
        raise BookingRefused(error.message, field=field) from None
    return Invitee(name=contact.name.strip(), email=email, mobile=mobile, role=choice)
