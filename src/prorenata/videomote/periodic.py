"""Background rounds per database: one daemon thread per (kind of round, database).

The audit retention (daily) and the ending of overdue meetings (every minute) each run a
function over the whole database on a thread of their own, started when Zope opens its
database (IDatabaseOpenedWithRoot). The mail delivery worker has its own thread: it is
woken by commits, not only by a clock.
"""

from collections.abc import Callable
from prorenata.videomote import logger
from ZODB.POSException import ConflictError

import threading


class PeriodicRound:
    """Runs ``run(db)`` after ``first_wait`` seconds and then every ``interval`` seconds;
    after a failure (a conflict: quietly; anything else: logged) again after ``retry``."""

    def __init__(
        self,
        db,
        run: Callable,
        name: str,
        interval: float,
        first_wait: float | None = None,
        retry: float | None = None,
    ):
        self.db = db
        self.run = run
        self.interval = interval
        self.first_wait = interval if first_wait is None else first_wait
        self.retry = interval if retry is None else retry
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        wait = self.first_wait
        while not self._stop.wait(wait):
            try:
                self.run(self.db)
                wait = self.interval
            except ConflictError:
                wait = self.retry
            except Exception:
                logger.exception("%s failed; trying again later", self._thread.name)
                wait = self.retry
            self.runs += 1


_REGISTRIES: list["Timers"] = []


class Timers:
    """The running rounds of one kind, one per database, started on first use."""

    def __init__(self, make: Callable[[object], PeriodicRound]):
        self._make = make
        self._timers: dict[int, PeriodicRound] = {}
        self._lock = threading.Lock()
        _REGISTRIES.append(self)

    def timer_for(self, db) -> PeriodicRound:
        with self._lock:
            timer = self._timers.get(id(db))
            if timer is None or not timer.alive():
                timer = self._timers[id(db)] = self._make(db)
                timer.start()
            return timer

    def stop_all(self) -> None:
        with self._lock:
            timers = list(self._timers.values())
            self._timers.clear()
        for timer in timers:
            timer.stop()


def stop_every_round() -> None:
    """Stop the rounds of every kind (a database about to close: tests, shutdown)."""
    for registry in list(_REGISTRIES):
        registry.stop_all()
