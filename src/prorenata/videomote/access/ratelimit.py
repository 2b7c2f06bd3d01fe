"""A per-client sliding-window limit for the participant pages (in process memory)."""

from collections import deque

import threading
import time


class SlidingWindow:
    """At most ``limit`` events per ``seconds`` per key; memory bounded by ``max_keys``."""

    def __init__(self, limit: int, seconds: float, max_keys: int = 10_000, clock=time.monotonic):
        self.limit, self.seconds, self.max_keys, self.clock = limit, seconds, max_keys, clock
        self._events: dict[str, deque] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                if len(self._events) >= self.max_keys:
                    self._evict(now)
                events = self._events[key] = deque()
            while events and now - events[0] > self.seconds:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            return True

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._events.items() if not v or now - v[-1] > self.seconds]
        for key in stale or list(self._events)[: self.max_keys // 10]:
            del self._events[key]
