"""One-time SMS codes: issuing, checking and limiting (plain Python, injectable clock).

A code is six digits from the CSPRNG, valid ``lifetime``, single use, bound to one
meeting, one invitee and one pending sign-in (a browser), stored only as an HMAC and
compared in constant time. Each code allows ``max_attempts`` wrong tries; an invitee
gets at most ``sms_per_hour`` codes per hour. A failed SMS consumes no quota.
"""

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from enum import Enum

import hashlib
import hmac
import secrets


@dataclass(frozen=True)
class CodePolicy:
    lifetime: timedelta = timedelta(minutes=5)
    max_attempts: int = 5
    sms_per_hour: int = 5


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


@dataclass
class SmsQuota:
    """When SMS codes were sent to one invitee (kept only for the last hour)."""

    sent: list[datetime] = field(default_factory=list)

    def remaining(self, now: datetime, policy: CodePolicy) -> int:
        self.sent = [t for t in self.sent if now - t < timedelta(hours=1)]
        return policy.sms_per_hour - len(self.sent)

    def next_allowed(self, now: datetime) -> datetime | None:
        return min(self.sent) + timedelta(hours=1) if self.sent else None


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def _digest(code: str, signin: PendingSignIn, key: bytes) -> str:
    # Binding the hash to meeting, invitee and sign-in makes a code useless anywhere else.
    message = f"{signin.meeting_uid}|{signin.invitee}|{signin.signin_id}|{code}"
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def normalise_typed(typed: str) -> str:
    return "".join(ch for ch in (typed or "") if ch.isdigit())


class QuotaExceeded(Exception):
    def __init__(self, next_allowed: datetime | None):
        super().__init__("SMS quota exceeded")
        self.next_allowed = next_allowed


def issue_code(
    signin: PendingSignIn, quota: SmsQuota, key: bytes, now: datetime, policy: CodePolicy
) -> str:
    """A fresh code for ``signin`` (the previous one stops working).

    Raises :class:`QuotaExceeded`. Call :func:`count_sent` only once the SMS has gone.
    """
    if quota.remaining(now, policy) <= 0:
        raise QuotaExceeded(quota.next_allowed(now))
    code = new_code()
    signin.code_hash = _digest(code, signin, key)
    signin.issued_at = now
    signin.attempts = 0
    signin.used = False
    return code


def count_sent(quota: SmsQuota, now: datetime) -> None:
    quota.sent.append(now)


NO_CODE = (None, None, 0, False)


def issued_state(signin: PendingSignIn) -> tuple:
    """What :func:`withdraw` puts back: the code the participant may already have."""
    return (signin.code_hash, signin.issued_at, signin.attempts, signin.used)


def withdraw(signin: PendingSignIn, before: tuple | None = None) -> None:
    """Forget a code whose SMS could not be sent; the one sent before (``before``, from
    :func:`issued_state`) works again, as it did."""
    signin.code_hash, signin.issued_at, signin.attempts, signin.used = before or NO_CODE


def verify(
    signin: PendingSignIn, typed: str, key: bytes, now: datetime, policy: CodePolicy
) -> Verdict:
    """Check a typed code; wrong tries are counted, a right one is used up."""
    if signin.code_hash is None or signin.issued_at is None:
        return Verdict.NO_CODE
    if signin.used:
        return Verdict.USED
    if signin.attempts >= policy.max_attempts:
        return Verdict.LOCKED
    if now - signin.issued_at > policy.lifetime:
        return Verdict.EXPIRED
    if hmac.compare_digest(_digest(normalise_typed(typed), signin, key), signin.code_hash):
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
