"""Wire the add-on's plone.app.testing layers into pytest (pytest-plone)."""

from fake_46elks import elks  # noqa: F401 - a fixture: a local 46elks API
from prorenata.videomote.testing import VIDEOMOTE_FUNCTIONAL_TESTING
from prorenata.videomote.testing import VIDEOMOTE_INTEGRATION_TESTING
from pytest_plone import fixtures_factory

import os
import pytest

# Compile the .po files of every add-on (ours included) when Zope loads them.
os.environ.setdefault("zope_i18n_compile_mo_files", "true")

pytest_plugins = ["pytest_plone"]

globals().update(
    fixtures_factory(
        (
            (VIDEOMOTE_FUNCTIONAL_TESTING, "functional"),
            (VIDEOMOTE_INTEGRATION_TESTING, "integration"),
        )
    )
)


class SMTPSink:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages: list = []
        self.arrivals: list[float] = []
        #: Addresses this server refuses for good (550), as a mailbox that does not exist.
        self.refused: set[str] = set()
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address.lower() in self.refused:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        import email
        import email.policy
        import time

        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        self.arrivals.append(time.time())
        return "250 OK"

    def start(self):
        self._controller.start()

    def stop(self):
        self._controller.stop()

    def wait_for(self, count: int, timeout: float = 10.0, settled=None) -> list:
        """What arrived once there are ``count`` messages or ``timeout`` seconds passed.

        ``settled(seconds)`` (mail_quiet.nothing_due) ends the wait early when it is sure
        no message can arrive within the ``seconds`` left: a check that no further mail
        comes then needs not wait out its time-out.
        """
        import time

        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            if settled is not None and settled(deadline - time.monotonic()):
                # Read after the check: a message the worker sent just before it
                # committed the mail as sent is already here.
                break
            time.sleep(0.05)
        return list(self.messages)


@pytest.fixture(scope="session")
def smtp_sink_server():
    sink = SMTPSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def smtp_sink(smtp_sink_server):
    smtp_sink_server.messages.clear()
    smtp_sink_server.arrivals.clear()
    smtp_sink_server.refused.clear()
    yield smtp_sink_server
    smtp_sink_server.refused.clear()


@pytest.fixture(autouse=True)
def _background_rounds_stopped():
    """A periodic round (audit retention, ending overdue meetings) a test started does not
    outlive it: its database closes with the test's layer."""
    yield
    from prorenata.videomote import periodic

    periodic.stop_every_round()


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright (sync API) for the whole run: a second cannot start while one runs
    (the browser tests' Chromium and the cluster's UDP-blocked participant share it)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def mail_portal(functional, smtp_sink):
    """The functional portal sending real mail to the SMTP sink; workers stopped after."""
    from plone import api
    from prorenata.videomote.notify.delivery import stop_all

    import transaction

    portal = functional["portal"]
    # Plone's mailer takes host and port from the registry (Products.CMFPlone.patches).
    api.portal.set_registry_record("plone.smtp_host", "127.0.0.1")
    api.portal.set_registry_record("plone.smtp_port", smtp_sink.port)
    api.portal.set_registry_record("plone.email_from_address", "noreply@journal.example.se")
    api.portal.set_registry_record("plone.email_from_name", "Prorenata Journal")
    transaction.commit()
    yield portal
    stop_all()


@pytest.fixture
def browser(functional):
    """Zope's test browser on the functional layer, signed in as the site owner."""
    from plone.app.testing import SITE_OWNER_NAME
    from plone.app.testing import SITE_OWNER_PASSWORD
    from plone.testing.zope import Browser

    browser = Browser(functional["app"])
    browser.handleErrors = False
    browser.addHeader("Authorization", f"Basic {SITE_OWNER_NAME}:{SITE_OWNER_PASSWORD}")
    return browser


@pytest.fixture(autouse=True, scope="session")
def _requests_time_out():
    """No ``requests`` call in a test waits for ever (see default_timeout.py)."""
    import default_timeout

    with pytest.MonkeyPatch.context() as patch:
        default_timeout.install(patch)
        yield


@pytest.fixture
def fake_media_server(mail_portal):
    """A stand-in for the media server's HTTP side: what Plone posts to it, as
    ``(path, json)``, in the list this yields."""
    from http.server import BaseHTTPRequestHandler
    from http.server import ThreadingHTTPServer
    from plone import api

    import json
    import threading
    import transaction

    received = []

    class MediaServer(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), MediaServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api.portal.set_registry_record(
        "prorenata.videomote.media_server_url", f"ws://127.0.0.1:{server.server_port}/ws"
    )
    transaction.commit()
    try:
        yield received
    finally:
        server.shutdown()
