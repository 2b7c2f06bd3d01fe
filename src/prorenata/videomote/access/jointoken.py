"""Short-lived join tokens from Plone to the media server (plain Python, stdlib only).

Plone signs who may enter which room in which role; the media server checks the
signature, expiry, meeting and role before it lets a WebSocket in. Both read the shared
secret from ``VIDEOMOTE_MEDIA_SECRET``; while it is rotated, the media server also
accepts tokens signed with the retired ones in ``VIDEOMOTE_MEDIA_OLD_SECRETS``
(comma-separated), so Plone and the media server need not restart at the same moment.
"""

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from prorenata.videomote.access.signing import parse_keys
from prorenata.videomote.access.signing import sign
from prorenata.videomote.access.signing import unsign
from prorenata.videomote.booking.rules import MAX_NAME

import os

PURPOSE = "join"
LIFETIME = timedelta(minutes=2)
ROLES = ("staff", "participant")
#: Plone's own calls to a media node (end a room, move it, take people out): signed for
#: this purpose and one action, so that no join token, which every page in the room
#: holds, opens any of them.
CONTROL_PURPOSE = "media-control"
CONTROL_ACTIONS = ("end", "move", "remove")
ENVIRONMENT_KEY = "VIDEOMOTE_MEDIA_SECRET"
OLD_ENVIRONMENT_KEY = "VIDEOMOTE_MEDIA_OLD_SECRETS"


def media_secret(fallback: bytes) -> bytes:
    """The key Plone signs join tokens with (the newest)."""
    configured = os.environ.get(ENVIRONMENT_KEY)
    return configured.encode("utf-8") if configured else fallback


def media_secrets(environ: Mapping[str, str] | None = None) -> tuple[bytes, ...]:
    """Every key the media server accepts join tokens from, newest first (empty when
    ``VIDEOMOTE_MEDIA_SECRET`` is not set: the server then refuses to start)."""
    environ = os.environ if environ is None else environ
    if not environ.get(ENVIRONMENT_KEY):
        return ()
    return parse_keys(environ.get(ENVIRONMENT_KEY), environ.get(OLD_ENVIRONMENT_KEY))


def issue_join_token(
    meeting_uid: str,
    role: str,
    display_name: str,
    key: bytes,
    now: datetime | None = None,
    who: str = "",
    generation: int = 0,
    report_url: str = "",
) -> str:
    """``who`` tells people apart who show the same name (two staff called Anna): the
    media server lets a person's newer connection replace only their own older one.
    ``generation`` counts the meeting's moves: each time has a room of its own.

    The display name is shown to everyone in the room: it is cut to :data:`MAX_NAME`
    characters (a staff member's full name is their own Plone property, not refused
    here), so no token carries an unbounded name."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = now or datetime.now(UTC)
    name = " ".join(str(display_name or "").split())
    if len(name) > MAX_NAME:
        name = name[: MAX_NAME - 1].rstrip() + "…"
    # "i": when issued (ms, Plone's clock), so that the media server can refuse the
    # tokens of someone removed from the meeting up to then (access/revocation.py).
    claims = {"m": meeting_uid, "r": role, "n": name, "i": int(now.timestamp() * 1000)}
    if who:
        claims["w"] = who
    if generation:
        claims["g"] = generation
    if report_url:
        claims["a"] = report_url
    return sign(claims, key, PURPOSE, now + LIFETIME)


def verify_join_token(
    token: str, key: bytes | Sequence[bytes], meeting_uid: str, now: datetime | None = None
) -> dict | None:
    """The token's claims if it is genuine (signed with ``key``, or any of several
    keys), unexpired and for ``meeting_uid``; else None."""
    claims = unsign(token, key, PURPOSE, now)
    if claims is None or claims.get("m") != meeting_uid or claims.get("r") not in ROLES:
        return None
    return claims


def issue_control_token(
    meeting_uid: str,
    action: str,
    key: bytes,
    generation: int = 0,
    now: datetime | None = None,
    **details,
) -> str:
    """Plone's call ``action`` on the room of ``meeting_uid``'s time ``generation``, with
    its ``details`` (who is removed, since when, why) signed with it."""
    if action not in CONTROL_ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    now = now or datetime.now(UTC)
    claims = {**details, "m": meeting_uid, "c": action}
    if generation:
        claims["g"] = generation
    return sign(claims, key, CONTROL_PURPOSE, now + LIFETIME)


def verify_control_token(
    token: str,
    key: bytes | Sequence[bytes],
    meeting_uid: str,
    action: str,
    now: datetime | None = None,
) -> dict | None:
    """The claims of Plone's call ``action`` if genuine, unexpired and for ``meeting_uid``;
    else None (a join token is never one)."""
    claims = unsign(token, key, CONTROL_PURPOSE, now)
    if claims is None or claims.get("m") != meeting_uid or claims.get("c") != action:
        return None
    return claims
