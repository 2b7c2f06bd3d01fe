"""GET /@videomote-meetings?start=YYYY-MM-DD&end=YYYY-MM-DD: meetings in a day range."""

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from plone.app.event.base import RET_MODE_OBJECTS
from plone.app.event.base import get_events
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.browser.meetings import site_zone
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingsGet(Service):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)  # the audit entries only
        form = self.request.form
        zone = site_zone()
        try:
            first = date.fromisoformat(form.get("start") or datetime.now(zone).date().isoformat())
            last = date.fromisoformat(form["end"]) if form.get("end") else first
        except ValueError:
            self.request.response.setStatus(400)
            return {
                "error": {
                    "type": "BadRequest",
                    "field": "start",
                    "message": "Ange start och end som ÅÅÅÅ-MM-DD.",
                }
            }
        query = {"portal_type": "VideoMeeting"}
        if form.get("mine", "1") != "0":
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
                record(audit.VIEWED, meeting, via="rest-lista")  # contact details go out
                items.append(meeting_json(meeting, self.request))
        return {"@id": self.request.URL, "items": items, "items_total": len(items)}
