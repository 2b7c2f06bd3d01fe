"""A test's HTTP request to a server that never answers fails instead of hanging the run."""

import default_timeout
import pytest
import requests
import socket
import threading
import time


@pytest.fixture
def silent_server():
    """A loopback port that accepts a connection and says nothing (for at most 5 s)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    accepted = []

    def hold():
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return
        accepted.append(connection)
        time.sleep(5)
        connection.close()

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    holder.join(6)
    listener.close()


def test_a_request_without_a_timeout_gives_up_on_a_silent_server(silent_server, monkeypatch):
    monkeypatch.setattr(default_timeout, "DEFAULT_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        requests.get(silent_server)
    assert time.monotonic() - started < 3


def test_a_session_request_without_a_timeout_gives_up_too(silent_server, monkeypatch):
    monkeypatch.setattr(default_timeout, "DEFAULT_SECONDS", 0.5)
    with pytest.raises(requests.Timeout), requests.Session() as session:
        session.post(silent_server, data={"a": "b"})
