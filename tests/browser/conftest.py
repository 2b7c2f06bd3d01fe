"""Debian's Chromium, driven by Playwright, against the functional layer's WSGI server."""

from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder

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
STAFF = ("sara", "Sara Skolsköterska", STAFF_PASSWORD)


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def journal(mail_portal):
    """A staff member with access to two students, like the demo."""
    folder = add_students_folder(mail_portal)
    add_staff(STAFF[0], STAFF[1], access_to=folder)
    bodil = {"name": "Bodil Berg", "email": "bodil@example.se", "mobile": None, "primary": True}
    students = {
        "alva": add_student(folder),
        "bruno": add_student(
            folder,
            title="Bruno Berg",
            contact_email="bruno@example.se",
            contact_mobile="+46701234511",
            guardians=[bodil],
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
