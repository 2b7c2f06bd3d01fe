"""Debian's Chromium, driven by Playwright, against the functional layer's WSGI server."""

from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.dexterity.utils import createContentInContainer

import pytest
import shutil
import transaction

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
STAFF = ("sara", "Sara Skolsköterska", "secret-pw-1")


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def journal(mail_portal):
    """A staff member with access to three students, like the demo."""
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.create(
            username=STAFF[0],
            email="sara@example.se",
            password=STAFF[2],
            roles=["Member", "Clinician"],
            properties={"fullname": STAFF[1]},
        )
        folder = api.content.create(
            container=mail_portal, type="Folder", id="elever", title="Elever"
        )
        api.user.grant_roles(
            username=STAFF[0], obj=folder, roles=["Reader", "Contributor", "Editor"]
        )
        students = {
            "alva": createContentInContainer(
                folder,
                "Patient",
                title="Alva Andersson",
                contact_email="alva@example.se",
                contact_mobile="+46701234501",
                guardians=[
                    {
                        "name": "Anna Andersson",
                        "email": "anna@example.se",
                        "mobile": "+46701234502",
                        "primary": True,
                    }
                ],
            ),
            "bruno": createContentInContainer(
                folder,
                "Patient",
                title="Bruno Berg",
                contact_email="bruno@example.se",
                contact_mobile="+46701234511",
                guardians=[
                    {
                        "name": "Bodil Berg",
                        "email": "bodil@example.se",
                        "mobile": None,
                        "primary": True,
                    }
                ],
            ),
        }
    transaction.commit()
    return {"url": mail_portal.absolute_url(), **students}


@pytest.fixture
def staff_page(chromium, journal):
    context = chromium.new_context(locale="sv-SE", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{journal['url']}/login")
    page.get_by_label("Användarnamn").fill(STAFF[0])
    page.get_by_label("Lösenord").fill(STAFF[2])
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    yield page
    context.close()
