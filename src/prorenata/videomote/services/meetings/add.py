"""POST /@videomote-meetings: book a meeting (the same rules as the dialog)."""

from datetime import datetime
from plone import api
from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote import _
from prorenata.videomote.booking.rules import FIELD_LABELS
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.serialize import meeting_json
from prorenata.videomote.timezone import configured_zone
from zope.interface import alsoProvides


def parse_time(data: dict, name: str) -> datetime:
    """An ISO 8601 time from a JSON body; anything else is refused naming the field."""
    value = data.get(name)
    if not isinstance(value, str) or len(value) > MAX_TOKEN:
        value = None
    try:
        if value is None:
            raise ValueError(name)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BookingRefused(
            _(
                "Ange ${field} som datum och tid (ÅÅÅÅ-MM-DDTHH:MM).",
                mapping={"field": FIELD_LABELS.get(name, name)},
            ),
            field=name,
        ) from None


class MeetingsPost(VideomoteService):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)
        data = self.data
        booking = Booking(
            title=data.get("title", ""),
            start=parse_time(data, "start"),
            end=parse_time(data, "end"),
            patient_uid=data.get("patient", ""),
            contact_choice=data.get("contact_choice", ""),
            custom_name=data.get("custom_name", ""),
            custom_mobile=data.get("custom_mobile", ""),
            custom_email=data.get("custom_email", ""),
            timezone=data.get("timezone") or configured_zone(),
            extra_participants=data.get("extra_participants"),
            both_guardians=data.get("both_guardians") is True,
        )
        meeting = book_meeting(booking, organiser=api.user.get_current().getId())
        self.request.response.setStatus(201)
        self.request.response.setHeader("Location", meeting.absolute_url())
        return meeting_json(meeting, self.request, via="rest-bokning")
