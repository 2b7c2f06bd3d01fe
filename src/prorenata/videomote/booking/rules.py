"""Rules every booking must follow, independent of how it is made."""

from datetime import datetime
from prorenata.videomote import _


class BookingRefused(ValueError):
    """A booking that cannot be completed; ``field`` names the field, ``message`` why."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class AccessRefused(BookingRefused):
    """The user may not book for (or even see) this student/patient."""


def check_times(start: datetime | None, end: datetime | None) -> None:
    """Refuse a meeting without start or end, or that ends before it starts."""
    if start is None:
        raise BookingRefused(_("Ange när mötet startar."), field="start")
    if end is None:
        raise BookingRefused(_("Ange när mötet slutar."), field="end")
    if end <= start:
        raise BookingRefused(_("Slut måste vara efter start."), field="end")


def missing_custom_fields(name: str | None, mobile: str | None, email: str | None) -> list[str]:
    """Name the fields (in Swedish) that a custom contact still lacks."""
    labels = (("Namn", name), ("Mobilnummer", mobile), ("E-postadress", email))
    return [label for label, value in labels if not (value or "").strip()]
