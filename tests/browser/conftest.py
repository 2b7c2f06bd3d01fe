"""Debian's Chromium, driven by Playwright, against the functional layer's WSGI server."""

from as_make_run import load_script
from as_make_run import require_loopback_only
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from pages import MediaServer
from pages import logged_in_page
from pages import participant_page
from prorenata.videomote.notify.sms import sms_outbox

import pytest
import re
import time
import transaction

#: scripts/chromium_flags.py: the flags the UDP-blocked participant starts with too.
CHROMIUM_FLAGS = load_script("chromium_flags")
CHROMIUM = CHROMIUM_FLAGS.CHROMIUM
FLAGS = [
    *CHROMIUM_FLAGS.FLAGS,
    # WebRTC on a loopback-only host (the room tests run in a network namespace):
    "--allow-loopback-in-peer-connection",
]
STAFF = ("sara", "Sara Skolsköterska", STAFF_PASSWORD)


@pytest.fixture(scope="session")
def chromium(playwright_driver):
    browser = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
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
    context, page = logged_in_page(chromium, journal["url"], STAFF[0], STAFF[2])
    yield page
    context.close()


@pytest.fixture
def invitation(journal, smtp_sink):
    """A meeting starting in ten minutes; returns the e-mail's link and code."""
    meeting = book(journal["alva"], 10, "guardian", "Uppföljande samtal", organiser="sara")
    (message,) = smtp_sink.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    return {
        "meeting": meeting,
        "link": re.search(r"Gå till videomöte: (\S+)", text).group(1),
        "code": re.search(r"möteskoden: (\S+)", text).group(1),
    }


def _latest_sms(portal) -> str:
    for _ in range(50):
        transaction.begin()
        box = list(sms_outbox(portal))
        if box:
            return box[-1]["text"]
        time.sleep(0.1)
    raise AssertionError("no SMS in the outbox")


@pytest.fixture
def participant(chromium):
    context, page = participant_page(chromium)
    yield page
    context.close()


def _sign_in_with_sms(page, portal):
    page.get_by_text("070-*** **02").wait_for()  # the guardian's number, masked
    page.get_by_role("button", name="Skicka engångskod via SMS").click()
    page.get_by_text("Vi har skickat en engångskod till 070-*** **02.").wait_for()
    sms = _latest_sms(portal)
    assert re.fullmatch(r"Din inloggningskod till Prorenata Videomöte är \d{6}", sms)
    page.get_by_label("Engångskod från SMS").fill(sms[-6:])
    page.get_by_role("button", name="Fortsätt").click()


@pytest.fixture
def latest_sms():
    return _latest_sms


@pytest.fixture
def sign_in_with_sms():
    return _sign_in_with_sms


# -- the room: a real media server, only inside a network namespace ----------------------
@pytest.fixture(scope="session")
def network_namespace():
    """WebRTC tests may only talk over loopback: ``make test`` runs in a namespace."""
    require_loopback_only()


@pytest.fixture
def media_server(network_namespace, mail_portal, monkeypatch, tmp_path):
    from plone import api

    secret = "media-secret-for-room-tests"
    monkeypatch.setenv("VIDEOMOTE_MEDIA_SECRET", secret)
    server = MediaServer(secret, tmp_path / "media.log")
    server.start()
    api.portal.set_registry_record("prorenata.videomote.media_server_url", server.url)
    transaction.commit()
    yield server
    server.stop()


#: The setting of the several media nodes (``media_nodes`` in the control panel).
NODES = "prorenata.videomote.media_nodes"


@pytest.fixture
def media_nodes(network_namespace, mail_portal, monkeypatch, tmp_path):
    """``start(count, settings=None)``: that many ``videomote-media`` processes (as
    ``make run`` starts them; ``settings[i]`` for node ``i`` only what a test breaks on
    purpose) listed as the site's media nodes; all stopped after the test."""
    secret = "media-secret-for-node-tests"
    monkeypatch.setenv("VIDEOMOTE_MEDIA_SECRET", secret)
    started = []

    def start(count: int, settings: dict | None = None) -> list[MediaServer]:
        from plone import api

        nodes = [
            MediaServer(secret, tmp_path / f"media{n}.log", (settings or {}).get(n))
            for n in range(count)
        ]
        for node in nodes:
            started.append(node)
            node.start()
        # The single server's setting points nowhere: only the nodes are used.
        api.portal.set_registry_record(
            "prorenata.videomote.media_server_url", "ws://127.0.0.1:9/ws"
        )
        api.portal.set_registry_record(NODES, [node.url for node in nodes])
        transaction.commit()
        return nodes

    yield start
    for node in started:
        node.stop()


@pytest.fixture
def two_nodes(media_nodes):
    return media_nodes(2)
