"""Invitation, update and cancellation e-mails, as they arrive at a real SMTP server."""

from calendar_readers import assert_read_alike
from calendar_readers import assert_yearly_rules
from calendar_readers import one_vobject_process  # noqa: F401 - a fixture
from datetime import datetime
from datetime import timedelta
from factories import add_student
from mail_quiet import nothing_due
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import TEST_USER_ID
from plone.app.testing import setRoles
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.content.scheduling import move_meeting
from zoneinfo import ZoneInfo

import icalendar
import pytest
import re
import transaction

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PERSONNUMMER = "19811218-9876"


@pytest.fixture
def patient(mail_portal):
    setRoles(mail_portal, TEST_USER_ID, ["Manager"])
    patient = add_student(mail_portal, personnummer=PERSONNUMMER)
    transaction.commit()
    return patient


def _tomorrow(hour: int) -> datetime:
    day = datetime.now(STOCKHOLM).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, 0)


def _book(patient, choice="guardian", title="Uppföljande samtal"):
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = book_meeting(
            Booking(
                title=title,
                start=_tomorrow(9),
                end=_tomorrow(9) + timedelta(minutes=30),
                patient_uid=api.content.get_uuid(patient),
                contact_choice=choice,
            ),
            organiser=SITE_OWNER_NAME,
        )
    transaction.commit()
    return meeting


def _calendar(message):
    part = next(p for p in message.walk() if p.get_content_type() == "text/calendar")
    return part, icalendar.Calendar.from_ical(part.get_content())


def _event(message):
    return _calendar(message)[1].walk("VEVENT")[0]


def test_invitation_reaches_the_primary_guardian_as_imip(patient, smtp_sink):
    meeting = _book(patient)
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "anna@example.se"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "multipart/mixed"
    part, calendar = _calendar(message)
    assert part.get_param("method") == "REQUEST"
    assert calendar["METHOD"] == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert str(event["UID"]) == meeting.ical_uid
    assert int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].params["TZID"] == "Europe/Stockholm"
    assert event["DTSTART"].dt.hour == 9
    assert calendar.walk("VTIMEZONE")[0]["TZID"] == "Europe/Stockholm"
    attachment = [p for p in message.walk() if p.get_filename() == "invite.ics"]
    assert attachment and b"METHOD:REQUEST" in attachment[0].get_content()


def test_invitation_contains_link_code_requirements_and_no_personnummer(patient, smtp_sink):
    _book(patient)
    (message,) = smtp_sink.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "har bjudit in dig" in text
    assert "Gå till videomöte" in html
    assert re.search(r"/videomote/logga-in#[\w-]{40,}", text)
    assert re.search(r"möteskoden: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", text)
    assert "Chrome" in text and "Firefox" in text and "Edge" in text
    assert "inte hållas via mobiltelefon" in text
    assert PERSONNUMMER not in message.as_string()
    # Parts of it, in what the recipient reads: headers and every decoded part (not the
    # Message-ID or MIME boundaries, whose random digits may contain "9876" by chance).
    readable = [value for key, value in message.items() if key != "Message-ID"]
    for part in message.walk():
        if not part.is_multipart():
            content = part.get_content()
            readable.append(content.decode() if isinstance(content, bytes) else content)
    for secret in ("811218", "9876"):
        assert not [text for text in readable if secret in text]


def test_code_and_token_are_stored_only_as_hashes(patient, smtp_sink):
    meeting = _book(patient)
    (message,) = smtp_sink.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    code = re.search(r"möteskoden: (\S+)", text).group(1)
    token = re.search(r"logga-in#(\S+)", text).group(1)
    stored = " ".join(str(v) for v in meeting.__dict__.values())
    assert code not in stored and code.replace("-", "") not in stored
    assert token not in stored
    assert len(meeting.meeting_code_hash) == 64


@pytest.mark.usefixtures("one_vobject_process")
def test_the_ics_keeps_link_and_code_and_a_yearly_time_zone_and_nothing_else_secret(
    patient, smtp_sink
):
    """What Outlook, Thunderbird and a CalDAV server store is the .ics: it still carries
    the participant's link and code; its VTIMEZONE is the yearly-rule form."""
    meeting = _book(patient)
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=45))
    transaction.commit()
    for message in smtp_sink.wait_for(2):
        text = message.get_body(("plain",)).get_content()
        code = re.search(r"möteskoden: (\S+)", text).group(1)
        link = re.search(r"(\S+/videomote/logga-in#\S+)", text).group(1)
        (attachment,) = [p for p in message.walk() if p.get_filename() == "invite.ics"]
        ics = attachment.get_content().decode("utf-8")
        event = icalendar.Calendar.from_ical(ics).walk("VEVENT")[0]
        assert str(event["URL"]) == link
        assert link in str(event["DESCRIPTION"]) and code in str(event["DESCRIPTION"])
        assert_yearly_rules(ics)
        assert_read_alike(ics, "Europe/Stockholm", event["DTSTART"].dt)
        for secret in (PERSONNUMMER, "811218", "@@videomote-rum"):
            assert secret not in ics
        assert meeting.meeting_code_hash not in ics and meeting.join_token_hash not in ics


def test_moving_a_meeting_sends_update_with_higher_sequence(patient, smtp_sink):
    meeting = _book(patient)
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=45))
    transaction.commit()
    invitation, update = smtp_sink.wait_for(2)
    assert str(_event(update)["UID"]) == str(_event(invitation)["UID"])
    assert int(_event(update)["SEQUENCE"]) == 1
    assert _event(update)["DTSTART"].dt.hour == 13
    assert update["Subject"].startswith("Ändrad tid")


def _code_still_opens(portal, code: str) -> bool:
    """The participant types the code from the invitation on the code page."""
    import requests

    response = requests.post(f"{portal.absolute_url()}/videomote", data={"code": code})
    return response.url.endswith("/videomote/logga-in")


def _code_in(message) -> str:
    return re.search(r"möteskoden: (\S+)", message.get_body(("plain",)).get_content()).group(1)


def test_a_new_title_says_so_and_keeps_the_link_and_code(patient, smtp_sink):
    """Only the title changes: the update says the title changed and that the earlier
    link and code still work; nothing is re-issued and the room is not closed."""
    meeting = _book(patient)
    (invitation,) = smtp_sink.wait_for(1)
    code = _code_in(invitation)
    hashes = (meeting.meeting_code_hash, meeting.join_token_hash)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, meeting.start, meeting.end, title="Samtal om skolmaten")
    transaction.commit()
    invitation, update = smtp_sink.wait_for(2)
    assert update["Subject"].startswith("Ändrad titel: Samtal om skolmaten – ")
    text = update.get_body(("plain",)).get_content()
    html = update.get_body(("html",)).get_content()
    assert 'har fått en ny titel (tidigare "Uppföljande samtal")' in text
    assert "länken och möteskoden i tidigare e-post gäller fortfarande" in text
    assert "gäller fortfarande" in html
    assert "Tiden för videomötet" not in text and "gäller inte längre" not in text
    assert "logga-in#" not in text + html and "möteskoden:" not in text
    event = _event(update)
    assert int(event["SEQUENCE"]) == 1
    assert str(event["SUMMARY"]) == "Samtal om skolmaten"
    assert event["DTSTART"].dt.hour == 9 and "URL" not in event
    assert (meeting.meeting_code_hash, meeting.join_token_hash) == hashes
    assert getattr(meeting, "room_generation", 0) == 0
    assert _code_still_opens(patient.aq_parent, code)


def test_a_new_time_and_title_says_both_and_issues_a_new_link_and_code(patient, smtp_sink):
    meeting = _book(patient)
    (invitation,) = smtp_sink.wait_for(1)
    old_code = _code_in(invitation)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=30), title="Nytt")
    transaction.commit()
    invitation, update = smtp_sink.wait_for(2)
    assert update["Subject"].startswith("Ändrad tid och titel: Nytt – ")
    text = update.get_body(("plain",)).get_content()
    assert 'Tiden och titeln (tidigare "Uppföljande samtal")' in text
    assert "gäller inte längre" in text
    new_code = _code_in(update)
    assert new_code != old_code and re.search(r"/videomote/logga-in#[\w-]{40,}", text)
    assert not _code_still_opens(patient.aq_parent, old_code)
    assert _code_still_opens(patient.aq_parent, new_code)


def test_a_new_time_keeps_todays_wording(patient, smtp_sink):
    meeting = _book(patient)
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, _tomorrow(13), _tomorrow(13) + timedelta(minutes=30))
    transaction.commit()
    text = smtp_sink.wait_for(2)[1].get_body(("plain",)).get_content()
    assert "Tiden för videomötet med" in text and "gäller inte längre" in text
    assert "titel" not in text.split("Möte:")[0]


def test_edit_that_changes_neither_time_nor_title_sends_nothing(patient, smtp_sink):
    meeting = _book(patient)
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        move_meeting(meeting, meeting.start, meeting.end, title=meeting.title)
    transaction.commit()
    assert len(smtp_sink.wait_for(2, timeout=1.5, settled=nothing_due(api.portal.get()))) == 1
    assert meeting.sequence == 0


def test_cancelling_sends_cancel_with_higher_sequence(patient, smtp_sink):
    meeting = _book(patient)
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        cancel_meeting(meeting)
    transaction.commit()
    invitation, cancellation = smtp_sink.wait_for(2)
    part, calendar = _calendar(cancellation)
    assert part.get_param("method") == "CANCEL"
    assert calendar["METHOD"] == "CANCEL"
    assert str(_event(cancellation)["STATUS"]) == "CANCELLED"
    assert int(_event(cancellation)["SEQUENCE"]) == 1
    assert str(_event(cancellation)["UID"]) == meeting.ical_uid


def test_deleting_a_meeting_sends_a_cancellation(patient, smtp_sink):
    meeting = _book(patient, choice="student")
    smtp_sink.wait_for(1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.content.delete(meeting)
    transaction.commit()
    invitation, cancellation = smtp_sink.wait_for(2)
    assert cancellation["To"].addresses[0].addr_spec == "alva@example.se"
    assert _calendar(cancellation)[1]["METHOD"] == "CANCEL"


def test_an_address_at_a_domain_with_swedish_letters_gets_its_invitation(mail_portal, smtp_sink):
    student = add_student(mail_portal, contact_email="alva@skövde.se")
    transaction.commit()
    _book(student, choice="student")
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "alva@xn--skvde-kua.se"
