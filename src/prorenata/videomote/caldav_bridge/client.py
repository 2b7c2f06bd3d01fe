"""One clinician's CalDAV calendar, through ``caldav`` 3.x (plain Python, no Zope).

Reads changes with RFC 6578 sync tokens (``disable_fallback=True``: without it the
library silently re-fetches everything) and falls back to a full listing only on a
server without tokens or with an expired one. A full listing fetches only the items whose
ETag differs from the stored status (vdirsyncer's way), so losing the token (a 412, an
expired token, a server without tokens) costs a listing, not the whole calendar again.
Writes use If-Match / If-None-Match, so a change made in the calendar meanwhile is never
overwritten blindly.
"""

from caldav.lib.url import URL
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from prorenata.videomote import logger
from prorenata.videomote.booking.rules import MAX_EVENT_BYTES
from prorenata.videomote.caldav_bridge.events import RepeatedProperty
from prorenata.videomote.caldav_bridge.events import UnreadableEvent
from prorenata.videomote.caldav_bridge.events import from_ical
from prorenata.videomote.caldav_bridge.reconcile import RemoteItem
from urllib.parse import quote

import caldav
import hashlib
import icalendar

CALENDAR_NAME = "Videomöten"
#: How caldav marks the token it makes up for a server without RFC 6578 sync tokens.
FAKE_TOKEN = "fake-"  # noqa: S105 - a sync-token marker, not a credential


def canonical(href) -> str:
    """One spelling per resource: servers quote ``@`` in some answers and not in others."""
    return str(URL.objectify(str(href)).canonical())


class _CalendarGone(Exception):
    """The sync REPORT found no calendar (HTTP 404): it was deleted in the client."""


def _sync_report(calendar, token: str | None) -> tuple[object, bool]:
    """The sync REPORT's answer (hrefs and ETags only) and whether it is a full listing.

    A server without sync tokens, or one that no longer knows ``token``, gives a full
    listing instead; any other failure is ``ServerUnavailable`` (retry later).
    """
    try:
        result = calendar.get_objects_by_sync_token(
            sync_token=token, load_objects=False, disable_fallback=True
        )
    except caldav.lib.error.NotFoundError:
        raise _CalendarGone from None
    except caldav.lib.error.DAVError:
        # No sync tokens here, or ours expired: list everything and compare.
        try:
            return calendar.get_objects_by_sync_token(load_objects=False), True
        except Exception as error:
            raise ServerUnavailable(type(error).__name__) from error
    except Exception as error:
        raise ServerUnavailable(type(error).__name__) from error
    return result, token is None


def _listed_etags(result, deleted: set[str]) -> dict[str, str]:
    """Href -> ETag of every listed item not reported deleted (an ETag may be empty)."""
    etags = {}
    for obj in result.objects:
        href = canonical(obj.url)
        if href not in deleted:
            etags[href] = (getattr(obj, "props", {}) or {}).get("{DAV:}getetag", "")
    return etags


class PreconditionFailed(Exception):
    """The item changed on the server since we read it (HTTP 412): re-read, reconcile."""


class ServerUnavailable(Exception):
    """The server could not be reached or answered with an error: retry later, delete nothing."""


@dataclass(frozen=True)
class UnreadableItem:
    """A changed item whose event could not be read (what a plain look found in it)."""

    href: str
    etag: str
    uid: str
    title: str


@dataclass
class Changes:
    changed: dict[str, RemoteItem]
    deleted_hrefs: set[str]
    token: str | None
    full: bool
    #: The calendar was not there and has just been made (deleted in the client): what
    #: the bridge knew of it is void, nothing in it was deleted one by one.
    calendar_made: bool = False
    #: New or changed items that are not readable events (href -> item): neither changed
    #: nor deleted; one broken event must not stop the sync of all the others.
    unreadable: dict[str, UnreadableItem] = field(default_factory=dict)


_POOL: dict[tuple[str, str, str, str], "CalendarAccount"] = {}
_POOL_LIMIT = 500


def borrow_account(url: str, username: str, password: str, zone: str) -> "CalendarAccount":
    """The account kept from this process's last good round, or a new one.

    A new ``DAVClient`` negotiates authentication (an unauthenticated request first, and
    Radicale answers 401 only after its one-second ``auth delay``) and discovers the
    calendar (principal, calendar home, calendars): several requests per round that a kept
    account does not repeat. Whoever borrows has it alone (Zope threads share the pool);
    :func:`return_account` after a round that went well.
    """
    key = (url, username, hashlib.sha256(password.encode()).hexdigest(), zone)
    account = _POOL.pop(key, None)
    if account is None:
        account = CalendarAccount(url, username, password, zone)
        account._pool_key = key
    return account


def return_account(account: "CalendarAccount") -> None:
    """Keep ``account`` for the next round (not after a server error: that one starts over)."""
    key = getattr(account, "_pool_key", None)
    if key is None:
        return
    if len(_POOL) >= _POOL_LIMIT:
        _POOL.clear()
    _POOL[key] = account


class CalendarAccount:
    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        zone: str = "Europe/Stockholm",
        timeout: float = 60,
    ):
        self.client = caldav.DAVClient(
            url=url, username=username, password=password, timeout=timeout
        )
        self.zone = zone
        self._calendar = None
        self._made = False

    def calendar(self):
        """The dedicated calendar "Videomöten", created if missing."""
        if self._calendar is None:
            try:
                principal = self.client.principal()
                for calendar in principal.calendars():
                    if calendar.get_display_name() == CALENDAR_NAME:
                        self._calendar = calendar
                        break
                else:
                    self._calendar = principal.make_calendar(name=CALENDAR_NAME)
                    self._made = True
            except caldav.lib.error.AuthorizationError:
                raise
            except Exception as error:
                raise ServerUnavailable(type(error).__name__) from error
        return self._calendar

    def href_for(self, uid: str) -> str:
        return canonical(f"{str(self.calendar().url).rstrip('/')}/{quote(uid, safe='')}.ics")

    def changes_since(
        self, token: str | None, known: Mapping[str, str] | None = None, attempt: int = 0
    ) -> Changes:
        """What changed since ``token``: a sync REPORT for hrefs and ETags, then
        calendar-multiget REPORTs for the data (never one GET per event).

        ``known`` maps the hrefs of the stored status to their ETags. When the answer is a
        full listing (no token, or the server could not use it), only the items whose ETag
        differs are fetched, and a known href that is not listed is reported deleted.
        Without ``known`` a full listing fetches everything (a first read).
        """
        calendar = self.calendar()
        if token is not None and token.startswith(FAKE_TOKEN):
            # The library's own stand-in from a server without tokens: given back, it
            # lists everything itself and reports no deletions. Our listing does better.
            token = None
        try:
            result, full = _sync_report(calendar, token)
        except _CalendarGone:
            if attempt:
                raise ServerUnavailable("NotFoundError") from None
            # The calendar is gone (deleted in the client): find or make it again, and
            # read it as new. A vanished calendar cancels nothing (the mass-deletion guard).
            self._calendar = None
            return self.changes_since(None, known, attempt=1)
        deleted = {canonical(url) for url in getattr(result, "deleted_urls", []) or []}
        etags = _listed_etags(result, deleted)
        wanted = [href for href in etags if href]
        if full and known is not None and not self._made:
            # A new calendar voids what the status knew; otherwise an unchanged ETag is an
            # unchanged item (an empty one proves nothing), and what is not listed is gone.
            wanted = [h for h in wanted if not etags[h] or known.get(h) != etags[h]]
            deleted = {href for href in known if href not in etags}
        changed, unreadable = self._read(calendar, wanted, etags)
        made, self._made = self._made, False
        return Changes(
            changed=changed,
            deleted_hrefs=deleted,
            token=result.sync_token,
            full=full,
            calendar_made=made,
            unreadable=unreadable,
        )

    def _read(
        self, calendar, hrefs: list[str], etags: dict[str, str]
    ) -> tuple[dict[str, RemoteItem], dict[str, UnreadableItem]]:
        """Fetch and parse ``hrefs``: events by uid, and what could not be read by href."""
        changed, unreadable = {}, {}
        for href, data in self._fetch(calendar, hrefs).items():
            try:
                event = from_ical(data, self.zone)
            except UnreadableEvent as error:
                unreadable[href] = UnreadableItem(href, etags.get(href, ""), error.uid, error.title)
                continue
            if event is not None:
                changed[event.uid] = RemoteItem(href=href, etag=etags.get(href, ""), event=event)
        return changed, unreadable

    def _fetch(self, calendar, hrefs: list[str], batch: int = 500) -> dict[str, str]:
        data = {}
        for start in range(0, len(hrefs), batch):
            try:
                objects = calendar.multiget([URL(h) for h in hrefs[start : start + batch]])
            except Exception as error:
                raise ServerUnavailable(type(error).__name__) from error
            data.update({canonical(obj.url): obj.data for obj in objects if obj.data})
        return data

    def put(
        self, uid: str, ical: str, etag: str | None = None, href: str | None = None
    ) -> tuple[str, str]:
        """Create (etag None) or update (If-Match) one item; returns (href, new etag)."""
        href = canonical(href) if href else self.href_for(uid)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers["If-Match" if etag else "If-None-Match"] = etag or "*"
        try:
            response = self.client.put(href, ical, headers)
        except Exception as error:
            raise ServerUnavailable(type(error).__name__) from error
        if response.status == 412:
            raise PreconditionFailed(uid)
        if response.status >= 400:
            raise ServerUnavailable(f"http {response.status}")
        new_etag = response.headers.get("ETag", "")
        return href, new_etag

    def annotate(self, href: str, etag: str, note: str) -> tuple[str, str]:
        """Add ``note`` to the event's DESCRIPTION (once), with If-Match."""
        try:
            response = self.client.request(href, "GET")
        except Exception as error:
            raise ServerUnavailable(type(error).__name__) from error
        if response.status >= 400:
            raise ServerUnavailable(f"http {response.status}")
        if len(response.raw) > MAX_EVENT_BYTES:
            return href, etag  # grown past the limit since it was read: not parsed
        try:
            calendar = icalendar.Calendar.from_ical(response.raw)
            vevent = calendar.walk("VEVENT")[0]
            description = vevent.get("description", "")
            if isinstance(description, list):
                raise RepeatedProperty("DESCRIPTION")
        except (ValueError, IndexError) as error:
            # Read as an event, but the whole object does not parse (a broken VTIMEZONE,
            # which the event's reading skips): left as it is, the round goes on.
            logger.info("Calendar item not annotated: %s", type(error).__name__)
            return href, etag
        description = str(description)
        if note in description:
            return href, etag
        vevent.pop("description", None)
        vevent.add("description", f"{note}\n\n{description}".strip())
        current = response.headers.get("ETag", etag)
        return self.put(
            str(vevent.get("uid")), calendar.to_ical().decode("utf-8"), etag=current, href=href
        )

    def delete(self, href: str, etag: str | None = None) -> None:
        headers = {"If-Match": etag} if etag else {}
        try:
            response = (
                self.client.delete(href)
                if not headers
                else self.client.request(href, "DELETE", "", headers)
            )
        except Exception as error:
            raise ServerUnavailable(type(error).__name__) from error
        if response.status == 412:
            raise PreconditionFailed(href)
        if response.status >= 400 and response.status != 404:
            raise ServerUnavailable(f"http {response.status}")
