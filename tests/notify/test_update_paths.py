"""A new title is news about the title by every path (the "Flytta" dialog, Plone's edit
form, REST PATCH): the participant's link and code keep working; only a new time brings
new ones."""

from datetime import date
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from mail_quiet import nothing_due
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from plone.testing.zope import Browser
from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import audit_log

import pytest
import re
import requests
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()


@pytest.fixture
def booked(mail_portal, smtp_sink):
    """Sara's meeting with Alva, booked over REST; the invitation's code."""
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder, roles=("Reader", "Contributor"))
    alva = add_student(folder)
    transaction.commit()
    sara = requests.Session()
    sara.auth = ("sara", STAFF_PASSWORD)
    sara.headers["Accept"] = "application/json"
    created = sara.post(
        f"{mail_portal.absolute_url()}/@videomote-meetings",
        json={
            "title": "Uppföljande samtal",
            "start": f"{TOMORROW}T09:00",
            "end": f"{TOMORROW}T09:30",
            "patient": alva.UID(),
            "contact_choice": "student",
        },
    )
    assert created.status_code == 201, created.text
    (invitation,) = smtp_sink.wait_for(1)
    text = invitation.get_body(("plain",)).get_content()
    return {
        "portal": mail_portal,
        "sara": sara,
        "url": created.json()["@id"],
        "code": re.search(r"möteskoden: (\S+)", text).group(1),
    }


def _code_opens(booked, code: str) -> bool:
    page = f"{booked['portal'].absolute_url()}/videomote"
    return requests.post(page, data={"code": code}).url.endswith("/videomote/logga-in")


def _only_the_title_changed(booked, smtp_sink):
    invitation, update = smtp_sink.wait_for(2)
    assert update["Subject"].startswith("Ändrad titel: Samtal om skolmaten – ")
    text = update.get_body(("plain",)).get_content()
    assert "gäller fortfarande" in text and "gäller inte längre" not in text
    assert _code_opens(booked, booked["code"])
    assert len(smtp_sink.wait_for(3, timeout=1.5, settled=nothing_due(booked["portal"]))) == 2
    # Audited once as what the participant was told (SEQUENCE 1), by every path.
    transaction.begin()
    moves = [e.detail for e in audit_log(booked["portal"]).query() if e.action == log.MOVED]
    assert moves == ["sequence=1"]


def test_a_new_title_over_rest_keeps_the_link_and_code(booked, smtp_sink):
    url = f"{booked['url']}/@videomote-meeting"
    renamed = booked["sara"].patch(url, json={"title": "Samtal om skolmaten"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["sequence"] == 1
    _only_the_title_changed(booked, smtp_sink)
    moved = booked["sara"].patch(
        url, json={"start": f"{TOMORROW}T14:00", "end": f"{TOMORROW}T14:30"}
    )
    assert moved.json()["sequence"] == 2
    assert smtp_sink.wait_for(3)[2]["Subject"].startswith("Ändrad tid: ")
    assert not _code_opens(booked, booked["code"])


def _staff_browser(booked):
    browser = Browser(booked["portal"].aq_parent)
    browser.handleErrors = False
    browser.addHeader("Authorization", f"Basic {SITE_OWNER_NAME}:{SITE_OWNER_PASSWORD}")
    return browser


def test_a_new_title_in_the_move_dialog_keeps_the_link_and_code(booked, smtp_sink):
    browser = _staff_browser(booked)
    browser.open(f"{booked['url']}/@@videomote-flytta")
    browser.getControl(name="title").value = "Samtal om skolmaten"
    browser.getControl(name="save").click()
    assert "Titeln är ändrad." in browser.contents
    assert "Mötet är flyttat" not in browser.contents
    _only_the_title_changed(booked, smtp_sink)


def test_a_new_title_in_the_edit_form_keeps_the_link_and_code(booked, smtp_sink):
    # A Swedish site's zone (content/test_meeting_zone.py: a site in another zone).
    from plone import api

    api.portal.set_registry_record("plone.portal_timezone", "Europe/Stockholm")
    transaction.commit()
    browser = _staff_browser(booked)
    browser.open(f"{booked['url']}/@@edit")
    browser.getControl(name="form.widgets.title").value = "Samtal om skolmaten"
    browser.getControl(name="form.buttons.save").click()
    _only_the_title_changed(booked, smtp_sink)


def test_a_new_title_by_a_stock_rest_patch_keeps_the_link_and_code(booked, smtp_sink):
    renamed = requests.patch(
        booked["url"],
        json={"title": "Samtal om skolmaten"},
        auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD),
        headers={"Accept": "application/json"},
    )
    assert renamed.status_code == 204, renamed.text
    _only_the_title_changed(booked, smtp_sink)
