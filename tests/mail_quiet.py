"""Whether any more mail can reach the SMTP sink before a deadline (see SMTPSink.wait_for).

A test that checks that *no further* mail comes waits out a time-out; this lets it stop
as soon as nothing is left to send by then. Mail is only sent by the delivery worker,
from the mail outbox and the reminder outbox, each message after it was committed there
as waiting (queued, or failed and retried) with its ``next_attempt``; it stays waiting,
claimed, until the SMTP server has taken it and the worker has committed it as sent.
So when no site's outbox holds a message due before the deadline, no mail can arrive
before it except from a transaction committing meanwhile (the caller's own writes are
committed before it waits; use it only where nothing else is writing).
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import transaction


def nothing_due(portal):
    """A ``settled(seconds)`` check for ``SMTPSink.wait_for`` over ``portal``'s database."""
    db = portal._p_jar.db()

    def settled(seconds: float) -> bool:
        from plone.base.interfaces import IPloneSiteRoot
        from prorenata.videomote.notify.outbox import outbox_for
        from prorenata.videomote.notify.reminders import reminder_outbox

        deadline = datetime.now(UTC) + timedelta(seconds=seconds)
        manager = transaction.TransactionManager()
        connection = db.open(transaction_manager=manager)
        try:
            manager.begin()
            app = connection.root()["Application"]
            for site in app.objectValues():
                if not IPloneSiteRoot.providedBy(site):
                    continue
                for box in (outbox_for(site, create=False), reminder_outbox(site, create=False)):
                    due = box.next_due() if box is not None else None
                    if due is not None and due <= deadline:
                        return False
            return True
        finally:
            manager.abort()
            connection.close()

    return settled
