"""Delivery: queueing with a wake-up, sending what is due, and the worker thread.

``enqueue`` stores a message in the outbox (``outbox.py``, storage alone) and wakes the
worker once the transaction has committed. The worker, a thread per database, empties
the outboxes of its sites: woken right after such a commit, and every ``interval``
seconds for retries. It sends through Plone's MailHost, one commit per message, backs
off on failure, and prunes what was delivered long ago. It works on its own ZODB
connection and transaction manager. (The audit log's retention is the audit package's
own timer, ``audit/retention.py``, not this thread's.)
"""

from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from functools import partial
from plone.base.interfaces import IPloneSiteRoot
from Products.CMFCore.utils import getToolByName
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.audit import log
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import opened
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import store
from prorenata.videomote.notify.outbox import utcnow
from ZODB.POSException import ConflictError
from zope.component.hooks import setSite
from zope.event import notify
from zope.i18nmessageid import Message
from zope.interface import Attribute
from zope.interface import Interface
from zope.interface import implementer

import email.policy
import random
import smtplib
import threading
import time
import transaction

INTERVAL_SECONDS = 15.0


class IDeliveryRound(Interface):
    """The worker's round over one site, after the outbox's mail: other queues that go
    out through this worker (the reminders, ``reminders.py``) subscribe to it. A
    ConflictError from a subscriber is handled as the outbox's own."""

    site = Attribute("The Plone site, on the worker's own connection")
    commit = Attribute("Commits the worker's transaction (call after each claim and send)")


@implementer(IDeliveryRound)
class DeliveryRound:
    def __init__(self, site, commit):
        self.site, self.commit = site, commit


def enqueue(site, message: EmailMessage, meeting_uid: str, kind: str) -> OutgoingMail:
    """Queue ``message`` with the current transaction; delivery starts after commit."""
    mail = store(site, message, meeting_uid, kind)
    wake_after_commit(site)
    return mail


def refused_code(error: Exception) -> int | None:
    """The SMTP code when every recipient was refused for good (5xx), else None.

    A 4xx (greylisting, a full mailbox) is worth another try; so is a refused sender,
    which is the site's configuration and gets mended.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        codes = [code for code, _reply in error.recipients.values()]
        if all(code >= 500 for code in codes):
            return codes[0]
    return None


#: Message ids, stored with the mail and translated where staff see them.
_FAILURES = {
    "ConnectionRefusedError": _("E-postservern svarar inte."),
    "TimeoutError": _("E-postservern svarade inte i tid."),
    "SMTPConnectError": _("E-postservern svarar inte."),
    "SMTPServerDisconnected": _("E-postservern bröt anslutningen."),
    "SMTPRecipientsRefused": _("Mottagarens e-postserver tar inte emot adressen just nu."),
    "SMTPSenderRefused": _("E-postservern nekade avsändaradressen; kontakta administratören."),
    "SMTPAuthenticationError": _(
        "Inloggningen på e-postservern misslyckades; kontakta administratören."
    ),
}


def _describe(error: Exception) -> Message:
    """What staff see of a failure, as a message id (the worker has no request to
    translate for); only its kind (an SMTP reply can echo addresses back)."""
    name = type(error).__name__
    return _FAILURES.get(name) or _("Det gick inte att skicka (${error}).", mapping={"error": name})


def _audit_sent(site, mail: OutgoingMail) -> None:
    catalog = getToolByName(site, "portal_catalog")
    brains = catalog.unrestrictedSearchResults(UID=mail.meeting_uid)
    patient_uid = brains[0]._unrestrictedGetObject().patient_uid if brains else ""
    audit_log(site).append(
        make_entry(
            log.INVITATION_SENT,
            actor="system",
            role="system",
            meeting_uid=mail.meeting_uid,
            patient_uid=patient_uid,
            kind=mail.kind,
        )
    )


def deliver_due(site, commit, now: datetime | None = None) -> tuple[int, int]:
    """Send every due message through MailHost; ``commit`` is called after each one.

    Sent and refused mail older than the outbox's retention is pruned first (a commit
    of its own, only when something expired).

    Each message is first *claimed* in a commit of its own: with several Zope instances
    (one delivery worker each) two workers that both see a message due write the same
    object, so ZODB's conflict detection lets one claim succeed and the other's commit
    raise ConflictError before it sends anything (the caller aborts and goes again, and
    then sees the claim). What became of a message once it went out is recorded with
    :func:`record_after_sending` (a conflict there is retried, not left to the claim's
    expiry). A message is sent once unless a worker dies between the SMTP reply and its
    commit (then again after ``outbox.CLAIM_SECONDS``).
    """
    outbox = outbox_for(site, create=False)
    if outbox is None:
        return 0, 0
    if outbox.prune(now or utcnow()):
        commit()
    mailhost = getToolByName(site, "MailHost")
    sent = failed = 0
    for mail in outbox.due(now or utcnow()):
        outbox.claim(mail, utcnow())
        commit()  # ConflictError here: another worker has it
        try:
            mailhost.send(
                # SMTP policy: CRLF line ends on the wire, as RFC 5321 requires
                message_from_bytes(opened(site, mail), policy=email.policy.SMTP),
                mto=[mail.recipient],
                mfrom=mail.sender,
                immediate=True,
            )
        except Exception as error:  # any SMTP or network failure: keep it, retry later
            record_after_sending(site, commit, partial(_failed, outbox, mail, error))
            failed += 1
        else:
            record_after_sending(site, commit, partial(_sent, site, outbox, mail))
            sent += 1
    return sent, failed


def _sent(site, outbox, mail: OutgoingMail) -> None:
    outbox.mark_sent(mail, utcnow())
    _audit_sent(site, mail)


def _failed(outbox, mail: OutgoingMail, error: Exception) -> None:
    code = refused_code(error)
    if code is not None:
        outbox.mark_refused(mail, code, utcnow())
    else:
        outbox.mark_failed(mail, _describe(error), utcnow())
    logger.warning(
        "E-mail %s (%s) for meeting %s not delivered, attempt %d: %s",
        mail.id,
        mail.kind,
        mail.meeting_uid,
        mail.attempts,
        mail.last_error,
    )


#: How often what became of a sent message is written again after a database conflict.
RECORD_ATTEMPTS = 5


def record_after_sending(
    site, commit, record: Callable[[], None], send_again: Callable[[], object] | None = None
) -> None:
    """Run ``record`` (it writes what became of a message that went out, or failed to)
    and commit it; on a database conflict abort, and write it again on the state other
    instances committed meanwhile, up to ``RECORD_ATTEMPTS`` times.

    The message stays claimed by this worker all along, so no other worker sends it; a
    conflict here comes from other writes in the same commit (the outbox's indexes, the
    audit log's last bucket while many people sign in). Leaving it to the caller would
    abort the record and leave the claim to expire: the family would get the message
    again after ``outbox.CLAIM_SECONDS``. After the last attempt the ConflictError is
    raised as before (at least once, never lost). ``send_again``: where the sending was
    itself a write in this transaction (the demo's SMS outbox), it is done again after
    an abort, since the abort took it back.
    """
    manager = site._p_jar.transaction_manager
    for attempt in range(1, RECORD_ATTEMPTS + 1):
        if attempt > 1 and send_again is not None:
            send_again()
        record()
        try:
            commit()
            return
        except ConflictError:
            manager.abort()
            if attempt == RECORD_ATTEMPTS:
                raise
            logger.info("Recording a sent message conflicted; writing it again (%d)", attempt)
            time.sleep(random.uniform(0, 0.05 * attempt))  # noqa: S311 - spreading only


class DeliveryWorker:
    """Delivers queued mail for every Plone site in one database."""

    def __init__(self, db, interval: float = INTERVAL_SECONDS):
        self.db = db
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
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
        try:
            manager.begin()
            app = connection.root()["Application"]
            for site in [o for o in app.objectValues() if IPloneSiteRoot.providedBy(o)]:
                setSite(site)
                try:
                    sent, failed = deliver_due(site, commit=manager.commit)
                    notify(DeliveryRound(site, manager.commit))
                except ConflictError:
                    manager.abort()
                    self._wake.set()  # someone changed the outbox meanwhile: go again
                    continue
                totals[0] += sent
                totals[1] += failed
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
