"""The JSON shape of a meeting and of a refusal, shared by the services."""

from prorenata.videomote.audit.record import record_viewed
from prorenata.videomote.booking.rules import AccessRefused
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.browser.meetings import invitation_status
from prorenata.videomote.browser.meetings import room_url
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.interfaces import ISerializeMeetingToJson
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.notify.reminders import reminders_of
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.visit.ending import attendance_json
from prorenata.videomote.visit.ending import settle_if_overdue
from zope.component import adapter
from zope.component import getMultiAdapter
from zope.i18n import translate
from zope.interface import implementer


def meeting_json(meeting, request, via: str = "rest") -> dict:
    """The meeting as every service answers with it (see :class:`MeetingSerializer`).

    Its contact details go out in every answer, so each is audited here as an access
    ("viewed", ``via``), whatever the call did: a PATCH that changed nothing or a
    second DELETE fire no event of their own."""
    record_viewed(meeting, via, request)
    return getMultiAdapter((meeting, request), ISerializeMeetingToJson)()


@implementer(ISerializeMeetingToJson)
@adapter(IVideoMeeting, IVideomoteLayer)
class MeetingSerializer:
    """The meeting for staff who may manage it: when, with whom (contact details
    included), its state, room and invitation. Callers check ``may_manage`` first."""

    def __init__(self, context, request):
        self.context = context
        self.request = request

    def __call__(self) -> dict:
        meeting = self.context
        # An overdue meeting ends on being read (as the timer would end it).
        settle_if_overdue(meeting)
        patient = meeting.aq_parent
        zone = tzinfo_of(meeting_zone(meeting))
        return {
            "@id": meeting.absolute_url(),
            "@type": "VideoMeeting",
            "UID": meeting.UID(),
            "title": meeting.title,
            # Wall-clock time in the meeting's zone, with its offset
            "start": meeting.start.astimezone(zone).isoformat(),
            "end": meeting.end.astimezone(zone).isoformat(),
            "timezone": meeting.meeting_timezone,
            "state": meeting.state,
            "patient": {
                "@id": patient.absolute_url(),
                "UID": patient.UID(),
                "title": patient.Title(),
            },
            "contact_choice": meeting.contact_choice,
            "invitee": {
                "name": meeting.invitee_name,
                "email": meeting.invitee_email,
                "mobile": meeting.invitee_mobile,
            },
            "organiser": meeting.organiser,
            "ical_uid": meeting.ical_uid,
            "sequence": meeting.sequence,
            "room_url": room_url(meeting),
            "invitation": invitation_status(meeting),
            "attendance": attendance_json(meeting, self.request),
            # Each with their id (a PATCH keeps a person by it), name, contact, role.
            "extra_participants": [participants.public(p) for p in participants.people(meeting)],
            "reminders": reminders_of(meeting),
        }


def refusal_json(service, refusal: BookingRefused) -> dict:
    """400 naming the field, or 403 when the user may not book for that record."""
    service.request.response.setStatus(403 if isinstance(refusal, AccessRefused) else 400)
    return {
        "error": {
            "type": "BookingRefused",
            "field": refusal.field,
            "message": translate(refusal.message, context=service.request),
        }
    }
