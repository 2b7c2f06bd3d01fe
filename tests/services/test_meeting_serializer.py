"""The services' meeting JSON is a (meeting, request) adapter an add-on can extend."""

from factories import add_student
from factories import book
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.interfaces import ISerializeMeetingToJson
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.services.serialize import MeetingSerializer
from prorenata.videomote.services.serialize import meeting_json
from zope.component import getGlobalSiteManager
from zope.interface import alsoProvides

import pytest
import transaction


class IOtherAddOnLayer(IVideomoteLayer):
    """Another add-on's browser layer, installed on top of ours."""


class WithRoomName(MeetingSerializer):
    def __call__(self) -> dict:
        return {**super().__call__(), "room_name": "Rum 3"}


@pytest.fixture
def meeting(mail_portal):
    patient = add_student(mail_portal, title="Alva", guardians=[])
    transaction.commit()
    return book(patient, 60)


def test_an_add_on_extends_the_meeting_json_for_its_own_layer(meeting):
    request = meeting.REQUEST
    alsoProvides(request, IVideomoteLayer)
    ours = meeting_json(meeting, request)
    assert ours["UID"] == meeting.UID()
    assert ours["invitee"]["email"] == meeting.invitee_email

    registry = getGlobalSiteManager()
    provided = (IVideoMeeting, IOtherAddOnLayer)
    registry.registerAdapter(WithRoomName, provided, ISerializeMeetingToJson)
    try:
        alsoProvides(request, IOtherAddOnLayer)
        assert meeting_json(meeting, request) == {**ours, "room_name": "Rum 3"}
    finally:
        registry.unregisterAdapter(WithRoomName, provided, ISerializeMeetingToJson)
