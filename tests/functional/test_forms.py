"""Staff edit records and settings through the classic UI; bad input is refused in Swedish."""

import pytest
import transaction


def _patients(portal):
    return [o for o in portal.objectValues() if o.portal_type == "Patient"]


def _fill_patient(browser, portal, name, mobile, email="elsa@example.se"):
    browser.open(portal.absolute_url() + "/++add++Patient")
    browser.getControl(name="form.widgets.title").value = name
    browser.getControl(name="form.widgets.IContactDetails.contact_email").value = email
    browser.getControl(name="form.widgets.IContactDetails.contact_mobile").value = mobile
    browser.getControl(name="form.buttons.save").click()


def test_adding_a_patient_with_swedish_mobile_stores_e164(browser, functional):
    portal = functional["portal"]
    _fill_patient(browser, portal, "Elsa Elev", "070-123 45 67")
    transaction.begin()
    (patient,) = _patients(portal)
    assert patient.contact_mobile == "+46701234567"
    assert "+46701234567" in browser.contents


def test_bad_mobile_number_is_refused_with_message_and_nothing_saved(browser, functional):
    portal = functional["portal"]
    _fill_patient(browser, portal, "Elsa Elev", "12345")
    assert "Ogiltigt mobilnummer" in browser.contents
    transaction.begin()
    assert _patients(portal) == []


def test_bad_email_is_refused_with_message_and_nothing_saved(browser, functional):
    portal = functional["portal"]
    _fill_patient(browser, portal, "Elsa Elev", "0701234567", email="elsa(at)example.se")
    assert "Ogiltig e-postadress" in browser.contents
    transaction.begin()
    assert _patients(portal) == []


def test_control_panel_shows_swedish_settings(browser, functional):
    browser.open(functional["portal"].absolute_url() + "/@@videomote-controlpanel")
    assert "SMS-tjänst" in browser.contents
    assert "Engångskodens giltighetstid (minuter)" in browser.contents


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("sender_address", "Elevhälsan <noreply@skola.se>", "Skriv bara adressen"),
        ("sms_sender", "Elevhälsa!", "bara bokstäver a–z och siffror"),
    ],
    ids=["sender with a name", "sms sender with odd characters"],
)
def test_settings_that_would_break_every_send_are_refused_and_not_saved(
    browser, functional, field, typed, message
):
    from plone import api

    before = api.portal.get_registry_record(f"prorenata.videomote.{field}")
    browser.open(functional["portal"].absolute_url() + "/@@videomote-controlpanel")
    browser.getControl(name=f"form.widgets.{field}").value = typed
    browser.getControl(name="form.buttons.save").click()
    assert message in browser.contents
    transaction.begin()
    assert api.portal.get_registry_record(f"prorenata.videomote.{field}") == before


def test_a_plain_sender_address_is_saved(browser, functional):
    from plone import api

    browser.open(functional["portal"].absolute_url() + "/@@videomote-controlpanel")
    browser.getControl(name="form.widgets.sender_address").value = "noreply@skola.se"
    browser.getControl(name="form.widgets.sms_sender").value = "Elevhalsan"
    browser.getControl(name="form.buttons.save").click()
    transaction.begin()
    assert api.portal.get_registry_record("prorenata.videomote.sender_address") == (
        "noreply@skola.se"
    )
    assert api.portal.get_registry_record("prorenata.videomote.sms_sender") == "Elevhalsan"
