"""One writer per CalDAV account across threads, Zope instances and hosts (Plone shell).

Every Zope instance of a site shares one database (FileStorage through ZEO, or RelStorage
on PostgreSQL), so that is where the rule is kept: a lease object per account in the
site's annotations, with its holder, when it expires, and a generation that every
acquisition and release counts up. The lease is written through a connection and a
transaction of its own, committed at once, so other instances see it while the round's
own transaction is still open. Of two instances taking one lease at once, the database
lets one commit and refuses the other (ConflictError): that one skips the account this
round. A lease left by a crashed holder expires and is taken over.

A round reads the calendar before it takes the lease (an idle round, nearly every one,
then writes nothing to the database at all). Taking the lease also checks that nobody
took or released it since the round's transaction began: otherwise the round may have
read the account before another holder's round was stored, and it gives way.
"""

from BTrees.OOBTree import OOBTree
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from persistent import Persistent
from prorenata.videomote import logger
from prorenata.videomote.storage import annotated
from ZODB.POSException import ConflictError

import os
import socket
import transaction
import uuid

ANNOTATION_KEY = "prorenata.videomote.caldav-leases"
#: How long a lease holds without renewal: a crashed holder's accounts wait this long.
#: A round renews it once less than half is left (between its calendar writes).
LEASE_SECONDS = 120.0


class AccountLease(Persistent):
    """Who is syncing one account (``holder``, empty when nobody) and until when."""

    holder = ""
    expires: datetime | None = None
    #: Counted up on every acquisition and release: a round whose view of the database
    #: predates the last change of the lease may have missed another holder's round.
    generation = 0


class AccountBusy(Exception):
    """Another holder syncs the account, or did so since this round's view began."""


class LeaseLost(Exception):
    """The lease expired during the round and another holder took it over."""


def leases(site, create: bool = True) -> OOBTree | None:
    return annotated(site, ANNOTATION_KEY, OOBTree, create)


def _generation(site, userid: str) -> int:
    tree = leases(site, create=False)
    lease = tree.get(userid) if tree is not None else None
    return lease.generation if lease is not None else 0


def new_holder() -> str:
    """A holder id that names the host and process (for the log) and is unique."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class AccountGuard:
    """The lease of one account for the rounds of one request.

    Made when the request's transaction begins for that account (it notes the lease's
    generation as that transaction sees it); ``claim`` before the round's first write,
    ``keep`` between writes, ``release`` after the round's transaction is committed or
    aborted. Without ``claim`` nothing is written: an idle round costs no database write.
    """

    def __init__(self, site, userid: str, seconds: float | None = None):
        self.db = site._p_jar.db()
        self.site_oid = site._p_oid
        self.userid = userid
        self.seconds = seconds if seconds is not None else LEASE_SECONDS
        self.holder = new_holder()
        self.seen = _generation(site, userid)
        self.expires: datetime | None = None

    @property
    def held(self) -> bool:
        return self.expires is not None

    def claim(self) -> None:
        """Take the lease (or keep it, when held already); AccountBusy when another holder
        has a live one, took one at the same moment, or synced since this view began."""
        if self.held:
            self.keep()
            return

        def take(lease: AccountLease, now: datetime) -> None:
            if lease.generation != self.seen:
                raise AccountBusy(f"{self.userid}: synced elsewhere since this round began")
            if lease.holder and lease.expires is not None and lease.expires > now:
                raise AccountBusy(f"{self.userid}: synced by {lease.holder}")
            if lease.holder:
                logger.warning(
                    "CalDAV lease of %s held by %s expired at %s; taken over",
                    self.userid,
                    lease.holder,
                    lease.expires,
                )
            lease.holder = self.holder
            lease.expires = now + timedelta(seconds=self.seconds)
            lease.generation += 1

        try:
            self.expires = self._write(take, create=True)
        except ConflictError as error:
            raise AccountBusy(f"{self.userid}: taken at the same moment") from error
        self.seen += 1

    def keep(self) -> None:
        """Renew the lease once less than half of it is left; LeaseLost if it is gone."""
        if not self.held:
            return
        if datetime.now(UTC) < self.expires - timedelta(seconds=self.seconds / 2):
            return

        def renew(lease: AccountLease, now: datetime) -> None:
            if lease.holder != self.holder:
                raise LeaseLost(f"{self.userid}: taken over by {lease.holder or 'nobody'}")
            lease.expires = now + timedelta(seconds=self.seconds)

        try:
            self.expires = self._write(renew)
        except ConflictError as error:
            raise LeaseLost(f"{self.userid}: written by another holder") from error

    def release(self) -> None:
        """Give the lease back (after the round's transaction ended). Best effort: a lease
        that cannot be given back expires."""
        if not self.held:
            return

        def free(lease: AccountLease, now: datetime) -> None:
            if lease.holder == self.holder:
                lease.holder = ""
                lease.expires = None
                lease.generation += 1

        try:
            self._write(free)
        except Exception as error:  # never hide the round's own outcome
            logger.warning("CalDAV lease of %s not released (%r)", self.userid, error)
        self.expires = None

    def _write(self, change, create: bool = False) -> datetime | None:
        """Apply ``change`` to the stored lease in a short transaction of its own."""
        manager = transaction.TransactionManager()
        connection = self.db.open(transaction_manager=manager)
        try:
            manager.begin()
            tree = leases(connection.get(self.site_oid), create=create)
            lease = tree.get(self.userid) if tree is not None else None
            if lease is None:
                if not create:
                    raise LeaseLost(f"{self.userid}: no lease stored")
                lease = tree[self.userid] = AccountLease()
            change(lease, datetime.now(UTC))
            expires = lease.expires
            manager.commit()
            return expires
        except BaseException:
            manager.abort()
            raise
        finally:
            connection.close()
