"""Per-client limits kept in the database, so that every Zope instance behind the load
balancer counts the same attempts (a limit in process memory would be N times as loose
with N instances, and reset by a restart)."""

from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from persistent import Persistent
from prorenata.videomote.access.ratelimit import allow_recorded
from prorenata.videomote.storage import annotated

import time

#: Event times kept per client at most (a window's limit is far below it).
MAX_TIMES = 1000


class ClientEvents(Persistent):
    """One client's recent event times. Requests of one client at the same moment (a
    browser's parallel posts, a school behind one NAT address) change the same object on
    different instances: their times are merged instead of failing with a ConflictError
    (Zope would retry three times and then answer 500). Merging can let through at most
    as many extra attempts as were made at the same instant."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.times: tuple[float, ...] = ()

    def _p_resolveConflict(self, old_state, saved_state, new_state):  # noqa: N802 - ZODB API
        merged = sorted(set(saved_state.get("times", ())) | set(new_state.get("times", ())))
        seconds = new_state.get("seconds", saved_state.get("seconds", 0))
        if merged:
            merged = [t for t in merged if t >= merged[-1] - seconds]
        return {**new_state, "times": tuple(merged[-MAX_TIMES:])}


class ClientWindows(Persistent):
    """Recent event times by client key: each client one entry (made once), so requests
    from different clients change different objects."""

    def __init__(self):
        self.events = OOBTree()
        self.size = Length()


class _TimesOf:
    """:func:`allow_recorded`'s mapping view of one client's :class:`ClientEvents`."""

    def __init__(self, record: ClientEvents):
        self.record = record

    def get(self, _key, default=()):
        return self.record.times or default

    def __setitem__(self, _key, value):
        self.record.times = tuple(value)[-MAX_TIMES:]


class SharedWindow:
    """At most ``limit`` events per ``seconds`` per client, counted in the site's database;
    at most ``max_keys`` clients are kept (stale ones forgotten first, then the oldest)."""

    def __init__(
        self, name: str, limit: int, seconds: float, max_keys: int = 10_000, clock=time.time
    ):
        self.name, self.limit, self.seconds = name, limit, seconds
        self.max_keys, self.clock = max_keys, clock

    def _store(self, site) -> ClientWindows:
        return annotated(site, f"prorenata.videomote.limits.{self.name}", ClientWindows)

    def allow(self, site, key: str) -> bool:
        store = self._store(site)
        now = self.clock()
        record = store.events.get(key)
        if record is None:
            record = store.events[key] = ClientEvents(self.seconds)
            store.size.change(1)
            if store.size() > self.max_keys:
                self._evict(store, now, keep=key)
        return allow_recorded(_TimesOf(record), key, now, self.limit, self.seconds)

    def _evict(self, store: ClientWindows, now: float, keep: str) -> None:
        ages = {
            key: (record.times[-1] if record.times else 0.0)
            for key, record in store.events.items()
            if key != keep
        }
        doomed = [key for key, last in ages.items() if now - last > self.seconds]
        if not doomed:
            by_age = sorted(ages, key=ages.get)
            doomed = by_age[: max(1, self.max_keys // 10)]
        for key in doomed:
            del store.events[key]
        store.size.change(-len(doomed))

    def clear(self, site) -> None:
        store = self._store(site)
        store.events.clear()
        store.size.set(0)
