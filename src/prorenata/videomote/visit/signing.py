"""Signing a visit note (the workflow transition ``sign``): who and when, audited."""

from datetime import UTC
from datetime import datetime
from plone import api
from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record


def note_signed(note, event) -> None:
    """IActionSucceededEvent of ``sign``: the note says who signed it and when; the
    audit log has it under its meeting and student."""
    if event.action != "sign":
        return
    note.signed_by = api.user.get_current().getId()
    note.signed_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    meeting = uuidToObject(note.meeting_uid, unrestricted=True) if note.meeting_uid else None
    record(audit.NOTE_SIGNED, meeting, note=note.UID())
