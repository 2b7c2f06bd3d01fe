"""PATCH <meeting>/@videomote-meeting {start, end[, title]}: move; an update e-mail follows."""

from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote.access.staff import check_may_manage
from prorenata.videomote.content.scheduling import move_meeting
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.meetings.add import parse_time
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingPatch(VideomoteService):
    def reply(self):
        check_may_manage(self.context, "move")
        alsoProvides(self.request, IDisableCSRFProtection)
        data = self.data
        start = parse_time(data, "start") if "start" in data else self.context.start
        end = parse_time(data, "end") if "end" in data else self.context.end
        move_meeting(self.context, start, end, title=data.get("title"))
        return meeting_json(self.context, self.request)
