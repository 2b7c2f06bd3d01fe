"""Swedish by default, English through Plone i18n."""

from prorenata.videomote import _
from zope.i18n import translate


def test_type_title_in_swedish_and_english(portal):
    message = _("Elev/patient")
    assert translate(message, target_language="sv") == "Elev/patient"
    assert translate(message, target_language="en") == "Student/patient"


def test_contact_choices_in_english(portal):
    assert (
        translate(_("Vårdnadshavare (Primär kontaktuppgift)"), target_language="en")
        == "Guardian (primary contact)"
    )


def test_validation_message_in_english(portal):
    message = _("Slut måste vara efter start.")
    assert translate(message, target_language="en") == "End must be after start."
    assert translate(message, target_language="sv") == "Slut måste vara efter start."


def test_booking_notification_in_english(portal):
    message = _("En inbjudan har skickats till ${name}", mapping={"name": "Anna"})
    assert translate(message, target_language="sv") == "En inbjudan har skickats till Anna"
    assert translate(message, target_language="en") == "An invitation has been sent to Anna"


def test_refusal_in_english(portal):
    message = _(
        "${name} har ingen vårdnadshavare markerad som primär kontakt.", mapping={"name": "Bo"}
    )
    assert translate(message, target_language="en") == (
        "Bo has no guardian marked as primary contact."
    )


def test_every_text_the_room_and_participant_scripts_show_is_translated(portal):
    from prorenata.videomote.browser.participant import PAGE_TEXTS
    from prorenata.videomote.browser.room import ROOM_TEXTS

    for key, message in {**ROOM_TEXTS, **PAGE_TEXTS}.items():
        english = translate(message, target_language="en")
        assert english != translate(message, target_language="sv"), key
    joined = translate(ROOM_TEXTS["joined"], target_language="en")
    assert joined == "{name} joined the meeting."  # room.js fills in the name


def _notice(kind, language):
    from datetime import UTC
    from datetime import datetime
    from prorenata.videomote.notify.imip import MeetingNotice

    return MeetingNotice(
        kind=kind,
        uid="uid-1",
        sequence=0,
        title="Uppföljning",
        start=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        end=datetime(2026, 12, 1, 8, 30, tzinfo=UTC),
        timezone="Europe/Stockholm",
        organiser_name="Sara Skötare",
        invitee_name="Anna <Berg>",
        invitee_email="anna@example.se",
        code_page_url="https://journal.example/videomote",
        service_address="noreply@example.se",
        sender_name="Videomöte",
        join_url="https://journal.example/videomote/logga-in#token",
        meeting_code="ABCD-EFGH-JKLM",
        language=language,
    )


def test_the_invitation_e_mail_is_swedish_by_default(portal):
    from prorenata.videomote.notify.imip import INVITATION
    from prorenata.videomote.notify.imip import html_text
    from prorenata.videomote.notify.imip import plain_text
    from prorenata.videomote.notify.imip import subject

    notice = _notice(INVITATION, "sv")
    assert subject(notice) == (
        "Inbjudan: Uppföljning – tisdag 1 december 2026 kl. 09.00–09.30 (Europe/Stockholm)"
    )
    text = plain_text(notice)
    assert text.startswith("Hej Anna <Berg>,\n\nSara Skötare har bjudit in dig till ett säkert")
    assert "- webbkamera\n" in text
    assert "och skriv in möteskoden: ABCD-EFGH-JKLM\n" in text
    html = html_text(notice)
    assert "<p>Hej Anna &lt;Berg&gt;,</p>" in html and 'lang="sv"' in html
    assert ">Gå till videomöte</a>" in html


def test_the_e_mails_of_an_english_site_are_in_english(portal):
    from prorenata.videomote.notify.imip import CANCELLATION
    from prorenata.videomote.notify.imip import INVITATION
    from prorenata.videomote.notify.imip import UPDATE
    from prorenata.videomote.notify.imip import html_text
    from prorenata.videomote.notify.imip import plain_text
    from prorenata.videomote.notify.imip import subject

    invitation = _notice(INVITATION, "en")
    assert subject(invitation) == (
        "Invitation: Uppföljning – Tuesday 1 December 2026, 09:00–09:30 (Europe/Stockholm)"
    )
    text = plain_text(invitation)
    assert "Sara Skötare has invited you to a secure video meeting." in text
    assert "- webcam\n" in text and "and enter the meeting code: ABCD-EFGH-JKLM" in text
    assert "cannot be held on a mobile phone" in text
    html = html_text(invitation)
    assert ">Go to video meeting</a>" in html and 'lang="en"' in html
    assert "Hello Anna &lt;Berg&gt;," in html
    assert subject(_notice(UPDATE, "en")).startswith("New time: ")
    cancellation = _notice(CANCELLATION, "en")
    assert "is cancelled." in plain_text(cancellation)
    assert "is <strong>cancelled</strong>." in html_text(cancellation)
    for part in (text, html, plain_text(cancellation)):
        assert "möte" not in part.replace("Uppföljning", "").lower()
