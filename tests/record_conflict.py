"""A delivery whose record of a sent message meets another instance's write (a real ZODB
conflict), then the round after the claim has run out: what two Zope instances on one
database can do to a worker's commit (test_delivery_claim.py, test_reminders.py)."""

from collections.abc import Callable
from ZODB.POSException import ConflictError


def deliver_through_a_conflict(
    deliver: Callable[..., object],
    worker: tuple,
    other: tuple,
    went_out: Callable[[], bool],
    same_object: Callable[[object], object],
    claim_ran_out,
) -> list:
    """``deliver(site, commit, now=None)`` on the worker's ``(manager, connection, site)``:
    the first commit after ``went_out()`` turns true finds that the ``other`` instance has
    just committed ``same_object(other_site)``; a ConflictError is handled as the worker
    does (abort, go again later); then a round at ``claim_ran_out``. Returns the conflicts
    that happened (one, or the test proves nothing)."""
    manager, _connection, site = worker
    other_manager, _other_connection, other_site = other
    conflicts = []

    def commit_while_another_instance_writes():
        if went_out() and not conflicts:  # the message went out: now its record
            conflicts.append(True)
            other_manager.begin()
            same_object(other_site)._p_changed = True
            other_manager.commit()
        manager.commit()

    try:
        deliver(site, commit_while_another_instance_writes)
    except ConflictError:
        manager.abort()
    manager.begin()
    deliver(site, manager.commit, now=claim_ran_out)
    manager.abort()
    return conflicts
