"""The media server contacts no STUN/TURN server but the configured ones (none by default).

aiortc falls back to a public Google STUN server unless ``iceServers`` is set. The server
runs here in a process of its own with a Python audit hook that writes down every address
it resolves, connects to or sends a datagram to, while two synthetic peers exchange media.
Which addresses are contacted is decided by aiortc/aioice above the event loop; the loop
only carries the sends out. uvloop sends from C, where no audit event is raised, so here the
server runs on asyncio's own loop (VIDEOMOTE_MEDIA_UVLOOP=off).
"""

from as_make_run import media_settings_for_tests
from mediaserver import run_in_thread
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.media.config import MediaConfig
from prorenata.videomote.media.synthetic import SyntheticPeer
from prorenata.videomote.media.synthetic import encoded_clip
from prorenata.videomote.media.synthetic import free_port
from prorenata.videomote.media.synthetic import start_server_process

import asyncio
import json
import pytest
import socket
import sys
import textwrap
import time

pytestmark = pytest.mark.slow

SECRET = "media-secret-for-tests"
MEETING = "meeting-uid-ice"

AUDITED_SERVER = textwrap.dedent(
    """
    import json, sys
    log = open(sys.argv[1], "a")
    def hook(event, args):
        try:
            if event == "socket.getaddrinfo":
                log.write(json.dumps([event, str(args[0]), args[1]]) + "\\n")
            elif event in ("socket.connect", "socket.sendto") and isinstance(args[1], tuple):
                log.write(json.dumps([event, str(args[1][0]), args[1][1]]) + "\\n")
        except Exception:
            pass
    sys.addaudithook(hook)
    sys.argv = ["videomote-media", "--port", sys.argv[2]]
    from prorenata.videomote.media.server import main
    main()
    """
)


def serve_and_exchange_media(tmp_path, **settings) -> tuple[dict, list[tuple]]:
    """Start the audited server, let two peers exchange media, return what it contacted."""
    log, port = tmp_path / "contacts.jsonl", free_port()
    settings = {"secret": SECRET, "uvloop": "off", **media_settings_for_tests(), **settings}
    command = [sys.executable, "-c", AUDITED_SERVER, str(log), str(port)]
    process = start_server_process(port, settings, command)
    try:
        welcome = run_in_thread(lambda: exchange(f"ws://127.0.0.1:{port}/ws"), 60)
    finally:
        process.terminate()
        process.wait(10)
    contacts = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    return welcome, contacts


async def exchange(url: str) -> dict:
    clip = encoded_clip(15)
    people = [
        SyntheticPeer(url, MEETING, issue_join_token(MEETING, role, name, SECRET.encode()), clip)
        for role, name in (("staff", "Sara"), ("participant", "Anna"))
    ]
    for person in people:
        await person.join(timeout=15)
    deadline = time.monotonic() + 15
    while min(p.total_frames() for p in people) < 10 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert min(p.total_frames() for p in people) >= 10
    welcome = next(e for e in people[0].events if e["type"] == "welcome")
    for person in people:
        await person.leave()
    return welcome


def test_without_settings_only_the_peers_on_loopback_are_contacted(tmp_path):
    welcome, contacts = serve_and_exchange_media(tmp_path)
    sent = [c for c in contacts if c[0] == "socket.sendto"]
    assert len(sent) > 50  # media went out, and the hook saw it
    assert {host for _, host, _ in contacts} <= {"127.0.0.1"}, contacts
    assert welcome["iceServers"] == []  # and the browsers are given none either


def test_a_configured_turn_server_is_the_only_other_address(tmp_path):
    turn = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    turn.bind(("127.0.0.2", 0))  # a TURN server that never answers
    turn_port = turn.getsockname()[1]
    try:
        welcome, contacts = serve_and_exchange_media(
            tmp_path,
            turn_url=f"turn:127.0.0.2:{turn_port}?transport=udp",
            turn_username="videomote",
            turn_password="turn-secret",
        )
        turn.settimeout(1)
        assert turn.recv(2048)  # the allocation request arrived
    finally:
        turn.close()
    assert {host for _, host, _ in contacts} <= {"127.0.0.1", "127.0.0.2"}, contacts
    assert ("127.0.0.2", turn_port) in {(host, port) for _, host, port in contacts}
    assert welcome["iceServers"] == [
        {
            "urls": f"turn:127.0.0.2:{turn_port}?transport=udp",
            "username": "videomote",
            "credential": "turn-secret",
        }
    ]


def test_settings_come_from_a_file_and_the_environment_overrides(tmp_path):
    from prorenata.videomote.media.config import load

    path = tmp_path / "media.ini"
    path.write_text(
        "[media]\nport = 9000\nice_addresses = 10.0.0.5, 10.0.0.6\nudp_ports = 40000-40099\n"
        "mode = reencode\nremb = off\n"
    )
    config = load(str(path), environ={"VIDEOMOTE_MEDIA_PORT": "9100"})
    assert config == MediaConfig(
        port=9100,
        ice_addresses=("10.0.0.5", "10.0.0.6"),
        udp_ports=(40000, 40099),
        mode="reencode",
        remb=False,
    )
    assert config.ice_servers() == []
    with pytest.raises(ValueError, match="mode"):
        load(None, environ={"VIDEOMOTE_MEDIA_MODE": "transcode"})
    with pytest.raises(ValueError, match="remb"):
        load(None, environ={"VIDEOMOTE_MEDIA_REMB": "maybe"})
    with pytest.raises(ValueError, match="udp_ports"):
        load(None, environ={"VIDEOMOTE_MEDIA_UDP_PORTS": "9-2"})
