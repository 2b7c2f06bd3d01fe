"""The audit log's retention rule, applied by a timer of the audit package's own.

Once at start and then once a day, every Plone site of the database has its entries
older than ``audit_retention_years`` (control panel, default 5) removed
(``record.purge_expired``). A thread per database, on its own connection and transaction
manager; started when Zope opens its database (IDatabaseOpenedWithRoot).
"""

from plone.base.interfaces import IPloneSiteRoot
from prorenata.videomote import logger
from prorenata.videomote.audit.record import purge_expired
from prorenata.videomote.periodic import PeriodicRound
from prorenata.videomote.periodic import Timers
from zope.component.hooks import setSite

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


_timers = Timers(
    lambda db: PeriodicRound(
        db,
        purge_all_sites,
        "videomote-audit-retention",
        INTERVAL_SECONDS,
        first_wait=0.0,  # once at start
        retry=RETRY_SECONDS,
    )
)
timer_for = _timers.timer_for
stop_all = _timers.stop_all


def start_on_zope_start(event) -> None:
    """IDatabaseOpenedWithRoot: the retention rule runs with the server, from its start."""
    timer_for(event.database)
