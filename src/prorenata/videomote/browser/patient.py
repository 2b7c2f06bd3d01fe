"""The student/patient overview."""

from AccessControl.security import checkPermission
from Products.Five.browser import BrowserView
from prorenata.videomote.behaviors.contact_details import VIEW_PERSONNUMMER


class PatientView(BrowserView):
    """Contacts, guardians and the record's video meetings."""

    def guardians(self) -> list[dict]:
        return list(getattr(self.context, "guardians", None) or [])

    def may_see_personnummer(self) -> bool:
        return bool(checkPermission(VIEW_PERSONNUMMER, self.context))

    def meetings(self) -> list:
        return [
            obj
            for obj in self.context.objectValues()
            if getattr(obj, "portal_type", None) == "VideoMeeting"
        ]
