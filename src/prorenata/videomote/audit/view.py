"""The audit log for administrators: filters by date, meeting and student/patient; CSV."""

from collections.abc import Sequence
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from plone.batching import Batch
from Products.Five.browser import BrowserView
from prorenata.videomote.audit.log import ACTION_TITLES
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.browser.meetings import local
from prorenata.videomote.browser.meetings import parse_day
from prorenata.videomote.browser.meetings import site_zone

import csv
import io

#: Entries per page of the view (the CSV export has every entry the filters find).
PAGE_SIZE = 50
COLUMNS = ("Tid", "Händelse", "Vem", "Roll", "Möte", "Elev/patient", "IP-adress", "Detaljer")


def _day(value) -> date | None:
    """A filter's day; anything else (a list, a record, year 9999) filters nothing."""
    return parse_day(value)


def _text(value) -> str:
    """A filter's UID: one short text, else nothing (``meeting:list=…``, a megabyte)."""
    return value.strip() if isinstance(value, str) and len(value) <= MAX_TOKEN else ""


def _offset(value) -> int:
    """The batch's start: a count (``b_start:int`` from the navigation's links), else 0."""
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class AuditLogView(BrowserView):
    def __call__(self):
        if self.request.form.get("format") == "csv":
            return self.csv()
        return self.index()

    def filters(self) -> dict:
        form = self.request.form
        return {
            "from": _day(form.get("from")),
            "to": _day(form.get("to")),
            "meeting": _text(form.get("meeting")),
            "patient": _text(form.get("patient")),
        }

    def entries(self) -> Sequence:
        """What the filters find, newest first; read lazily (see ``AuditLog.newest_first``)."""
        log = audit_log(api.portal.get(), create=False)
        if log is None:
            return []
        chosen = self.filters()
        zone = site_zone()
        start = zone.localize(datetime.combine(chosen["from"], time(0))) if chosen["from"] else None
        end = (
            zone.localize(datetime.combine(chosen["to"] + timedelta(days=1), time(0)))
            if chosen["to"]
            else None
        )
        return log.newest_first(start, end, chosen["meeting"] or None, chosen["patient"] or None)

    def batch(self) -> Batch:
        """One page of ``entries`` (``b_start`` as Plone's batch navigation sets it)."""
        return Batch(
            self.entries(), size=PAGE_SIZE, start=_offset(self.request.form.get("b_start"))
        )

    def rows(self, entries=None) -> list[tuple]:
        """Table rows of ``entries`` (one page), or of everything the filters find."""
        return [
            (
                local(entry.when).strftime("%Y-%m-%d %H.%M.%S"),
                ACTION_TITLES.get(entry.action, entry.action),
                entry.actor,
                entry.role,
                entry.meeting_uid,
                entry.patient_uid,
                entry.ip,
                entry.detail,
            )
            for entry in (self.entries() if entries is None else entries)
        ]

    def columns(self) -> tuple:
        return COLUMNS

    def csv_url(self) -> str:
        query = self.request.get("QUERY_STRING", "")
        return (
            f"{self.request.URL}?{query}&format=csv" if query else f"{self.request.URL}?format=csv"
        )

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=";")
        writer.writerow(COLUMNS)
        writer.writerows(self.rows())
        response = self.request.response
        response.setHeader("Content-Type", "text/csv; charset=utf-8")
        response.setHeader("Content-Disposition", 'attachment; filename="granskningslogg.csv"')
        return "\ufeff" + buffer.getvalue()
