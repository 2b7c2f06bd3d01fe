"""The visit's pages: the media server's attendance reports, the attendance and outcome
on the meeting's page, "Videomöten – statistik" (administrators, with CSV)."""

from datetime import date
from datetime import datetime
from plone import api
from plone.app.uuid.utils import uuidToObject
from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.access.jointoken import media_secret
from prorenata.videomote.access.jointoken import media_secrets
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.audit.record import record_viewed
from prorenata.videomote.media.attendance import SIGNATURE_HEADER
from prorenata.videomote.media.attendance import sign_body
from prorenata.videomote.request_input import query_value
from prorenata.videomote.timezone import meeting_zone
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.visit import ending
from prorenata.videomote.visit import stats
from prorenata.videomote.visit import store
from prorenata.videomote.visit.attendance import OUTCOME_TITLES
from zope.i18n import translate
from zope.interface import alsoProvides

import csv
import hmac
import io
import json

#: A report larger than this is refused (a batch holds at most 200 small events).
MAX_REPORT_BYTES = 256 * 1024


def _media_keys() -> tuple[bytes, ...]:
    keys = [media_secret(secret_key(api.portal.get())), *media_secrets()]
    return tuple(dict.fromkeys(keys))


def genuine(body: bytes, signature: str) -> bool:
    """Signed with the media secret (or one being rotated out)."""
    given = (signature or "").encode("ascii", "replace")
    return any(
        hmac.compare_digest(sign_body(body, key).encode("ascii"), given) for key in _media_keys()
    )


class AttendanceReportView(BrowserView):
    """POST by the media server: ``{"events": [...]}``, signed (see media/attendance.py).
    Anything else is refused without a hint (403, 400, 413)."""

    def __call__(self):
        response = self.request.response
        response.setHeader("Content-Type", "application/json")
        response.setHeader("Cache-Control", "no-store")
        if self.request.method != "POST":
            response.setStatus(405)
            return json.dumps({"error": "POST only"})
        body = self._body()
        if body is None:
            response.setStatus(413)
            return json.dumps({"error": "too large"})
        if not genuine(body, self.request.getHeader(SIGNATURE_HEADER)):
            response.setStatus(403)
            return json.dumps({"error": "signature"})
        try:
            items = json.loads(body)["events"]
            assert isinstance(items, list)  # noqa: S101 - refused below like bad JSON
        except (ValueError, KeyError, TypeError, AssertionError):
            response.setStatus(400)
            return json.dumps({"error": "malformed"})
        # Signed by the media server, not a browser: no CSRF token to be had.
        alsoProvides(self.request, IDisableCSRFProtection)
        return json.dumps({"stored": self._store(items)})

    def _body(self) -> bytes | None:
        length = int(self.request.getHeader("Content-Length") or 0)
        if length > MAX_REPORT_BYTES:
            return None
        stream = self.request.get("BODYFILE")
        if stream is None:
            return b""
        stream.seek(0)
        body = stream.read(MAX_REPORT_BYTES + 1)
        return None if len(body) > MAX_REPORT_BYTES else body

    def _store(self, items: list) -> int:
        by_meeting: dict[str, list] = {}
        for item in items[:1000]:
            if isinstance(item, dict) and isinstance(item.get("meeting"), str):
                by_meeting.setdefault(item["meeting"][:64], []).append(item)
        stored = 0
        for uid, events in by_meeting.items():
            meeting = uuidToObject(uid, unrestricted=True)
            if meeting is None or getattr(meeting, "portal_type", "") != "VideoMeeting":
                logger.info("Attendance report for a meeting this site does not have")
                continue
            added = store.add_events(meeting, events)
            if added:
                ending.reports_arrived(meeting)
            stored += added
        return stored


def _local_time(meeting, value: str | None) -> str:
    if not value:
        return "–"
    from_iso = datetime.fromisoformat(value)
    return f"{from_iso.astimezone(tzinfo_of(meeting_zone(meeting))):%H.%M}"


class AttendanceSection(BrowserView):
    """On a meeting's page: outcome, who was in the room and when, the draft note.

    Reading an overdue meeting ends it (the same as the timer would, not a forged
    request: the write follows from time alone)."""

    def __call__(self):
        self.update()
        return self.index()

    def update(self):
        self.facts = None
        if not may_manage(self.context):
            return
        if store.overdue_end(self.context, store.utcnow()) is not None:
            alsoProvides(self.request, IDisableCSRFProtection)
            ending.settle_if_overdue(self.context)
        self.facts = ending.attendance_json(self.context, self.request)
        if self.available():
            # Who was in the room, when, identified how: audited (once with the meeting
            # dialog that includes it, by its own name if opened alone).
            alsoProvides(self.request, IDisableCSRFProtection)
            record_viewed(self.context, "narvaro", self.request)

    def available(self) -> bool:
        return self.facts is not None and bool(self.facts["outcome"] or self.facts["participants"])

    def rows(self) -> list[dict]:
        rows = []
        for person in self.facts["participants"]:
            minutes, seconds = divmod(person["seconds"], 60)
            rows.append(
                {
                    "name": person["name"],
                    "role": translate(
                        _("Personal") if person["role"] == "staff" else _("Deltagare"),
                        context=self.request,
                    ),
                    "joined": _local_time(self.context, person["joined"]),
                    "left": _local_time(self.context, person["left"]),
                    "time": f"{minutes} min {seconds:02d} s",
                    "reconnects": person["reconnects"],
                }
            )
        return rows

    def actual(self) -> str:
        start, end = self.facts["actual_start"], self.facts["actual_end"]
        if not start:
            return "–"
        return f"{_local_time(self.context, start)}–{_local_time(self.context, end)}"


def outcome_title(meeting, request) -> str:
    """For the lists (calendar, "Dagens aktiviteter"): the outcome's title, or ""."""
    outcome = ending.shown_outcome(meeting)
    return translate(OUTCOME_TITLES[outcome], context=request) if outcome else ""


def _month(value, default: str) -> str:
    if isinstance(value, str) and len(value) == 7:
        try:
            return f"{date.fromisoformat(value + '-01'):%Y-%m}"
        except ValueError:
            pass
    return default


class StatisticsView(BrowserView):
    """ "Videomöten – statistik": per month and clinician, held, no-shows, interrupted,
    average length and reconnects; ``?format=csv`` downloads it. No personal identity
    numbers, no students: counts per clinician."""

    def __call__(self):
        this_month = f"{date.today():%Y-%m}"
        year_ago = date.today().replace(day=1)
        year_ago = f"{year_ago.year - 1}-{year_ago.month:02d}"
        form = self.request.form
        self.first = _month(query_value(form, "from"), year_ago)
        self.last = _month(query_value(form, "to"), this_month)
        if query_value(form, "format") == "csv":
            return self.csv()
        return self.index()

    def lines(self) -> list[dict]:
        names: dict[str, str] = {}
        out = []
        for line in stats.lines(self.first, self.last):
            if line.clinician not in names:
                user = api.user.get(userid=line.clinician) if line.clinician else None
                names[line.clinician] = (
                    user.getProperty("fullname") if user is not None else ""
                ) or line.clinician
            average = line.average_minutes
            out.append(
                {
                    "month": line.month,
                    "clinician": line.clinician,
                    "name": names[line.clinician],
                    "held": line.held,
                    "no_shows": line.no_shows,
                    "interrupted": line.interrupted,
                    "average": "–" if average is None else f"{average:.1f}".replace(".", ","),
                    "reconnects": line.reconnects,
                }
            )
        return out

    def columns(self) -> list[str]:
        return [
            translate(text, context=self.request)
            for text in (
                _("Månad"),
                _("Behandlare"),
                _("Användar-id"),
                _("Genomförda"),
                _("Uteblivna"),
                _("Avbrutna"),
                _("Genomsnittlig längd (min)"),
                _("Återanslutningar"),
            )
        ]

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";")
        writer.writerow(self.columns())
        for line in self.lines():
            writer.writerow(
                [
                    line["month"],
                    line["name"],
                    line["clinician"],
                    line["held"],
                    line["no_shows"],
                    line["interrupted"],
                    "" if line["average"] == "–" else line["average"],
                    line["reconnects"],
                ]
            )
        response = self.request.response
        response.setHeader("Content-Type", "text/csv; charset=utf-8")
        response.setHeader(
            "Content-Disposition",
            f'attachment; filename="videomoten-statistik-{self.first}-{self.last}.csv"',
        )
        return "\ufeff" + out.getvalue()

    def csv_url(self) -> str:
        return f"{self.request.URL}?from={self.first}&to={self.last}&format=csv"
