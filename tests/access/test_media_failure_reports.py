"""Pages reporting that their media failed on a node (the token request's JSON body):
one person's report keeps the meeting where it is (retry through TURN), two people's
move it once, audited, and the old node is told to send the room's pages on; a node
whose own health says its media fails is left at the next token request.

Two small HTTP servers on 127.0.0.1 stand in for the nodes' ``/health`` and ``/move``
(the real media server's are in tests/media/test_media_plane_health.py)."""

from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import book
from factories import session_as
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from plone import api
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.content.meeting import STATE_STARTED
from test_leave_and_rejoin import signed_in
from zope.annotation.interfaces import IAnnotations

import json
import pytest
import re
import threading
import transaction


class FakeNode:
    """A node's ``/health`` (``media_failing`` as it says) and the ``/move`` calls."""

    def __init__(self):
        self.media_failing = False
        self.moves: list[str] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's API
                body = {"ok": True, "rooms": 0, "people": 0}
                body["media"] = {"failing": node.media_failing}
                self._answer(body)

            def do_POST(self):  # noqa: N802
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                node.moves.append(data["meeting"])
                self._answer({"moved": True})

            def _answer(self, body):
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"ws://127.0.0.1:{self.server.server_address[1]}/ws"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def nodes(mail_portal):
    found = [FakeNode(), FakeNode()]
    api.portal.set_registry_record("prorenata.videomote.media_server_url", "ws://127.0.0.1:9/ws")
    api.portal.set_registry_record("prorenata.videomote.media_nodes", [n.url for n in found])
    transaction.commit()
    yield found
    for node in found:
        node.close()


@pytest.fixture
def meeting(mail_portal, smtp_sink):
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    add_staff("tim", "Tim Tolk", access_to=folder)
    patient = add_student(folder, guardians=[])
    transaction.commit()
    booked = book(patient, 10, organiser="sara")
    text = smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()
    transaction.begin()
    booked.state = STATE_STARTED
    transaction.commit()
    booked.code = re.search(r"möteskoden: (\S+)", text).group(1)
    return booked


def staff_token(user: str, meeting, failed: str | None):
    session = session_as(user)
    page = session.get(f"{meeting.absolute_url()}/@@videomote-rum")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)
    return session.post(
        f"{meeting.absolute_url()}/@@videomote-rum-token",
        headers={"X-CSRF-TOKEN": csrf, "Content-Type": "application/json"},
        data=json.dumps({"failed": failed} if failed else {}),
    )


def participant_token(browser, portal, failed: str | None):
    base = f"{portal.absolute_url()}/videomote"
    assert 'id="vm-room"' in browser.get(f"{base}/rum").text
    return browser.post(
        f"{base}/rum-token",
        headers={"Content-Type": "application/json"},
        data=json.dumps({"failed": failed} if failed else {}),
    )


def node_changes(portal, meeting) -> list[str]:
    transaction.begin()
    entries = audit_log(portal).query(meeting_uid=meeting.UID())
    return [e.detail for e in entries if e.action == audit.MEDIA_NODE_CHANGED]


def placed(meeting) -> str:
    transaction.begin()
    return meeting.media_node


def test_one_persons_failed_media_keeps_the_meeting_and_asks_for_turn(mail_portal, nodes, meeting):
    a, b = nodes
    guardian = signed_in(mail_portal, meeting.code)
    answer = participant_token(guardian, mail_portal, a.url)
    assert answer.status_code == 200
    assert (answer.json()["server"], answer.json()["relay"]) == (a.url, True)
    # The same person again and again is still one person: the meeting stays.
    again = participant_token(guardian, mail_portal, a.url)
    assert again.json()["server"] == a.url
    assert placed(meeting) == a.url  # placed by the room page (least loaded, first)
    assert node_changes(mail_portal, meeting) == []
    assert a.moves == []


def test_media_failing_for_two_people_of_the_meeting_moves_it_once(mail_portal, nodes, meeting):
    a, b = nodes
    guardian = signed_in(mail_portal, meeting.code)
    assert participant_token(guardian, mail_portal, a.url).json()["server"] == a.url

    answer = staff_token("sara", meeting, a.url)
    assert answer.status_code == 200
    assert answer.json()["server"] == b.url
    assert "relay" not in answer.json()
    assert placed(meeting) == b.url
    assert a.moves == [meeting.UID()]  # A sends the pages still there on to B
    assert node_changes(mail_portal, meeting) == [
        f"from_node={a.url}, reason=media_failed, to_node={b.url}"
    ]
    # The guardian's page, still on A, reports A again: it is told B, nothing moves.
    late = participant_token(guardian, mail_portal, a.url)
    assert (late.json()["server"], late.json().get("relay")) == (b.url, None)
    # B failing too, for both, within minutes: no hopping back (bounded).
    participant_token(guardian, mail_portal, b.url)
    assert staff_token("sara", meeting, b.url).json()["server"] == b.url
    assert len(node_changes(mail_portal, meeting)) == 1


def test_a_node_whose_health_says_its_media_fails_is_left_at_the_next_token(
    mail_portal, nodes, meeting
):
    a, b = nodes
    staff_token("sara", meeting, None)
    assert placed(meeting) == a.url
    a.media_failing = True
    assert staff_token("tim", meeting, None).json()["server"] == b.url
    assert placed(meeting) == b.url
    assert a.moves == [meeting.UID()]
    assert node_changes(mail_portal, meeting) == [
        f"from_node={a.url}, reason=media_failed, to_node={b.url}"
    ]


def test_a_report_of_a_node_not_configured_is_ignored(mail_portal, nodes, meeting):
    a, b = nodes
    staff_token("sara", meeting, None)
    answer = staff_token("sara", meeting, "ws://127.0.0.1:1/ws")
    assert (answer.json()["server"], answer.json().get("relay")) == (a.url, None)
    transaction.begin()
    assert "prorenata.videomote.media_failures" not in IAnnotations(mail_portal)


def test_with_one_media_server_a_failure_is_retried_there_through_turn(mail_portal, meeting):
    node = FakeNode()
    try:
        api.portal.set_registry_record("prorenata.videomote.media_server_url", node.url)
        transaction.commit()
        answer = staff_token("sara", meeting, node.url)
        assert (answer.json()["server"], answer.json()["relay"]) == (node.url, True)
        assert node_changes(mail_portal, meeting) == []
    finally:
        node.close()
