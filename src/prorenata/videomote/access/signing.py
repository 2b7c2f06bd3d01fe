"""Signed, expiring values for cookies and join tokens (HMAC-SHA256; plain Python)."""

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


def sign(payload: dict, key: bytes, purpose: str, expires: datetime) -> str:
    """``payload`` with an expiry, signed for one ``purpose`` (a cookie is not a token)."""
    body = dict(payload, exp=int(expires.timestamp()), pur=purpose)
    data = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8"))
    mac = hmac.new(key, f"{purpose}.{data}".encode("ascii"), hashlib.sha256).digest()
    return f"{data}.{_b64(mac)}"


def unsign(value: str, key: bytes, purpose: str, now: datetime | None = None) -> dict | None:
    """The payload if the signature, purpose and expiry hold, else None."""
    try:
        data, mac = (value or "").split(".")
        expected = hmac.new(key, f"{purpose}.{data}".encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        body = json.loads(_unb64(data))
    except (ValueError, TypeError):
        return None
    now = now or datetime.now(UTC)
    if body.get("pur") != purpose or body.get("exp", 0) < now.timestamp():
        return None
    return body
