"""The media server's signalling and chat, over real WebSockets on loopback."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from mediaserver import join_socket
from mediaserver import receive
from mediaserver import run_server
from prorenata.videomote.access.jointoken import issue_control_token
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media.server import CLOSE_BAD_TOKEN
from prorenata.videomote.media.server import CLOSE_ENDED
from prorenata.videomote.media.server import CLOSE_FLOOD
from prorenata.videomote.media.server import CLOSE_PROTOCOL
from prorenata.videomote.media.server import CLOSE_REPLACED
from prorenata.videomote.media.server import CLOSE_ROOM_FULL
from prorenata.videomote.media.server import PER_10_SECONDS

import aiohttp
import asyncio
import pytest
import subprocess
import sys

SECRET = b"media-secret-for-tests"
MEETING = "meeting-uid-1"


def run(scenario):
    run_server(scenario, SECRET)


async def join(session, url, role="participant", name="Anna", meeting=MEETING, token=None):
    return await join_socket(session, url, meeting, SECRET, role, name, token)


def test_two_people_see_each_other_and_chat_round_trips():
    async def scenario(session, url):
        staff = await join(session, url, "staff", "Sara")
        assert (await receive(staff, "welcome"))["people"] == []
        anna = await join(session, url)
        people = (await receive(anna, "welcome"))["people"]
        assert [(p["name"], p["role"]) for p in people] == [("Sara", "staff")]
        assert (await receive(staff, "joined"))["name"] == "Anna"
        await anna.send_json({"type": "chat", "text": "Hej! <b>hallå</b>\x07"})
        got = await receive(staff, "chat")
        assert (got["from"], got["role"], got["text"]) == (
            "Anna",
            "participant",
            "Hej! <b>hallå</b>",
        )
        await anna.send_json({"type": "muted", "on": True})
        assert (await receive(staff, "muted"))["on"] is True
        await anna.close()
        assert (await receive(staff, "left"))["name"] == "Anna"

    run(scenario)


def test_invalid_expired_or_foreign_tokens_are_refused():
    async def scenario(session, url):
        past = datetime.now(UTC) - timedelta(minutes=5)
        cases = [
            "not-a-token",
            issue_join_token(MEETING, "participant", "Anna", b"other-secret"),
            issue_join_token(MEETING, "participant", "Anna", SECRET, now=past),
            issue_join_token("another-meeting", "participant", "Anna", SECRET),
        ]
        for token in cases:
            socket = await join(session, url, token=token)
            message = await socket.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.CLOSE
            assert socket.close_code == CLOSE_BAD_TOKEN

    run(scenario)


def test_join_must_come_first_and_malformed_json_gets_an_error():
    async def scenario(session, url):
        for first in ("{not json", "[]", '"join"'):
            socket = await session.ws_connect(url)
            await socket.send_str(first)
            await socket.receive(timeout=5)
            assert socket.close_code == CLOSE_PROTOCOL, first
        anna = await join(session, url)
        await receive(anna, "welcome")
        await anna.send_str("{not json")
        assert (await receive(anna, "error"))["reason"] == "malformed"
        await anna.send_json({"type": "chat", "text": "still here"})
        assert (await receive(anna, "chat"))["text"] == "still here"

    run(scenario)


def test_json_nested_too_deep_is_malformed_like_any_other(caplog):
    """``[[[[…`` within the message size makes the parser give up (RecursionError): the
    same answers as other bad JSON, on the socket and on Plone's endpoints, and no
    traceback in the log."""
    deep = "[" * 60000

    async def scenario(session, url):
        socket = await session.ws_connect(url)
        await socket.send_str(deep)
        await socket.receive(timeout=5)
        assert socket.close_code == CLOSE_PROTOCOL
        anna = await join(session, url)
        await receive(anna, "welcome")
        await anna.send_str(deep)
        assert (await receive(anna, "error"))["reason"] == "malformed"
        await anna.send_json({"type": "chat", "text": "still here"})
        assert (await receive(anna, "chat"))["text"] == "still here"
        base = url.replace("ws://", "http://").rsplit("/ws", 1)[0]
        for endpoint in ("/end", "/move", "/remove"):
            answer = await session.post(base + endpoint, data=deep)
            assert (answer.status, await answer.json()) == (400, {"error": "malformed"})

    with caplog.at_level("ERROR"):
        run(scenario)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_fifth_person_is_refused_and_the_room_keeps_running():
    async def scenario(session, url):
        people = [await join(session, url, name=f"P{i}") for i in range(4)]
        for person in people:
            await receive(person, "welcome")
        fifth = await join(session, url, name="P5")
        await fifth.receive(timeout=5)
        assert fifth.close_code == CLOSE_ROOM_FULL
        await people[0].send_json({"type": "chat", "text": "vi är fyra"})
        assert (await receive(people[3], "chat"))["text"] == "vi är fyra"

    run(scenario)


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (30, {"type": "chat", "text": "spam"}),
        (10, {"type": "offer", "sdp": "v=0"}),  # each offer would make a peer connection
        (80, {"type": "muted", "on": True}),
    ],
    ids=["chat", "offers", "mute toggles"],
)
def test_flooding_closes_only_the_flooder(count, message):
    async def scenario(session, url):
        staff = await join(session, url, "staff", "Sara")
        await receive(staff, "welcome")
        flooder = await join(session, url)
        await receive(flooder, "welcome")
        for _ in range(count):
            if flooder.closed:
                break
            await flooder.send_json(message)
        while not flooder.closed:
            await flooder.receive(timeout=5)
        assert flooder.close_code == CLOSE_FLOOD
        await staff.send_json({"type": "chat", "text": "lugnt nu"})
        while (await receive(staff, "chat"))["text"] != "lugnt nu":
            pass  # the flood that got through before the limit

    run(scenario)


def test_chat_is_cut_at_the_maximum_length():
    async def scenario(session, url):
        anna = await join(session, url)
        await receive(anna, "welcome")
        await anna.send_json({"type": "chat", "text": "x" * 5000})
        assert len((await receive(anna, "chat"))["text"]) == 1000

    run(scenario)


async def staff_and_anna(session, url):
    """Sara (staff) and Anna (participant) in the room, both welcomed."""
    staff = await join(session, url, "staff", "Sara")
    anna = await join(session, url)
    await receive(staff, "welcome")
    await receive(anna, "welcome")
    return staff, anna


def test_staff_ending_closes_the_room_for_everyone_and_participants_cannot():
    async def scenario(session, url):
        staff, anna = await staff_and_anna(session, url)
        await anna.send_json({"type": "end"})
        assert (await receive(anna, "error"))["reason"] == "unknown type"
        await staff.send_json({"type": "end"})
        assert (await receive(anna, "ended"))["type"] == "ended"
        closed = await receive(anna, "no more messages: the close")  # not left open
        assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, CLOSE_ENDED)
        again = await join(session, url, "staff", "Sara")
        await again.receive(timeout=5)
        assert again.close_code == CLOSE_ENDED

    run(scenario)


def test_media_server_imports_nothing_from_the_zope_application_server():
    code = (
        "import sys, prorenata.videomote.media.server as s;"
        "bad=[m for m in sys.modules if m.split('.')[0] in "
        "('Zope2','OFS','Products','plone','App','ZPublisher','zope.component')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plone_ending_the_meeting_ends_the_room_with_its_own_signed_call_only():
    """ "Avsluta mötet" in Plone while the staff page's own connection was down. The join
    tokens pages hold (staff's too: they may have lost access since) end nothing, nor
    does Plone's call for another action."""

    async def scenario(session, url):
        staff, anna = await staff_and_anna(session, url)
        end = url.replace("ws://", "http://").replace("/ws", "/end")
        for token in (
            issue_join_token(MEETING, "participant", "Anna", SECRET),
            issue_join_token(MEETING, "staff", "Sara", SECRET),
            issue_control_token(MEETING, "move", SECRET),
        ):
            refused = await session.post(end, json={"meeting": MEETING, "token": token})
            assert refused.status == 403
        assert (await session.post(end, json=[])).status == 400
        plone = issue_control_token(MEETING, "end", SECRET)
        ended = await session.post(end, json={"meeting": MEETING, "token": plone})
        assert ended.status == 200

        async def ends(socket):
            assert (await receive(socket, "ended"))["type"] == "ended"
            return (await receive(socket, "no more messages: the close")).data  # its code

        assert await asyncio.gather(ends(anna), ends(staff)) == [CLOSE_ENDED, CLOSE_ENDED]
        again = await join(session, url)
        await again.receive(timeout=5)
        assert again.close_code == CLOSE_ENDED

    run(scenario)


def test_two_staff_with_the_same_name_are_both_in_the_room_and_each_replaces_only_self():
    async def scenario(session, url):
        def token(who):
            return issue_join_token(MEETING, "staff", "Anna Svensson", SECRET, who=who)

        first = await join(session, url, token=token("user-1"))
        await receive(first, "welcome")
        second = await join(session, url, token=token("user-2"))
        welcome = await receive(second, "welcome")
        assert [p["name"] for p in welcome["people"]] == ["Anna Svensson"]  # both stay
        again = await join(session, url, token=token("user-1"))  # the first comes back
        assert len((await receive(again, "welcome"))["people"]) == 1
        closed = await receive(first, "no more messages: the close")
        assert closed.data == CLOSE_REPLACED
        await second.send_json({"type": "chat", "text": "still here"})
        assert (await receive(second, "chat"))["text"] == "still here"

    run(scenario)


def test_reconnecting_with_the_same_token_does_not_reset_the_chat_limit():
    """The limits are per person and room, not per connection: three connections with
    one join token, twenty lines each, get twenty lines through, not sixty."""

    async def scenario(session, url):
        staff = await join(session, url, "staff", "Sara")
        await receive(staff, "welcome")
        token = issue_join_token(MEETING, "participant", "Anna", SECRET, who="invitee")
        closes = []
        for round_ in range(3):
            flooder = await join(session, url, token=token)
            await receive(flooder, "welcome")
            for line in range(20):
                if flooder.closed:
                    break
                await flooder.send_json({"type": "chat", "text": f"{round_}-{line}"})
            await flooder.send_json({"type": "chat", "text": "sista"})
            while not flooder.closed:
                await flooder.receive(timeout=5)
            closes.append(flooder.close_code)
        assert closes == [CLOSE_FLOOD] * 3
        await staff.send_json({"type": "chat", "text": "lugnt nu"})
        lines = []
        while (text := (await receive(staff, "chat"))["text"]) != "lugnt nu":
            lines.append(text)
        assert len(lines) == PER_10_SECONDS["chat"]

    run(scenario)


def test_a_moved_meeting_ends_the_old_times_room_and_opens_the_new_one():
    """Plone ends the room of the old time ("moved"); tokens for the new time enter a
    room of their own, which the ended one does not block."""

    async def scenario(session, url):
        staff, anna = await staff_and_anna(session, url)
        end = url.replace("ws://", "http://").replace("/ws", "/end")
        plone = issue_control_token(MEETING, "end", SECRET, reason="moved")
        moved = await session.post(end, json={"meeting": MEETING, "token": plone})
        assert moved.status == 200
        assert (await receive(anna, "ended")) == {"type": "ended", "reason": "moved"}
        old = await join(session, url)  # a token for the old time
        await old.receive(timeout=5)
        assert old.close_code == CLOSE_ENDED
        new_time = issue_join_token(MEETING, "participant", "Anna", SECRET, generation=1)
        again = await join(session, url, token=new_time)
        assert (await receive(again, "welcome"))["people"] == []

    run(scenario)


def load(answer: dict) -> dict:
    """What /health says about load (it says more: ``media``, test_media_plane_health)."""
    return {key: answer[key] for key in ("ok", "rooms", "people")}


def test_health_counts_open_rooms_and_the_people_in_them():
    async def health(session, url):
        async with session.get(url.rsplit("/", 1)[0] + "/health") as response:
            assert response.headers["Cache-Control"] == "no-store"
            return await response.json()

    async def scenario(session, url):
        assert load(await health(session, url)) == {"ok": True, "rooms": 0, "people": 0}
        staff = await join(session, url, "staff", "Sara")
        await receive(staff, "welcome")
        anna = await join(session, url)
        await receive(anna, "welcome")
        other = await join(session, url, "staff", "Sven", meeting="meeting-uid-2")
        await receive(other, "welcome")
        assert load(await health(session, url)) == {"ok": True, "rooms": 2, "people": 3}
        await other.close()
        for _ in range(50):  # the server notices the close
            if (await health(session, url))["rooms"] == 1:
                break
            await asyncio.sleep(0.1)
        assert load(await health(session, url)) == {"ok": True, "rooms": 1, "people": 2}

    run(scenario)
