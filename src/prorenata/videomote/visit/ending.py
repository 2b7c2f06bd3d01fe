"""A meeting ends: staff end it ("Avsluta för alla"), or its end plus grace passes with
nobody in the room. Then it gets its outcome, the draft visit note is written into the
record, and the month's statistics count it. Reports that arrive later (the media server
was slow or the journal down) refresh the outcome and a note that is still a draft.

The end by time is applied lazily where a meeting is read (its page, ``@videomote-
meeting``) and by a timer (``visit/timer.py``), so it happens without anyone looking.
"""

from Acquisition import aq_base
from Acquisition import aq_parent
from datetime import datetime
from plone import api
from plone.app.uuid.utils import uuidToObject
from plone.dexterity.utils import createContentInContainer
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.access.media_room import tell_media_server_ended
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.translation import in_site_language
from prorenata.videomote.visit import attendance
from prorenata.videomote.visit import stats
from prorenata.videomote.visit import store
from prorenata.videomote.visit.note import IVisitNoteWriter
from zope.component import queryAdapter
from zope.i18n import translate
from zope.interface import implementer

BY_STAFF = "staff"
BY_TIME = "time"
DRAFT = "draft"


def end_meeting(meeting, by: str = BY_STAFF, now: datetime | None = None) -> None:
    """End a meeting that is on: state ended, audited, the media server told (after the
    commit), then the outcome, the draft note and the statistics."""
    now = now or store.utcnow()
    meeting.state = STATE_ENDED
    meeting.reindexObject(idxs=["meeting_state"])
    if by == BY_TIME:
        record(audit.ENDED, meeting, actor="system", role="system", by="time")
    else:
        record(audit.ENDED, meeting)
    tell_media_server_ended(meeting)
    kept = store.record_of(meeting)
    kept.ended_at, kept.ended_by = now, by
    settle_outcome(meeting)


def settle_if_overdue(meeting, now: datetime | None = None) -> bool:
    """End the meeting by time if its end plus grace has passed with nobody in the room;
    True if it did."""
    ended_at = store.overdue_end(meeting, now or store.utcnow())
    if ended_at is None:
        return False
    end_meeting(meeting, BY_TIME, ended_at)
    return True


def settle_outcome(meeting) -> None:
    """(Re)derive the ended meeting's outcome from its events; write or refresh the draft
    note and the statistics."""
    kept = store.record_of(meeting)
    if kept.ended_at is None:
        return
    kept.outcome = store.outcome_of(meeting, kept.ended_at)
    facts = visit_facts(meeting)
    stats.count(meeting, facts)
    note = uuidToObject(kept.note_uid, unrestricted=True) if kept.note_uid else None
    writer = queryAdapter(aq_parent(meeting), IVisitNoteWriter)
    if writer is None:
        logger.warning("No visit note writer for the record of meeting %s", meeting.UID())
        return
    if note is None and not kept.note_uid:
        note = writer.create(meeting, facts)
        kept.note_uid = note.UID()
        record(
            audit.NOTE_CREATED,
            meeting,
            actor="system",
            role="system",
            note=kept.note_uid,
            outcome=kept.outcome,
        )
    elif note is not None:
        writer.update(note, facts)


def reports_arrived(meeting) -> None:
    """New events for a meeting: an ended one's outcome and draft note follow them."""
    kept = store.record_of(meeting, create=False)
    if kept is not None and kept.ended_at is not None:
        settle_outcome(meeting)


# -- the facts of a visit -------------------------------------------------------------
def visit_facts(meeting) -> dict:
    """What the journal knows about the visit: for the note, the JSON and the statistics."""
    kept = store.record_of(meeting, create=False)
    ended_at = kept.ended_at if kept is not None else None
    people = store.presences(meeting)
    start, end = attendance.together(people, counts=store.decides(meeting))
    roles = store.roles(meeting)
    participants = []
    for person in people:
        method, level = store.identification(meeting, person.who, person.role)
        participants.append(
            {
                "name": person.name,
                # staff, participant (the invitee) or an extra person's role ("tolk")
                "role": roles.get(person.who, person.role),
                "joined": _iso(person.joined),
                "left": _iso(person.left),
                "seconds": person.seconds,
                "reconnects": person.reconnects,
                "identification": {"method": method, "level": level},
            }
        )
    return {
        "outcome": kept.outcome if kept is not None and kept.outcome else None,
        "ended_at": ended_at,
        "ended_by": kept.ended_by if kept is not None else "",
        "actual_start": start,
        "actual_end": end,
        "participants": participants,
        "reconnects": sum(p.reconnects for p in people),
        "note_uid": kept.note_uid if kept is not None else "",
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def participant_line(participant: dict, translate_text) -> str:
    """ "Anna Andersson (deltagare): engångskod via SMS (sms-otp), tillitsnivå låg"."""
    role = _("personal") if participant["role"] == "staff" else _("deltagare")
    ident = participant["identification"]
    method = store.METHOD_TITLES.get(ident["method"])
    how = translate_text(method) if method else ident["method"] or "–"
    if ident["method"] and method:
        how = f"{how} ({ident['method']})"
    if ident["level"]:
        level = store.LEVEL_TITLES.get(ident["level"], ident["level"])
        how += ", " + translate_text(
            _("tillitsnivå ${level}", mapping={"level": translate_text(level)})
        )
    return f"{participant['name']} ({translate_text(role)}): {how}"


def attendance_json(meeting, request) -> dict:
    """``attendance`` of ``@videomote-meeting``: outcome (None while the meeting is on),
    its title, actual start and end, the draft note, and each person in the room."""
    facts = visit_facts(meeting)
    zone = tzinfo_of(meeting_zone(meeting))
    outcome = facts["outcome"]
    return {
        "outcome": outcome,
        "outcome_title": translate(attendance.OUTCOME_TITLES[outcome], context=request)
        if outcome
        else None,
        "ended_at": _local_iso(facts["ended_at"], zone),
        "ended_by": facts["ended_by"] or None,
        "actual_start": _local_iso(facts["actual_start"], zone),
        "actual_end": _local_iso(facts["actual_end"], zone),
        "note": _note_url(facts["note_uid"]),
        "participants": facts["participants"],
    }


def _local_iso(value: datetime | None, zone) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def _note_url(uid: str) -> str | None:
    note = uuidToObject(uid) if uid else None
    return note.absolute_url() if note is not None else None


def shown_outcome(meeting, now: datetime | None = None) -> str | None:
    """The outcome to show in lists (the calendar, "Dagens aktiviteter") without writing:
    the stored one, or the one an overdue meeting will get."""
    kept = store.record_of(meeting, create=False)
    if kept is not None and kept.outcome:
        return kept.outcome
    ended_at = store.overdue_end(meeting, now or store.utcnow())
    return store.outcome_of(meeting, ended_at) if ended_at is not None else None


# -- the default note writer ----------------------------------------------------------
def _note_values(meeting, facts: dict) -> dict:
    zone = tzinfo_of(meeting_zone(meeting))
    clinician = meeting.organiser or ""
    user = api.user.get(userid=clinician) if clinician else None
    name = (user.getProperty("fullname") if user is not None else "") or clinician
    return {
        "meeting_uid": meeting.UID(),
        "visit_date": meeting.start.astimezone(zone).date(),
        "clinician": clinician,
        "clinician_name": name,
        "participants": [participant_line(p, in_site_language) for p in facts["participants"]],
        "actual_start": _naive_local(facts["actual_start"], zone),
        "actual_end": _naive_local(facts["actual_end"], zone),
        "outcome": facts["outcome"],
    }


def _naive_local(value: datetime | None, zone) -> datetime | None:
    """Dexterity Datetime fields keep naive wall-clock times (plone.app.z3cform widgets)."""
    return value.astimezone(zone).replace(tzinfo=None) if value is not None else None


@implementer(IVisitNoteWriter)
class VisitNoteWriter:
    """The add-on's own ``VisitNote`` inside the record (any record type)."""

    def __init__(self, context):
        self.context = context

    def create(self, meeting, facts: dict):
        values = _note_values(meeting, facts)
        title = in_site_language(
            _(
                "Besöksanteckning: ${title} ${date}",
                mapping={"title": meeting.title, "date": values["visit_date"].isoformat()},
            )
        )
        # Written for the journal (a timer may end the meeting): not limited by the
        # record type's allowed types or the current user's add permission.
        note = createContentInContainer(
            self.context, "VisitNote", checkConstraints=False, title=title[:200], **values
        )
        note.participant_details = tuple(facts["participants"])
        drop_local_roles(note)
        return note

    def update(self, note, facts: dict) -> bool:
        if api.content.get_state(note, default=DRAFT) != DRAFT:
            return False
        meeting = uuidToObject(note.meeting_uid, unrestricted=True)
        if meeting is None:
            return False
        for key, value in _note_values(meeting, facts).items():
            setattr(note, key, value)
        note.participant_details = tuple(facts["participants"])
        note.reindexObject()
        return True


def drop_local_roles(obj) -> None:
    """No Owner of its own (whoever ended the meeting): its roles are the record's."""
    holders = [principal for principal, _roles in obj.get_local_roles()]
    if holders:
        aq_base(obj).__ac_local_roles__ = {}
        obj.reindexObjectSecurity()
