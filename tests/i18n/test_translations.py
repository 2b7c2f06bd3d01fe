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
