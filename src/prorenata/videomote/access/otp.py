"""One-time SMS codes: issuing, checking and limiting (plain Python, injectable clock).

A code is six digits from the CSPRNG, valid ``lifetime``, single use, bound to one
meeting, one invitee and one pending sign-in (a browser), stored only as an HMAC and
compared in constant time. Each code allows ``max_attempts`` wrong tries. A sign-in (one
browser) gets at most ``sms_per_hour`` codes per hour and the meeting, whoever asks, at
most ``sms_per_meeting_per_hour``: someone else who has the meeting code (a forwarded
e-mail) can use up neither the real participant's own quota nor, alone, the meeting's.
A failed SMS consumes no quota.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from enum import Enum

import hashlib
import hmac
import secrets

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    #: Per sign-in (browser).
    sms_per_hour: int = 5
    #: Per meeting, all sign-ins together; staff can lift it from the meeting dialog.
    sms_per_meeting_per_hour: int = 20


class Verdict(Enum):
    """What checking a typed code found; each has its own message for the participant."""

    ACCEPTED = "accepted"
    WRONG = "wrong"
    EXPIRED = "expired"
    LOCKED = "locked"  # too many wrong tries for this code: a new code is needed
    USED = "used"
    NO_CODE = "no_code"


@dataclass
class PendingSignIn:
    """The state of one browser's sign-in to one meeting as one invitee."""

    meeting_uid: str
    invitee: str
    signin_id: str
    code_hash: str | None = None
    issued_at: datetime | None = None
    attempts: int = 0
    used: bool = False
    #: When the browser began (link or meeting code); None in sign-ins stored before.
    started: datetime | None = None
    #: When SMS codes were sent to this sign-in (the last hour). A tuple, so that
    #: sign-ins stored before it existed read the class default.
    sms_sent: tuple = ()

    @property
    def texted(self) -> bool:
        """Whether an SMS code has gone to this sign-in: its participant may be typing it."""
        return bool(self.sms_sent) or self.code_hash is not None


def _last_hour(times, now: datetime) -> list[datetime]:
    return [t for t in times if now - t < HOUR]


@dataclass
class SmsQuota:
    """When SMS codes were sent for one meeting, by any sign-in (the last hour)."""

    sent: list[datetime] = field(default_factory=list)

    def sent_in_last_hour(self, now: datetime) -> int:
        return len(_last_hour(self.sent, now))

    def remaining(self, now: datetime, policy: CodePolicy) -> int:
        return policy.sms_per_meeting_per_hour - self.sent_in_last_hour(now)

    def next_allowed(self, now: datetime) -> datetime | None:
        recent = _last_hour(self.sent, now)
        return min(recent) + HOUR if recent else None


def signin_remaining(signin: PendingSignIn, now: datetime, policy: CodePolicy) -> int:
    return policy.sms_per_hour - len(_last_hour(signin.sms_sent, now))


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _digest(code: str, signin: PendingSignIn, key: bytes) -> str:
    # Binding the hash to meeting, invitee and sign-in makes a code useless anywhere else.
    message = f"{signin.meeting_uid}|{signin.invitee}|{signin.signin_id}|{code}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_typed(typed: str) -> str:
    return "".join(ch for ch in (typed or "") if ch.isdigit())


SIGNIN = "signin"
MEETING = "meeting"


class QuotaExceeded(Exception):
    """``scope`` says whose quota is spent: this sign-in's (:data:`SIGNIN`) or the
    meeting's (:data:`MEETING`, which staff can lift)."""

    def __init__(self, next_allowed: datetime | None, scope: str = SIGNIN):
        super().__init__("SMS quota exceeded")
        self.next_allowed = next_allowed
        self.scope = scope


def issue_code(
    signin: PendingSignIn, quota: SmsQuota, key: bytes, now: datetime, policy: CodePolicy
) -> str:
    """A fresh code for ``signin`` (the previous one stops working).

    Raises :class:`QuotaExceeded`. Call :func:`count_sent` only once the SMS has gone.
    """
    if signin_remaining(signin, now, policy) <= 0:
        raise QuotaExceeded(min(_last_hour(signin.sms_sent, now)) + HOUR, SIGNIN)
    if quota.remaining(now, policy) <= 0:
        raise QuotaExceeded(quota.next_allowed(now), MEETING)
    code = new_code()
    signin.code_hash = _digest(code, signin, key)
    signin.issued_at = now
    signin.attempts = 0
    signin.used = False
    return code


def count_sent(quota: SmsQuota, now: datetime, signin: PendingSignIn | None = None) -> None:
    """An SMS has gone: it counts for the meeting and for the sign-in it went to (older
    times than an hour are dropped, so neither list grows)."""
    quota.sent = [*_last_hour(quota.sent, now), now]
    if signin is not None:
        signin.sms_sent = (*_last_hour(signin.sms_sent, now), now)


def lift_quota(quota: SmsQuota, signins) -> None:
    """Staff lift a spent limit: the meeting and every sign-in may be texted again."""
    quota.sent = []
    for signin in signins:
        signin.sms_sent = ()


def quota_spent(quota: SmsQuota, signins, now: datetime, policy: CodePolicy) -> bool:
    """Whether someone asking now would be refused an SMS: the meeting's limit, or a
    browser's own, is used up (what staff see beside "Återställ SMS-gräns")."""
    if quota.remaining(now, policy) <= 0:
        return True
    return any(signin_remaining(signin, now, policy) <= 0 for signin in signins)


NO_CODE = (None, None, 0, False)


def issued_state(signin: PendingSignIn) -> tuple:
    """What :func:`withdraw` puts back: the code the participant may already have."""
    return (signin.code_hash, signin.issued_at, signin.attempts, signin.used)


def withdraw(signin: PendingSignIn, before: tuple | None = None) -> None:
    """Forget a code whose SMS could not be sent; the one sent before (``before``, from
    :func:`issued_state`) works again, as it did."""
    signin.code_hash, signin.issued_at, signin.attempts, signin.used = before or NO_CODE


def verify(
    signin: PendingSignIn,
    typed: str,
    key: bytes | Sequence[bytes],
    now: datetime,
    policy: CodePolicy,
) -> Verdict:
    """Check a typed code; wrong tries are counted, a right one is used up.

    ``key`` may be several keys (newest first): a code issued just before a key was
    rotated still works."""
    if signin.code_hash is None or signin.issued_at is None:
        return Verdict.NO_CODE
    if signin.used:
        return Verdict.USED
    if signin.attempts >= policy.max_attempts:
        return Verdict.LOCKED
    if now - signin.issued_at > policy.lifetime:
        return Verdict.EXPIRED
    keys = (key,) if isinstance(key, bytes) else tuple(key)
    right = False
    for one in keys:
        right |= hmac.compare_digest(_digest(normalise_typed(typed), signin, one), signin.code_hash)
    if right:
        signin.used = True
        return Verdict.ACCEPTED
    signin.attempts += 1
    return Verdict.LOCKED if signin.attempts >= policy.max_attempts else Verdict.WRONG


def mask_mobile(e164: str) -> str:
    """``+46701234567`` → ``070-*** **67``: enough to recognise one's own phone."""
    if e164.startswith("+46") and len(e164) >= 11:
        national = "0" + e164[3:]
        return f"{national[:3]}-*** **{national[-2:]}"
    return f"{e164[:4]}{'*' * max(len(e164) - 6, 0)}{e164[-2:]}"
