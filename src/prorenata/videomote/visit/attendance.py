"""Who was in the room, when, and how the meeting went (plain Python, no Zope).

The media server reports every connection that joins or leaves a room (``join``,
``leave`` with a reason: ``left`` when the page hung up, ``lost`` when the connection
broke, ``ended`` when the meeting was ended). From those events, and the time the meeting
ended, these functions derive each person's presence and the meeting's outcome. They take
every time as an argument (no clock of their own), so a test replays any history.
"""

from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from prorenata.videomote import _

COMPLETED = "completed"
NO_SHOW = "no_show"
INTERRUPTED = "interrupted"

#: Message ids (Swedish msgids) of the outcomes.
OUTCOME_TITLES = {
    COMPLETED: _("Genomfört"),
    NO_SHOW: _("Uteblev"),
    INTERRUPTED: _("Avbrutet"),
}

JOIN = "join"
LEAVE = "leave"
#: Why a connection ended: the page hung up ("Lämna", a closed tab), the connection broke
#: (network, crash, a dropped socket the page reconnects from), the meeting was ended.
LEFT, LOST, ENDED = "left", "lost", "ended"
STAFF = "staff"


@dataclass(frozen=True)
class Event:
    at: datetime
    who: str
    name: str
    role: str
    kind: str
    reason: str = ""


@dataclass
class Presence:
    """One person's time in the room: ``intervals`` of connection, first join, last
    leave (None while still in), seconds in the room, and how often they came back."""

    who: str
    name: str
    role: str
    intervals: list = field(default_factory=list)
    reconnects: int = 0
    last_reason: str = ""
    _since: datetime | None = None

    @property
    def joined(self) -> datetime | None:
        return self.intervals[0][0] if self.intervals else self._since

    @property
    def left(self) -> datetime | None:
        if self._since is not None:
            return None
        return self.intervals[-1][1] if self.intervals else None

    @property
    def seconds(self) -> int:
        return int(sum((end - start).total_seconds() for start, end in self.intervals))

    @property
    def present(self) -> bool:
        return self._since is not None


def _fold(presence: Presence, event: Event, until: datetime | None) -> None:
    if event.kind == JOIN:
        if until is not None and event.at >= until:
            return  # after the meeting ended: not in the meeting
        if presence._since is not None or presence.intervals:
            # Back after a lost connection, or a new connection replacing the old one.
            presence.reconnects += 1
        if presence._since is None:
            presence._since = event.at
        return
    if presence._since is None:
        return  # a leave without a join (a report lost or cut): nothing to close
    end = min(event.at, until) if until is not None else event.at
    presence.intervals.append((presence._since, max(end, presence._since)))
    presence._since = None
    presence.last_reason = ENDED if until is not None and event.at >= until else event.reason


def presences(events: Iterable[Event], ended_at: datetime | None = None) -> list[Presence]:
    """Each person's presence, in the order they first joined. With ``ended_at``, whoever
    was still in is counted until then, and what came later does not count."""
    people: dict[str, Presence] = {}
    for event in sorted(events, key=lambda e: (e.at, e.kind != LEAVE)):
        presence = people.get(event.who)
        if presence is None:
            if event.kind != JOIN:
                continue
            presence = people[event.who] = Presence(event.who, event.name, event.role)
        _fold(presence, event, ended_at)
    if ended_at is not None:
        for presence in people.values():
            if presence._since is not None:
                presence.intervals.append((presence._since, max(ended_at, presence._since)))
                presence._since = None
                presence.last_reason = ENDED
    return [p for p in people.values() if p.intervals or p.present]


def is_participant(presence: Presence) -> bool:
    """Who decides whether the meeting took place: everyone who is not staff."""
    return presence.role != STAFF


def outcome(
    people: list[Presence],
    scheduled_end: datetime,
    counts: Callable[[Presence], bool] = is_participant,
) -> str:
    """The outcome of an ended meeting from :func:`presences` (computed with its end):

    - ``no_show`` (Uteblev): no participant was ever in the room;
    - ``interrupted`` (Avbrutet): the last participant's connection broke (``lost``),
      before the booked end, and nobody came back;
    - ``completed`` (Genomfört) otherwise: someone was there when it ended, or the last
      one left by hanging up, or the connection broke only after the booked end.
    """
    counted = [p for p in people if counts(p) and p.intervals]
    if not counted:
        return NO_SHOW
    if any(p.last_reason == ENDED for p in counted):
        return COMPLETED
    last = max(counted, key=lambda p: p.intervals[-1][1])
    if last.last_reason == LOST and last.intervals[-1][1] < scheduled_end:
        return INTERRUPTED
    return COMPLETED


def _union(intervals: list) -> list:
    merged: list = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def together(
    people: list[Presence], counts: Callable[[Presence], bool] = is_participant
) -> tuple[datetime | None, datetime | None]:
    """The actual start and end: the first and the last moment at which staff and a
    participant were in the room together (None, None if they never were). Without any
    staff connection recorded, the participants' own first and last moment."""
    staff = _union([i for p in people if p.role == STAFF for i in p.intervals])
    others = _union([i for p in people if counts(p) for i in p.intervals])
    if not others:
        return None, None
    if not staff:
        return others[0][0], others[-1][1]
    overlaps = [
        (max(a, c), min(b, d)) for a, b in staff for c, d in others if max(a, c) < min(b, d)
    ]
    if not overlaps:
        return None, None
    return min(o[0] for o in overlaps), max(o[1] for o in overlaps)
