"""Pending sign-ins, SMS quotas and participant sessions of a meeting (Plone shell)."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from persistent.mapping import PersistentMapping
from plone import api
from prorenata.videomote.access import otp
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


#: Sign-ins that have not been sent an SMS kept per meeting at most (each link or code
#: entry starts one; a finished one removes itself): the oldest of them go first.
#: A sign-in that has been texted is never pushed out by other attempts (its participant
#: may be typing the code); the per-meeting SMS limit bounds how many there are.
MAX_PENDING = 100


def start_pending(meeting, signin: PendingSignIn, now: datetime, lifetime: timedelta) -> None:
    """Save a new sign-in, dropping those older than ``lifetime`` (their cookie has
    expired, nobody can continue them) and the oldest never-texted ones beyond
    :data:`MAX_PENDING`."""
    store = _store(meeting)["pending"]
    signin.started = now
    for key, old in list(store.items()):
        if old.started is None or old.started < now - lifetime:
            del store[key]
    untexted = sorted(
        (item for item in store.items() if not item[1].texted), key=lambda item: item[1].started
    )
    surplus = len(untexted) + 1 - MAX_PENDING
    if surplus > 0:
        for key, _old in untexted[:surplus]:
            del store[key]
    store[signin.signin_id] = signin


def drop_pending(meeting, signin_id: str) -> None:
    _store(meeting)["pending"].pop(signin_id, None)


def drop_all_pending(meeting) -> None:
    """The meeting moved: sign-ins begun for the old time lead nowhere."""
    store = annotated(meeting, ANNOTATION_KEY, None, create=False)
    if store is not None and store["pending"]:
        store["pending"].clear()


def _quota_key(person: str) -> str:
    """The invitee's quota keeps its old key; each extra participant has their own, so
    that whoever holds one person's code cannot use up another's SMS codes."""
    return "quota" if person == INVITEE else f"quota:{person}"


def _quotas(store) -> list[SmsQuota]:
    return [value for key, value in store.items() if key.startswith("quota")]


def quota(meeting, person: str = INVITEE) -> SmsQuota:
    store = _store(meeting)
    key = _quota_key(person)
    if key not in store:
        store[key] = SmsQuota()
    return store[key]


def save_quota(meeting, value: SmsQuota, person: str = INVITEE) -> None:
    _store(meeting)[_quota_key(person)] = value


def drop_person(meeting, person: str) -> None:
    """A person removed from the meeting: their sign-ins lead nowhere."""
    store = annotated(meeting, ANNOTATION_KEY, None, create=False)
    if store is None:
        return
    for key, signin in list(store["pending"].items()):
        if signin.invitee == person:
            del store["pending"][key]
    store.pop(_quota_key(person), None)


def sms_status(meeting, now: datetime | None = None) -> dict:
    """For staff: SMS codes sent for the meeting in the last hour, the limit, and whether
    a participant asking now would be refused (the meeting's or a browser's limit is
    spent). Reads only: a meeting nobody has signed in to gets no storage."""
    now = now or datetime.now(UTC)
    policy = code_policy()
    store = annotated(meeting, ANNOTATION_KEY, None, create=False)
    # Each person invited has the meeting's limit of their own (extra participants).
    limit = policy.sms_per_meeting_per_hour * (1 + len(getattr(meeting, "extra_participants", ())))
    if store is None:
        return {"sent": 0, "limit": limit, "spent": False}
    quotas = _quotas(store)
    return {
        "sent": sum(q.sent_in_last_hour(now) for q in quotas),
        "limit": limit,
        "spent": any(otp.quota_spent(q, store["pending"].values(), now, policy) for q in quotas),
    }


def lift_sms_quota(meeting) -> None:
    """Staff lift a spent SMS limit: the meeting and every sign-in may be texted again."""
    store = _store(meeting)
    pending_signins = store["pending"]
    for key in [key for key in store if key.startswith("quota")]:
        sms_quota = store[key]
        otp.lift_quota(sms_quota, pending_signins.values())
        store[key] = sms_quota
    for key, signin in list(pending_signins.items()):
        pending_signins[key] = signin  # the dataclasses are not persistent themselves


def generation(meeting) -> int:
    """Which time of the meeting sessions and join tokens are for: a move (new time)
    counts it up, and everything issued for the old time is refused."""
    return getattr(meeting, "room_generation", 0) or 0


def setting(name: str, default):
    value = api.portal.get_registry_record(f"prorenata.videomote.{name}", default=default)
    return default if value is None else value


def code_policy() -> CodePolicy:
    return CodePolicy(
        lifetime=timedelta(minutes=setting("code_lifetime_minutes", 5)),
        max_attempts=setting("code_max_attempts", 5),
        sms_per_hour=setting("sms_per_hour", 5),
        sms_per_meeting_per_hour=setting("sms_per_meeting_per_hour", 20),
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
