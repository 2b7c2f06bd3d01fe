"""Security headers on every page and service of the add-on (issue #13, item 11)."""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from html.parser import HTMLParser
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.browser.headers import media_origin

import pytest
import requests
import transaction

MEDIA = "wss://media.example.se:8443/ws"


@pytest.fixture
def site(mail_portal):
    api.portal.set_registry_record("prorenata.videomote.media_server_url", MEDIA)
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    transaction.commit()
    meeting = book(alva, 10, "guardian", "Samtal om hälsan", organiser="sara")
    return {"url": mail_portal.absolute_url(), "alva": alva, "meeting": meeting}


def _staff() -> requests.Session:
    return session_as("sara")


def _admin() -> requests.Session:
    session = requests.Session()
    session.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    return session


def _directives(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in policy.split(";"))
        if part
    }


def _assert_strict(response) -> None:
    csp = _directives(response)
    assert csp.get("script-src") == "'self'", (response.url, csp)
    assert csp.get("style-src") == "'self'", (response.url, csp)
    assert csp.get("default-src") == "'self'"
    assert csp.get("connect-src") == "'self' wss://media.example.se:8443"
    assert "blob:" in csp.get("media-src", "") and "mediastream:" in csp["media-src"]
    assert csp.get("frame-ancestors") == "'none'"
    assert csp.get("base-uri") == "'self'" and csp.get("form-action") == "'self'"
    assert csp.get("object-src") == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "X-Powered-By" not in response.headers


def _assert_staff(response) -> None:
    csp = _directives(response)
    assert csp.get("frame-ancestors") in ("'self'", "'none'"), (response.url, csp)
    assert response.headers.get("X-Frame-Options") in ("SAMEORIGIN", "DENY")
    assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer")
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert "X-Powered-By" not in response.headers


def test_participant_pages_send_a_strict_content_security_policy(site):
    url = site["url"]
    browser = requests.Session()
    pages = [
        browser.get(f"{url}/videomote"),
        browser.post(f"{url}/videomote", data={"code": "AAAA-BBBB-CCCC"}),
        browser.get(f"{url}/videomote/logga-in"),
        browser.get(f"{url}/videomote/vantrum"),
        browser.get(f"{url}/videomote/rum", allow_redirects=False),
        browser.get(f"{url}/videomote/status"),
        browser.post(f"{url}/videomote/rum-token"),
        browser.post(f"{url}/videomote/lamna"),
        browser.get(f"{url}/videomote/ingen-sadan-sida"),
    ]
    assert [p.status_code for p in pages] == [200, 200, 200, 200, 302, 401, 401, 200, 404]
    for page in pages:
        _assert_strict(page)


def test_the_staff_room_sends_the_same_strict_policy(site):
    room = _staff().get(f"{site['meeting'].absolute_url()}/@@videomote-rum")
    assert room.status_code == 200
    _assert_strict(room)


def test_every_other_page_and_service_of_the_addon_may_not_be_framed_or_leak_its_address(
    site,
):
    url, meeting, alva = site["url"], site["meeting"].absolute_url(), site["alva"].absolute_url()
    staff, admin = _staff(), _admin()
    json = {"Accept": "application/json"}
    answers = [
        staff.get(f"{url}/@@videomote-kalender"),
        staff.get(f"{url}/@@videomote-boka"),
        staff.get(f"{alva}/@@videomote-boka"),
        staff.get(alva),
        staff.get(meeting),
        staff.get(f"{meeting}/@@videomote-flytta"),
        staff.get(f"{meeting}/@@videomote-avboka"),
        staff.post(f"{meeting}/@@videomote-rum-token"),  # no CSRF token: refused
        staff.get(f"{url}/@@videomote-utkorg-epost"),
        staff.get(f"{url}/@@videomote-inbjudan-status?uid={site['meeting'].UID()}"),
        staff.get(f"{url}/@@videomote-kalenderkoppling"),
        staff.get(f"{url}/@videomote-meetings", headers=json),
        staff.get(f"{meeting}/@videomote-meeting", headers=json),
        staff.post(f"{url}/@videomote-meetings", headers=json, json={"title": ""}),
        admin.get(f"{url}/@@videomote-granskningslogg"),
        admin.get(f"{url}/@@videomote-sms-utkorg"),
        admin.get(f"{url}/@@videomote-controlpanel"),
        # Plone's own pages of the add-on's content show it too.
        admin.get(f"{meeting}/edit"),
        admin.get(f"{alva}/folder_contents"),
    ]
    statuses = [a.status_code for a in answers]
    assert statuses == [200] * 7 + [403] + [200] * 5 + [400] + [200] * 5, statuses
    for answer in answers:
        _assert_staff(answer)


def test_the_rest_of_the_site_keeps_addresses_on_the_site(site):
    for answer in (_staff().get(site["url"]), requests.get(f"{site['url']}/login")):
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert "X-Powered-By" not in answer.headers


class _Inline(HTMLParser):
    """Inline script, style and event handlers: what a strict policy refuses."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and not attrs.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        for name, value in attrs.items():
            if name == "style" or name.startswith("on"):
                self.found.append(f"{tag} {name}={value!r}")
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.found.append(f"{tag} {name}={value!r}")


def _inline(html: str) -> list[str]:
    parser = _Inline()
    parser.feed(html)
    return parser.found


def test_participant_pages_have_no_inline_script_or_style(site):
    url = site["url"]
    pages = [requests.get(f"{url}/videomote"), requests.get(f"{url}/videomote/logga-in")]
    for page in pages:
        assert _inline(page.text) == []


@pytest.mark.parametrize(
    ("setting", "origin"),
    [
        ("ws://localhost:8090/ws", "ws://localhost:8090"),
        ("wss://media.example.se/ws", "wss://media.example.se"),
        ("ws://[::1]:8090/ws", "ws://[::1]:8090"),
        ("", None),
        ("https://media.example.se/ws", None),
        ("ws://media.example.se; script-src *", None),
        ("ws://media.example.se:99999/ws", None),
    ],
)
def test_only_a_websocket_origin_from_the_settings_enters_the_policy(setting, origin):
    assert media_origin(setting) == origin


def test_with_several_media_nodes_the_room_may_connect_to_each_of_them(site):
    # Nothing listens there: the room page falls back to the first node.
    nodes = ["ws://127.0.0.1:9/ws", "ws://127.0.0.2:9/ws", "ws://127.0.0.1:9/ws"]
    api.portal.set_registry_record("prorenata.videomote.media_nodes", nodes)
    transaction.commit()
    room = _staff().get(f"{site['meeting'].absolute_url()}/@@videomote-rum")
    participant = requests.get(f"{site['url']}/videomote/logga-in")
    for page in (room, participant):
        assert _directives(page)["connect-src"] == "'self' ws://127.0.0.1:9 ws://127.0.0.2:9"
