"""One writer per CalDAV account across workers and Zope instances: the lease in the ZODB.

Plone's test server answers each request in a thread with its own ZODB connection on the
one database, as two Zope instances would; the workers are HTTP clients (threads here, or
the real ``videomote-caldav-sync`` processes). Both calendar servers."""

from collections import Counter
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from plone import api
from prorenata.videomote.caldav_bridge import lease as lease_module
from prorenata.videomote.caldav_bridge import sync
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.client import CalendarAccount
from prorenata.videomote.caldav_bridge.lease import ANNOTATION_KEY
from prorenata.videomote.caldav_bridge.lease import AccountLease
from prorenata.videomote.caldav_bridge.lease import leases
from test_sync_with_journal import SECRET
from test_sync_with_journal import _book
from test_sync_with_journal import _made_in_the_calendar
from test_sync_with_journal import _remote
from test_sync_with_journal import journal  # noqa: F401 - a fixture
from zope.annotation.interfaces import IAnnotations

import requests
import subprocess
import sys
import threading
import time
import transaction


def _post(portal, **params) -> dict:
    """One worker's call (no transaction of the test's is touched: usable in a thread)."""
    response = requests.post(
        f"{portal.absolute_url()}/@@videomote-caldav-sync",
        params=params,
        headers={"X-Videomote-Worker": SECRET},
        timeout=120,
    )
    assert response.status_code == 200, response.text
    return response.json()


def _count_puts(monkeypatch) -> Counter:
    """Every PUT Plone makes to the calendar, by iCalendar UID (the real one is made)."""
    puts: Counter = Counter()
    real_put = CalendarAccount.put

    def put(self, uid, *args, **kwargs):
        puts[uid] += 1
        return real_put(self, uid, *args, **kwargs)

    monkeypatch.setattr(CalendarAccount, "put", put)
    return puts


def _meetings():
    transaction.begin()
    catalog = api.portal.get_tool("portal_catalog")
    return catalog.unrestrictedSearchResults(portal_type="VideoMeeting")


def test_two_workers_at_once_book_a_calendar_event_once_and_mail_once(
    journal,  # noqa: F811 - the fixture
    smtp_sink,
    monkeypatch,
):
    """The second worker's round comes while the first is half-way through booking the
    clinician's new event: it skips the account, so one meeting, one e-mail, one PUT."""
    _made_in_the_calendar(journal, "two-workers-1", "Samtal", 10, "anna@example.se")
    puts = _count_puts(monkeypatch)
    inside, second_done = threading.Event(), threading.Event()
    real_book = sync.book_meeting

    def book_meeting(*args, **kwargs):
        if not inside.is_set():
            inside.set()
            second_done.wait(timeout=30)  # the first round waits for the second caller
        return real_book(*args, **kwargs)

    monkeypatch.setattr(sync, "book_meeting", book_meeting)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(_post(journal["portal"])))
    worker.start()
    try:
        assert inside.wait(timeout=30), "the first round never came to the booking"
        second = _post(journal["portal"])  # another worker, on another thread and connection
    finally:
        second_done.set()
        worker.join(timeout=60)
    assert second == {"synced": {}, "busy": ["sara"]}
    assert list(first["synced"]) == ["sara"]
    (brain,) = _meetings()
    assert brain._unrestrictedGetObject().ical_uid == "two-workers-1"
    assert len(smtp_sink.wait_for(2, timeout=3)) == 1  # the invitation, once
    assert puts["two-workers-1"] == 1
    # The lease was given back: the next worker syncs the account (and changes nothing).
    assert _post(journal["portal"])["busy"] == []
    assert puts["two-workers-1"] == 1 and len(_meetings()) == 1


def _set_lease(portal, holder: str, expires: datetime, generation: int = 7) -> None:
    transaction.begin()
    lease = leases(portal).setdefault("sara", AccountLease())
    lease.holder, lease.expires, lease.generation = holder, expires, generation
    transaction.commit()


def test_a_crashed_holders_lease_holds_until_it_expires_then_another_takes_over(
    journal,  # noqa: F811 - the fixture
    smtp_sink,
):
    meeting = _book(journal)
    now = datetime.now(UTC)
    _set_lease(journal["portal"], "crashed-host:4242:0dead", now + timedelta(hours=1))
    assert _post(journal["portal"]) == {"synced": {}, "busy": ["sara"]}
    assert _remote(journal) == {}  # nothing written by anyone while the lease is live
    _set_lease(journal["portal"], "crashed-host:4242:0dead", now - timedelta(seconds=1))
    result = _post(journal["portal"])
    assert result["busy"] == [] and list(result["synced"]) == ["sara"]
    assert meeting.ical_uid in _remote(journal)
    transaction.begin()
    lease = leases(journal["portal"])["sara"]
    assert (lease.holder, lease.expires, lease.generation) == ("", None, 9)  # taken, given back


def test_a_round_longer_than_its_lease_renews_it_and_keeps_the_account(
    journal,  # noqa: F811 - the fixture
    smtp_sink,
    monkeypatch,
):
    """A round outlasting the lease (a slow calendar server) renews it between writes: a
    worker coming meanwhile still skips the account, and nothing is written twice."""
    monkeypatch.setattr(lease_module, "LEASE_SECONDS", 1.0)
    meetings = [_book(journal, hour=hour) for hour in range(8, 14)]
    puts = _count_puts(monkeypatch)
    real_put = CalendarAccount.put
    second_may_come = threading.Event()

    def slow_put(self, uid, *args, **kwargs):
        if sum(puts.values()) >= 2:
            # 1.2 s into a 3.6 s round: the first lease ended at 1 s, and the second
            # worker's round (a new connection to the server) claims a while later.
            second_may_come.set()
        time.sleep(0.6)
        return real_put(self, uid, *args, **kwargs)

    monkeypatch.setattr(CalendarAccount, "put", slow_put)
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(_post(journal["portal"])))
    worker.start()
    try:
        assert second_may_come.wait(timeout=30)
        second = _post(journal["portal"])
    finally:
        worker.join(timeout=60)
    assert second == {"synced": {}, "busy": ["sara"]}
    assert list(first["synced"]) == ["sara"]
    assert all(puts[meeting.ical_uid] == 1 for meeting in meetings), puts
    assert set(_remote(journal)) == {meeting.ical_uid for meeting in meetings}


def test_a_site_without_leases_yet_syncs_and_an_idle_round_writes_none(
    journal,  # noqa: F811 - the fixture
    smtp_sink,
):
    """Leases are made when first needed (a site from before them has none, and needs no
    upgrade step); a round with nothing to do takes no lease, so it writes nothing."""
    portal = journal["portal"]
    assert ANNOTATION_KEY not in IAnnotations(portal)
    meeting = _book(journal)
    assert list(_post(portal)["synced"]) == ["sara"]
    assert meeting.ical_uid in _remote(journal)
    _post(portal, only="changes")  # what our own write reported
    transaction.begin()
    assert leases(portal)["sara"].holder == ""
    written = _last_written(portal)
    assert _post(portal, only="changes")["busy"] == []
    transaction.begin()
    assert _last_written(portal) == written


def _last_written(portal) -> list[bytes]:
    """When the account's record and lease were last written (each loaded first)."""
    found = [accounts(portal)["sara"], leases(portal)["sara"]]
    return [(item._p_activate(), item._p_serial)[1] for item in found]


def test_two_worker_processes_sync_each_change_once(
    journal,  # noqa: F811 - the fixture
    smtp_sink,
    monkeypatch,
):
    """Two real ``videomote-caldav-sync`` processes against one Plone (as on two hosts):
    no lock file, no configuration; each event is written and booked once."""
    meeting = _book(journal)
    smtp_sink.wait_for(1)
    _made_in_the_calendar(journal, "two-processes-1", "Samtal", 13, "anna@example.se")
    puts = _count_puts(monkeypatch)
    real_book = sync.book_meeting

    def slow_book(*args, **kwargs):
        time.sleep(1.5)  # a slow round: the other worker's rounds come meanwhile
        return real_book(*args, **kwargs)

    monkeypatch.setattr(sync, "book_meeting", slow_book)
    command = [
        str(Path(sys.executable).parent / "videomote-caldav-sync"),
        "--site",
        journal["portal"].absolute_url(),
        "--changes-interval",
        "0.5",
    ]
    env = {"VIDEOMOTE_WORKER_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
    workers = [
        subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_meetings()) < 2:
            time.sleep(0.2)
        time.sleep(3)  # both go on polling, a round every half second each
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    booked = [brain._unrestrictedGetObject().ical_uid for brain in _meetings()]
    assert sorted(booked) == sorted([meeting.ical_uid, "two-processes-1"])
    assert puts[meeting.ical_uid] == 1 and puts["two-processes-1"] == 1, puts
    assert len(smtp_sink.wait_for(3, timeout=3)) == 2  # the two invitations, once each
