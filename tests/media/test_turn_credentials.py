"""Time-limited TURN credentials (coturn's use-auth-secret) handed out per join."""

from prorenata.videomote.media.config import load
from prorenata.videomote.media.config import turn_credentials

import base64
import hashlib
import hmac


def test_each_join_gets_credentials_that_expire_and_coturn_can_check():
    config = load(
        environ={
            "VIDEOMOTE_MEDIA_TURN_URL": "turn:turn.example.se:3478,turns:turn.example.se:5349",
            "VIDEOMOTE_MEDIA_TURN_SECRET": "s3cret",
            "VIDEOMOTE_MEDIA_TURN_TTL": "600",
        }
    )
    (server,) = config.browser_ice_servers()
    assert server["urls"] == ["turn:turn.example.se:3478", "turns:turn.example.se:5349"]
    expires, _, name = server["username"].partition(":")
    assert name == "videomote"
    expected = hmac.new(b"s3cret", server["username"].encode(), hashlib.sha1).digest()
    assert server["credential"] == base64.b64encode(expected).decode()
    assert turn_credentials("s3cret", 600, now=1000) == (
        "1600:videomote",
        base64.b64encode(hmac.new(b"s3cret", b"1600:videomote", hashlib.sha1).digest()).decode(),
    )


def test_a_static_turn_account_is_still_given_as_configured():
    config = load(
        environ={
            "VIDEOMOTE_MEDIA_TURN_URL": "turn:turn.example.se:3478",
            "VIDEOMOTE_MEDIA_TURN_USERNAME": "u",
            "VIDEOMOTE_MEDIA_TURN_PASSWORD": "p",
        }
    )
    assert config.browser_ice_servers() == [
        {"urls": "turn:turn.example.se:3478", "username": "u", "credential": "p"}
    ]
