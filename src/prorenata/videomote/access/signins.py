"""Pending sign-ins, SMS quotas and participant sessions of a meeting (Plone shell)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from persistent.mapping import PersistentMapping
from plone import api
from prorenata.videomote.access.otp import CodePolicy
from prorenata.videomote.access.otp import PendingSignIn
from prorenata.videomote.access.otp import SmsQuota
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.storage import annotated

ANNOTATION_KEY = "prorenata.videomote.signins"
INVITEE = "invitee"


def _store(meeting) -> PersistentMapping:
    return annotated(
        meeting,
        ANNOTATION_KEY,
        lambda: PersistentMapping({"pending": PersistentMapping(), "quota": SmsQuota()}),
    )


def pending(meeting, signin_id: str) -> PendingSignIn | None:
    return _store(meeting)["pending"].get(signin_id)


def save_pending(meeting, signin: PendingSignIn) -> None:
    # Reassigning marks the mapping changed: the dataclass itself is not persistent.
    _store(meeting)["pending"][signin.signin_id] = signin


#: Sign-ins kept per meeting at most (each link or code entry starts one; only a
#: finished one removes itself): the oldest go first.
MAX_PENDING = 100


def start_pending(meeting, signin: PendingSignIn, now: datetime, lifetime: timedelta) -> None:
    """Save a new sign-in, dropping those older than ``lifetime`` (their cookie has
    expired, nobody can continue them) and the oldest beyond :data:`MAX_PENDING`."""
    store = _store(meeting)["pending"]
    signin.started = now
    for key, old in list(store.items()):
        if old.started is None or old.started < now - lifetime:
            del store[key]
    surplus = len(store) + 1 - MAX_PENDING
    if surplus > 0:
        for key, _old in sorted(store.items(), key=lambda item: item[1].started)[:surplus]:
            del store[key]
    store[signin.signin_id] = signin


def drop_pending(meeting, signin_id: str) -> None:
    _store(meeting)["pending"].pop(signin_id, None)


def quota(meeting) -> SmsQuota:
    return _store(meeting)["quota"]


def save_quota(meeting, value: SmsQuota) -> None:
    _store(meeting)["quota"] = value


def setting(name: str, default):
    value = api.portal.get_registry_record(f"prorenata.videomote.{name}", default=default)
    return default if value is None else value


def code_policy() -> CodePolicy:
    return CodePolicy(
        lifetime=timedelta(minutes=setting("code_lifetime_minutes", 5)),
        max_attempts=setting("code_max_attempts", 5),
        sms_per_hour=setting("sms_per_hour", 5),
    )


def join_window(meeting) -> tuple[datetime, datetime]:
    """From ``join_window_minutes`` before start until end plus the grace period."""
    opens = meeting.start - timedelta(minutes=setting("join_window_minutes", 30))
    closes = meeting.end + timedelta(minutes=setting("session_grace_minutes", 15))
    return opens, closes


def window_state(meeting, now: datetime | None = None) -> str:
    """``open``, ``early``, ``over`` (ended, cancelled or past the window)."""
    now = now or datetime.now(UTC)
    if meeting.state not in (STATE_BOOKED, STATE_STARTED):
        return "over"
    opens, closes = join_window(meeting)
    if now < opens:
        return "early"
    return "over" if now > closes else "open"
