"""DELETE <meeting>/@videomote-meeting: cancel ("Avboka"); the record stays, cancelled."""

from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote.access.staff import check_may_manage
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingDelete(VideomoteService):
    def reply(self):
        check_may_manage(self.context, "cancel")
        alsoProvides(self.request, IDisableCSRFProtection)
        cancel_meeting(self.context)
        return meeting_json(self.context, self.request)
