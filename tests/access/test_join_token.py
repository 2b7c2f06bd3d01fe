"""Join tokens for the media server: genuine, short-lived, for one meeting and role."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.access.jointoken import LIFETIME
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.jointoken import verify_join_token

import pytest

KEY = b"m" * 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_token_carries_meeting_role_and_name():
    token = issue_join_token("meeting-a", "participant", "Anna", KEY, NOW)
    claims = verify_join_token(token, KEY, "meeting-a", NOW)
    assert (claims["m"], claims["r"], claims["n"]) == ("meeting-a", "participant", "Anna")


def test_token_for_another_meeting_or_expired_or_forged_is_refused():
    token = issue_join_token("meeting-a", "staff", "Sara", KEY, NOW)
    assert verify_join_token(token, KEY, "meeting-b", NOW) is None
    assert verify_join_token(token, KEY, "meeting-a", NOW + LIFETIME + timedelta(seconds=1)) is None
    assert verify_join_token(token, b"x" * 32, "meeting-a", NOW) is None


def test_unknown_role_cannot_be_issued():
    with pytest.raises(ValueError):
        issue_join_token("meeting-a", "admin", "Eve", KEY, NOW)
