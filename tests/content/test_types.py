"""The journal content: student/patient records and video meetings."""

from datetime import datetime
from datetime import timedelta
from factories import add_journal_record
from plone import api
from plone.app.event.base import get_events
from plone.app.event.ical.exporter import construct_icalendar
from plone.dexterity.interfaces import IDexterityFTI
from plone.dexterity.utils import createContentInContainer
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.content.meeting import IVideoMeeting
from types import SimpleNamespace
from zope.component import queryUtility
from zope.i18n import translate
from zope.interface import Invalid
from zope.schema import getValidationErrors
from zope.schema.interfaces import IVocabularyFactory

import pytest
import pytz

STOCKHOLM = pytz.timezone("Europe/Stockholm")


@pytest.fixture
def patient(portal):
    with api.env.adopt_roles(["Manager"]):
        return createContentInContainer(
            portal,
            "Patient",
            title="Elsa Elev",
            contact_email="elsa@example.se",
            contact_mobile="+46701234567",
            guardians=[
                {
                    "name": "Vera Vårdnadshavare",
                    "email": "vera@example.se",
                    "mobile": "+46707654321",
                    "primary": True,
                },
            ],
        )


def test_patient_type_has_swedish_title_and_contact_behavior(portal):
    fti = queryUtility(IDexterityFTI, name="Patient")
    assert fti.title == "Elev/patient"
    assert "prorenata.videomote.contact_details" in fti.behaviors


def test_meeting_type_is_a_plone_app_event_event(portal):
    fti = queryUtility(IDexterityFTI, name="VideoMeeting")
    assert fti.title == "Videomöte"
    assert "plone.eventbasic" in fti.behaviors
    assert not fti.global_allow


def test_meeting_can_only_be_created_inside_a_patient_record(portal, patient):
    with api.env.adopt_roles(["Manager"]):
        assert [t.getId() for t in patient.allowedContentTypes()] == ["VideoMeeting"]
        assert "VideoMeeting" not in [t.getId() for t in portal.allowedContentTypes()]


def test_record_and_meeting_ids_do_not_reveal_name_or_title(patient):
    assert patient.getId().startswith("elev-")
    with api.env.adopt_roles(["Manager"]):
        meeting = createContentInContainer(patient, "VideoMeeting", title="Samtal om hälsa")
    assert meeting.getId().startswith("mote-")


def test_patient_provides_contact_details(patient):
    details = IContactDetails(patient)
    assert details.contact_mobile == "+46701234567"
    assert details.guardians[0]["primary"] is True


def test_meeting_appears_in_plone_event_listings_and_ical(portal, patient):
    start = STOCKHOLM.localize(datetime(2026, 12, 1, 9, 0))
    with api.env.adopt_roles(["Manager"]):
        meeting = createContentInContainer(
            patient,
            "VideoMeeting",
            title="Uppföljande samtal",
            start=start,
            end=start + timedelta(minutes=30),
            patient_uid=api.content.get_uuid(patient),
        )
    assert meeting.state == "booked"
    assert meeting.sequence == 0
    assert meeting.ical_uid.endswith("@videomote")
    assert meeting.meeting_timezone == "Europe/Stockholm"
    events = get_events(portal, start=start - timedelta(days=1), end=start + timedelta(days=1))
    assert [b.getObject() for b in events] == [meeting]
    ical = construct_icalendar(portal, [meeting]).to_ical().decode()
    assert "SUMMARY:Uppföljande samtal" in ical
    assert "DTSTART;TZID=Europe/Stockholm:20261201T090000" in ical


def test_custom_contact_without_mobile_is_invalid(portal, patient):
    data = SimpleNamespace(
        contact_choice="custom", custom_name="Eva", custom_mobile=None, custom_email="e@x.se"
    )
    with pytest.raises(Invalid) as error:
        IVideoMeeting.validateInvariants(data)
    message = error.value.args[0]
    assert translate(message, target_language="sv") == (
        "Vid Anpassad behöver du fylla i Mobilnummer."
    )


def test_contact_behavior_works_on_a_plain_dexterity_type(portal):
    """A journal with its own record type enables the behavior instead of our type."""
    record = add_journal_record(
        portal,
        "JournalRecord",
        "plone.dexterity.content.Item",
        "Journal 1",
        contact_mobile="+46701234567",
    )
    assert IContactDetails.providedBy(record)
    assert record.contact_mobile == "+46701234567"
    field = IContactDetails["contact_mobile"].bind(record)
    assert field.fromUnicode("070-765 43 21") == "+46707654321"
    factory = queryUtility(IVocabularyFactory, "prorenata.videomote.Patients")
    assert api.content.get_uuid(record) in [t.token for t in factory(portal)]


def test_schema_fields_refuse_bad_values_with_swedish_messages(patient):
    field = IContactDetails["contact_mobile"].bind(patient)
    with pytest.raises(Exception) as error:
        field.validate("12345")
    assert "Ogiltigt mobilnummer" in str(error.value)
    email = IContactDetails["contact_email"].bind(patient)
    with pytest.raises(Exception) as error:
        email.validate("inte-en-adress")
    assert "Ogiltig e-postadress" in str(error.value)
    assert getValidationErrors(IContactDetails, patient) == []
