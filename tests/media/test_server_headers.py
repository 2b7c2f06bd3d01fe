"""The media server does not say which software, in which version, it runs."""

from prorenata.videomote.media.synthetic import free_port
from prorenata.videomote.media.synthetic import start_server_process

import base64
import os
import socket


def _raw(port: int, request: bytes) -> str:
    """The status line and headers the server answers ``request`` with."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer.split(b"\r\n\r\n")[0].decode("latin-1")


def test_no_answer_names_aiohttp_or_its_version():
    port = free_port()
    server = start_server_process(
        port, {"secret": "media-secret-for-tests", "ice_addresses": "127.0.0.1"}
    )
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        get = "GET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answers = {
            "health": _raw(port, get.format("/health").encode()),
            "not found": _raw(port, get.format("/nowhere").encode()),
            "malformed end": _raw(
                port,
                b"POST /end HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{",
            ),
            "websocket": _raw(
                port,
                b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key.encode() + b"\r\n\r\n",
            ),
            # No HTTP at all: aiohttp answers 400 itself, before any hook of the app.
            "not http": _raw(port, b"NONSENSE\r\n\r\n"),
        }
    finally:
        server.terminate()
        server.wait(10)
    statuses = [head.split()[1] for head in answers.values()]
    assert statuses == ["200", "404", "400", "101", "400"], answers
    for what, head in answers.items():
        assert "aiohttp" not in head.lower() and "python/" not in head.lower(), (what, head)
