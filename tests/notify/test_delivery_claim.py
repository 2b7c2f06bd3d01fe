"""Several Zope instances run a delivery worker each: a message both see due is sent once.

Two ZODB connections with their own transaction managers stand for two instances on one
database (RelStorage in the cluster; here the test layer's storage): both load the
outbox before either delivers, as two workers woken at once do.
"""

from datetime import timedelta
from email.message import EmailMessage
from mail_quiet import nothing_due
from prorenata.videomote.notify.delivery import deliver_due
from prorenata.videomote.notify.delivery import stop_all
from prorenata.videomote.notify.outbox import CLAIM_SECONDS
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import utcnow
from record_conflict import deliver_through_a_conflict
from ZODB.POSException import ConflictError
from zope.component.hooks import getSite
from zope.component.hooks import setSite

import pytest
import transaction


def _queue_one(portal) -> str:
    message = EmailMessage()
    message["From"] = "noreply@journal.example.se"
    message["To"] = "bodil@example.se"
    message["Subject"] = "Kallelse till videomöte"
    message.set_content("Välkommen")
    mail = OutgoingMail(
        "no-meeting",
        "invitation",
        "bodil@example.se",
        "noreply@journal.example.se",
        message.as_bytes(),
    )
    outbox_for(portal).add(mail)
    transaction.commit()
    return mail.id


def _instance(portal):
    """A connection of its own on the portal's database, as another Zope instance has."""
    manager = transaction.TransactionManager()
    connection = portal._p_jar.db().open(transaction_manager=manager)
    manager.begin()
    site = connection.root()["Application"][portal.getId()]
    assert [m.status for m in outbox_for(site).messages.values()] == ["queued"]
    return manager, connection, site


def test_two_workers_that_see_the_same_message_due_send_it_once(mail_portal, smtp_sink):
    stop_all()  # this test's two "instances" deliver, not the layer's own worker
    mail_id = _queue_one(mail_portal)
    previous = getSite()
    first_manager, first, first_site = _instance(mail_portal)
    second_manager, second, second_site = _instance(mail_portal)
    try:
        setSite(first_site)
        assert deliver_due(first_site, commit=first_manager.commit) == (1, 0)
        setSite(second_site)
        with pytest.raises(ConflictError):
            deliver_due(second_site, commit=second_manager.commit)
        second_manager.abort()
        # the next round (a fresh transaction) sees it sent and sends nothing
        second_manager.begin()
        assert deliver_due(second_site, commit=second_manager.commit) == (0, 0)
    finally:
        setSite(previous)
        first_manager.abort()
        second_manager.abort()
        first.close()
        second.close()
    assert len(smtp_sink.wait_for(2, timeout=2, settled=nothing_due(mail_portal))) == 1
    transaction.begin()
    assert outbox_for(mail_portal).messages[mail_id].status == "sent"


def test_a_sent_message_whose_record_conflicts_is_not_sent_again(mail_portal, smtp_sink):
    """Another instance commits a write that the worker's record of a sent message
    conflicts with (here the message itself; in production the audit log's last bucket
    or the outbox's indexes, busy while many people sign in). The record is written
    again on the new state: the message is marked sent and does not go out a second
    time when its claim runs out."""
    stop_all()
    mail_id = _queue_one(mail_portal)
    conflicts, _ = deliver_through_a_conflict(
        lambda site, commit, now=None: deliver_due(site, commit=commit, now=now),
        _instance(mail_portal),
        _instance(mail_portal),
        went_out=lambda: bool(smtp_sink.messages),
        same_object=lambda other_site: outbox_for(other_site).messages[mail_id],
        claim_ran_out=utcnow() + timedelta(seconds=CLAIM_SECONDS + 1),
    )
    assert conflicts
    assert len(smtp_sink.wait_for(2, timeout=2, settled=nothing_due(mail_portal))) == 1
    transaction.begin()
    assert outbox_for(mail_portal).messages[mail_id].status == "sent"
