"""The audit log for administrators: filters by date, meeting and student/patient; CSV."""

from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from Products.Five.browser import BrowserView
from prorenata.videomote.audit.log import ACTION_TITLES
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.browser.meetings import local
from prorenata.videomote.browser.meetings import parse_day
from prorenata.videomote.browser.meetings import site_zone

import csv
import io

COLUMNS = ("Tid", "Händelse", "Vem", "Roll", "Möte", "Elev/patient", "IP-adress", "Detaljer")


def _day(value) -> date | None:
    """A filter's day; anything else (a list, a record, year 9999) filters nothing."""
    return parse_day(value)


def _text(value) -> str:
    """A filter's UID: one short text, else nothing (``meeting:list=…``, a megabyte)."""
    return value.strip() if isinstance(value, str) and len(value) <= MAX_TOKEN else ""


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

    def entries(self) -> list:
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
        found = log.query(start, end, chosen["meeting"] or None, chosen["patient"] or None)
        return list(reversed(found))

    def rows(self) -> list[tuple]:
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
            for entry in self.entries()
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
