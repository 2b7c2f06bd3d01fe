"""GET <meeting>/@videomote-meeting: one meeting, with its invitation status."""

from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote.access.staff import check_may_manage
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingGet(VideomoteService):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)  # the audit entries only
        check_may_manage(self.context, "read")
        record(audit.VIEWED, self.context, via="rest")
        return meeting_json(self.context, self.request)
