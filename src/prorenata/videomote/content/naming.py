"""Ids that reveal nothing: a record's URL must not carry a name or a meeting title."""

from plone.app.content.interfaces import INameFromTitle
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.content.patient import IPatient
from zope.component import adapter
from zope.interface import implementer

import secrets


class _RandomName:
    prefix = ""

    def __init__(self, context):
        self.title = f"{self.prefix}-{secrets.token_hex(5)}"


@implementer(INameFromTitle)
@adapter(IPatient)
class PatientName(_RandomName):
    prefix = "elev"


@implementer(INameFromTitle)
@adapter(IVideoMeeting)
class MeetingName(_RandomName):
    prefix = "mote"
