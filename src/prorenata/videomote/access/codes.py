"""Meeting codes and personal join tokens: unguessable, typeable, stored only as hashes.

Plain Python. A meeting code is 12 characters of Crockford base32 (60 bits) in three
groups (``7KQ2-M9XD-4HPA``); typed codes are accepted in any case, with or without
spaces and dashes, and with O/I/L read as 0/1/1. A join token is 256 bits, URL-safe.
Both are hashed with HMAC-SHA256 under a server secret, so a copy of the database alone
does not allow testing guesses offline, and compared in constant time.
"""

from collections.abc import Sequence

import hashlib
import hmac
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
GROUP = 4
_TYPO = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_meeting_code() -> str:
    """A fresh meeting code, grouped for reading aloud and typing."""
    raw = "".join(secrets.choice(CROCKFORD) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, CODE_LENGTH, GROUP))


def normalise_meeting_code(typed: str) -> str | None:
    """The canonical form of a typed code, or None if it cannot be one."""
    cleaned = "".join(ch for ch in (typed or "").upper() if ch.isalnum()).translate(_TYPO)
    if len(cleaned) != CODE_LENGTH or any(ch not in CROCKFORD for ch in cleaned):
        return None
    return cleaned


def new_join_token() -> str:
    """A personal join token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_secret(value: str, key: bytes) -> str:
    """Keyed hash of a code or token, as stored and indexed."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_meeting_code(code: str, key: bytes) -> str | None:
    """Hash of a meeting code in canonical form (None if it is not a valid code)."""
    canonical = normalise_meeting_code(code)
    return None if canonical is None else hash_secret(canonical, key)


def as_keys(keys: bytes | Sequence[bytes]) -> tuple[bytes, ...]:
    """One key or several (newest first) as a tuple of keys."""
    return (keys,) if isinstance(keys, bytes) else tuple(keys)


def secret_hashes(value: str, keys: bytes | Sequence[bytes]) -> list[str]:
    """The hash of a code or token under each key (newest first): what a lookup must
    try while a rotated key's hashes are still stored (they cannot be re-hashed)."""
    return [hash_secret(value, key) for key in as_keys(keys)]


def meeting_code_hashes(code: str, keys: bytes | Sequence[bytes]) -> list[str]:
    """:func:`hash_meeting_code` under each key; empty if it is not a valid code."""
    canonical = normalise_meeting_code(code)
    return [] if canonical is None else secret_hashes(canonical, keys)


def matches(value: str, stored_hash: str, keys: bytes | Sequence[bytes]) -> bool:
    """Constant-time comparison of a presented secret with a stored hash made under
    any of ``keys``."""
    found = False
    for candidate in secret_hashes(value, keys):
        found |= hmac.compare_digest(candidate, stored_hash or "")
    return found
