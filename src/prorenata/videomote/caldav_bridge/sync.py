"""Running one sync round for one clinician: the engine applied to the journal.

Pushes and pulls go through the same functions as the dialog (``book_meeting``,
``move_meeting``, ``cancel_meeting``), so every change sends the same e-mails. The sync
token is stored only after every change it covers is applied; a server error stops the
round, deletes nothing and is retried with backoff.
"""

from collections.abc import Collection
from collections.abc import Mapping
from collections.abc import MutableMapping
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from plone import api
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.access.keys import unseal
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record as audit_record
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.booking.participants import ROLE_NAMES
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.caldav_bridge.accounts import remember_meeting
from prorenata.videomote.caldav_bridge.accounts import status_of
from prorenata.videomote.caldav_bridge.accounts import status_row
from prorenata.videomote.caldav_bridge.client import PreconditionFailed
from prorenata.videomote.caldav_bridge.client import ServerUnavailable
from prorenata.videomote.caldav_bridge.client import UnreadableItem
from prorenata.videomote.caldav_bridge.client import borrow_account
from prorenata.videomote.caldav_bridge.client import return_account
from prorenata.videomote.caldav_bridge.events import CalendarEvent
from prorenata.videomote.caldav_bridge.events import to_ical
from prorenata.videomote.caldav_bridge.lease import AccountBusy
from prorenata.videomote.caldav_bridge.reconcile import Do
from prorenata.videomote.caldav_bridge.reconcile import ItemStatus
from prorenata.videomote.caldav_bridge.reconcile import reconcile
from prorenata.videomote.caldav_bridge.reconcile import removed
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_ENDED
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.content.scheduling import move_meeting
from prorenata.videomote.timezone import configured_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.translation import in_site_language
from urllib.parse import unquote

import caldav

#: Message ids; written into the event in the site's language (``in_site_language``).
UNRESOLVED_NOTE = _(
    "Säkert Videomöte: deltagaren kunde inte hittas bland elevernas och vårdnadshavarnas "
    "kontaktuppgifter i journalen. Ingen inbjudan har skickats."
)
AMBIGUOUS_NOTE = _(
    "Säkert Videomöte: flera av deltagarna finns i journalen (eller en vårdnadshavare till "
    "flera elever), så det går inte att veta vem mötet gäller. Ingen inbjudan har skickats; "
    "boka mötet i journalen."
)
RECURRING_NOTE = _(
    "Säkert Videomöte: en återkommande händelse kan inte bli ett videomöte. Ingen inbjudan "
    "har skickats; boka varje möte för sig."
)


def _zone() -> str:
    return configured_zone()


def as_organiser(userid: str):
    """Acting as the organiser, with her rights as they are now; as nobody if her account
    was deleted: she may manage no meeting any more, so each leaves her calendar (which
    the journal still reaches with her app password), and nothing is booked in her name
    (a failing round every few minutes would have kept them there for good)."""
    try:
        return api.env.adopt_user(username=userid)
    except api.exc.UserNotFoundError:
        return api.env.adopt_roles(["Anonymous"])


def local_events(
    userid: str, meeting_uids: Collection[str] | None = None
) -> dict[str, tuple[CalendarEvent, object]]:
    """The meetings ``userid`` organised and may still manage: one who has lost access to
    a student's record loses those meetings from their calendar too.

    With ``meeting_uids`` (Plone UIDs) only those meetings are looked at: what an
    incremental round needs, whatever the number of the clinician's meetings."""
    catalog = api.portal.get_tool("portal_catalog")
    found = {}
    query = {"portal_type": "VideoMeeting", "meeting_organiser": userid}
    if meeting_uids is not None:
        if not meeting_uids:
            return found
        query["UID"] = sorted(meeting_uids)
    with as_organiser(userid):
        meetings = [
            meeting
            for brain in catalog.unrestrictedSearchResults(**query)
            if may_manage(meeting := brain._unrestrictedGetObject())
        ]
    for meeting in meetings:
        event = _event_of(meeting)
        found[event.uid] = (event, meeting)
    return found


def _event_of(meeting) -> CalendarEvent:
    """A journal meeting as the calendar event it is written as."""
    return CalendarEvent(
        uid=meeting.ical_uid,
        title=meeting.title,
        start=meeting.start,
        end=meeting.end,
        cancelled=meeting.state == STATE_CANCELLED,
        attendee_email=meeting.invitee_email or "",
        attendee_name=meeting.invitee_name or "",
        is_video=True,
        meeting_uid=meeting.UID(),
        sequence=meeting.sequence or 0,
        extra_attendees=tuple(
            (p["email"], p["name"], in_site_language(ROLE_NAMES[p["role"]]))
            for p in participants.people(meeting)
        ),
    )


def find_contacts(emails) -> list[tuple[object, str]]:
    """(record, contact choice) for every student or primary guardian, among the records
    the current user may see, whose address is one of ``emails``."""
    wanted = {(e or "").strip().lower() for e in emails} - {""}
    if not wanted:
        return []
    found = []
    catalog = api.portal.get_tool("portal_catalog")
    for brain in catalog(object_provides=IContactDetails.__identifier__):
        record = brain.getObject()
        if (getattr(record, "contact_email", "") or "").lower() in wanted:
            found.append((record, "student"))
        for guardian in getattr(record, "guardians", None) or []:
            if guardian.get("primary") and (guardian.get("email") or "").lower() in wanted:
                found.append((record, "guardian"))
    return found


def _room_url(meeting) -> str:
    return f"{meeting.absolute_url()}/@@videomote-rum"


WRITES = {Do.PUSH_CREATE.value, Do.PUSH_UPDATE.value, Do.PUSH_DELETE.value, "pull_create"}


class Unguarded:
    """No lease (a caller that is the only writer, as a test or a benchmark): see
    lease.AccountGuard for what ``claim`` and ``keep`` do."""

    def claim(self) -> None:
        pass

    def keep(self) -> None:
        pass


def sync_account(record, now: datetime | None = None, incremental: bool = False, guard=None) -> str:
    """Sync one account; returns a short summary (also stored on the record).

    ``guard`` (a ``lease.AccountGuard``): the round claims it before its first write to
    the calendar or the database and keeps it between writes, so one writer at a time
    syncs an account whatever the number of Zope instances; a round with nothing to do
    claims nothing.

    ``incremental``: look only at what the calendar reported since the stored token and
    at the meetings changed in the journal since the last round (``record.pending``), so
    an idle round is one sync REPORT and no catalog query, object load or ZODB write. It
    becomes a full round whenever it could not be exact (no token, a full listing, a
    calendar made again, a mass deletion, a meeting it cannot name, ``record.dirty``).

    A round that wrote to the calendar is followed by another: the token we hold predates
    our own writes, and some servers (Xandikos) report only the net change since a token,
    so an event we created and someone deleted meanwhile would otherwise never show up.
    """
    summary = ""
    for _attempt in range(3):
        summary, counts = _sync_round(record, now, incremental, guard or Unguarded())
        if not counts or not WRITES & set(counts):
            break
    return summary


class _Round:
    """What the steps of one round share: the account, what the calendar reported, the
    item status, the clinician's meetings and what was done (counted per action)."""

    def __init__(self, record, account, now: datetime, zone: str, guard):
        self.record, self.account, self.now, self.zone = record, account, now, zone
        self.guard = guard
        self.status: _Status | None = None
        self.changes = None
        self.mine: dict[str, tuple[CalendarEvent, object]] = {}
        self.plan = None
        self.counts: dict[str, int] = {}

    def count(self, do: str) -> None:
        self.counts[do] = self.counts.get(do, 0) + 1


def _sync_round(
    record, now: datetime | None = None, incremental: bool = False, guard=None
) -> tuple[str, dict[str, int]]:
    """One round: read changes, reconcile, apply; (summary, what was done)."""
    now = now or datetime.now(UTC)
    zone = _zone()
    account = borrow_account(
        record.url, record.username, unseal(api.portal.get(), record.password), zone
    )
    state = _Round(record, account, now, zone, guard or Unguarded())
    try:
        scope = _run(state, incremental)
    except AccountBusy:
        return_account(account)  # the connection is sound: only the lease is another's
        raise
    except PreconditionFailed:
        # Changed in the calendar while we wrote: keep what is done, read all again now.
        return_account(account)
        _store(record, state.status)
        record.sync_token = None
        record.dirty = True
        record.last_result = _("Ändrat i kalendern under synkroniseringen; läses in igen.")
        return record.last_result, {}
    except ServerUnavailable as error:
        if state.status is not None:
            _store(record, state.status)
        failed(record, now, f"{type(error).__name__}: {error}", SERVER_DOWN)
        return record.last_result, {}
    except caldav.lib.error.AuthorizationError:
        failed(record, now, "AuthorizationError", LOGIN_REFUSED)
        return record.last_result, {}
    counts = state.counts
    if scope is not None and not counts:
        return record.last_result, counts  # an idle incremental round: nothing to tell
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    record.last_result = (
        f"{now:%Y-%m-%d %H:%M} UTC: {summary}"
        if summary
        else _("${time} UTC: inga ändringar", mapping={"time": f"{now:%Y-%m-%d %H:%M}"})
    )
    return record.last_result, counts


def _run(state: _Round, incremental: bool) -> dict[str, str] | None:
    """Read, reconcile, apply and store; the incremental round's scope (None: a full one)."""
    record = state.record
    state.status = _Status(record.items)
    # A meeting removed from the calendar on purpose has no item there to look for.
    changes = state.changes = state.account.changes_since(
        record.sync_token,
        known=_Lazy(lambda: {s.href: s.etag for s in state.status.values() if not s.removed}),
    )
    if changes.calendar_made:
        _calendar_made(state)
    status = state.status
    by_href = _ByHref(status)
    pending = set(record.pending or ())  # what this round covers of the journal's changes
    scope = None
    if incremental:
        scope = _incremental_scope(record, changes, status, by_href, pending)
    if scope is None or scope or changes.token != record.sync_token:
        state.guard.claim()  # from here on the round may write (AccountBusy: it gives way)
    in_scope, guard = _load_meetings(state, scope)
    listed = set(changes.changed) | _read_unreadable(state, by_href)
    _follow_renames(state)
    # Gone is what was removed and is not listed anew (under the same or another name).
    deleted = {
        uid
        for href in changes.deleted_hrefs
        if (uid := by_href.get(href)) is not None and uid not in listed
    }
    state.plan = reconcile(
        {uid: pair[0] for uid, pair in state.mine.items()},
        changes.changed,
        deleted,
        in_scope,
        **guard,
    )
    with as_organiser(record.userid):
        for action in state.plan.actions:
            state.count(action.do.value)
            state.guard.keep()  # a long round renews its lease (LeaseLost: it stops)
            HANDLERS[action.do](state, action.uid)
    _report_conflicts(state)
    _finish(state, pending)
    return scope


def _calendar_made(state: _Round) -> None:
    """The calendar was deleted in the client, not the meetings one by one: the journal
    writes them all into the new calendar and cancels nothing. (On a new account the
    calendar is simply made: nothing was known of it.)"""
    record = state.record
    if state.status or record.sync_token:
        logger.warning("CalDAV calendar of %s was gone and has been made again", record.userid)
    else:
        logger.info("CalDAV calendar of %s made", record.userid)
    state.status = _Status(None)


def _load_meetings(state: _Round, scope: dict[str, str] | None) -> tuple[Mapping, dict]:
    """The clinician's meetings this round looks at (into ``state.mine``); the item
    status it reconciles and reconcile()'s guard arguments."""
    record, status = state.record, state.status
    if scope is None:
        state.mine = local_events(record.userid)
        for uid, (_event, meeting) in state.mine.items():
            remember_meeting(record, uid, meeting.UID())
        return status, {}
    state.mine = {
        uid: pair
        for uid, pair in local_events(record.userid, set(scope.values())).items()
        if uid in scope
    }
    # The mass-deletion guard counts on the whole calendar: checked on all of it in
    # _incremental_scope (a full round then), not on this round's few items.
    return {uid: status[uid] for uid in scope if uid in status}, {"guard_min_items": float("inf")}


def _read_unreadable(state: _Round, by_href: dict[str, str]) -> set[str]:
    """Deal with the items that are not readable events; the uids they are listed under."""
    listed = set()
    for item in state.changes.unreadable.values():
        uid = by_href.get(item.href) or item.uid or item.href
        listed.add(uid)
        if _unreadable(
            state.account, state.record, state.status, state.mine, uid, item, state.zone
        ):
            state.count(Do.PUSH_UPDATE.value)
    return listed


def _follow_renames(state: _Round) -> None:
    """The same meeting under a new ETag or name (a client added an alarm, or deleted and
    made it again): a later write must not meet a 412. A real change keeps the old ETag
    until it is applied, so a round that stops half-way reads it again."""
    status = state.status
    for uid, remote in state.changes.changed.items():
        known = status.get(uid)
        if (
            known is not None
            and (known.href, known.etag) != (remote.href, remote.etag)
            and remote.event.fingerprint() == known.remote_hash
        ):
            status[uid] = replace(known, href=remote.href, etag=remote.etag)


def _push_write(state: _Round, uid: str, create: bool) -> None:
    """The journal's meeting written to the calendar, at the ETag last seen."""
    event, meeting = state.mine[uid]
    known = state.status.get(uid)
    remote = state.changes.changed.get(uid)
    etag = remote.etag if remote else (known.etag if known else None)
    if create and uid not in state.changes.changed:
        etag = None
    href, new_etag = _put_meeting(
        state.account,
        state.record.userid,
        meeting,
        uid,
        to_ical(event, state.zone, _room_url(meeting)),
        etag=etag,
        href=(remote.href if remote else (known.href if known else None)),
    )
    state.status[uid] = ItemStatus(href, new_etag, event.fingerprint(), event.fingerprint())


def _put_meeting(account, userid: str, meeting, uid: str, text: str, **where) -> tuple[str, str]:
    """Write a meeting's event (title, time, the invitee's name and address) to its
    organiser's own calendar server: an access to the meeting, audited as one."""
    written = account.put(uid, text, **where)
    audit_record(audit.CALENDAR_WRITTEN, meeting, actor=userid, role="staff", via="caldav")
    return written


def _push_create(state: _Round, uid: str) -> None:
    _push_write(state, uid, create=True)


def _push_update(state: _Round, uid: str) -> None:
    _push_write(state, uid, create=False)


def _push_delete(state: _Round, uid: str) -> None:
    """The meeting is no longer the clinician's (or was cancelled): off the calendar."""
    known, remote = state.status.get(uid), state.changes.changed.get(uid)
    item = remote if known is None or known.removed else known
    state.account.delete(item.href, item.etag or None)
    _removed(state.status, uid, state.mine)


def _forget(state: _Round, uid: str) -> None:
    _removed(state.status, uid, state.mine)


def _pull_update(state: _Round, uid: str) -> None:
    """Moved, renamed or cancelled in the calendar: the same in the journal."""

    _event, meeting = state.mine[uid]
    remote = state.changes.changed[uid]
    try:
        if remote.event.cancelled:
            cancel_meeting(meeting)
        else:
            move_meeting(
                meeting,
                remote.event.start,
                remote.event.end,
                title=remote.event.title,
                now=state.now,
            )
    except BookingRefused:
        # Not a valid meeting time (e.g. in the past): the journal wins.
        state.plan.conflicts.append(uid)
    refreshed = _event_of(meeting)
    href, etag = remote.href, remote.etag
    if refreshed.cancelled:
        # Cancelled in the calendar: it leaves the calendar, as any cancelled meeting does.
        state.account.delete(href, etag or None)
        _removed(state.status, uid, {uid: (refreshed, meeting)})
        return
    if refreshed.fingerprint() != remote.event.fingerprint():
        href, etag = _put_meeting(
            state.account,
            state.record.userid,
            meeting,
            uid,
            to_ical(refreshed, state.zone, _room_url(meeting)),
            etag=remote.etag,
            href=remote.href,
        )
    state.status[uid] = ItemStatus(href, etag, refreshed.fingerprint(), refreshed.fingerprint())


def _pull_delete(state: _Round, uid: str) -> None:
    """Deleted in the calendar: a coming meeting is cancelled (and the family told)."""

    _event, meeting = state.mine[uid]
    if meeting.state != STATE_ENDED and meeting.end > state.now:
        cancel_meeting(meeting)
    # else: a clinician tidying up old events; nobody is told anything
    # Either way it stays deleted: no later round writes it back.
    _removed(state.status, uid, {uid: (_event_of(meeting), meeting)})


def _pull_create_action(state: _Round, uid: str) -> None:
    state.status[uid] = _pull_create(
        state.account,
        state.record,
        state.changes.changed[uid],
        state.zone,
        state.now,
        Booking,
        book_meeting,
    )


#: One handler per kind of action reconcile() plans; the round counts them all alike.
HANDLERS = {
    Do.PUSH_CREATE: _push_create,
    Do.PUSH_UPDATE: _push_update,
    Do.PUSH_DELETE: _push_delete,
    Do.FORGET: _forget,
    Do.PULL_UPDATE: _pull_update,
    Do.PULL_DELETE: _pull_delete,
    Do.PULL_CREATE: _pull_create_action,
}


def _report_conflicts(state: _Round) -> None:
    """Conflicts (the journal won) and a blocked mass deletion, for the settings page."""
    record, plan, zone, mine = state.record, state.plan, state.zone, state.mine
    for uid in plan.conflicts:
        logger.info("CalDAV conflict for %s on meeting %s: the journal wins", record.userid, uid)
    labels = [_label(mine[uid][0], zone) for uid in plan.conflicts if uid in mine]
    _remember(record, "conflicts", labels)
    if plan.mass_deletion_blocked:
        logger.warning(
            "CalDAV calendar of %s lost %d events at once: nothing cancelled, written back",
            record.userid,
            len(plan.mass_deletion_blocked),
        )
        restored = [
            f"{_label(mine[uid][0], zone)}: borttaget i kalendern, tillbakaskrivet"
            for uid in plan.mass_deletion_blocked
        ]
        _remember(record, "conflicts", restored)


def _finish(state: _Round, pending: set[str]) -> None:
    """Store the status, then the token: every change it covers is applied."""
    record = state.record
    _store(record, state.status)
    # (Set only when changed: an idle round every few seconds must not write to the ZODB.)
    _set(record, sync_token=state.changes.token, dirty=False, failures=0, last_error="")
    _set(record, next_attempt=None)
    if record.pending is not None:
        # What the round read, and what its own moves and cancellations put back on the
        # list: the status holds them now.
        for uid in pending | set(state.mine):
            if uid in record.pending:
                record.pending.remove(uid)
    return_account(state.account)


#: reconcile()'s mass-deletion guard: at least this many items, this share gone at once.
GUARD_MIN_ITEMS, GUARD_SHARE = 5, 0.5


def _incremental_scope(record, changes, status, by_href, pending) -> dict[str, str] | None:
    """The items an incremental round looks at (iCalendar UID -> the meeting's Plone UID,
    "" for an item that is no meeting), or None when only a full round is exact."""
    if record.dirty or changes.full or changes.calendar_made:
        return None
    gone = {uid for href in changes.deleted_hrefs if (uid := by_href.get(href)) is not None}
    if gone and _mass_deletion(status, len(gone)):
        return None  # the mass-deletion guard decides on the whole calendar
    uids = set(pending) | set(changes.changed) | gone
    uids |= {by_href.get(i.href) or i.uid or i.href for i in changes.unreadable.values()}
    meetings = record.meetings if record.meetings is not None else {}
    scope = {}
    for uid in uids:
        meeting_uid = meetings.get(uid, "")
        known = status.get(uid)
        if not meeting_uid and (uid in pending or (known is not None and known.local_hash)):
            return None  # a meeting this round cannot name: look at all of them
        scope[uid] = meeting_uid
    return scope


def _mass_deletion(status: Mapping[str, ItemStatus], gone: int) -> bool:
    """Whether ``gone`` deleted items may trip reconcile()'s mass-deletion guard.

    The calendar's live items are counted only until there are more than the deletion
    could be half of: one deletion among 5,000 events reads a few rows, not 5,000."""
    enough = max(GUARD_MIN_ITEMS, gone / GUARD_SHARE)
    live = 0
    for item in status.values():
        live += not item.removed
        if live > enough:
            return False
    return live >= GUARD_MIN_ITEMS and gone >= GUARD_SHARE * live


def _set(record, **values) -> None:
    """Set attributes that differ (a persistent object is written on any assignment)."""
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)


#: Stored as message ids in ``last_result``; the settings page translates them.
SERVER_DOWN = _("Kalenderservern svarade inte; nytt försök görs.")
LOGIN_REFUSED = _(
    "Kalenderservern nekade inloggningen. Kontrollera användarnamn och app-lösenord under "
    "Kalenderkoppling; nytt försök görs."
)
FAILED = _("Synkroniseringen misslyckades (${error}); nytt försök görs.")


def failed(record, now: datetime, error: str, result: str) -> None:
    """A round that could not be done: tried again later with backoff (30 s … 1 h),
    the reason on the clinician's settings page; nothing is deleted."""
    record.failures += 1
    record.last_error = error[:200]
    record.next_attempt = now + timedelta(seconds=min(30 * 2 ** (record.failures - 1), 3600))
    record.last_result = result
    logger.warning("CalDAV sync for %s failed (%s); retrying later", record.userid, error)


def _removed(status: dict[str, ItemStatus], uid: str, mine: dict) -> None:
    """The item is gone from the calendar: a meeting the journal still has is marked as
    removed on purpose (so it stays removed), any other is forgotten."""
    if uid in mine:
        status[uid] = removed(mine[uid][0].fingerprint())
    else:
        status.pop(uid, None)


_GONE = object()


class _Status(MutableMapping):
    """A round's item status (ical uid -> ItemStatus) over the stored one, read item by
    item and noting what the round set or removed: only that is stored again, so a round
    costs what it looks at, not what the calendar holds. ``stored`` None: start empty (a
    calendar made again), and store all."""

    def __init__(self, stored: Mapping[str, tuple] | None):
        self.stored = stored if stored is not None else {}
        self.cleared = stored is None
        self.changed: dict[str, object] = {}

    @property
    def touched(self) -> set[str]:
        return set(self.changed)

    def __getitem__(self, uid: str) -> ItemStatus:
        item = self.changed.get(uid)
        if item is _GONE:
            raise KeyError(uid)
        if item is not None:
            return item
        return status_of(self.stored[uid])

    def __setitem__(self, uid: str, item: ItemStatus) -> None:
        self.changed[uid] = item

    def __delitem__(self, uid: str) -> None:
        if uid not in self:
            raise KeyError(uid)
        self.changed[uid] = _GONE

    def __contains__(self, uid) -> bool:
        item = self.changed.get(uid)
        return item is not _GONE and (item is not None or uid in self.stored)

    def __iter__(self):
        for uid in self.stored:
            if self.changed.get(uid) is not _GONE:
                yield uid
        for uid, item in self.changed.items():
            if item is not _GONE and uid not in self.stored:
                yield uid

    def __len__(self) -> int:
        return sum(1 for _uid in self)

    def __bool__(self) -> bool:
        # Not len(): whether there is any item reads one row, not all of them.
        return any(True for _uid in self)


class _ByHref:
    """The item status by href (href -> iCalendar UID, of the items not removed), looked
    up href by href: what a round needs for the few items the calendar reported deleted or
    unreadable, whatever the number of the clinician's events.

    An item is named after its UID (``<uid>.ics``) when the journal wrote it and by most
    clients, so that one row is read; only an href named otherwise reads all the rows
    (once per round), as the plain mapping did."""

    def __init__(self, status: Mapping[str, ItemStatus]):
        self.status = status
        self._all: dict[str, str] | None = None

    def get(self, href: str, default: str | None = None) -> str | None:
        name = unquote(str(href).rstrip("/").rsplit("/", 1)[-1])
        guess = name.removesuffix(".ics")
        known = self.status.get(guess)
        if known is not None and not known.removed and known.href == href:
            return guess
        if self._all is None:
            self._all = {s.href: uid for uid, s in self.status.items() if not s.removed}
        return self._all.get(href, default)

    def __contains__(self, href) -> bool:
        return self.get(href) is not None


class _Lazy(Mapping):
    """A mapping made only when first read (most rounds never read it)."""

    def __init__(self, make):
        self._make, self._data = make, None

    def _mapping(self) -> dict:
        if self._data is None:
            self._data = self._make()
        return self._data

    def __getitem__(self, key):
        return self._mapping()[key]

    def __iter__(self):
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self._mapping())


def _store(record, status: dict[str, ItemStatus]) -> None:
    """Keep what is done, even when a later step of the round fails (only what changed
    is written: most rounds change nothing)."""
    if not isinstance(status, _Status) or status.cleared:
        record.items.clear()
        record.items.update({uid: status_row(item) for uid, item in status.items()})
        return
    for uid in status.touched:
        if uid not in status:
            record.items.pop(uid, None)
        elif record.items.get(uid) != (stored := status_row(status[uid])):
            record.items[uid] = stored


def _pull_create(account, record, remote, zone, now, booking_class, book_meeting):
    """An event made in the clinician's calendar: book it, or mark it as unresolved."""
    event = remote.event
    if event.cancelled:
        # Made already cancelled (or cancelled before we saw it): nothing to book or say.
        return ItemStatus(remote.href, remote.etag, "", event.fingerprint())
    matches = [] if event.recurring else find_contacts(event.attendee_emails)
    patient, choice = matches[0] if len(matches) == 1 else (None, None)
    if patient is not None:
        try:
            meeting = book_meeting(
                booking_class(
                    title=event.title,
                    start=event.start,
                    end=event.end,
                    patient_uid=patient.UID(),
                    contact_choice=choice,
                    timezone=zone,
                ),
                organiser=record.userid,
                now=now,
                ical_uid=event.uid,
            )
        except BookingRefused as refusal:
            note = _(
                "Säkert Videomöte: bokningen gick inte att göra: ${reason}",
                mapping={"reason": in_site_language(refusal.message)},
            )
        else:
            mine = _event_of(meeting)
            href, etag = _put_meeting(
                account,
                record.userid,
                meeting,
                event.uid,
                to_ical(mine, zone, _room_url(meeting)),
                etag=remote.etag,
                href=remote.href,
            )
            return ItemStatus(href, etag, mine.fingerprint(), mine.fingerprint())
    elif event.recurring:
        note = RECURRING_NOTE
    elif matches:
        note = AMBIGUOUS_NOTE
    else:
        note = UNRESOLVED_NOTE
    _remember(record, "unresolved", [_label(event, zone)])
    href, etag = account.annotate(remote.href, remote.etag, in_site_language(note))
    # No local fingerprint: not a meeting; tried again if the clinician changes it.
    return ItemStatus(href, etag, "", event.fingerprint())


def _remember(record, name: str, entries: list[str]) -> None:
    """Add to one of the lists the settings page shows (the newest 50 are kept)."""
    if not entries:
        return  # no write: a round that adds nothing leaves the record as it was
    setattr(record, name, (list(getattr(record, name)) + entries)[-50:])


def _label(event: CalendarEvent, zone: str) -> str:
    """How the settings page names an event to the clinician: title and local time."""
    return f"{event.title} ({event.start.astimezone(tzinfo_of(zone)):%Y-%m-%d %H:%M})"


def _unreadable(account, record, status, mine, uid: str, item: UnreadableItem, zone: str) -> bool:
    """A new or changed calendar item that is not a readable event (no start time, a
    broken date): it books and cancels nothing, and does not stop the round.

    A meeting's event is replaced by the journal's (the journal wins, as on any conflict,
    and the clinician sees it): deleted at the ETag we read and written anew, since a
    server that stored a broken event may fail to overwrite it (Xandikos answers 500).
    Any other item is kept at this ETag, so it is read again only once it changes, and is
    named on the settings page. True when the calendar was written to.
    """
    logger.warning("CalDAV item %s of %s is not a readable event", uid, record.userid)
    known = status.get(uid)
    if uid in mine:
        event, meeting = mine[uid]
        account.delete(item.href, item.etag or None)
        status.pop(uid, None)
        if event.cancelled:
            _removed(status, uid, mine)
            return True
        href, etag = _put_meeting(
            account, record.userid, meeting, uid, to_ical(event, zone, _room_url(meeting))
        )
        status[uid] = ItemStatus(href, etag, event.fingerprint(), event.fingerprint())
        _remember(record, "conflicts", [_label(event, zone)])
        return True
    status[uid] = ItemStatus(item.href, item.etag, known.local_hash if known else "", "")
    if known is not None and known.local_hash:
        return False  # its meeting is gone from the journal: the round removes it
    _remember(record, "unreadable", [item.title or item.href.rsplit("/", 1)[-1]])
    return False
