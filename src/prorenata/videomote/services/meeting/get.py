"""GET <meeting>/@videomote-meeting: one meeting, with its invitation status."""

from plone.restapi.services import Service
from prorenata.videomote.services.serialize import meeting_json


class MeetingGet(Service):
    def reply(self):
        return meeting_json(self.context, self.request)
