"""PATCH <meeting>/@videomote-meeting {start, end[, title][, extra_participants]}: move (an
update e-mail follows); add or remove extra participants (their invitation or
cancellation follows)."""

from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote.access.staff import check_may_manage
from prorenata.videomote.content import participants
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
        change = (
            participants.plan(self.context, data["extra_participants"])
            if "extra_participants" in data
            else participants.Change()
        )
        # Removed people are not told of the move; added ones get only the new time.
        # A refusal anywhere dooms the whole request (services/base.py).
        participants.remove_all(self.context, change)
        if {"start", "end", "title"} & set(data) or "extra_participants" not in data:
            # Adding an interpreter to a meeting under way is no move: no time rule.
            move_meeting(self.context, start, end, title=data.get("title"))
        participants.add_all(self.context, change)
        return meeting_json(self.context, self.request)
