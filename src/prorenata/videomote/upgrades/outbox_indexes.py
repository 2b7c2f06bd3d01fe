"""1001 → 1002: the mail outbox gets its indexes (pending by due time, by meeting,
finished by state and time), built from the messages it holds; then sent and refused
mail past the retention is pruned."""

from plone import api
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import utcnow


def index_the_outbox(context) -> None:
    outbox = outbox_for(api.portal.get(), create=False)
    if outbox is None:
        return  # a site that never sent mail: the outbox is made with its indexes
    outbox.build_indexes()
    outbox.prune(utcnow())
