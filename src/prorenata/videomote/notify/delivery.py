"""The delivery worker: a thread per database that empties the outboxes of its sites.

Woken right after a transaction that queued mail commits, and every ``interval`` seconds
for retries. It works on its own ZODB connection and transaction manager.
"""

from plone.base.interfaces import IPloneSiteRoot
from prorenata.videomote import logger
from prorenata.videomote.audit.record import purge_expired
from prorenata.videomote.notify.outbox import deliver_due
from ZODB.POSException import ConflictError
from zope.component.hooks import setSite

import threading
import time
import transaction

INTERVAL_SECONDS = 15.0
PURGE_INTERVAL_SECONDS = 24 * 3600  # the audit retention rule runs once a day


class DeliveryWorker:
    """Delivers queued mail for every Plone site in one database."""

    def __init__(self, db, interval: float = INTERVAL_SECONDS):
        self.db = db
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_purge = float("-inf")
        self._thread = threading.Thread(
            target=self._run, name="videomote-mail-delivery", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.deliver_once()
            except Exception:
                logger.exception("Mail delivery round failed; retrying later")

    def deliver_once(self) -> tuple[int, int]:
        """One round over every site; returns (sent, failed)."""
        manager = transaction.TransactionManager()
        connection = self.db.open(transaction_manager=manager)
        totals = [0, 0]
        purge_due = time.monotonic() - self._last_purge > PURGE_INTERVAL_SECONDS
        try:
            manager.begin()
            app = connection.root()["Application"]
            for site in [o for o in app.objectValues() if IPloneSiteRoot.providedBy(o)]:
                setSite(site)
                try:
                    sent, failed = deliver_due(site, commit=manager.commit)
                except ConflictError:
                    manager.abort()
                    self._wake.set()  # someone changed the outbox meanwhile: go again
                    continue
                totals[0] += sent
                totals[1] += failed
                if purge_due:
                    purge_expired(site)
                    manager.commit()
            if purge_due:
                self._last_purge = time.monotonic()
        finally:
            setSite(None)
            manager.abort()
            connection.close()
        return totals[0], totals[1]


_workers: dict[int, DeliveryWorker] = {}
_lock = threading.Lock()


def worker_for(db) -> DeliveryWorker:
    """The running worker of ``db``, started on first use."""
    with _lock:
        worker = _workers.get(id(db))
        if worker is None or not worker._thread.is_alive():
            worker = _workers[id(db)] = DeliveryWorker(db)
            worker.start()
        return worker


def stop_all() -> None:
    with _lock:
        workers = list(_workers.values())
        _workers.clear()
    for worker in workers:
        worker.stop()


def wake_after_commit(site) -> None:
    """Ask the worker to deliver as soon as the current transaction has committed."""
    jar = getattr(site, "_p_jar", None)
    if jar is None:
        return
    db = jar.db()

    def hook(committed: bool) -> None:
        if committed:
            worker_for(db).wake()

    transaction.get().addAfterCommitHook(hook)


def start_on_zope_start(event) -> None:
    """Deliver what was queued while the server was down (IDatabaseOpenedWithRoot)."""
    worker_for(event.database).wake()
