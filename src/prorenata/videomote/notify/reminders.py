"""Reminders before a meeting: planned with the booking, sent by the delivery worker.

Planning follows the domain's events (``content/scheduling.py``), in the transaction
that booked, moved or cancelled the meeting: booked → the reminders are planned; moved
→ the old time's are dropped and the new time's planned; cancelled or deleted → dropped.
A request retried after a conflict therefore plans nothing twice.

They wait in an outbox of their own (the mail outbox's class, ``outbox.MailOutbox``,
under another key: the same indexes, backoff, claim and pruning), one message per
reminder with its due time as the next attempt, and no body: the text is made when it
is sent, from the meeting as it is then. The mail delivery worker sends them (it fires
``delivery.IDeliveryRound`` for each site after its own mail): every due reminder is
checked against the meeting first (not cancelled, moved, begun or ended; the channel
still switched on), then *claimed* in a commit of its own, so two Zope instances send
it once, then sent (e-mail through MailHost, SMS through the gateway chosen in the
control panel) with the mail outbox's backoff on failure. A reminder SMS goes straight
to the gateway: it is not a one-time code and counts against no sign-in's limit.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email import message_from_bytes
from functools import partial
from plone import api
from Products.CMFCore.utils import getToolByName
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.audit import log
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.booking import reminders as rules
from prorenata.videomote.content import participants
from prorenata.videomote.interfaces import SMSFailed
from prorenata.videomote.notify.delivery import record_after_sending
from prorenata.videomote.notify.delivery import refused_code
from prorenata.videomote.notify.outbox import DROPPED
from prorenata.videomote.notify.outbox import FAILED
from prorenata.videomote.notify.outbox import QUEUED
from prorenata.videomote.notify.outbox import MailOutbox
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import utcnow
from prorenata.videomote.notify.reminder_texts import REMINDER
from prorenata.videomote.notify.reminder_texts import build_reminder
from prorenata.videomote.notify.reminder_texts import sms_text
from prorenata.videomote.notify.sms import is_transactional
from prorenata.videomote.notify.sms import sms_gateway
from prorenata.videomote.notify.subscribers import notice_for
from prorenata.videomote.storage import annotated
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from zope.lifecycleevent.interfaces import IObjectRemovedEvent

import email.policy

ANNOTATION_KEY = "prorenata.videomote.reminders"
PREFIX = "prorenata.videomote."
#: What the worker stores when a reminder SMS was not taken (a message id).
SMS_NOT_TAKEN = _("SMS-tjänsten tog inte emot påminnelsen (${reason}).")
MAIL_NOT_SENT = _("E-postservern tog inte emot påminnelsen (${error}).")


class Reminder(OutgoingMail):
    """One reminder to one person on one channel, due at ``due``, for the meeting's
    start ``for_start`` (UTC). Its ``next_attempt`` is ``due`` until a failure.
    ``person``: "" for the invitee, else an extra participant's id (an interpreter, a
    second guardian), whose contact details are read from the meeting when it is sent."""

    person = ""  # reminders planned before extra participants existed

    def __init__(
        self,
        meeting_uid: str,
        channel: str,
        recipient: str,
        due: datetime,
        for_start: datetime,
        after_move: bool,
        person: str = "",
    ):
        super().__init__(meeting_uid, f"{REMINDER}-{channel}", recipient, "", b"")
        self.person = person
        self.channel = channel
        self.due = self.next_attempt = due
        self.for_start = for_start
        self.after_move = after_move


def reminder_outbox(site, create: bool = True) -> MailOutbox | None:
    return annotated(site, ANNOTATION_KEY, MailOutbox, create)


def _record(name: str, default):
    value = api.portal.get_registry_record(PREFIX + name, default=None)
    return default if value is None else value


def reminder_settings() -> rules.ReminderSettings:
    """The control panel's reminder settings (a missing record: its default)."""
    return rules.ReminderSettings(
        email_on=bool(_record("reminder_email_enabled", True)),
        email_before=timedelta(hours=_record("reminder_email_hours", rules.DEFAULT_EMAIL_HOURS)),
        sms_on=bool(_record("reminder_sms_enabled", True)),
        sms_before=timedelta(minutes=_record("reminder_sms_minutes", rules.DEFAULT_SMS_MINUTES)),
    )


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# -- planning (in the request's transaction)


def drop_planned(
    meeting_uid: str, reason: str, now: datetime | None = None, person: str | None = None
) -> int:
    """Drop the meeting's reminders still to be sent (only ``person``'s if given); not
    one a worker is sending now (it was checked when claimed; if that worker dies it is
    checked again)."""
    box = reminder_outbox(api.portal.get(), create=False)
    if box is None:
        return 0
    now = now or utcnow()
    dropped = 0
    for mail in box.for_meeting(meeting_uid):
        if person is not None and mail.person != person:
            continue
        claimed = mail.claimed_until is not None and mail.claimed_until > now
        if mail.status in (QUEUED, FAILED) and not claimed:
            box.mark_dropped(mail, reason)
            dropped += 1
    return dropped


def _recipients(meeting, chosen=None) -> list[tuple[str, str, str]]:
    """(person id, e-mail, mobile) of everyone invited: the invitee ("") and each extra
    participant (only ``chosen`` ones if given)."""
    if chosen is None:
        found = [("", meeting.invitee_email, meeting.invitee_mobile)]
        chosen = participants.people(meeting)
    else:
        found = []
    return found + [(item["id"], item["email"], item["mobile"]) for item in chosen]


def plan(
    meeting, after_move: bool = False, now: datetime | None = None, people=None
) -> list[Reminder]:
    """Plan the reminders for the meeting's current time, dropping any planned before;
    for everyone invited, or only for ``people`` (extra participants just added).

    Idempotent within a transaction: planning again replaces what was planned."""
    site = api.portal.get()
    now = now or utcnow()
    if people is None:
        drop_planned(meeting.UID(), rules.MOVED, now)
    made = []
    for person, email_address, mobile in _recipients(meeting, people):
        planned = rules.plan_reminders(
            _utc(meeting.start),
            now,
            reminder_settings(),
            has_email=bool(email_address),
            has_mobile=bool(mobile),
        )
        for item in planned:
            recipient = email_address if item.channel == rules.EMAIL else mobile
            reminder = Reminder(
                meeting.UID(),
                item.channel,
                recipient,
                item.due,
                _utc(meeting.start),
                after_move,
                person=person,
            )
            reminder_outbox(site).add(reminder)
            made.append(reminder)
    return made


def meeting_booked(meeting, event) -> None:
    plan(meeting)


def meeting_updated(meeting, event) -> None:
    """A new time: the old time's reminders go, the new time's are planned. A new title
    alone changes nothing (the text is made when the reminder is sent)."""
    if event.moved:
        plan(meeting, after_move=True)


def meeting_cancelled(meeting, event) -> None:
    drop_planned(meeting.UID(), rules.CANCELLED)


def people_invited(meeting, event) -> None:
    """Extra participants added to a booked meeting get their reminders too."""
    plan(meeting, people=event.people)


def person_removed(meeting, event) -> None:
    drop_planned(meeting.UID(), rules.CANCELLED, person=event.person["id"])


def meeting_removed(meeting, event) -> None:
    if not IObjectRemovedEvent.providedBy(event) or event.newParent is not None:
        return  # moved within the site, not deleted
    drop_planned(meeting.UID(), rules.GONE)


# -- sending (the delivery worker, on its own connection)


def _meeting(site, uid: str):
    catalog = getToolByName(site, "portal_catalog")
    brains = catalog.unrestrictedSearchResults(UID=uid, portal_type="VideoMeeting")
    return brains[0]._unrestrictedGetObject() if brains else None


def _reason_not_to_send(meeting, mail: Reminder, settings, now: datetime) -> str | None:
    if meeting is None:
        return rules.GONE
    if not settings.on(mail.channel):
        return rules.SWITCHED_OFF
    if mail.person and participants.person(meeting, mail.person) is None:
        return rules.CANCELLED  # removed from the meeting
    return rules.reason_not_to_send(meeting.state, _utc(meeting.start), mail.for_start, now)


def _audit(site, meeting, mail: Reminder, action: str, now: datetime, **detail) -> None:
    audit_log(site).append(
        make_entry(
            action,
            actor="system",
            role="system",
            meeting_uid=mail.meeting_uid,
            patient_uid=getattr(meeting, "patient_uid", "") or "",
            now=now,
            channel=mail.channel,
            **detail,
        )
    )


def _send(site, meeting, mail: Reminder, now: datetime) -> Callable[[], object] | None:
    """Build the reminder from the meeting as it is now and hand it over; the same
    sending again where it was a write in this transaction (the demo's SMS outbox),
    else None."""
    notice = notice_for(meeting, REMINDER, moved=mail.after_move)
    mobile = meeting.invitee_mobile
    if mail.person:  # an extra participant: their own name, address and mobile
        person = participants.person(meeting, mail.person)
        notice = replace(notice, invitee_name=person["name"], invitee_email=person["email"])
        mobile = person["mobile"]
    if mail.channel == rules.SMS:
        gateway, text = sms_gateway(), sms_text(notice, now)
        gateway.send(mobile, text)
        return partial(gateway.send, mobile, text) if is_transactional(gateway) else None
    message = build_reminder(notice, now)
    getToolByName(site, "MailHost").send(
        # SMTP policy: CRLF line ends on the wire, as RFC 5321 requires
        message_from_bytes(message.as_bytes(), policy=email.policy.SMTP),
        mto=[notice.invitee_email],
        mfrom=notice.service_address,
        immediate=True,
    )
    return None


def _failed(box: MailOutbox, mail: Reminder, error: Exception, now: datetime) -> None:
    code = refused_code(error)
    if code is not None:
        box.mark_refused(mail, code, now)
    elif isinstance(error, SMSFailed):
        box.mark_failed(mail, _(SMS_NOT_TAKEN, mapping={"reason": error.reason}), now)
    else:
        box.mark_failed(mail, _(MAIL_NOT_SENT, mapping={"error": type(error).__name__}), now)
    logger.warning(
        "Reminder %s (%s) for meeting %s not sent, attempt %d: %s",
        mail.id,
        mail.channel,
        mail.meeting_uid,
        mail.attempts,
        type(error).__name__,
    )


def deliver_reminders(site, commit, now: datetime | None = None) -> tuple[int, int]:
    """Send every due reminder; returns (sent, failed). ``now``: a fixed clock (tests).

    A due reminder that must not go out any more is dropped (with the reason, audited).
    One that may is claimed in a commit of its own before it is sent: a second worker
    (another Zope instance) that saw it due too fails that commit with ConflictError
    (its caller aborts and looks again), and so does a request dropping it meanwhile
    (a cancel, a move), since both write the reminder itself.
    """
    box = reminder_outbox(site, create=False)
    if box is None:
        return 0, 0

    def clock() -> datetime:
        return now or utcnow()

    if box.prune(clock()):
        commit()
    settings = reminder_settings()
    sent = failed = 0
    for mail in box.due(clock()):
        meeting = _meeting(site, mail.meeting_uid)
        reason = _reason_not_to_send(meeting, mail, settings, clock())
        if reason is not None:
            box.mark_dropped(mail, reason)
            _audit(site, meeting, mail, log.REMINDER_DROPPED, clock(), reason=reason)
            commit()
            continue
        box.claim(mail, clock())
        commit()  # ConflictError here: another worker has it, or a request dropped it
        try:
            send_again = _send(site, meeting, mail, clock())
        except Exception as error:  # any SMTP, gateway or network failure: retried later
            record_after_sending(site, commit, partial(_failed, box, mail, error, clock()))
            failed += 1
        else:
            record_after_sending(
                site, commit, partial(_sent, site, box, meeting, mail, clock()), send_again
            )
            sent += 1
    return sent, failed


def _sent(site, box: MailOutbox, meeting, mail: Reminder, now: datetime) -> None:
    box.mark_sent(mail, now)
    _audit(site, meeting, mail, log.REMINDER_SENT, now)


def deliver_round(event) -> None:
    """The delivery worker's round over a site (``delivery.IDeliveryRound``)."""
    deliver_reminders(event.site, event.commit)


# -- what staff see

PLANNED = "planned"


def _status(mail: Reminder) -> str:
    """planned (waiting for its time, or being sent), sent, failed (retried), refused
    (the address, for good), dropped (never to be sent)."""
    return PLANNED if mail.status == QUEUED else mail.status


def _superseded(mail: Reminder) -> bool:
    """Dropped for a move: planned again (a move back to the same time plans anew)."""
    return mail.status == DROPPED and mail.last_error == rules.MOVED


def reminders_of(meeting) -> list[dict]:
    """The reminders for the meeting's current time, by due time: ``channel``, ``due``
    (in the meeting's zone), ``status``; ``reason`` when dropped, ``attempts``.

    Those of an earlier time (before a move) are left out: they were dropped or went
    out for that time; so are those a move replaced."""
    box = reminder_outbox(api.portal.get(), create=False)
    if box is None:
        return []
    start, zone = _utc(meeting.start), tzinfo_of(meeting_zone(meeting))
    rows = []
    current = [
        mail
        for mail in box.for_meeting(meeting.UID())
        if getattr(mail, "for_start", None) == start and not _superseded(mail)
    ]
    for mail in sorted(current, key=lambda m: (m.due, m.channel, m.person)):
        row = {
            "channel": mail.channel,
            "due": mail.due.astimezone(zone).isoformat(),
            "status": _status(mail),
            "attempts": mail.attempts,
        }
        if mail.person:  # an extra participant's id, as in ``extra_participants``
            row["person"] = mail.person
        if mail.status == DROPPED:
            row["reason"] = mail.last_error
        rows.append(row)
    return rows
