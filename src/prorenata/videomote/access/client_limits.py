"""Per-client limits kept in the database, so that every Zope instance behind the load
balancer counts the same attempts (a limit in process memory would be N times as loose
with N instances, and reset by a restart)."""

from BTrees.Length import Length
from BTrees.OOBTree import OOBTree
from persistent import Persistent
from prorenata.videomote.access.ratelimit import allow_recorded
from prorenata.videomote.access.ratelimit import stale_keys
from prorenata.videomote.storage import annotated

import time


class ClientWindows(Persistent):
    """Recent event times by client key. Each key is one BTree entry, so requests from
    different clients change different entries and BTrees resolve their conflicts; two at
    once from one client conflict and Zope retries one of them."""

    def __init__(self):
        self.events = OOBTree()
        self.size = Length()


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
        new = key not in store.events
        allowed = allow_recorded(store.events, key, now, self.limit, self.seconds)
        if allowed and new:
            store.size.change(1)
            if store.size() > self.max_keys:
                self._evict(store, now)
        return allowed

    def _evict(self, store: ClientWindows, now: float) -> None:
        doomed = stale_keys(store.events, now, self.seconds)
        if not doomed:
            by_age = sorted(store.events.items(), key=lambda item: item[1][-1])
            doomed = [key for key, _times in by_age[: max(1, self.max_keys // 10)]]
        for key in doomed:
            del store.events[key]
        store.size.change(-len(doomed))

    def clear(self, site) -> None:
        store = self._store(site)
        store.events.clear()
        store.size.set(0)
