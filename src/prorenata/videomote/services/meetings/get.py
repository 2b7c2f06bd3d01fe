"""GET /@videomote-meetings?start=YYYY-MM-DD&end=YYYY-MM-DD: meetings in a day range."""

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from plone.app.event.base import RET_MODE_OBJECTS
from plone.app.event.base import get_events
from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote import _
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.booking.rules import MAX_DAYS_AHEAD
from prorenata.videomote.browser.meetings import site_zone
from prorenata.videomote.request_input import InputRefused
from prorenata.videomote.request_input import form_text
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides

#: The longest range one listing covers: a calendar shows a week, a report a year.
MAX_RANGE_DAYS = 366
#: How far back a listing may start.
MAX_DAYS_BACK = 20 * 366


def _day(request, name: str, default: date) -> date:
    text = form_text(request, name, 10) or ""
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputRefused(
            _("Ange ${field} som ÅÅÅÅ-MM-DD.", mapping={"field": name}), field=name
        ) from None


def day_range(request, today: date) -> tuple[date, date]:
    """``start`` and ``end`` (days, both included) within the dates a meeting can have,
    at most a year apart: ``?start=0001-01-01&end=9999-12-31`` lists nothing forever."""
    first = _day(request, "start", today)
    last = _day(request, "end", first)
    for name, day in (("start", first), ("end", last)):
        if not (
            today - timedelta(days=MAX_DAYS_BACK) <= day <= today + timedelta(days=MAX_DAYS_AHEAD)
        ):
            raise InputRefused(
                _(
                    "Ange ${field} högst ${back} dagar bakåt och ${ahead} dagar framåt.",
                    mapping={"field": name, "back": MAX_DAYS_BACK, "ahead": MAX_DAYS_AHEAD},
                ),
                field=name,
            )
    if last < first:
        raise InputRefused(_("Slutdagen får inte vara före startdagen."), field="end")
    if (last - first).days >= MAX_RANGE_DAYS:
        raise InputRefused(
            _("Välj högst ${days} dagar åt gången.", mapping={"days": MAX_RANGE_DAYS}),
            field="end",
        )
    return first, last


class MeetingsGet(VideomoteService):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)  # the audit entries only
        zone = site_zone()
        first, last = day_range(self.request, datetime.now(zone).date())
        query = {"portal_type": "VideoMeeting"}
        if form_text(self.request, "mine", 10, default="1") != "0":
            query["meeting_organiser"] = api.user.get_current().getId()
        meetings = get_events(
            self.context,
            start=zone.localize(datetime.combine(first, time(0))),
            end=zone.localize(datetime.combine(last + timedelta(days=1), time(0))),
            ret_mode=RET_MODE_OBJECTS,
            **query,
        )
        items = []
        for meeting in meetings:
            if may_manage(meeting):  # the organiser may have lost access to the student
                items.append(meeting_json(meeting, self.request, via="rest-lista"))
        return {"@id": self.request.URL, "items": items, "items_total": len(items)}
