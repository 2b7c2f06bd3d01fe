"""A local HTTP server that speaks the 46elks SMS API (the real client's counterpart)."""

from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs

import base64
import json
import pytest
import threading


class FortySixElks(BaseHTTPRequestHandler):
    """Answers like 46elks: basic auth, form fields, JSON on success, text on errors."""

    received: list = []
    answer: tuple = (200, None)

    def do_POST(self):  # noqa: N802 - http.server API
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        auth = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
        type(self).received.append({"path": self.path, "auth": auth, **form})
        status, body = type(self).answer
        if auth != "u123:secret":
            status, body = 401, "Authentication failed"
        if body is None:
            body = json.dumps(
                {
                    "status": "created",
                    "id": "s70df59406a1b4643b96f3f91e0bfb7b0",
                    "from": form["from"],
                    "to": form["to"],
                    "message": form["message"],
                    "parts": 1,
                }
            )
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def elks():
    FortySixElks.received = []
    FortySixElks.answer = (200, None)
    server = ThreadingHTTPServer(("127.0.0.1", 0), FortySixElks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/a1/sms", FortySixElks
    server.shutdown()
