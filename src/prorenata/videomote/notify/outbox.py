"""The transactional outbox: an e-mail is stored in the same transaction as the booking.

Nothing is sent from inside a request. A message is queued with the change that caused
it, so a booking is never lost because mail failed, and a request retried after a
conflict queues nothing twice. ``deliver_due`` sends what is due through Plone's
MailHost, one commit per message, and backs off on failure (see ``delivery.py``).
"""

from BTrees.OOBTree import OOBTree
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from persistent import Persistent
from Products.CMFCore.utils import getToolByName
from prorenata.videomote import logger
from prorenata.videomote.access.keys import seal
from prorenata.videomote.access.keys import unseal
from prorenata.videomote.notify.imip import next_retry
from prorenata.videomote.storage import annotated

import base64
import email.policy
import smtplib
import uuid

ANNOTATION_KEY = "prorenata.videomote.outbox"
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"  # still retried; "failed" means the last attempt did not succeed
REFUSED = "refused"  # the recipient's server refused the address (5xx): not retried
REFUSED_TEXT = "Mottagarens e-postserver tog inte emot adressen ({code})."
#: How long a delivery worker holds a message it claimed (several Zope instances run
#: one worker each): longer than one SMTP attempt; a worker that died mid-send lets the
#: message go to another after this.
CLAIM_SECONDS = 300


def utcnow() -> datetime:
    return datetime.now(UTC)


class OutgoingMail(Persistent):
    """One message to one recipient; the body is dropped once it has been delivered.

    The body carries the participant's link and meeting code: it is kept sealed (see
    ``access.keys.seal``), so the database (or a copy of it) does not show them while
    the message waits. Mail queued before sealing existed has ``sealed`` False.
    """

    sealed = False
    #: Until when one delivery worker has claimed the message (see ``deliver_due``).
    claimed_until = None

    def __init__(self, meeting_uid: str, kind: str, recipient: str, sender: str, body: bytes):
        self.id = uuid.uuid4().hex
        self.meeting_uid = meeting_uid
        self.kind = kind
        self.recipient = recipient
        self.sender = sender
        self.body = body
        self.created = utcnow()
        self.status = QUEUED
        self.attempts = 0
        self.next_attempt = self.created
        self.last_error = ""
        self.delivered = None


class MailOutbox(Persistent):
    """Messages by id.

    Delivery changes only the message object, never the tree, so a request queueing
    mail does not conflict with the worker delivering earlier mail.
    """

    def __init__(self):
        self.messages = OOBTree()

    def add(self, mail: OutgoingMail) -> None:
        self.messages[mail.id] = mail

    def undelivered(self) -> list[OutgoingMail]:
        return sorted(
            (m for m in self.messages.values() if m.status != SENT), key=lambda m: m.created
        )

    def retryable(self) -> list[OutgoingMail]:
        return [m for m in self.undelivered() if m.status != REFUSED]

    def due(self, now: datetime) -> list[OutgoingMail]:
        return [
            m
            for m in self.retryable()
            if m.next_attempt <= now and (m.claimed_until is None or m.claimed_until <= now)
        ]

    def claim(self, mail: OutgoingMail, now: datetime) -> None:
        mail.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)

    def next_due(self) -> datetime | None:
        times = [m.next_attempt for m in self.retryable()]
        return min(times) if times else None

    def for_meeting(self, meeting_uid: str) -> list[OutgoingMail]:
        return sorted(
            (m for m in self.messages.values() if m.meeting_uid == meeting_uid),
            key=lambda m: m.created,
        )

    def mark_sent(self, mail: OutgoingMail, now: datetime) -> None:
        mail.status = SENT
        mail.claimed_until = None
        mail.delivered = now
        mail.body = b""  # the join link and code live only until delivery
        mail.last_error = ""

    def mark_failed(self, mail: OutgoingMail, error: str, now: datetime) -> None:
        mail.status = FAILED
        mail.claimed_until = None
        mail.attempts += 1
        mail.last_error = error[:200]
        mail.next_attempt = next_retry(mail.attempts, now)

    def mark_refused(self, mail: OutgoingMail, code: int, now: datetime) -> None:
        """No retry helps: the address is wrong. The link and code go with the body."""
        mail.status = REFUSED
        mail.claimed_until = None
        mail.attempts += 1
        mail.last_error = REFUSED_TEXT.format(code=code)
        mail.body = b""

    def retry_now(self, now: datetime) -> None:
        for mail in self.retryable():
            mail.next_attempt = now


def outbox_for(site, create: bool = True) -> MailOutbox | None:
    return annotated(site, ANNOTATION_KEY, MailOutbox, create)


def enqueue(site, message: EmailMessage, meeting_uid: str, kind: str) -> OutgoingMail:
    """Queue ``message`` with the current transaction; delivery starts after commit."""
    from prorenata.videomote.notify.delivery import wake_after_commit

    recipient = message["To"].addresses[0].addr_spec
    sender = message["From"].addresses[0].addr_spec
    body = seal(site, base64.b64encode(message.as_bytes()).decode("ascii")).encode("ascii")
    mail = OutgoingMail(meeting_uid, kind, recipient, sender, body)
    mail.sealed = True
    outbox_for(site).add(mail)
    wake_after_commit(site)
    return mail


def _opened(site, mail: OutgoingMail) -> bytes:
    if not mail.sealed:
        return mail.body
    return base64.b64decode(unseal(site, mail.body.decode("ascii")))


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


_FAILURES = {
    "ConnectionRefusedError": "E-postservern svarar inte.",
    "TimeoutError": "E-postservern svarade inte i tid.",
    "SMTPConnectError": "E-postservern svarar inte.",
    "SMTPServerDisconnected": "E-postservern bröt anslutningen.",
    "SMTPRecipientsRefused": "Mottagarens e-postserver tar inte emot adressen just nu.",
    "SMTPSenderRefused": "E-postservern nekade avsändaradressen; kontakta administratören.",
    "SMTPAuthenticationError": "Inloggningen på e-postservern misslyckades; kontakta "
    "administratören.",
}


def _describe(error: Exception) -> str:
    """What staff see of a failure, in Swedish; only its kind (an SMTP reply can echo
    addresses back)."""
    name = type(error).__name__
    return _FAILURES.get(name, f"Det gick inte att skicka ({name}).")


def _audit_sent(site, mail: OutgoingMail) -> None:
    from prorenata.videomote.audit import log
    from prorenata.videomote.audit.log import make_entry
    from prorenata.videomote.audit.record import audit_log

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

    Each message is first *claimed* in a commit of its own: with several Zope instances
    (one delivery worker each) two workers that both see a message due write the same
    object, so ZODB's conflict detection lets one claim succeed and the other's commit
    raise ConflictError before it sends anything (the caller aborts and goes again, and
    then sees the claim). A message is sent once unless a worker dies between the SMTP
    reply and its commit (then again after ``CLAIM_SECONDS``).
    """
    outbox = outbox_for(site, create=False)
    if outbox is None:
        return 0, 0
    mailhost = getToolByName(site, "MailHost")
    sent = failed = 0
    for mail in outbox.due(now or utcnow()):
        outbox.claim(mail, utcnow())
        commit()  # ConflictError here: another worker has it
        try:
            mailhost.send(
                # SMTP policy: CRLF line ends on the wire, as RFC 5321 requires
                message_from_bytes(_opened(site, mail), policy=email.policy.SMTP),
                mto=[mail.recipient],
                mfrom=mail.sender,
                immediate=True,
            )
        except Exception as error:  # any SMTP or network failure: keep it, retry later
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
            failed += 1
        else:
            outbox.mark_sent(mail, utcnow())
            _audit_sent(site, mail)
            sent += 1
        commit()
    return sent, failed
