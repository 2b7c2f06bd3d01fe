"""Whoever loses the right to be in a meeting leaves its room (plain Python, stdlib only).

Plone decides *that* someone lost the right (an extra participant removed, a staff member
who lost access to the student's record, a user deleted); the media server then closes that
person's connection and refuses the join tokens Plone issued them until then. A person in
a room is known to the media server only by their token's ``w``: ``"invitee"``, an extra
participant's random id, or :func:`staff_who` of a staff member's user id (opaque).

Refusal is by issue time, not by name alone: a token issued at or before the removal
(Plone's clock, carried by both the token's ``i`` and the removal's ``before``, so Plone's
and the media node's clocks need not agree; :data:`CLOCK_SLACK_SECONDS` for Zope instances
that differ a little) is refused, one issued after it (staff given access again) is not.
Join tokens live two minutes, so the media server forgets a removal after
:data:`REMEMBER_SECONDS`: by then every token it refuses has expired anyway.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field

import hashlib
import time

#: How long the media server keeps a removal: longer than a join token lives (2 min) and
#: than the clocks of Plone and a media node may differ.
REMEMBER_SECONDS = 600.0
#: Removals a media process keeps at most (oldest dropped first): bounded memory whatever
#: Plone (the only one who can sign a removal) sends.
MAX_REMOVALS = 10_000
#: Zope instances' clocks may differ a little: a token another instance issued just before
#: the removal must not pass for a later one. Tokens issued this long after it are refused
#: too (staff given access back wait that long).
CLOCK_SLACK_SECONDS = 2.0
#: At most this many people in one removal call (a room holds four).
MAX_WHO = 16
MAX_WHO_LENGTH = 64

#: Why someone was removed; the page says it in words of its own.
REMOVED = "removed"  # an extra participant taken off the meeting
NO_ACCESS = "access"  # staff who lost access to the student's record (or their account)
REASONS = (REMOVED, NO_ACCESS)


def staff_who(user_id: str) -> str:
    """How a staff member is named to the media server: which Plone user, not who they are."""
    return hashlib.sha256(f"staff|{user_id}".encode()).hexdigest()[:16]


def issued_at(claims: dict) -> float:
    """When Plone issued a join token (seconds, Plone's clock): its ``i``; for a token of
    an older Plone without it, its expiry less its lifetime (whole seconds)."""
    given = claims.get("i")
    if isinstance(given, int | float) and not isinstance(given, bool):
        return given / 1000.0
    return float(claims.get("exp", 0)) - 120.0


def clean_who(raw: object) -> tuple[str, ...]:
    """The ``who`` list of a removal call: short strings, at most :data:`MAX_WHO`, no
    repeats; anything else is dropped (an empty result refuses the call)."""
    if not isinstance(raw, list):
        return ()
    kept: list[str] = []
    for item in raw[:MAX_WHO]:
        if isinstance(item, str) and 0 < len(item) <= MAX_WHO_LENGTH and item not in kept:
            kept.append(item)
    return tuple(kept)


def clean_reason(raw: object) -> str:
    return raw if raw in REASONS else REMOVED


@dataclass
class Removals:
    """Per room and person: tokens issued at or before ``before`` are refused, until the
    entry is forgotten (:data:`REMEMBER_SECONDS` after it arrived, media server's clock)."""

    remember: float = REMEMBER_SECONDS
    limit: int = MAX_REMOVALS
    # (room key, who) -> (before, reason, forget at); dicts keep insertion order.
    _entries: dict = field(default_factory=dict)

    def add(
        self, room: str, who: Iterable[str], before: float, reason: str, now: float | None = None
    ) -> None:
        now = time.monotonic() if now is None else now
        self._sweep(now)
        for one in who:
            key = (room, one)
            earlier = self._entries.pop(key, None)
            latest = max(before, earlier[0]) if earlier else before
            self._entries[key] = (latest, reason, now + self.remember)
        while len(self._entries) > self.limit:
            del self._entries[next(iter(self._entries))]

    def refusal(self, room: str, who: str, issued: float, now: float | None = None) -> str:
        """The reason a token of ``who`` issued at ``issued`` is refused in ``room``, or ""."""
        now = time.monotonic() if now is None else now
        entry = self._entries.get((room, who))
        if entry is None or entry[2] <= now:
            return ""
        return entry[1] if issued <= entry[0] + CLOCK_SLACK_SECONDS else ""

    def _sweep(self, now: float) -> None:
        for key in [k for k, entry in self._entries.items() if entry[2] <= now]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)
