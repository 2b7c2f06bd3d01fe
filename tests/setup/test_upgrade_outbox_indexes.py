"""Upgrade 1001 → 1002: an outbox holding mail from before gets its indexes."""

from datetime import timedelta
from plone import api
from prorenata.videomote.notify.outbox import MailOutbox
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import utcnow

PROFILE = "prorenata.videomote:default"


def _mail(meeting: str, created) -> OutgoingMail:
    mail = OutgoingMail(meeting, "invitation", "alva@example.se", "noreply@example.se", b"x")
    mail.created = mail.next_attempt = created
    return mail


def test_upgrade_from_1001_indexes_the_messages_already_in_the_outbox(portal):
    now = utcnow()
    outbox = outbox_for(portal)
    del outbox.pending, outbox.by_meeting, outbox.finished  # as stored at version 1001
    assert isinstance(outbox, MailOutbox) and not outbox.indexed()
    waiting = _mail("meeting-1", now - timedelta(minutes=5))
    failing = _mail("meeting-2", now - timedelta(days=200))
    sent = _mail("meeting-1", now - timedelta(days=2))
    sent_long_ago = _mail("meeting-3", now - timedelta(days=400))
    for mail in (waiting, failing, sent, sent_long_ago):
        outbox.add(mail)
    outbox.mark_failed(failing, "E-postservern svarar inte.", now - timedelta(minutes=1))
    outbox.mark_sent(sent, now - timedelta(days=2))
    outbox.mark_sent(sent_long_ago, now - timedelta(days=400))
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1001")

    setup.upgradeProfile(PROFILE)

    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    outbox = outbox_for(portal)
    assert outbox.indexed()
    assert set(outbox.due(now + timedelta(minutes=1))) == {waiting, failing}
    assert outbox.next_due() == waiting.next_attempt
    assert outbox.for_meeting("meeting-1") == [sent, waiting]
    assert outbox.latest_for_meeting("meeting-2") is failing
    assert outbox.for_meeting("meeting-3") == []  # sent 400 days ago: pruned
    assert sent_long_ago.id not in outbox.messages
    assert len(outbox.retryable()) == 2 and len(outbox.finished) == 1
