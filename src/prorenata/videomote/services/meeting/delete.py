"""DELETE <meeting>/@videomote-meeting: cancel ("Avboka"); the record stays, cancelled."""

from AccessControl import Unauthorized
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingDelete(Service):
    def reply(self):
        if not may_manage(self.context):
            raise Unauthorized("Only staff with access to the student can cancel the meeting")
        alsoProvides(self.request, IDisableCSRFProtection)
        cancel_meeting(self.context)
        return meeting_json(self.context, self.request)
