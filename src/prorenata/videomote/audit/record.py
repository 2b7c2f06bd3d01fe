"""Writing to the audit log from Plone: actor, client address and patient filled in."""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from plone import api
from prorenata.videomote.audit.log import VIEWED
from prorenata.videomote.audit.log import AuditLog
from prorenata.videomote.audit.log import detail_text
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.log import retention_cutoff
from prorenata.videomote.storage import annotated
from zope.globalrequest import getRequest

ANNOTATION_KEY = "prorenata.videomote.audit"
#: Meetings whose viewing this request has audited already (in ``request.other``, not
#: its environ: a retry after a conflict is a new request and its entry is written anew).
VIEWED_IN_REQUEST = "prorenata.videomote.audit.viewed"


def audit_log(site, create: bool = True) -> AuditLog | None:
    return annotated(site, ANNOTATION_KEY, AuditLog, create)


def client_address(request) -> str:
    if request is None:
        return ""
    return request.getClientAddr() or ""


def record(
    action: str,
    meeting=None,
    actor: str | None = None,
    role: str | None = None,
    request=None,
    **detail,
) -> None:
    """Audit ``action`` on ``meeting`` by the current user (or the given participant role)."""
    request = request if request is not None else getRequest()
    if actor is None:
        user = api.user.get_current()
        actor = "system" if user is None or api.user.is_anonymous() else user.getId()
        role = role or ("staff" if actor != "system" else "system")
    entry = make_entry(
        action,
        actor=actor,
        role=role or "",
        meeting_uid=meeting.UID() if meeting is not None else "",
        patient_uid=getattr(meeting, "patient_uid", "") if meeting is not None else "",
        ip=client_address(request),
        **detail,
    )
    audit_log(api.portal.get()).append(entry)


def record_viewed(
    meeting, via: str | None = None, request=None, within: timedelta | None = None
) -> None:
    """Audit that the current user was shown ``meeting`` (``viewed``, ``via`` the page).

    Once per request and meeting: a page that includes another one (the meeting dialog
    with its reminders and attendance) is one access, by the first page's name.
    ``within``: nor again by the same user, for the same meeting and page, within that
    time (a page's script that polls an answer is the one look it was opened for)."""
    request = request if request is not None else getRequest()
    other = getattr(request, "other", None)
    seen = other.setdefault(VIEWED_IN_REQUEST, set()) if isinstance(other, dict) else set()
    if meeting.UID() in seen:
        return
    seen.add(meeting.UID())
    detail = {"via": via} if via else {}
    if within is not None and _recorded_lately(meeting, within, **detail):
        return
    record(VIEWED, meeting, request=request, **detail)


def _recorded_lately(meeting, within: timedelta, **detail) -> bool:
    """Whether the current user's ``viewed`` entry with these details is in the log's
    last ``within`` (read from the time-ordered keys: only that stretch is read)."""
    log = audit_log(api.portal.get(), create=False)
    if log is None or api.user.is_anonymous():
        return False
    actor = api.user.get_current().getId()
    text = detail_text(**detail)
    since = ((datetime.now(UTC) - within).isoformat(),)
    return any(
        values[1] == VIEWED
        and values[2] == actor
        and values[4] == meeting.UID()
        and values[7] == text
        for values in log.entries.values(min=since)
    )


def purge_expired(site) -> int:
    years = api.portal.get_registry_record("prorenata.videomote.audit_retention_years", default=5)
    log = audit_log(site, create=False)
    return log.purge_before(retention_cutoff(years or 5)) if log is not None else 0
