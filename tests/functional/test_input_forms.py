"""The dialogs, the edit forms, the participant pages and the calendar settings bound
what they take: an over-long text is refused in Swedish next to its field, the inputs
say their maximum (``maxlength``), and nothing is saved."""

from datetime import date
from datetime import timedelta
from factories import add_student
from factories import add_students_folder
from factories import book
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD

import pytest
import re
import requests
import transaction


@pytest.fixture
def alva(functional):
    record = add_student(add_students_folder(functional["portal"]))
    transaction.commit()
    return record


def _meetings() -> list:
    transaction.begin()
    catalog = api.portal.get_tool("portal_catalog")
    return [
        (m.title, m.start, m.end)
        for m in (
            b._unrestrictedGetObject()
            for b in catalog.unrestrictedSearchResults(portal_type="VideoMeeting")
        )
    ]


def _maxlength(html: str, name: str) -> int:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html, re.S).group(0)
    return int(re.search(r'maxlength="(\d+)"', tag).group(1))


def test_the_booking_dialog_refuses_an_over_long_title_next_to_it(browser, functional, alva):
    portal = functional["portal"]
    browser.open(f"{portal.absolute_url()}/@@videomote-boka?start=2030-01-01T09:00")
    assert _maxlength(browser.contents, "title") == 200
    assert _maxlength(browser.contents, "custom_name") == 100
    assert _maxlength(browser.contents, "custom_mobile") == 32
    assert _maxlength(browser.contents, "custom_email") == 254
    day = (date.today() + timedelta(days=1)).isoformat()
    browser.getControl(name="title").value = "T" * 300
    browser.getControl(name="start").value = f"{day}T09:00"
    browser.getControl(name="end").value = f"{day}T09:30"
    browser.getControl(name="patient_uid").value = [alva.UID()]
    browser.getControl(name="save").click()
    assert "Titel får vara högst 200 tecken." in browser.contents
    assert _meetings() == []


def test_the_move_dialog_says_the_titles_maximum(browser, alva):
    meeting = book(alva)
    browser.open(f"{meeting.absolute_url()}/@@videomote-flytta")
    assert _maxlength(browser.contents, "title") == 200
    before = _meetings()
    browser.getControl(name="title").value = "T" * 300
    browser.getControl(name="save").click()
    assert "Titel får vara högst 200 tecken." in browser.contents
    assert _meetings() == before


def test_the_meeting_edit_form_refuses_an_over_long_title(browser, alva):
    meeting = book(alva)
    browser.open(f"{meeting.absolute_url()}/@@edit")
    browser.getControl(name="form.widgets.title").value = "T" * 300
    browser.getControl(name="form.buttons.save").click()
    assert "Titel får vara högst 200 tecken." in browser.contents
    assert _meetings()[0][0] == "Samtal"


def test_the_record_form_refuses_an_over_long_name_and_address(browser, functional):
    portal = functional["portal"]
    browser.open(f"{portal.absolute_url()}/++add++Patient")
    browser.getControl(name="form.widgets.title").value = "N" * 101
    email = browser.getControl(name="form.widgets.IContactDetails.contact_email")
    email.value = "e" * 300 + "@example.se"
    browser.getControl(name="form.buttons.save").click()
    assert "Namn får vara högst 100 tecken." in browser.contents
    assert "E-postadress (primär kontaktuppgift) får vara högst 254 tecken." in browser.contents
    transaction.begin()
    assert [o for o in portal.objectValues() if o.portal_type == "Patient"] == []


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "N" * 101}, "title", "Namn får vara högst 100 tecken."),
        (
            {"title": "Elsa", "guardians": [{"name": "G" * 101, "primary": True}]},
            "guardians",
            "Namn får vara högst 100 tecken.",
        ),
        (
            {"title": "Elsa", "contact_mobile": "0" * 40},
            "contact_mobile",
            "Mobilnummer (primär kontaktuppgift) får vara högst 32 tecken.",
        ),
        (
            {"title": "Elsa", "personnummer": "1" * 40},
            "personnummer",
            "Personnummer får vara högst 20 tecken.",
        ),
    ],
    ids=["name", "guardian name", "mobile", "personnummer"],
)
def test_a_record_over_rest_with_an_over_long_text_is_a_400(functional, data, field, message):
    portal = functional["portal"]
    response = requests.post(
        portal.absolute_url(),
        json={"@type": "Patient", **data},
        auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD),
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert field in response.text and message in response.json()["message"]
    transaction.begin()
    assert [o for o in portal.objectValues() if o.portal_type == "Patient"] == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([("code:list", "A"), ("code:list", "B")], "Ange Möteskod en gång, som text."),
        ([("code", "K" * 200)], "Möteskod får vara högst 100 tecken."),
        ([("code:int", "abc")], None),
    ],
    ids=["list", "too long", "not an int"],
)
def test_the_code_page_refuses_what_is_no_short_text(functional, data, message):
    response = requests.post(f"{functional['portal'].absolute_url()}/videomote", data=data)
    if message is None:
        assert response.status_code == 200  # Zope's converter would fail: the field is dropped
        assert "Möteskoden stämmer inte" in response.text
    else:
        assert response.status_code == 400
        assert message in response.text


def test_the_calendar_settings_refuse_an_over_long_user_name(browser, functional):
    portal = functional["portal"]
    browser.open(f"{portal.absolute_url()}/@@videomote-kalenderkoppling")
    browser.getControl(name="url").value = "http://127.0.0.1:9/"
    browser.getControl(name="username").value = "u" * 300
    browser.getControl(name="password").value = "app-password"
    browser.getControl(name="save").click()
    assert "Användarnamn får vara högst 254 tecken." in browser.contents
    from prorenata.videomote.caldav_bridge.accounts import accounts

    transaction.begin()
    assert not dict(accounts(portal, create=False) or {})
