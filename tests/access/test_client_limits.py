"""The per-client limit of the participant pages is kept in the database: every Zope
instance behind the load balancer (and a restarted one) counts the same attempts."""

from prorenata.videomote.access.client_limits import SharedWindow
from prorenata.videomote.access.ratelimit import allow_recorded

import transaction


def test_a_limit_spent_through_one_instance_is_spent_for_the_others(functional):
    portal = functional["portal"]
    window = SharedWindow("test-pages", limit=3, seconds=600)
    database = portal._p_jar.db()

    def attempt(address: str) -> bool:
        """One request on a connection of its own, as another Zope instance has."""
        manager = transaction.TransactionManager()
        connection = database.open(transaction_manager=manager)
        try:
            manager.begin()
            site = connection.root()["Application"][portal.getId()]
            allowed = window.allow(site, address)
            manager.commit()
            return allowed
        finally:
            manager.abort()
            connection.close()

    assert [attempt("192.0.2.7") for _ in range(4)] == [True, True, True, False]
    assert attempt("192.0.2.8")  # another client is not limited by it


def test_old_attempts_leave_the_window_and_a_refusal_counts_nothing():
    events: dict[str, tuple[float, ...]] = {}
    assert [allow_recorded(events, "a", t, 2, 60) for t in (0, 1, 2, 3)] == [
        True,
        True,
        False,
        False,
    ]
    assert events["a"] == (0, 1)
    assert allow_recorded(events, "a", 61, 2, 60)  # the attempt at 0 has left the window


def test_the_database_keeps_a_bounded_number_of_clients(functional):
    portal = functional["portal"]
    clock = [1000.0]
    window = SharedWindow("test-bounded", limit=5, seconds=60, max_keys=20, clock=lambda: clock[0])
    for number in range(100):
        clock[0] += 1
        window.allow(portal, f"198.51.100.{number}")
    store = window._store(portal)
    assert len(store.events) <= 20
    assert store.size() == len(store.events)
    assert "198.51.100.99" in store.events  # the newest are kept


def test_one_client_at_the_same_moment_on_two_instances_is_merged_not_refused(functional):
    """A school behind one address posting on two instances at once: both attempts are
    counted, neither request fails with a database conflict (Zope would answer 500 after
    three tries)."""
    portal = functional["portal"]
    window = SharedWindow("test-merge", limit=10, seconds=600)
    window.allow(portal, "203.0.113.5")  # the client's entry exists
    transaction.commit()
    database = portal._p_jar.db()
    managers, sites = [], []
    for _ in range(2):
        manager = transaction.TransactionManager()
        connection = database.open(transaction_manager=manager)
        manager.begin()
        managers.append((manager, connection))
        sites.append(connection.root()["Application"][portal.getId()])
    try:
        assert window.allow(sites[0], "203.0.113.5")
        assert window.allow(sites[1], "203.0.113.5")
        managers[0][0].commit()
        managers[1][0].commit()  # no ConflictError: the times are merged
    finally:
        for manager, connection in managers:
            manager.abort()
            connection.close()
    transaction.begin()
    assert len(window._store(portal).events["203.0.113.5"].times) == 3
