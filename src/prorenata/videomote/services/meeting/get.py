"""GET <meeting>/@videomote-meeting: one meeting, with its invitation status."""

from plone.protect.interfaces import IDisableCSRFProtection
from prorenata.videomote.access.staff import check_may_manage
from prorenata.videomote.services.base import VideomoteService
from prorenata.videomote.services.serialize import meeting_json
from zope.interface import alsoProvides


class MeetingGet(VideomoteService):
    def reply(self):
        alsoProvides(self.request, IDisableCSRFProtection)  # the audit entries only
        check_may_manage(self.context, "read")
        return meeting_json(self.context, self.request)
