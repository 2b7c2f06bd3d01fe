"""A delivery whose record of a sent message meets another instance's write (a real ZODB
conflict), then the round after the claim has run out: what two Zope instances on one
database can do to a worker's commit (test_delivery_claim.py, test_reminders.py)."""

from collections.abc import Callable
from ZODB.POSException import ConflictError
from zope.component.hooks import getSite
from zope.component.hooks import setSite


def deliver_through_a_conflict(
    deliver: Callable[..., object],
    worker: tuple,
    other: tuple,
    went_out: Callable[[], bool],
    same_object: Callable[[object], object],
    claim_ran_out,
    observe: Callable[[], object] = lambda: None,
) -> tuple[list, object]:
    """``deliver(site, commit, now=None)`` on the worker's ``(manager, connection, site)``:
    the first commit after ``went_out()`` turns true finds that the ``other`` instance has
    just committed ``same_object(other_site)``; a ConflictError is handled as the worker
    does (abort, go again later); then a round at ``claim_ran_out``. Both connections are
    closed afterwards (the site hook as it was). Returns the conflicts that happened (one,
    or the test proves nothing) and what ``observe()`` saw before the connections closed."""
    manager, connection, site = worker
    other_manager, other_connection, other_site = other
    conflicts = []

    def commit_while_another_instance_writes():
        if went_out() and not conflicts:  # the message went out: now its record
            conflicts.append(True)
            other_manager.begin()
            same_object(other_site)._p_changed = True
            other_manager.commit()
        manager.commit()

    previous = getSite()
    try:
        setSite(site)
        try:
            deliver(site, commit_while_another_instance_writes)
        except ConflictError:
            manager.abort()
        manager.begin()
        deliver(site, manager.commit, now=claim_ran_out)
        manager.abort()
        return conflicts, observe()
    finally:
        setSite(previous)
        for one_manager, one in ((manager, connection), (other_manager, other_connection)):
            one_manager.abort()
            one.close()
