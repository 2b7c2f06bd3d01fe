"""Plone's own ways of writing a meeting's time follow the booking rules.

A meeting's start and end are plone.app.event's ``IEventBasic`` fields, so Plone's edit
form (``@@edit``) and plone.restapi's stock ``PATCH``/``POST`` write them too. Both ask
the same z3c.form manager validator for ``(context, request, view, schema, manager)``
before anything is stored (plone.restapi's deserializer looks it up with
``view=None``): registered for ``IEventBasic`` on a meeting, it applies the rules of a
move (``scheduling.check_edited_times``) and refuses in Swedish; the form shows the
message, the REST API answers 400 with it, and the transaction stores nothing.

The edit form reads and shows a meeting's times in the meeting's own zone. plone.app.event
gives its widgets the zone of the site (or of the signed-in member) instead, so on a site
whose zone differs from the meeting's, saving the form unchanged would have moved the
meeting by the difference (and sent an update e-mail): :func:`times_in_meeting_zone`
gives the widgets the meeting's zone, and :class:`MeetingTimeField` shows the stored
time in it.

A meeting is only ever created by booking (``book_meeting``: the invitee, the rules, the
invitation). Plone's stock add form ``++add++VideoMeeting`` leads to the booking dialog,
and a stock REST ``POST`` of a ``VideoMeeting`` is refused.
"""

from Acquisition import aq_base
from Acquisition import aq_inner
from Acquisition import aq_parent
from plone import api
from plone.app.event.dx.behaviors import IEventBasic
from Products.Five.browser import BrowserView
from prorenata.videomote import _
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.content.scheduling import check_edited_times
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from z3c.form.datamanager import AttributeField
from z3c.form.interfaces import IAfterWidgetUpdateEvent
from z3c.form.interfaces import IDataManager
from z3c.form.util import getSpecification
from z3c.form.validator import Data
from z3c.form.validator import InvariantsValidator
from zope.component import adapter
from zope.interface import Interface
from zope.interface import Invalid
from zope.interface import implementer
from zope.publisher.interfaces.browser import IBrowserPage
from zope.schema.interfaces import IDatetime

BOOK_INSTEAD = _(
    "Videomöten bokas med bokningsdialogen (Boka videomöte) eller REST-tjänsten "
    "@videomote-meetings."
)


def _being_created(meeting) -> bool:
    """A stock REST POST validates the new object before it is added to its container."""
    parent = aq_parent(aq_inner(meeting))
    if parent is None:
        return True
    return aq_base(parent._getOb(meeting.getId(), None)) is not aq_base(meeting)


class MeetingTimesValidator(InvariantsValidator):
    """``IEventBasic``'s invariants, and before them the rules every meeting time keeps."""

    def validate(self, data: dict) -> tuple:
        if _being_created(self.context):
            return (Invalid(BOOK_INSTEAD),)
        # Fields not submitted (a PATCH of only ``end``): the meeting's current values.
        values = Data(self.schema, data, self.context)
        try:
            check_edited_times(
                self.context,
                values.start,
                values.end,
                whole_day=bool(values.whole_day),
                open_end=bool(values.open_end),
            )
        except BookingRefused as refused:
            # Only ours: plone.app.event's English "End date must be after start date."
            # would repeat what it says.
            return (Invalid(refused.message),)
        return super().validate(data)


def _meeting_time(field, context) -> bool:
    """``field`` is a meeting's start or end (plone.app.event's ``IEventBasic``)."""
    return (
        IVideoMeeting.providedBy(context)
        and getattr(field, "interface", None) is IEventBasic
        and field.__name__ in ("start", "end")
    )


@adapter(IAfterWidgetUpdateEvent)
def times_in_meeting_zone(event) -> None:
    """The edit form reads a meeting's start and end as wall-clock times of the meeting's
    zone, not of the site's (the widget's ``default_timezone`` from plone.app.event)."""
    widget = event.widget
    if _meeting_time(getattr(widget, "field", None), getattr(widget, "context", None)):
        widget.default_timezone = meeting_zone(widget.context)


@implementer(IDataManager)
@adapter(IVideoMeeting, IDatetime)
class MeetingTimeField(AttributeField):
    """A meeting's start and end as the meeting's zone shows them.

    They are stored in that zone by every path of ours; this keeps the edit form right
    also for a time stored in another zone (or a meeting whose zone was changed), so
    what it shows is what it reads back (see :func:`times_in_meeting_zone`).
    """

    def get(self):
        value = super().get()
        if value is None or value.tzinfo is None or not _meeting_time(self.field, self.context):
            return value
        tz = tzinfo_of(meeting_zone(self.context))
        return tz.normalize(value.astimezone(tz))


@implementer(IBrowserPage)
class BookInsteadOfAdd(BrowserView):
    """``++add++VideoMeeting``: to the booking dialog, which knows whom and how to invite.

    Plone's add form would store a meeting without invitee, rules or invitation.
    """

    def __init__(self, context, request, ti=None):
        super().__init__(context, request)
        self.ti = ti

    def browserDefault(self, request):  # noqa: N802 - IBrowserPublisher
        return self, ()

    def publishTraverse(self, request, name):  # noqa: N802 - IBrowserPublisher
        return self

    def __call__(self) -> str:
        context = self.context if IContactDetails.providedBy(self.context) else api.portal.get()
        self.request.response.redirect(f"{context.absolute_url()}/@@videomote-boka")
        return ""


# The schema is a discriminator of its own: z3c.form marks the interface object (an
# interface is no instance of itself, so ``force``). Any view: plone.restapi passes None.
adapter(
    IVideoMeeting,
    IVideomoteLayer,
    Interface,
    getSpecification(IEventBasic, force=True),
    Interface,
)(MeetingTimesValidator)
