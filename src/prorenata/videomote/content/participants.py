"""Extra participants stored on a meeting, with their own code and link (Plone shell).

A meeting keeps them as ``extra_participants``: a tuple of plain dicts, each with a
stable random ``id``, ``name``, ``mobile``, ``email``, ``role`` and the HMAC hashes of
that person's own meeting code and join token. The tuple is replaced, never changed in
place, so the ZODB sees every change; a meeting stored before has the class default, an
empty tuple. The attribute is not a schema field: Plone's serializer, searches and edit
forms never see the contact details (only the audited meeting views show them, as for
the invitee).

Each person's code and link are theirs alone: removing a person voids only theirs, a new
time re-issues everyone's (``scheduling.py`` calls :func:`issue_all`), a cancellation
voids all. Sign-in finds a person by the catalog indexes ``extra_code_hashes`` and
``extra_token_hashes``.
"""

from Acquisition import aq_base
from dataclasses import dataclass
from plone import api
from prorenata.videomote import _
from prorenata.videomote.access import signins
from prorenata.videomote.access.codes import hash_meeting_code
from prorenata.videomote.access.codes import hash_secret
from prorenata.videomote.access.codes import new_join_token
from prorenata.videomote.access.codes import new_meeting_code
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.booking.participants import FIELD
from prorenata.videomote.booking.participants import MAX_EXTRA_PARTICIPANTS
from prorenata.videomote.booking.participants import ROLE_NAMES
from prorenata.videomote.booking.participants import ExtraParticipant
from prorenata.videomote.booking.participants import check_extra_participants
from prorenata.videomote.booking.participants import display_name
from prorenata.videomote.booking.participants import too_many
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_STARTED
from zope.event import notify
from zope.i18n import translate
from zope.interface import Attribute
from zope.interface import implementer
from zope.interface.interfaces import IObjectEvent
from zope.interface.interfaces import ObjectEvent

import secrets

ATTRIBUTE = "extra_participants"
INDEXES = ("extra_code_hashes", "extra_token_hashes")
#: The public fields of a person (what staff see, REST returns); hashes never leave.
PUBLIC = ("id", "name", "mobile", "email", "role")


class IExtraParticipantsInvitedEvent(IObjectEvent):
    """People were added to a booked meeting (after booking): each gets an invitation."""

    people = Attribute("The added people (stored dicts)")
    secrets = Attribute("person id → (meeting code, join token) in clear")


@implementer(IExtraParticipantsInvitedEvent)
class ExtraParticipantsInvitedEvent(ObjectEvent):
    def __init__(self, meeting, people, issued):
        super().__init__(meeting)
        self.people, self.secrets = people, issued


class IExtraParticipantRemovedEvent(IObjectEvent):
    """A person was removed from a meeting: their link and code no longer work."""

    person = Attribute("The removed person (stored dict)")


@implementer(IExtraParticipantRemovedEvent)
class ExtraParticipantRemovedEvent(ObjectEvent):
    def __init__(self, meeting, person):
        super().__init__(meeting)
        self.person = person


def people(meeting) -> tuple[dict, ...]:
    """The meeting's extra participants (empty for meetings booked before they existed)."""
    return tuple(getattr(aq_base(meeting), ATTRIBUTE, ()) or ())


def person(meeting, person_id: str) -> dict | None:
    for item in people(meeting):
        if item["id"] == person_id:
            return item
    return None


def public(item: dict) -> dict:
    return {key: item[key] for key in PUBLIC}


def role_name(item: dict, request=None) -> str:
    """The role as the room and audit log write it after the name ("tolk")."""
    message = ROLE_NAMES.get(item.get("role"), "")
    return translate(message, context=request) if message else ""


def room_name(item: dict, request=None) -> str:
    """ "Anna Svensson (tolk)"."""
    return display_name(item["name"], role_name(item, request))


def new_records(checked: list[ExtraParticipant]) -> tuple[dict, ...]:
    """Stored records for newly invited people: a stable random id, no secrets yet."""
    return tuple(
        {
            "id": f"p-{secrets.token_hex(8)}",
            "name": one.name,
            "mobile": one.mobile,
            "email": one.email,
            "role": one.role,
            "code_hash": None,
            "token_hash": None,
        }
        for one in checked
    )


def _store(meeting, records) -> None:
    setattr(meeting, ATTRIBUTE, tuple(records))
    meeting.reindexObject(idxs=list(INDEXES))


def issue(meeting, ids=None) -> dict[str, tuple[str, str]]:
    """A new code and link for each person (``ids``: only those); only hashes stay.

    Returns person id → (code, token) in clear, for their e-mail."""
    key = secret_key(api.portal.get())
    issued, records = {}, []
    for item in people(meeting):
        if ids is None or item["id"] in ids:
            code, token = new_meeting_code(), new_join_token()
            item = dict(
                item, code_hash=hash_meeting_code(code, key), token_hash=hash_secret(token, key)
            )
            issued[item["id"]] = (code, token)
        records.append(item)
    if issued:
        _store(meeting, records)
    return issued


def issue_all(meeting) -> dict[str, tuple[str, str]]:
    """Booked or moved: everyone's code and link anew (the old ones stop working)."""
    return issue(meeting) if people(meeting) else {}


def void_all(meeting) -> None:
    """Cancelled: nobody's code or link works any more."""
    if people(meeting):
        _store(meeting, (dict(p, code_hash=None, token_hash=None) for p in people(meeting)))


def add(meeting, checked: list[ExtraParticipant]) -> tuple[dict, ...]:
    """Store more people (no secrets yet: :func:`issue` them)."""
    added = new_records(checked)
    _store(meeting, (*people(meeting), *added))
    return added


def remove(meeting, person_id: str) -> dict | None:
    """Remove a person: their code and link stop working at once."""
    gone = person(meeting, person_id)
    if gone is not None:
        _store(meeting, (p for p in people(meeting) if p["id"] != person_id))
        signins.drop_person(meeting, person_id)
    return gone


def find(meeting, index: str, hashes: list[str]) -> dict | None:
    """The person whose code (``extra_code_hashes``) or link (``extra_token_hashes``)
    hash is one of ``hashes``."""
    key = {"extra_code_hashes": "code_hash", "extra_token_hashes": "token_hash"}[index]
    wanted = set(hashes or ())
    for item in people(meeting):
        if item.get(key) and item[key] in wanted:
            return item
    return None


def code_hashes(meeting) -> list[str]:
    return [p["code_hash"] for p in people(meeting) if p.get("code_hash")]


def token_hashes(meeting) -> list[str]:
    return [p["token_hash"] for p in people(meeting) if p.get("token_hash")]


NOT_ON = _("Mötet är avbokat eller avslutat: deltagare kan inte läggas till eller tas bort.")


def plan(meeting, raw) -> "Change":
    """A REST PATCH's ``extra_participants``: the whole new list. An entry with the
    ``id`` of a person invited keeps that person as invited (their details are set when
    they are invited, as the invitee's are: to change them, remove and add); an entry
    without ``id`` is a new person, checked as at booking and invited; a person left
    out is removed (a cancellation e-mail, their link and code stop working).

    Refused as a whole, naming the field, before anything changes; then
    :func:`remove_all` and :func:`add_all` do it (a move in between: the removed are not
    told of it, the added get only the new time)."""
    if not isinstance(raw, list):
        raise BookingRefused(_("Ange extra deltagare som en lista med personer."), field=FIELD)
    if len(raw) > MAX_EXTRA_PARTICIPANTS:
        raise too_many()
    current = people(meeting)
    kept, new = set(), []
    for index, item in enumerate(raw):
        pid = item.get("id") if isinstance(item, dict) else None
        if pid is None:
            new.append(item)
        elif isinstance(pid, str) and person(meeting, pid) is not None and pid not in kept:
            kept.add(pid)
        else:
            raise BookingRefused(
                _("Deltagare ${number} finns inte i mötet.", mapping={"number": index + 2}),
                field=f"{FIELD}.{index}.id",
            )
    removed = tuple(p for p in current if p["id"] not in kept)
    if (new or removed) and meeting.state not in (STATE_BOOKED, STATE_STARTED):
        raise BookingRefused(NOT_ON, field=FIELD)
    taken = [meeting.invitee_mobile, *(p["mobile"] for p in current if p["id"] in kept)]
    checked = check_extra_participants(new, taken_mobiles=taken, offset=len(kept))
    return Change(removed=removed, added=tuple(checked))


@dataclass(frozen=True)
class Change:
    """What a PATCH does to the extra participants, checked (:func:`plan`)."""

    removed: tuple[dict, ...] = ()
    added: tuple[ExtraParticipant, ...] = ()


def remove_all(meeting, change: Change) -> None:
    """The removals of ``change``: each person a cancellation, their link void."""
    for gone in change.removed:
        remove(meeting, gone["id"])
        # The cancellation the person gets is newer than the invitation they had.
        meeting.sequence = (meeting.sequence or 0) + 1
        notify(ExtraParticipantRemovedEvent(meeting, gone))


def add_all(meeting, change: Change) -> tuple[dict, ...]:
    """The additions of ``change``: each person their own link, code and invitation."""
    if not change.added:
        return ()
    added = add(meeting, list(change.added))
    issued = issue(meeting, {p["id"] for p in added})
    added = person_records(meeting, added)
    notify(ExtraParticipantsInvitedEvent(meeting, added, issued))
    return added


def person_records(meeting, chosen) -> tuple[dict, ...]:
    ids = {p["id"] for p in chosen}
    return tuple(p for p in people(meeting) if p["id"] in ids)
