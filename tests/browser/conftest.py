"""Debian's Chromium, driven by Playwright, against the functional layer's WSGI server."""

from as_make_run import load_script
from as_make_run import require_loopback_only
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from pages import MediaServer
from pages import logged_in_page
from pages import participant_page
from prorenata.videomote.notify.sms import sms_outbox

import contextlib
import os
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
def staff_page(chromium, journal, mail_portal):
    context, page = logged_in_page(chromium, journal["url"], STAFF[0], STAFF[2], mail_portal)
    yield page
    context.close()


@pytest.fixture
def invitation(journal, smtp_sink):
    """A meeting starting in ten minutes; returns the e-mail's link and code."""
    from ZODB.POSException import ConflictError

    for attempt in range(5):  # the server's threads may be writing at the same time
        try:
            meeting = book(journal["alva"], 10, "guardian", "Uppföljande samtal", organiser="sara")
            break
        except ConflictError:
            transaction.abort()
            if attempt == 4:
                raise
            time.sleep(0.2)
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


class SpareMediaServers:
    """``videomote-media`` processes started ahead, one for each the last test used (with
    the shipped defaults and its secret): they start while the next test sets up its site
    and browsers instead of in its own time. Each spare is a fresh process, used by one
    test only and stopped after it, started from the environment of the session's start
    (what it reads of it is its ``VIDEOMOTE_MEDIA_*`` settings, which it never takes
    from there: see as_make_run.start_media_server)."""

    def __init__(self, directory):
        self._directory = directory
        self._environ = dict(os.environ)
        self._starting = ThreadPoolExecutor(1, thread_name_prefix="spare-media")
        self._spares: dict[str, list[tuple[MediaServer, Future]]] = {}
        self._count = 0

    def _start(self, secret: str) -> tuple[MediaServer, Future]:
        self._count += 1
        log = self._directory / f"media-{self._count}.log"
        server = MediaServer(secret, log, environ=self._environ)
        return server, self._starting.submit(server.start)

    def take(self, secret: str) -> MediaServer:
        """A running server with ``secret``: a spare if there is one, else a new one."""
        spares = self._spares.get(secret) or []
        while spares:
            server, started = spares.pop(0)
            if started.exception(timeout=60) is None and server.process.poll() is None:
                return server
            server.stop()  # it did not start, or ended since: not for a test
        server, started = self._start(secret)
        try:
            started.result(timeout=60)
        except BaseException:
            server.stop()
            raise
        return server

    def prepare(self, secret: str, count: int) -> None:
        """Have ``count`` spares with ``secret`` starting for the next test."""
        spares = self._spares.setdefault(secret, [])
        while len(spares) < count:
            spares.append(self._start(secret))

    def close(self) -> None:
        for spares in self._spares.values():
            for server, started in spares:
                with contextlib.suppress(Exception):
                    started.result(timeout=60)
                server.stop()
        self._starting.shutdown()


@pytest.fixture(scope="session")
def spare_media_servers(tmp_path_factory):
    spares = SpareMediaServers(tmp_path_factory.mktemp("spare-media"))
    yield spares
    spares.close()


@pytest.fixture
def media_server(network_namespace, mail_portal, monkeypatch, spare_media_servers):
    from plone import api

    secret = "media-secret-for-room-tests"
    monkeypatch.setenv("VIDEOMOTE_MEDIA_SECRET", secret)
    server = spare_media_servers.take(secret)
    api.portal.set_registry_record("prorenata.videomote.media_server_url", server.url)
    transaction.commit()
    yield server
    server.stop()
    spare_media_servers.prepare(secret, 1)


#: The setting of the several media nodes (``media_nodes`` in the control panel).
NODES = "prorenata.videomote.media_nodes"


@pytest.fixture
def media_nodes(network_namespace, mail_portal, monkeypatch, tmp_path, spare_media_servers):
    """``start(count, settings=None)``: that many ``videomote-media`` processes (as
    ``make run`` starts them; ``settings[i]`` for node ``i`` only what a test breaks on
    purpose) listed as the site's media nodes; all stopped after the test."""
    secret = "media-secret-for-node-tests"
    monkeypatch.setenv("VIDEOMOTE_MEDIA_SECRET", secret)
    started = []
    defaults = []  # how many nodes ran with the shipped defaults (spares for the next)

    def start(count: int, settings: dict | None = None) -> list[MediaServer]:
        from plone import api

        nodes = []
        for n in range(count):
            own = (settings or {}).get(n)
            if own:
                node = MediaServer(secret, tmp_path / f"media{n}.log", own)
                started.append(node)
                node.start()
            else:
                node = spare_media_servers.take(secret)
                started.append(node)
                defaults.append(node)
            nodes.append(node)
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
    if defaults:
        spare_media_servers.prepare(secret, len(defaults))


@pytest.fixture
def two_nodes(media_nodes):
    return media_nodes(2)
