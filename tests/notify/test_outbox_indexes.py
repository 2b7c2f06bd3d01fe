"""The mail outbox answers from indexes: its cost does not grow with what was sent.

Plain ZODB (no Plone): the outbox is stored in a database, and what a question loads is
counted on a connection with a cold cache.
"""

from datetime import timedelta
from prorenata.videomote.notify.outbox import FAILED
from prorenata.videomote.notify.outbox import QUEUED
from prorenata.videomote.notify.outbox import REFUSED
from prorenata.videomote.notify.outbox import SENT
from prorenata.videomote.notify.outbox import MailOutbox
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import utcnow

import pytest
import transaction
import ZODB


def _mail(meeting: str, created=None) -> OutgoingMail:
    mail = OutgoingMail(meeting, "invitation", "alva@example.se", "noreply@example.se", b"x")
    if created is not None:
        mail.created = mail.next_attempt = created
    return mail


def _outbox_with_history(sent: int) -> tuple[ZODB.DB, str]:
    """A database whose outbox has ``sent`` delivered messages and one waiting."""
    db = ZODB.DB(None)
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    outbox = connection.root()["outbox"] = MailOutbox()
    now = utcnow()
    for number in range(sent):
        mail = _mail(f"meeting-{number % 97}", created=now - timedelta(hours=1))
        outbox.add(mail)
        outbox.mark_sent(mail, now - timedelta(minutes=30))
    waiting = _mail("meeting-waiting")
    outbox.add(waiting)
    waiting_id = waiting.id
    manager.commit()
    connection.close()
    return db, waiting_id


@pytest.fixture(scope="module")
def histories() -> dict[int, tuple[ZODB.DB, str]]:
    return {sent: _outbox_with_history(sent) for sent in (30, 3000)}


def _loads(db: ZODB.DB, question) -> tuple[int, object]:
    """Objects loaded from the database to answer ``question(outbox)``, cache cold."""
    connection = db.open()
    try:
        connection.cacheMinimize()
        connection.getTransferCounts(clear=True)
        answer = question(connection.root()["outbox"])
        return connection.getTransferCounts()[0], answer
    finally:
        connection.close()


@pytest.mark.parametrize(
    "question",
    [
        lambda outbox: [m.id for m in outbox.due(utcnow())],
        lambda outbox: outbox.next_due() is not None,
        lambda outbox: [m.id for m in outbox.for_meeting("meeting-waiting")],
        lambda outbox: outbox.latest_for_meeting("meeting-waiting").status,
    ],
    ids=["due", "next_due", "for_meeting", "latest_for_meeting"],
)
def test_the_outboxs_questions_load_as_much_after_3000_sent_messages_as_after_30(
    question, histories
):
    small_db, _waiting = histories[30]
    large_db, _waiting = histories[3000]

    small_loads, small_answer = _loads(small_db, question)
    large_loads, large_answer = _loads(large_db, question)

    assert small_answer and large_answer  # the waiting message is found in both
    # Before the indexes every sent message was loaded (3000 objects and more).
    assert large_loads <= small_loads + 3  # one or two more tree levels at most
    assert large_loads < 15


def test_due_finds_exactly_the_waiting_message_among_the_sent_history(histories):
    db, waiting = histories[3000]
    _loads_count, due = _loads(db, lambda outbox: [m.id for m in outbox.due(utcnow())])
    assert due == [waiting]


def test_every_change_of_state_keeps_the_indexes_in_step():
    outbox = MailOutbox()
    now = utcnow()
    first, second = _mail("m1"), _mail("m1", created=now + timedelta(seconds=1))
    outbox.add(first)
    outbox.add(second)
    assert outbox.due(now + timedelta(seconds=1)) == [first, second]

    outbox.mark_failed(first, "E-postservern svarar inte.", now)  # retried in 10 s
    assert first.status == FAILED
    assert outbox.due(now + timedelta(seconds=5)) == [second]
    assert outbox.next_due() == second.next_attempt
    assert outbox.due(now + timedelta(seconds=10)) == [first, second]  # as queued

    outbox.retry_now(now + timedelta(seconds=2))  # "Försök igen nu"
    assert set(outbox.due(now + timedelta(seconds=2))) == {first, second}

    outbox.mark_sent(first, now + timedelta(seconds=3))
    outbox.mark_refused(second, 550, now + timedelta(seconds=3))
    assert outbox.due(now + timedelta(days=1)) == []
    assert outbox.next_due() is None
    assert outbox.retryable() == []
    assert outbox.undelivered() == [second]  # refused: staff still see it
    assert outbox.for_meeting("m1") == [first, second]
    assert outbox.latest_for_meeting("m1") is second
    assert outbox.latest_for_meeting("m0") is None
    assert outbox.latest_for_meeting("m2") is None


def test_sent_and_refused_mail_is_pruned_after_90_days_and_waiting_mail_never():
    outbox = MailOutbox()
    now = utcnow()
    long_ago = now - timedelta(days=120)
    sent_old, refused_old, failing_old = (_mail("old", created=long_ago) for _ in range(3))
    sent_recent = _mail("recent", created=now - timedelta(days=10))
    for mail in (sent_old, refused_old, failing_old, sent_recent):
        outbox.add(mail)
    outbox.mark_sent(sent_old, long_ago)
    outbox.mark_refused(refused_old, 550, long_ago)
    outbox.mark_failed(failing_old, "E-postservern svarar inte.", long_ago)
    outbox.mark_sent(sent_recent, now - timedelta(days=10))

    assert outbox.prune(now) == 2

    assert outbox.for_meeting("old") == [failing_old]  # still to be sent: kept
    assert failing_old.status == FAILED and failing_old in outbox.due(now)
    assert outbox.for_meeting("recent") == [sent_recent]
    assert set(outbox.messages.keys()) == {failing_old.id, sent_recent.id}
    assert outbox.undelivered() == [failing_old]
    assert outbox.prune(now) == 0  # nothing more has expired


def test_an_outbox_stored_before_the_indexes_answers_by_scanning_until_upgraded():
    outbox = MailOutbox()
    del outbox.pending, outbox.by_meeting, outbox.finished  # as stored at version 1001
    waiting, sent = _mail("m1"), _mail("m1")
    outbox.add(waiting)
    outbox.add(sent)
    outbox.mark_sent(sent, utcnow())
    assert not outbox.indexed()
    assert outbox.due(utcnow()) == [waiting] and waiting.status == QUEUED
    assert set(outbox.for_meeting("m1")) == {waiting, sent}

    outbox.build_indexes()

    assert outbox.indexed()
    assert outbox.due(utcnow()) == [waiting]
    assert outbox.latest_for_meeting("m1") in (waiting, sent)
    assert sent.status == SENT and REFUSED not in {m.status for m in outbox.undelivered()}
