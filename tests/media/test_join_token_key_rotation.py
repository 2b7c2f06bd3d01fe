"""The media server during a rotation of ``VIDEOMOTE_MEDIA_SECRET``.

Join tokens live two minutes (``access.jointoken.LIFETIME``), but Plone and the media
server restart one after the other: while the retired key is listed in
``VIDEOMOTE_MEDIA_OLD_SECRETS``, tokens Plone still signs with it are accepted, and
tokens from the new key are accepted at once.
"""

from prorenata.videomote.access.jointoken import issue_control_token
from prorenata.videomote.media.synthetic import free_port
from prorenata.videomote.media.synthetic import start_server_process

import json
import pytest
import urllib.error
import urllib.request

OLD, NEW, UNKNOWN = "media-key-A", "media-key-B", "media-key-C"
MEETING = "meeting-uid-rotation"


@pytest.fixture(scope="module")
def media_port():
    port = free_port()
    process = start_server_process(port, {"secret": NEW, "old_secrets": OLD, "uvloop": "off"})
    yield port
    process.terminate()
    process.wait(10)


def _end_with_token_from(port: int, key: str) -> int:
    token = issue_control_token(MEETING, "end", key.encode())
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/end",
        data=json.dumps({"token": token, "meeting": MEETING}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        # S310: a fixed http:// URL to the local server, no file: or custom scheme.
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_tokens_signed_with_the_new_key_are_accepted(media_port):
    assert _end_with_token_from(media_port, NEW) == 200


def test_tokens_signed_with_the_retired_key_are_still_accepted(media_port):
    assert _end_with_token_from(media_port, OLD) == 200


def test_tokens_signed_with_any_other_key_are_refused(media_port):
    assert _end_with_token_from(media_port, UNKNOWN) == 403
