"""A change to a visit note (its text or title, through the edit form or a REST PATCH)
is audited under the note's meeting and student, by whoever made it.

The journal's own writes (the facts refreshed from late reports, the signature) set the
fields directly and fire no modified event: they have entries of their own (created,
signed) or are no one's edit."""

from plone.app.uuid.utils import uuidToObject
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record


def note_edited(note, event) -> None:
    """IObjectModifiedEvent of a visit note: who changed which fields (names only)."""
    meeting = uuidToObject(note.meeting_uid, unrestricted=True) if note.meeting_uid else None
    fields = sorted(
        {
            name.rsplit(".", 1)[-1]
            for description in getattr(event, "descriptions", ()) or ()
            for name in getattr(description, "attributes", ()) or ()
        }
    )
    detail = {"note": note.UID()}
    if fields:
        # "+" joined: the audit view splits details on ", ".
        detail["fields"] = "+".join(fields)
    record(audit.NOTE_EDITED, meeting, **detail)
