"""Whoever loses the right to be in a meeting leaves its room: the real media server, the
functional layer's Plone over HTTP, and three synthetic aiortc peers (DTLS-SRTP, VP8) in
one room. One of them loses the right in Plone (an extra participant removed with a REST
PATCH; a staff member whose access to the record is taken away through ``@sharing``):
their connection closes with the reason their page shows, their old token, a reconnect
and a fresh token are refused, and the other two keep exchanging media."""

from datetime import datetime
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import booking_json
from factories import session_as
from factories import start_room
from mediaserver import until
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.access.leave_room import check_started_meetings
from prorenata.videomote.access.revocation import CLOCK_SLACK_SECONDS
from prorenata.videomote.audit import log
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.server import make_app
from prorenata.videomote.media.synthetic import SyntheticPeer
from prorenata.videomote.media.synthetic import encoded_clip
from prorenata.videomote.notify.sms import sms_outbox
from zoneinfo import ZoneInfo

import aiohttp
import asyncio
import html
import json
import pytest
import re
import requests
import threading
import time
import transaction

pytestmark = pytest.mark.slow

SECRET = "media-secret-for-removal-tests"
CLIP = encoded_clip(30)
TOLK = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}


class MediaThread:
    """The real media server on 127.0.0.1 in an event loop of its own thread; the peers
    run in that loop too (``run``), while the test thread drives Plone."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner = None
        self.port = 0
        self.peers: list[SyntheticPeer] = []

    def start(self):
        self.thread.start()
        self.run(self._start())

    async def _start(self):
        app = make_app(SECRET.encode(), MediaConfig(ice_addresses=("127.0.0.1",)))
        self.runner = aiohttp.web.AppRunner(app)
        await self.runner.setup()
        site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def run(self, coroutine, seconds: float = 30):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(seconds)

    def stop(self):
        async def leave():
            for peer in self.peers:
                await peer.leave()

        self.run(leave())
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def media(mail_portal, monkeypatch):
    monkeypatch.setenv("VIDEOMOTE_MEDIA_SECRET", SECRET)
    server = MediaThread()
    server.start()
    api.portal.set_registry_record("prorenata.videomote.media_server_url", server.url)
    transaction.commit()
    yield server
    server.stop()


@pytest.fixture
def clinic(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder)
    alva = add_student(folder)
    # Tove has access to Alva's record only, given on the record itself.
    add_staff("tove", "Tove Kurator", access_to=alva)
    transaction.commit()
    return {"url": mail_portal.absolute_url(), "alva": alva, "portal": mail_portal}


def _meeting_under_way(clinic, **changes) -> dict:
    """A meeting in five minutes (inside the join window), booked over REST and started
    by Sara."""
    start = datetime.now(ZoneInfo("Europe/Stockholm")).replace(tzinfo=None, second=0)
    start += timedelta(minutes=5)
    body = booking_json(clinic["alva"].UID(), start.date().isoformat(), **changes)
    body.update(
        start=start.isoformat(timespec="minutes"),
        end=(start + timedelta(minutes=30)).isoformat(timespec="minutes"),
    )
    response = session_as("sara", json=True).post(f"{clinic['url']}/@videomote-meetings", json=body)
    assert response.status_code == 201, response.text
    meeting = response.json()
    start_room(session_as("sara"), meeting["@id"])
    return meeting


def _code(message) -> str:
    return re.search(r"möteskoden: (\S+)", message.get_body(("plain",)).get_content()).group(1)


def _participant_in_room(clinic, code: str) -> tuple[requests.Session, str]:
    """Sign in with the meeting code and the SMS code, open the room: (browser, token)."""
    browser = requests.Session()
    entered = browser.post(f"{clinic['url']}/videomote", data={"code": code})
    assert entered.url.endswith("/videomote/logga-in"), entered.text[:300]
    browser.post(f"{clinic['url']}/videomote/logga-in", data={"send_code": "1"})
    transaction.begin()
    sms = list(sms_outbox(clinic["portal"]))[-1]["text"][-6:]
    done = browser.post(
        f"{clinic['url']}/videomote/logga-in", data={"continue": "1", "one_time_code": sms}
    )
    assert done.url.endswith("/videomote/vantrum"), done.text[:300]
    return browser, _token(browser.get(f"{clinic['url']}/videomote/rum").text)


def _staff_in_room(meeting: dict, user: str) -> tuple[requests.Session, str]:
    staff = session_as(user)
    return staff, _token(staff.get(f"{meeting['@id']}/@@videomote-rum").text)


def _token(page: str) -> str:
    return re.search(r'data-join-token="([^"]+)"', page).group(1)


def _texts(page: str) -> dict:
    """The room's texts for room.js (the page's own script has texts of its own)."""
    texts = {}
    for raw in re.findall(r'data-texts="([^"]+)"', page):
        texts.update(json.loads(html.unescape(raw)))
    return texts


def _peer(media, meeting_uid, token, name) -> SyntheticPeer:
    peer = SyntheticPeer(media.url, meeting_uid, token, CLIP)
    peer.name = name
    media.peers.append(peer)
    return peer


def _frames_from(peer: SyntheticPeer, first_name: str) -> int:
    """Video frames ``peer`` received in the slot of the person whose shown name (full
    name, an extra participant's with their role) starts with ``first_name``."""
    return sum(
        peer.frames.get(slot["video"], 0)
        for slot in peer.slots
        if slot["name"].split()[0] == first_name
    )


def _three_in_the_room(media, meeting_uid, people: dict) -> dict:
    """``people``: name → token; all join and see each other's video."""
    peers = {name: _peer(media, meeting_uid, token, name) for name, token in people.items()}

    async def join():
        for peer in peers.values():
            await peer.join()
        for peer in peers.values():
            others = [name for name in peers if name != peer.name]
            await until(
                lambda peer=peer, others=others: all(_frames_from(peer, n) >= 10 for n in others),
                what=f"{peer.name} sees {others}",
            )

    media.run(join(), 60)
    return peers


def _removed_and_others_go_on(media, peers: dict, gone: str) -> None:
    """``gone``'s connection closes with "removed" and 4411 within seconds; the other
    two still receive each other's video and sound afterwards."""
    staying = [peer for name, peer in peers.items() if name != gone]

    async def check():
        removed = peers[gone]
        await until(lambda: removed.socket.closed, seconds=10, what=f"{gone} closed")
        assert removed.socket.close_code == 4411
        assert {"type": "removed", "reason": removed.expected_reason} in removed.events
        before = {p.name: (p.total_frames(), sum(p.audio_packets.values())) for p in staying}
        for peer in staying:
            other = next(p.name for p in staying if p is not peer)
            await until(
                lambda peer=peer, other=other: (
                    _frames_from(peer, other) >= 10
                    and peer.total_frames() >= before[peer.name][0] + 20
                    and sum(peer.audio_packets.values()) >= before[peer.name][1] + 20
                ),
                what=f"{peer.name} keeps receiving {other}",
            )
            assert not peer.socket.closed
            assert gone not in [slot["name"].split()[0] for slot in peer.slots]

    media.run(check(), 40)


def _old_token_refused(media, meeting_uid: str, token: str) -> None:
    async def rejoin():
        async with aiohttp.ClientSession() as session:
            socket = await session.ws_connect(media.url)
            await socket.send_json({"type": "join", "meeting": meeting_uid, "token": token})
            first = await socket.receive(timeout=5)
            closing = await socket.receive(timeout=5)
            await socket.close()
            return json.loads(first.data), closing.type, socket.close_code

    message, kind, code = media.run(rejoin())
    assert message["type"] == "removed"
    assert kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert code == 4411


def test_an_extra_participant_removed_over_rest_leaves_the_room_and_cannot_come_back(
    clinic, media, smtp_sink
):
    meeting = _meeting_under_way(clinic, contact_choice="guardian", extra_participants=[TOLK])
    mails = {m["To"].addresses[0].addr_spec: m for m in smtp_sink.wait_for(2)}
    _sara, sara_token = _staff_in_room(meeting, "sara")
    _anna, anna_token = _participant_in_room(clinic, _code(mails["anna@example.se"]))
    tolk, tolk_token = _participant_in_room(clinic, _code(mails["tina@tolk.se"]))
    page = tolk.get(f"{clinic['url']}/videomote/rum").text
    assert _texts(page)["removed"] == "Du har tagits bort från mötet."
    peers = _three_in_the_room(
        media, meeting["UID"], {"Sara": sara_token, "Anna": anna_token, "Tina": tolk_token}
    )
    peers["Tina"].expected_reason = "removed"

    patched = session_as("sara", json=True).patch(
        f"{meeting['@id']}/@videomote-meeting", json={"extra_participants": []}
    )
    assert patched.status_code == 200, patched.text

    _removed_and_others_go_on(media, peers, "Tina")
    # Her old token (still unexpired), a reconnect's fresh token and the room are refused.
    _old_token_refused(media, meeting["UID"], tolk_token)
    fresh = tolk.post(f"{clinic['url']}/videomote/rum-token")
    assert fresh.status_code == 401
    assert tolk.get(f"{clinic['url']}/videomote/rum").url.endswith("/videomote/vantrum")
    transaction.begin()
    entries = audit_log(clinic["portal"]).query(meeting_uid=meeting["UID"])
    removed = [e for e in entries if e.action == log.REMOVED_FROM_ROOM]
    assert [(e.actor, e.detail) for e in removed] == [
        ("sara", "person=Tina Tolk, person_role=tolk, reason=removed")
    ]


def test_staff_who_lose_access_to_the_record_leave_the_room_and_cannot_come_back(
    clinic, media, smtp_sink
):
    meeting = _meeting_under_way(clinic, contact_choice="guardian")
    (mail,) = smtp_sink.wait_for(1)
    _sara, sara_token = _staff_in_room(meeting, "sara")
    tove, tove_token = _staff_in_room(meeting, "tove")
    _anna, anna_token = _participant_in_room(clinic, _code(mail))
    page = tove.get(f"{meeting['@id']}/@@videomote-rum").text
    assert _texts(page)["removed"] == (
        "Du har inte längre behörighet till mötet och har lämnat det."
    )
    csrf = re.search(r'data-csrf="([^"]+)"', page).group(1)
    peers = _three_in_the_room(
        media, meeting["UID"], {"Sara": sara_token, "Tove": tove_token, "Anna": anna_token}
    )
    peers["Tove"].expected_reason = "access"

    # An administrator takes Tove's roles on Alva's record away (plone.restapi @sharing).
    admin = requests.Session()
    admin.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    admin.headers["Accept"] = "application/json"
    roles = {"Reader": False, "Contributor": False, "Editor": False}
    shared = admin.post(
        f"{clinic['alva'].absolute_url()}/@sharing",
        json={"entries": [{"id": "tove", "type": "user", "roles": roles}]},
    )
    assert shared.status_code == 204, shared.text

    _removed_and_others_go_on(media, peers, "Tove")
    _old_token_refused(media, meeting["UID"], tove_token)
    # A reconnect's fresh token and the meeting itself are refused (Plone's login page).
    fresh = tove.post(
        f"{meeting['@id']}/@@videomote-rum-token",
        headers={"X-CSRF-TOKEN": csrf},
        allow_redirects=False,
    )
    assert fresh.status_code in (302, 401, 403) and "token" not in fresh.text
    read = session_as("tove", json=True).get(f"{meeting['@id']}/@videomote-meeting")
    assert read.status_code in (401, 403)
    transaction.begin()
    entries = audit_log(clinic["portal"]).query(meeting_uid=meeting["UID"])
    removed = [e for e in entries if e.action == log.REMOVED_FROM_ROOM]
    assert [(e.actor, e.detail) for e in removed] == [(SITE_OWNER_NAME, "reason=access, user=tove")]


def test_a_staff_member_given_access_again_may_enter_again(clinic, media, smtp_sink):
    """Refusal is by when a token was issued: a token issued after access came back works."""
    meeting = _meeting_under_way(clinic, contact_choice="guardian")
    _tove, tove_token = _staff_in_room(meeting, "tove")
    peers = {"Tove": _peer(media, meeting["UID"], tove_token, "Tove")}
    media.run(peers["Tove"].join())
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        alva = clinic["alva"]
        api.user.revoke_roles(username="tove", obj=alva, roles=["Reader", "Contributor", "Editor"])
    # Without an event (a direct API call): the visit timer's round notices.
    transaction.commit()
    assert check_started_meetings() == 1
    transaction.commit()
    media.run(until(lambda: peers["Tove"].socket.closed, 10, "Tove closed"))
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.grant_roles(username="tove", obj=alva, roles=["Reader"])
    transaction.commit()
    time.sleep(CLOCK_SLACK_SECONDS + 0.1)  # what another Zope instance's clock may differ
    _again, token = _staff_in_room(meeting, "tove")
    assert token != tove_token
    peers["again"] = _peer(media, meeting["UID"], token, "Tove")
    media.run(peers["again"].join())
    assert not peers["again"].socket.closed
