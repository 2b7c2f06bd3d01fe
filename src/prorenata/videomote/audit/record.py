"""Writing to the audit log from Plone: actor, client address and patient filled in."""

from plone import api
from prorenata.videomote.audit.log import AuditLog
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.log import retention_cutoff
from prorenata.videomote.storage import annotated
from zope.globalrequest import getRequest

ANNOTATION_KEY = "prorenata.videomote.audit"


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


def purge_expired(site) -> int:
    years = api.portal.get_registry_record("prorenata.videomote.audit_retention_years", default=5)
    log = audit_log(site, create=False)
    return log.purge_before(retention_cutoff(years or 5)) if log is not None else 0
