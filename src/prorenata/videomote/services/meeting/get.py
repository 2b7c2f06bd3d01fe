"""GET <meeting>/@videomote-meeting: one meeting, with its invitation status."""

from AccessControl import Unauthorized
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingGet(Service):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)  # the audit entries only
        if not may_manage(self.context):
            raise Unauthorized("Only staff with access to the student can read the meeting")
        record(audit.VIEWED, self.context, via="rest")
        return meeting_json(self.context, self.request)
