"""The transactional outbox: an e-mail is stored in the same transaction as the booking.

Nothing is sent from inside a request. A message is queued with the change that caused
it, so a booking is never lost because mail failed, and a request retried after a
conflict queues nothing twice. This module is the storage alone: it knows nothing of
sending. ``delivery.py`` queues (``enqueue``) and sends (``deliver_due``) through it.

Indexes keep every question the worker and the pages ask proportional to what it is
about, not to the history: ``pending`` (by next attempt) for ``due``/``next_due``,
``by_meeting`` for a meeting's messages, ``finished`` (by state and time) for the
refused list and for pruning. Sent and refused messages are removed after
``FINISHED_RETENTION``; a message still to be sent is never pruned.
"""

from BTrees.OOBTree import OOBTree
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from persistent import Persistent
from prorenata.videomote import _
from prorenata.videomote.access.keys import seal
from prorenata.videomote.access.keys import unseal
from prorenata.videomote.notify.imip import next_retry
from prorenata.videomote.storage import annotated
from zope.i18nmessageid import Message

import base64
import uuid

ANNOTATION_KEY = "prorenata.videomote.outbox"
QUEUED = "queued"
SENT = "sent"
FAILED = "failed"  # still retried; "failed" means the last attempt did not succeed
REFUSED = "refused"  # the recipient's server refused the address (5xx): not retried
#: Not to be sent after all (a reminder for a meeting cancelled, moved or begun): kept,
#: with the reason, as finished; never sent.
DROPPED = "dropped"
FINISHED_STATES = (SENT, REFUSED, DROPPED)
#: Stored as a message id with its code, translated where staff see it (older mail
#: keeps the plain Swedish text it was stored with).
REFUSED_TEXT = _("Mottagarens e-postserver tog inte emot adressen (${code}).")
#: How long a sent or refused message is kept (staff see its state on the meeting).
FINISHED_RETENTION = timedelta(days=90)

_LAST = float("inf")  # a time after every stored one, for range ends
#: Always in ``pending``, before every real key. A worker taking the last waiting message
#: out would otherwise empty the tree's bucket, and ZODB cannot resolve that against a
#: request queueing a message at the same time: the commit after sending would conflict,
#: and the message would be sent again.
_KEEP = (float("-inf"), "")

#: How long a delivery worker holds a message it claimed (several Zope instances run
#: one worker each); a worker that died mid-send lets the message go to another after
#: this. Longer than one attempt can take: MailHost gives each SMTP step 10 s (connect,
#: EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, the body: well under 2 minutes even when each
#: nearly times out), an SMS gateway call 10 s (``sms.TIMEOUT_SECONDS``), and recording
#: the outcome seconds (``delivery.record_after_sending``). It was 5 minutes: a family
#: waited that long for an invitation a crashed instance had claimed.
CLAIM_SECONDS = 120


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


def _pending_key(mail: OutgoingMail) -> tuple:
    return (mail.next_attempt.timestamp(), mail.id)


def _meeting_key(mail: OutgoingMail) -> tuple:
    return (mail.meeting_uid, mail.created.timestamp(), mail.id)


def _finished_key(mail: OutgoingMail) -> tuple:
    # A refused message has no delivery time: the time its last attempt was due stands in.
    when = mail.delivered or mail.next_attempt
    return (mail.status, when.timestamp(), mail.id)


class MailOutbox(Persistent):
    """Messages by id, with the indexes the worker and the pages read.

    Every change of a message's state goes through a ``mark_*`` method, which keeps the
    indexes in step. An outbox stored before the indexes existed has them as None until
    the upgrade step (1001 → 1002) builds them; until then the queries scan, as before.
    """

    pending = None  # (next attempt, id) -> mail, for queued and failed (retried) mail
    by_meeting = None  # (meeting UID, created, id) -> mail
    finished = None  # (status, delivered or refused, id) -> mail, for sent and refused

    def __init__(self):
        self.messages = OOBTree()
        self.build_indexes()

    # -- indexes

    def indexed(self) -> bool:
        return self.pending is not None

    def build_indexes(self) -> None:
        """(Re)build every index from ``messages`` (new outboxes and the upgrade step)."""
        self.pending, self.by_meeting, self.finished = OOBTree(), OOBTree(), OOBTree()
        self.pending[_KEEP] = None
        for mail in self.messages.values():
            self.by_meeting[_meeting_key(mail)] = mail
            self._index_state(mail)

    def _index_state(self, mail: OutgoingMail) -> None:
        """Put ``mail`` in the state index of its current state. Only the worker and the
        retry button change states: they never touch ``by_meeting``, which requests write."""
        if not self.indexed():
            return
        if mail.status in FINISHED_STATES:
            self.finished[_finished_key(mail)] = mail
        else:
            self.pending[_pending_key(mail)] = mail

    def _unindex_state(self, mail: OutgoingMail) -> None:
        """Take ``mail`` out of the state indexes, under the keys of its current state."""
        if not self.indexed():
            return
        if mail.status in FINISHED_STATES:
            self.finished.pop(_finished_key(mail), None)
        else:
            self.pending.pop(_pending_key(mail), None)

    # -- queries

    def add(self, mail: OutgoingMail) -> None:
        self.messages[mail.id] = mail
        if self.indexed():
            self.by_meeting[_meeting_key(mail)] = mail
        self._index_state(mail)

    def undelivered(self) -> list[OutgoingMail]:
        """What is not delivered: waiting, failing and refused mail, oldest first."""
        if not self.indexed():
            found = (m for m in self.messages.values() if m.status != SENT)
        else:
            refused = self.finished.values(min=(REFUSED,), max=(REFUSED, _LAST))
            found = [*self._waiting(), *refused]
        return sorted(found, key=lambda m: m.created)

    def retryable(self) -> list[OutgoingMail]:
        """Queued and failed mail, oldest first."""
        if not self.indexed():
            found = (m for m in self.messages.values() if m.status in (QUEUED, FAILED))
        else:
            found = self._waiting()
        return sorted(found, key=lambda m: m.created)

    def _waiting(self, now: datetime | None = None):
        high = (now.timestamp(), "~") if now is not None else None
        return self.pending.values(min=_KEEP, max=high, excludemin=True)

    def due(self, now: datetime) -> list[OutgoingMail]:
        if not self.indexed():
            waiting = [m for m in self.retryable() if m.next_attempt <= now]
        else:
            # Sent oldest first, as queued: an invitation before its update.
            waiting = sorted(self._waiting(now), key=lambda m: m.created)
        return [m for m in waiting if m.claimed_until is None or m.claimed_until <= now]

    def claim(self, mail: OutgoingMail, now: datetime) -> None:
        """Hold ``mail`` for one delivery worker (see ``delivery.deliver_due``)."""
        mail.claimed_until = now + timedelta(seconds=CLAIM_SECONDS)

    def next_due(self) -> datetime | None:
        if not self.indexed():
            times = [m.next_attempt for m in self.retryable()]
            return min(times) if times else None
        first = next(iter(self._waiting()), None)
        return first.next_attempt if first is not None else None

    def for_meeting(self, meeting_uid: str) -> list[OutgoingMail]:
        """Every kept message about one meeting, oldest first."""
        if not self.indexed():
            return sorted(
                (m for m in self.messages.values() if m.meeting_uid == meeting_uid),
                key=lambda m: m.created,
            )
        return list(self.by_meeting.values(min=(meeting_uid,), max=(meeting_uid, _LAST)))

    def latest_for_meeting(self, meeting_uid: str) -> OutgoingMail | None:
        """The newest kept message about one meeting (one index lookup)."""
        if not self.indexed():
            mails = self.for_meeting(meeting_uid)
            return mails[-1] if mails else None
        try:
            key = self.by_meeting.maxKey((meeting_uid, _LAST))
        except ValueError:  # no key at or below it
            return None
        return self.by_meeting[key] if key[0] == meeting_uid else None

    # -- changes of state

    def mark_sent(self, mail: OutgoingMail, now: datetime) -> None:
        self._unindex_state(mail)
        mail.status = SENT
        mail.claimed_until = None
        mail.delivered = now
        mail.body = b""  # the join link and code live only until delivery
        mail.last_error = ""
        self._index_state(mail)

    def mark_failed(self, mail: OutgoingMail, error: str | Message, now: datetime) -> None:
        """``error`` is what staff see: a message id (kept whole, translated when shown)
        or a plain text (cut to its first 200 characters)."""
        self._unindex_state(mail)
        mail.status = FAILED
        mail.claimed_until = None
        mail.attempts += 1
        mail.last_error = error if isinstance(error, Message) else error[:200]
        mail.next_attempt = next_retry(mail.attempts, now)
        self._index_state(mail)

    def mark_refused(self, mail: OutgoingMail, code: int, now: datetime) -> None:
        """No retry helps: the address is wrong. The link and code go with the body."""
        self._unindex_state(mail)
        mail.status = REFUSED
        mail.claimed_until = None
        mail.attempts += 1
        mail.last_error = _(REFUSED_TEXT, mapping={"code": code})
        mail.body = b""
        self._index_state(mail)

    def mark_dropped(self, mail: OutgoingMail, reason: str) -> None:
        """Never to be sent (``reason`` says why). Writes the message itself, so a
        delivery worker's claim of it and this drop cannot both commit."""
        self._unindex_state(mail)
        mail.status = DROPPED
        mail.claimed_until = None
        mail.last_error = reason
        mail.body = b""
        self._index_state(mail)

    def retry_now(self, now: datetime) -> None:
        for mail in self.retryable():
            self._unindex_state(mail)
            mail.next_attempt = now
            self._index_state(mail)

    def prune(self, now: datetime, keep: timedelta = FINISHED_RETENTION) -> int:
        """Remove sent, refused and dropped mail finished before ``now - keep``; never
        pending mail.

        Reads only the finished index's old end: nothing when nothing has expired."""
        if not self.indexed():
            return 0
        cutoff = (now - keep).timestamp()
        old = [
            mail
            for status in FINISHED_STATES
            for mail in self.finished.values(min=(status,), max=(status, cutoff))
        ]
        for mail in old:
            self.finished.pop(_finished_key(mail), None)
            self.by_meeting.pop(_meeting_key(mail), None)
            self.messages.pop(mail.id, None)
        return len(old)


def outbox_for(site, create: bool = True) -> MailOutbox | None:
    return annotated(site, ANNOTATION_KEY, MailOutbox, create)


def store(site, message: EmailMessage, meeting_uid: str, kind: str) -> OutgoingMail:
    """Keep ``message`` in the site's outbox, sealed, with the current transaction."""
    recipient = message["To"].addresses[0].addr_spec
    sender = message["From"].addresses[0].addr_spec
    body = seal(site, base64.b64encode(message.as_bytes()).decode("ascii")).encode("ascii")
    mail = OutgoingMail(meeting_uid, kind, recipient, sender, body)
    mail.sealed = True
    outbox_for(site).add(mail)
    return mail


def opened(site, mail: OutgoingMail) -> bytes:
    """The message as it is to be sent (unsealed)."""
    if not mail.sealed:
        return mail.body
    return base64.b64decode(unseal(site, mail.body.decode("ascii")))
