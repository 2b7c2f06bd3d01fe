"""The audit log's retention rule, applied by a timer of the audit package's own.

Once at start and then once a day, every Plone site of the database has its entries
older than ``audit_retention_years`` (control panel, default 5) removed
(``record.purge_expired``). A thread per database, on its own connection and transaction
manager; started when Zope opens its database (IDatabaseOpenedWithRoot).
"""

from plone.base.interfaces import IPloneSiteRoot
from prorenata.videomote import logger
from prorenata.videomote.audit.record import purge_expired
from ZODB.POSException import ConflictError
from zope.component.hooks import setSite

import threading
import transaction

INTERVAL_SECONDS = 24 * 3600.0  # the retention is counted in years: once a day is enough
RETRY_SECONDS = 300.0  # after a failed run (a conflict, the database busy)


def purge_all_sites(db) -> int:
    """Apply the retention rule to every site in ``db``; one commit per site.

    Raises ConflictError when a site's commit conflicted (the caller runs again soon)."""
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    removed = 0
    try:
        manager.begin()
        app = connection.root()["Application"]
        for site in [o for o in app.objectValues() if IPloneSiteRoot.providedBy(o)]:
            setSite(site)
            count = purge_expired(site)
            if count:
                manager.commit()
                logger.info("Audit log of %s: %d entries past retention removed", site.id, count)
            removed += count
    finally:
        setSite(None)
        manager.abort()
        connection.close()
    return removed


class RetentionTimer:
    """Runs ``purge_all_sites`` at start and every ``interval`` seconds after."""

    def __init__(self, db, interval: float = INTERVAL_SECONDS):
        self.db = db
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="videomote-audit-retention", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        wait = 0.0
        while not self._stop.wait(wait):
            try:
                purge_all_sites(self.db)
                wait = self.interval
            except ConflictError:
                wait = RETRY_SECONDS
            except Exception:
                logger.exception("Audit retention run failed; retrying later")
                wait = RETRY_SECONDS
            self.runs += 1


_timers: dict[int, RetentionTimer] = {}
_lock = threading.Lock()


def timer_for(db) -> RetentionTimer:
    """The running retention timer of ``db``, started on first use."""
    with _lock:
        timer = _timers.get(id(db))
        if timer is None or not timer.alive():
            timer = _timers[id(db)] = RetentionTimer(db)
            timer.start()
        return timer


def stop_all() -> None:
    with _lock:
        timers = list(_timers.values())
        _timers.clear()
    for timer in timers:
        timer.stop()


def start_on_zope_start(event) -> None:
    """IDatabaseOpenedWithRoot: the retention rule runs with the server, from its start."""
    timer_for(event.database)
