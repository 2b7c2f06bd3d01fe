"""A change to a visit note (its text or title, through the edit form or a REST PATCH)
is audited under the note's meeting and student, by whoever made it; so is every read
of it (its page, its edit form, the REST API).

The journal's own writes (the facts refreshed from late reports, the signature) set the
fields directly and fire no modified event: they have entries of their own (created,
signed) or are no one's edit."""

from plone.app.uuid.utils import uuidToObject
from plone.protect.interfaces import IDisableCSRFProtection
from plone.restapi.services import Service
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.visit.note import IVisitNote
from zope.interface import alsoProvides


def note_edited(note, event) -> None:
    """IObjectModifiedEvent of a visit note: who changed which fields (names only)."""
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
    record(audit.NOTE_EDITED, _meeting_of(note), **detail)


def note_read(event) -> None:
    """IPubAfterTraversal: a GET of anything of a visit note that shows it (its page, its
    edit form, the REST API) is audited as read under the note's meeting. Traversal has
    checked access by then and knows the user; a request that fails later rolls back."""
    request = event.request
    if not IVideomoteLayer.providedBy(request):
        return
    if request.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return  # a change: audited as edited (or refused)
    published = request.get("PUBLISHED")
    note = getattr(published, "context", None)
    if note is None:
        note = getattr(published, "__self__", None)  # a method of the note itself
    if not IVisitNote.providedBy(note):
        return
    alsoProvides(request, IDisableCSRFProtection)  # the audit entry is the only write
    record(
        audit.NOTE_VIEWED, _meeting_of(note), request=request, note=note.UID(), via=_via(published)
    )


def _meeting_of(note):
    """The meeting the note is about (the entry is filed under it and its student)."""
    return uuidToObject(note.meeting_uid, unrestricted=True) if note.meeting_uid else None


def _via(published) -> str:
    """How it was read: ``rest``, or the page's name (``view``, ``edit``)."""
    if isinstance(published, Service):
        return "rest"
    name = getattr(published, "__name__", "") or ""
    return name if name.isascii() and name.replace("_", "").isalnum() and len(name) < 40 else ""
