"""Signed, expiring values for cookies and join tokens (HMAC-SHA256; plain Python)."""

from collections.abc import Sequence
from datetime import UTC
from datetime import datetime

import base64
import hashlib
import hmac
import json


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_keys(current: str | None, old: str | None) -> tuple[bytes, ...]:
    """Configured keys, newest first: ``current`` exactly as given (as it always was
    read, so a key in use keeps working), then each comma-separated entry of ``old``
    (retired keys that still verify), stripped; blanks and repeats dropped."""
    found: list[bytes] = []
    retired = (text.strip().encode("utf-8") for text in (old or "").split(","))
    for key in [(current or "").encode("utf-8"), *retired]:
        if key and key not in found:
            found.append(key)
    return tuple(found)


def sign(payload: dict, key: bytes, purpose: str, expires: datetime) -> str:
    """``payload`` with an expiry, signed for one ``purpose`` (a cookie is not a token)."""
    body = dict(payload, exp=int(expires.timestamp()), pur=purpose)
    data = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(key, f"{purpose}.{data}".encode("ascii"), hashlib.sha256).digest()
    return f"{data}.{_b64(mac)}"


def unsign(
    value: str, key: bytes | Sequence[bytes], purpose: str, now: datetime | None = None
) -> dict | None:
    """The payload if the signature (by any of ``key``, one key or several while one
    is rotated), purpose and expiry hold, else None."""
    keys = (key,) if isinstance(key, bytes) else tuple(key)
    try:
        data, mac = (value or "").split(".")
        given = _unb64(mac)
        genuine = False
        for one in keys:
            expected = hmac.new(one, f"{purpose}.{data}".encode("ascii"), hashlib.sha256).digest()
            genuine |= hmac.compare_digest(expected, given)
        if not genuine:
            return None
        body = json.loads(_unb64(data))
    except (ValueError, TypeError):
        return None
    now = now or datetime.now(UTC)
    if body.get("pur") != purpose or body.get("exp", 0) < now.timestamp():
        return None
    return body
