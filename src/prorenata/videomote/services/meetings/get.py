"""GET /@videomote-meetings?start=YYYY-MM-DD&end=YYYY-MM-DD: meetings in a day range."""

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from plone.app.event.base import RET_MODE_OBJECTS
from plone.app.event.base import get_events
from plone.restapi.services import Service
from prorenata.videomote.browser.meetings import site_zone
from prorenata.videomote.services.serialize import meeting_json


class MeetingsGet(Service):
    def reply(self):
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
        items = [meeting_json(m, self.request) for m in meetings]
        return {"@id": self.request.URL, "items": items, "items_total": len(items)}
