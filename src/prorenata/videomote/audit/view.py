"""The audit log for administrators: filters by date, meeting and student/patient; CSV.

The log stores ids and codes (a meeting's and a record's UID, ``staff``, ``student``):
they stay as they are. What an administrator reads is the meeting's title and time and
the student's name where they still exist ("Borttaget möte" where not), and Swedish
words for roles and the details' values; the CSV keeps the UIDs in columns of their own.
"""

from collections.abc import Sequence
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from itertools import islice
from plone import api
from plone.batching import Batch
from Products.Five.browser import BrowserView
from prorenata.videomote import _
from prorenata.videomote.audit.log import ACTION_TITLES
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.browser.meetings import local
from prorenata.videomote.browser.meetings import parse_day
from prorenata.videomote.browser.meetings import site_zone
from urllib.parse import urlencode
from zope.i18n import translate
from ZPublisher.Iterators import filestream_iterator

import csv
import os
import tempfile

#: Entries per page of the view (the CSV export has every entry the filters find).
PAGE_SIZE = 50
#: Entries whose rows are made (and names read) together in the CSV export.
CSV_CHUNK = 1000
COLUMNS = (
    _("Tid"),
    _("Händelse"),
    _("Vem"),
    _("Roll"),
    _("Möte"),
    _("Elev/patient"),
    _("IP-adress"),
    _("Detaljer"),
)
#: The CSV keeps what was stored, for matching against other logs.
CSV_COLUMNS = (*COLUMNS, _("Mötes-UID"), _("Elev/patient-UID"))

ROLES = {
    "staff": _("Personal"),
    "participant": _("Deltagare"),
    "system": _("Systemet"),
}
#: Who a participant was invited as (``deltagare:<contact choice>``), and other actors.
ACTORS = {
    "system": _("Systemet"),
    "okänd": _("Okänd"),
    "deltagare:student": _("Deltagare (eleven)"),
    "deltagare:guardian": _("Deltagare (vårdnadshavare)"),
    "deltagare:custom": _("Deltagare (annan kontakt)"),
    "deltagare:tolk": _("Deltagare (tolk)"),
    "deltagare:vardnadshavare": _("Deltagare (vårdnadshavare)"),
    "deltagare:annan": _("Deltagare (annan)"),
}
DETAIL_KEYS = {
    "contact": _("Kontakt"),
    "kind": _("E-post"),
    "started": _("Hade startat"),
    "deleted": _("Raderat"),
    "via": _("Via"),
    "limit": _("Gräns"),
    "reason": _("Orsak"),
    "method": _("Metod"),
    "assurance": _("Tillitsnivå"),
    "sequence": _("Version"),
    "person": _("Person"),
    "person_role": _("Roll"),
    "channel": _("Kanal"),
    "page": _("Sida"),
    "window": _("Inloggningstid"),
    "fields": _("Fält"),
}
DETAIL_VALUES = {
    ("contact", "student"): _("eleven"),
    ("contact", "guardian"): _("vårdnadshavare"),
    ("contact", "custom"): _("annan kontakt"),
    ("person_role", "tolk"): _("tolk"),
    ("person_role", "vardnadshavare"): _("vårdnadshavare"),
    ("person_role", "annan"): _("annan"),
    ("kind", "invitation"): _("inbjudan"),
    ("kind", "update"): _("ändring"),
    ("kind", "cancellation"): _("avbokning"),
    ("started", "yes"): _("ja"),
    ("started", "no"): _("nej"),
    ("deleted", "yes"): _("ja"),
    ("deleted", "no"): _("nej"),
    ("via", "rest"): _("REST-API, mötet"),
    ("via", "rest-lista"): _("REST-API, möteslista"),
    ("via", "inbjudan-status"): _("kalenderns besked om inbjudan"),
    ("via", "avboka"): _("Avboka"),
    ("via", "flytta"): _("Flytta"),
    ("via", "rum"): _("mötesrummet, före start"),
    ("via", "paminnelser"): _("påminnelser"),
    ("via", "narvaro"): _("närvaro och utfall"),
    ("via", "view"): _("sidan"),
    ("via", "edit"): _("redigeringsformuläret"),
    ("page", "logga-in"): _("inloggningen"),
    ("page", "lamna"): _("du har lämnat mötet"),
    ("window", "early"): _("inte öppen än"),
    ("window", "open"): _("öppen"),
    ("window", "over"): _("mötet avslutat eller inställt"),
    ("limit", "meeting"): _("mötets SMS-gräns"),
    ("limit", "signin"): _("inloggningens SMS-gräns"),
    ("method", "sms-otp"): _("engångskod via SMS"),
    ("assurance", "low"): _("låg"),
    ("assurance", "substantial"): _("väsentlig"),
    ("assurance", "high"): _("hög"),
    ("channel", "email"): _("e-post"),
    ("channel", "sms"): _("SMS"),
    ("reason", "cancelled"): _("mötet var avbokat"),
    ("reason", "ended"): _("mötet var avslutat"),
    ("reason", "started"): _("mötet hade börjat"),
    ("reason", "moved"): _("mötet hade flyttats"),
    ("reason", "off"): _("påminnelsen var avstängd"),
    ("reason", "gone"): _("mötet var borttaget"),
}
DELETED_MEETING = _("Borttaget möte")
DELETED_RECORD = _("Borttagen elev/patient")


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

    def _t(self, message) -> str:
        return translate(message, context=self.request)

    def _objects(self, uids: set[str]) -> dict:
        """UID → object, for those that still exist (one catalog query; admins only
        read this view, and a record's or meeting's name is what they need to see)."""
        uids.discard("")
        if not uids:
            return {}
        catalog = api.portal.get_tool("portal_catalog")
        brains = catalog.unrestrictedSearchResults(UID=list(uids))
        return {brain.UID: brain._unrestrictedGetObject() for brain in brains}

    def _meeting(self, uid: str, found: dict) -> str:
        if not uid:
            return ""
        meeting = found.get(uid)
        if meeting is None:
            return self._t(DELETED_MEETING)
        start, end = local(meeting.start), local(meeting.end)
        return f"{meeting.title} ({start:%Y-%m-%d %H.%M}–{end:%H.%M})"

    def _record(self, uid: str, found: dict) -> str:
        if not uid:
            return ""
        record = found.get(uid)
        return record.Title() if record is not None else self._t(DELETED_RECORD)

    def _actor(self, actor: str) -> str:
        return self._t(ACTORS[actor]) if actor in ACTORS else actor

    def _role(self, role: str) -> str:
        return self._t(ROLES[role]) if role in ROLES else role

    def _detail(self, detail: str) -> str:
        """``contact=student, via=rest`` → ``Kontakt: eleven, Via: REST-API, mötet``."""
        if not detail:
            return ""
        parts = []
        for part in detail.split(", "):
            key, sep, value = part.partition("=")
            if not sep or key not in DETAIL_KEYS:
                parts.append(part)
                continue
            shown = DETAIL_VALUES.get((key, value))
            parts.append(f"{self._t(DETAIL_KEYS[key])}: {self._t(shown) if shown else value}")
        return ", ".join(parts)

    def batch(self) -> Batch:
        """One page of ``entries`` (``b_start`` as Plone's batch navigation sets it)."""
        return Batch(
            self.entries(), size=PAGE_SIZE, start=_offset(self.request.form.get("b_start"))
        )

    def _readable(self, entries: Sequence | None = None) -> list[tuple]:
        """Rows of ``entries`` (one page), or of everything the filters find; the last
        two cells are the stored UIDs."""
        entries = self.entries() if entries is None else list(entries)
        found = self._objects({e.meeting_uid for e in entries} | {e.patient_uid for e in entries})
        return [
            (
                local(entry.when).strftime("%Y-%m-%d %H.%M.%S"),
                self._t(ACTION_TITLES.get(entry.action, entry.action)),
                self._actor(entry.actor),
                self._role(entry.role),
                self._meeting(entry.meeting_uid, found),
                self._record(entry.patient_uid, found),
                entry.ip,
                self._detail(entry.detail),
                entry.meeting_uid,
                entry.patient_uid,
            )
            for entry in entries
        ]

    def rows(self, entries: Sequence | None = None) -> list[tuple]:
        return [row[: len(COLUMNS)] for row in self._readable(entries)]

    def table(self, entries: Sequence | None = None) -> list[dict]:
        """The rows, and for the meeting's and the student's cells a link that filters
        the log by them (the filter takes their UIDs)."""
        base = self.request.URL
        shown = []
        for row in self._readable(entries):
            meeting_uid, patient_uid = row[len(COLUMNS)], row[len(COLUMNS) + 1]
            links = {}
            if meeting_uid:
                links[4] = f"{base}?{urlencode({'meeting': meeting_uid})}"
            if patient_uid:
                links[5] = f"{base}?{urlencode({'patient': patient_uid})}"
            shown.append({"cells": row[: len(COLUMNS)], "links": links})
        return shown

    def columns(self) -> tuple:
        return tuple(self._t(column) for column in COLUMNS)

    def csv_url(self) -> str:
        query = self.request.get("QUERY_STRING", "")
        return (
            f"{self.request.URL}?{query}&format=csv" if query else f"{self.request.URL}?format=csv"
        )

    def csv(self) -> filestream_iterator:
        """Everything the filters find, as CSV: written to a temporary file a chunk at a
        time (``CSV_CHUNK`` entries: their names read from the catalog together) and
        streamed from it, so five years of entries take a file's room, not the memory."""
        descriptor, path = tempfile.mkstemp(prefix="granskningslogg-", suffix=".csv")
        try:
            with open(descriptor, "w", encoding="utf-8", newline="") as out:
                out.write("\ufeff")
                writer = csv.writer(out, delimiter=";")
                writer.writerow([self._t(column) for column in CSV_COLUMNS])
                entries = iter(self.entries())
                while chunk := list(islice(entries, CSV_CHUNK)):
                    writer.writerows(self._readable(chunk))
            stream = filestream_iterator(path, "rb")
        finally:
            os.unlink(path)  # the open stream keeps the file until it is read and closed
        response = self.request.response
        response.setHeader("Content-Type", "text/csv; charset=utf-8")
        response.setHeader("Content-Disposition", 'attachment; filename="granskningslogg.csv"')
        response.setHeader("Content-Length", str(len(stream)))
        return stream
