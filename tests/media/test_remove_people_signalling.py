"""The media server's ``/remove``: Plone, with a signed call of its own, takes people out of
a room; their connections close with the reason, their tokens up to then are refused, the
others stay (signalling only; media: test_removal_from_room.py)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from mediaserver import run_server
from prorenata.videomote.access.jointoken import issue_control_token
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.revocation import CLOCK_SLACK_SECONDS

import aiohttp
import json
import time

SECRET = b"media-secret-for-tests"
MEETING = "meeting-uid-remove"


def _token(role, name, who, now=None, generation=0):
    return issue_join_token(MEETING, role, name, SECRET, now=now, who=who, generation=generation)


async def _join(session, url, token):
    socket = await session.ws_connect(url)
    await socket.send_json({"type": "join", "meeting": MEETING, "token": token})
    first = json.loads((await socket.receive(timeout=5)).data)
    return socket, first


def _base(url):
    return url.rsplit("/ws", 1)[0]


async def _remove(session, url, who, before=None, reason="removed", token=None, generation=0):
    details = {"who": who, "before": time.time() if before is None else before, "reason": reason}
    plone = issue_control_token(MEETING, "remove", SECRET, generation, **details)
    body = {"meeting": MEETING, "token": token or plone}
    async with session.post(_base(url) + "/remove", json=body) as response:
        return response.status, await response.json()


async def _messages_until_closed(socket):
    """The text messages until the server's close frame, and the code in that frame."""
    seen = []
    for _ in range(100):
        message = await socket.receive(timeout=5)
        if message.type != aiohttp.WSMsgType.TEXT:
            return seen, message.data if message.type == aiohttp.WSMsgType.CLOSE else None
        seen.append(json.loads(message.data))
    raise AssertionError("not closed")


def test_a_removed_person_is_closed_with_the_reason_and_the_others_stay():
    async def scenario(session, url):
        staff, _ = await _join(session, url, _token("staff", "Sara", "s-hash"))
        anna, _ = await _join(session, url, _token("participant", "Anna", "invitee"))
        old = _token("participant", "Tina", "p-1")
        tina, _ = await _join(session, url, old)
        status, answer = await _remove(session, url, ["p-1"])
        assert (status, answer) == (200, {"removed": 1})
        seen, code = await _messages_until_closed(tina)
        assert {"type": "removed", "reason": "removed"} in seen and code == 4411
        # The others are told she left, and stay.
        for socket in (staff, anna):
            while True:
                message = json.loads((await socket.receive(timeout=5)).data)
                if message["type"] == "left":
                    assert message["name"] == "Tina"
                    break
            assert not socket.closed
        await staff.send_json({"type": "chat", "text": "Hej"})
        assert json.loads((await anna.receive(timeout=5)).data)["text"] == "Hej"
        # Her token issued before the removal is refused, also by a fresh connection.
        again, first = await _join(session, url, old)
        assert first == {"type": "removed", "reason": "removed"}
        assert await _messages_until_closed(again) == ([], 4411)
        # Someone else with the same generation of tokens is not.
        other, first = await _join(session, url, _token("participant", "Anna", "invitee"))
        assert first["type"] == "welcome"
        for socket in (staff, anna, other):
            await socket.close()

    run_server(scenario, SECRET)


def test_a_token_issued_after_the_removal_is_let_in():
    """Staff given access again get a new token from Plone: it works."""

    async def scenario(session, url):
        removed_at = time.time()
        await _remove(session, url, ["s-tove"], before=removed_at, reason="access")
        before = datetime.fromtimestamp(removed_at - 1, UTC)
        socket, first = await _join(session, url, _token("staff", "Tove", "s-tove", now=before))
        assert first == {"type": "removed", "reason": "access"}
        slack = timedelta(seconds=CLOCK_SLACK_SECONDS + 0.1)
        later = datetime.fromtimestamp(removed_at, UTC) + slack
        socket, first = await _join(session, url, _token("staff", "Tove", "s-tove", now=later))
        assert first["type"] == "welcome"
        await socket.close()

    run_server(scenario, SECRET)


def test_only_plones_own_signed_call_for_the_room_may_remove_people():
    """Not a page's join token: staff who lost access to the record (their token still
    valid for two minutes) must not take the family out; nor Plone's call for another
    action."""

    async def scenario(session, url):
        anna, _ = await _join(session, url, _token("participant", "Anna", "invitee"))
        for token in (
            _token("participant", "Anna", "invitee"),
            _token("staff", "Sara", "s-hash"),
            issue_control_token(MEETING, "end", SECRET),
            "forged.token",
        ):
            assert (await _remove(session, url, ["invitee"], token=token))[0] == 403
        assert (await _remove(session, url, []))[0] == 400
        for before in ("soon", 10**400, float("nan"), float("inf")):  # none a time
            assert (await _remove(session, url, ["invitee"], before=before))[0] == 400
        async with session.post(_base(url) + "/remove", data=b"[1") as response:
            assert response.status == 400
        # Another time's room (a moved meeting) is another room: nobody here is touched.
        assert await _remove(session, url, ["invitee"], generation=2) == (200, {"removed": 0})
        await anna.send_json({"type": "chat", "text": "kvar"})
        assert json.loads((await anna.receive(timeout=5)).data)["text"] == "kvar"
        await anna.close()

    run_server(scenario, SECRET)
