"""Meetings end by time without anyone looking: a timer of the visit's own, every minute.

Each round finds, per Plone site, the meetings still on (booked or started) whose end
lies more than the grace period back (one catalog query on ``end`` and ``meeting_state``)
and ends those with nobody in the room (``ending.settle_if_overdue``): outcome, draft note,
statistics. At most :data:`BATCH` meetings a round, each committed on its own (a conflict
with staff ending it at the same moment leaves it to them). A thread per database, on
its own connection; started when Zope opens its database, like the audit retention.
"""

from DateTime import DateTime
from datetime import UTC
from datetime import datetime
from plone.base.interfaces import IPloneSiteRoot
from prorenata.videomote.access import leave_room
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.periodic import PeriodicRound
from prorenata.videomote.periodic import Timers
from prorenata.videomote.visit import ending
from prorenata.videomote.visit import store
from ZODB.POSException import ConflictError
from zope.component.hooks import getSite
from zope.component.hooks import setSite

import transaction

INTERVAL_SECONDS = 60.0
BATCH = 100


def overdue_brains(site, now: datetime):
    catalog = site.portal_catalog
    before = DateTime((now - store.grace()).isoformat())
    return catalog.unrestrictedSearchResults(
        portal_type="VideoMeeting",
        meeting_state=[STATE_BOOKED, STATE_STARTED],
        end={"query": before, "range": "max"},
        sort_on="end",
        sort_limit=BATCH,
    )[:BATCH]


def end_overdue(site, manager, now: datetime | None = None) -> int:
    """End the site's overdue meetings; one commit each. Returns how many ended."""
    now = now or datetime.now(UTC)
    ended = 0
    for brain in overdue_brains(site, now):
        try:
            meeting = brain._unrestrictedGetObject()
            if ending.settle_if_overdue(meeting, now):
                manager.commit()
                ended += 1
        except ConflictError:
            manager.abort()
    return ended


def remove_staff_without_access(manager) -> None:
    """The safety net for changes of access Plone announces with no event (a global role
    revoked): staff in a started meeting's room who may no longer manage it leave it
    (``access/leave_room.py``; the events do it at once)."""
    try:
        if leave_room.check_started_meetings():
            manager.commit()
    except ConflictError:
        manager.abort()


def end_overdue_in_all_sites(db) -> int:
    """One round over every site of ``db``. Uses this thread's own transaction manager
    (the timer's thread): Plone's catalog queue commits with it, so the ended meeting and
    its new note are indexed."""
    manager = transaction.manager
    connection = db.open()
    ended = 0
    before = getSite()
    try:
        manager.begin()
        app = connection.root()["Application"]
        for site in [o for o in app.objectValues() if IPloneSiteRoot.providedBy(o)]:
            setSite(site)
            ended += end_overdue(site, manager)
            remove_staff_without_access(manager)
    finally:
        setSite(before)
        manager.abort()
        connection.close()
    return ended


_timers = Timers(
    lambda db: PeriodicRound(
        db, end_overdue_in_all_sites, "videomote-visit-ending", INTERVAL_SECONDS
    )
)
timer_for = _timers.timer_for
stop_all = _timers.stop_all


def start_on_zope_start(event) -> None:
    """IDatabaseOpenedWithRoot: overdue meetings end while the server runs."""
    timer_for(event.database)
