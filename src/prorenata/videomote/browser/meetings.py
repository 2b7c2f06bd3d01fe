"""Staff views: calendar, booking dialog, meeting dialog, move, cancel, room, outbox."""

from AccessControl import Unauthorized
from AccessControl.security import checkPermission
from datetime import date
from datetime import datetime
from datetime import time
from datetime import timedelta
from plone import api
from plone.app.event.base import RET_MODE_OBJECTS
from plone.app.event.base import get_events
from plone.app.layout.viewlets.common import ViewletBase
from plone.base.i18nl10n import weekdayname_msgid
from plone.protect import CheckAuthenticator
from plone.protect import createToken
from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from Products.statusmessages.interfaces import IStatusMessage
from prorenata.videomote import _
from prorenata.videomote.access import signins
from prorenata.videomote.access.media_room import join_token_for
from prorenata.videomote.access.staff import MANAGE_MEETINGS
from prorenata.videomote.access.staff import may_manage
from prorenata.videomote.access.staff import may_view
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.audit.record import record_viewed
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.booking.participants import MAX_EXTRA_PARTICIPANTS
from prorenata.videomote.booking.participants import PERSON_FIELDS
from prorenata.videomote.booking.participants import ROLE_TITLES
from prorenata.videomote.booking.participants import TOLK
from prorenata.videomote.booking.participants import field_id
from prorenata.videomote.booking.participants import person_label
from prorenata.videomote.booking.rules import MAX_DAYS_AHEAD
from prorenata.videomote.booking.rules import MAX_EMAIL
from prorenata.videomote.booking.rules import MAX_MOBILE
from prorenata.videomote.booking.rules import MAX_NAME
from prorenata.videomote.booking.rules import MAX_TITLE
from prorenata.videomote.booking.rules import MAX_TOKEN
from prorenata.videomote.booking.rules import BookingRefused
from prorenata.videomote.browser.room import RoomMixin
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import CONTACT_CHOICES
from prorenata.videomote.content.meeting import MEETING_STATES
from prorenata.videomote.content.meeting import STATE_BOOKED
from prorenata.videomote.content.meeting import STATE_CANCELLED
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting
from prorenata.videomote.content.scheduling import cancel_meeting
from prorenata.videomote.content.scheduling import move_meeting
from prorenata.videomote.content.vocabularies import patients_vocabulary
from prorenata.videomote.notify.delivery import wake_after_commit
from prorenata.videomote.notify.outbox import REFUSED
from prorenata.videomote.notify.outbox import SENT
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.notify.outbox import utcnow
from prorenata.videomote.request_input import query_value
from prorenata.videomote.timezone import configured_zone
from prorenata.videomote.timezone import now_in
from prorenata.videomote.timezone import zone as tzinfo_of
from prorenata.videomote.visit.attendance import OUTCOME_TITLES
from prorenata.videomote.visit.ending import end_meeting
from prorenata.videomote.visit.ending import shown_outcome
from zope.i18n import translate
from zope.interface import alsoProvides

import json

# The calendar's hours when nothing is booked outside them; widened to every meeting shown.
DAY_START, DAY_END, SLOT_MINUTES = 7, 18, 30
#: Where a navigation to the staff room may come from for its page to start the meeting
#: by itself (the Fetch Metadata header browsers send): the journal's own pages, or no
#: site at all (typed, a bookmark, a calendar program). Anything else, or no header,
#: shows "Starta mötet" for staff to press.
AUTOSTART_FROM = ("same-origin", "none")
#: What staff see of an e-mail's kind in the outbox.
MAIL_KINDS = {
    "invitation": _("Inbjudan"),
    "update": _("Ändring"),
    "cancellation": _("Inställt"),
}


def weekday_name(day: date, request) -> str:
    """The weekday's name in the request's language, from Plone's own catalog
    (``plonelocales``: ``weekday_mon`` is "Måndag" in Swedish, "Monday" in English)."""
    # Plone counts from Sunday == 0, Python's ``weekday()`` from Monday == 0.
    msgid = weekdayname_msgid(day.isoweekday() % 7)
    return translate(msgid, domain="plonelocales", context=request)


def site_zone():
    """The calendar's zone (``timezone.configured_zone``), as a tzinfo."""
    return tzinfo_of(configured_zone())


def local(dt: datetime) -> datetime:
    return dt.astimezone(site_zone())


def now() -> datetime:
    """The calendar's clock: the time now as the site's zone shows it."""
    return now_in(configured_zone())


def today() -> date:
    """Today in the site's time zone (the calendar's "Idag")."""
    return now().date()


def room_url(meeting) -> str:
    """The staff address of the meeting room (opened in a new tab)."""
    return f"{meeting.absolute_url()}/@@videomote-rum"


def invitation_status(meeting) -> dict:
    """The delivery state of the newest e-mail about ``meeting``, for staff."""
    outbox = outbox_for(api.portal.get(), create=False)
    newest = outbox.latest_for_meeting(meeting.UID()) if outbox is not None else None
    if newest is None:
        return {"status": "none", "attempts": 0}
    return {"status": newest.status, "kind": newest.kind, "attempts": newest.attempts}


def visible_meeting(uid: str):
    """The meeting with ``uid`` if the current user may see it, else None."""
    if not uid or not isinstance(uid, str) or len(uid) > MAX_TOKEN:
        return None
    brains = api.portal.get_tool("portal_catalog")(UID=uid, portal_type="VideoMeeting")
    meeting = brains[0].getObject() if brains else None
    return meeting if meeting is not None and may_view(meeting) else None


def parse_local(value) -> datetime | None:
    """``2026-12-01T09:00`` (datetime-local) as a naive wall-clock time; None for
    anything else (a list from ``start:list``, a record, an over-long text)."""
    if not value or not isinstance(value, str) or len(value) > MAX_TOKEN:
        return None
    try:
        return datetime.fromisoformat(value.strip()).replace(tzinfo=None, second=0)
    except ValueError:
        return None


def parse_day(value) -> date | None:
    """``2026-12-01`` as a day a calendar can show (its week and the next fit in the
    calendar: no overflow at year 9999); None for anything else."""
    if not isinstance(value, str) or len(value) > 10:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    if abs((day - today()).days) > 10 * MAX_DAYS_AHEAD:
        return None
    return day


class MeetingsMixin:
    def state_title(self, meeting) -> str:
        return translate(MEETING_STATES.getTerm(meeting.state).title, context=self.request)

    def when(self, meeting) -> str:
        start, end = local(meeting.start), local(meeting.end)
        return f"{start:%Y-%m-%d} {start:%H.%M}–{end:%H.%M}"

    def time_of(self, meeting) -> str:
        return f"{local(meeting.start):%H.%M}–{local(meeting.end):%H.%M}"

    def record_name(self, meeting) -> str:
        """The student's (record's) name: the meeting lives in its record, and whoever
        may see the meeting may see the record (access follows the record)."""
        return meeting.aq_parent.Title() if may_view(meeting) else ""

    def room_url(self, meeting) -> str:
        return room_url(meeting)

    def outcome_title(self, meeting) -> str:
        """An ended meeting's outcome (Genomfört, Uteblev, Avbrutet), or ""."""
        outcome = shown_outcome(meeting)
        return translate(OUTCOME_TITLES[outcome], context=self.request) if outcome else ""

    def calendar_url(self) -> str:
        return f"{api.portal.get().absolute_url()}/@@videomote-kalender"

    #: ``maxlength`` of the dialogs' text inputs: the limits the booking rules refuse past.
    limits = {"title": MAX_TITLE, "name": MAX_NAME, "mobile": MAX_MOBILE, "email": MAX_EMAIL}


class CalendarView(MeetingsMixin, BrowserView):
    """Week and day view of the current user's meetings."""

    def __call__(self):
        form = self.request.form
        self.day = parse_day(query_value(form, "day")) or today()
        self.mode = "day" if query_value(form, "view") == "day" else "week"
        if self.mode == "week":
            # The ISO week, Monday to Sunday: what is booked at a weekend shows too.
            self.first = self.day - timedelta(days=self.day.weekday())
            self.days = [self.first + timedelta(days=i) for i in range(7)]
        else:
            self.first = self.day
            self.days = [self.day]
        return self.index()

    def heading(self) -> str:
        if self.mode == "day":
            return f"{weekday_name(self.day, self.request)} {self.day:%Y-%m-%d}"
        heading = _(
            "Vecka ${week}, ${first} – ${last}",
            mapping={
                "week": self.first.isocalendar()[1],
                "first": f"{self.first:%Y-%m-%d}",
                "last": f"{self.days[-1]:%Y-%m-%d}",
            },
        )
        return translate(heading, context=self.request)

    def nav_url(self, offset_days: int, mode: str | None = None) -> str:
        target = self.day + timedelta(days=offset_days)
        return f"{self.calendar_url()}?view={mode or self.mode}&day={target.isoformat()}"

    def step(self) -> int:
        return 7 if self.mode == "week" else 1

    def day_label(self, day: date) -> str:
        return f"{weekday_name(day, self.request)} {day.day}/{day.month}"

    def _meetings(self) -> list:
        zone = site_zone()
        start = zone.localize(datetime.combine(self.days[0], time(0)))
        end = zone.localize(datetime.combine(self.days[-1] + timedelta(days=1), time(0)))
        meetings = get_events(
            api.portal.get(),
            start=start,
            end=end,
            ret_mode=RET_MODE_OBJECTS,
            portal_type="VideoMeeting",
            meeting_organiser=api.user.get_current().getId(),
        )
        return [m for m in meetings if m.state != STATE_CANCELLED and may_manage(m)]

    def _day_bounds(self, day: date) -> tuple[datetime, datetime]:
        zone = site_zone()
        return (
            zone.localize(datetime.combine(day, time(0))),
            zone.localize(datetime.combine(day + timedelta(days=1), time(0))),
        )

    def _minutes(self, meetings: list) -> tuple[int, int]:
        """The first and the end minute of the grid: DAY_START–DAY_END in whole hours,
        widened so that every meeting on the days shown has its rows (one that runs past
        midnight from the day before starts at 00.00, one running into the next at 24.00)."""
        first, last = DAY_START * 60, DAY_END * 60
        for day in self.days:
            midnight, next_midnight = self._day_bounds(day)
            for meeting in meetings:
                start, end = local(meeting.start), local(meeting.end)
                if end <= midnight or start >= next_midnight:
                    continue
                begins = 0 if start <= midnight else start.hour * 60 + start.minute
                ends = (
                    24 * 60
                    if end >= next_midnight
                    else end.hour * 60 + end.minute + (1 if end.second or end.microsecond else 0)
                )
                first = min(first, begins // 60 * 60)
                last = max(last, -(-ends // 60) * 60)
        return first, min(last, 24 * 60)

    def rows(self) -> list[dict]:
        """One row per half hour; each cell a meeting or a free slot to book. A meeting is
        listed in the row where it starts that day (00.00 if it began the day before)."""
        meetings = self._meetings()
        first, last = self._minutes(meetings)
        rows = []
        for minutes in range(first, last, SLOT_MINUTES):
            slot = time(minutes // 60, minutes % 60)
            cells = []
            for day in self.days:
                midnight, next_midnight = self._day_bounds(day)
                begin = site_zone().localize(datetime.combine(day, slot))
                finish = begin + timedelta(minutes=SLOT_MINUTES)
                here = [m for m in meetings if local(m.start) < finish and local(m.end) > begin]
                starting = [
                    m
                    for m in meetings
                    if begin <= max(local(m.start), midnight) < finish
                    and local(m.start) < next_midnight
                    and local(m.end) > midnight
                ]
                cells.append(
                    {
                        "day": day,
                        "meetings": starting,
                        "busy": bool(here),
                        "book_url": f"{api.portal.get().absolute_url()}/@@videomote-boka"
                        f"?start={day.isoformat()}T{slot:%H:%M}",
                        "label": f"{self.day_label(day)} {slot:%H.%M}",
                    }
                )
            rows.append({"time": f"{slot:%H.%M}", "cells": cells})
        self._mark_entry(rows, first)
        return rows

    def _mark_entry(self, rows: list[dict], first: int) -> None:
        """The free slot the grid's one tab stop starts on (videomote.js moves it with the
        arrow keys): today's current or next free half hour when today is shown."""
        moment = now()
        if moment.date() not in self.days:
            return
        column = self.days.index(moment.date())
        current = (moment.hour * 60 + moment.minute - first) // SLOT_MINUTES
        for row in rows[max(current, 0) :]:
            cell = row["cells"][column]
            if not cell["busy"]:
                cell["entry"] = True
                return

    def booked(self):
        """The meeting just booked, for the notification that polls its invitation's
        state. Only its uid: whom it is with is read (and audited) by that poll."""
        uid = query_value(self.request.form, "booked")
        meeting = visible_meeting(uid)
        if meeting is None:
            return None
        return {"uid": uid}


#: The calendar's notification asks for the invitation's state for up to 20 seconds:
#: one look at the meeting, one audit entry (videomote.js).
STATUS_POLL_AUDITED_ONCE = timedelta(minutes=1)


class InvitationStatusView(BrowserView):
    """JSON for the notification after saving: has the invitation gone out yet?
    It names the invitee and the extra participants: audited."""

    def __call__(self):
        meeting = visible_meeting(self.request.form.get("uid", ""))
        self.request.response.setHeader("Content-Type", "application/json")
        self.request.response.setHeader("Cache-Control", "no-store")
        if meeting is None:
            return json.dumps({"status": "unknown"})
        alsoProvides(self.request, IDisableCSRFProtection)
        record_viewed(meeting, "inbjudan-status", self.request, within=STATUS_POLL_AUDITED_ONCE)
        status = invitation_status(meeting)
        name = self._everyone(meeting)
        if status["status"] == SENT:
            message = _("En inbjudan har skickats till ${name}", mapping={"name": name})
        elif status["status"] == "failed":
            message = _(
                "Inbjudan till ${name} kunde inte skickas ännu. Mötet är sparat och "
                "inbjudan skickas automatiskt så snart e-postservern svarar.",
                mapping={"name": name},
            )
        else:
            message = _("Inbjudan till ${name} skickas…", mapping={"name": name})
        status["message"] = translate(message, context=self.request)
        return json.dumps(status)

    def _everyone(self, meeting) -> str:
        """The invitee, and the extra participants with their roles ("A och B (tolk)")."""
        names = [meeting.invitee_name]
        names += [participants.room_name(p, self.request) for p in participants.people(meeting)]
        if len(names) == 1:
            return names[0]
        last = names.pop()
        joiner = translate(_("och"), context=self.request)
        return f"{', '.join(names)} {joiner} {last}"


class BookingView(MeetingsMixin, BrowserView):
    """The booking dialog: from the calendar, or a student/patient's overview."""

    errors: dict

    def __call__(self):
        if not checkPermission(MANAGE_MEETINGS, self.context):
            raise Unauthorized("Only staff can book video meetings")
        if IContactDetails.providedBy(self.context) and not checkPermission(
            "zope2.View", self.context
        ):
            # Zope checks only the view's permission (staff, site-wide): without access to
            # this record the page (its breadcrumbs, the preselected name) is refused.
            raise Unauthorized("Only staff with access to the student can book for them")
        self.errors = {}
        form = self.request.form
        if self.request.method == "POST" and form.get("save"):
            CheckAuthenticator(self.request)
            meeting = self._book(form)
            if meeting is not None:
                return self.request.response.redirect(
                    f"{self.calendar_url()}?view=week&day={local(meeting.start).date()}"
                    f"&booked={meeting.UID()}"
                )
        return self.index()

    def _book(self, form):
        start, end = parse_local(form.get("start")), parse_local(form.get("end"))
        if start is None:
            self.errors["start"] = _("Ange start med datum och tid.")
        if end is None:
            self.errors["end"] = _("Ange slut med datum och tid.")
        if self.errors:
            return None
        booking = Booking(
            title=form.get("title", ""),
            start=start,
            end=end,
            patient_uid=form.get("patient_uid", ""),
            contact_choice=form.get("contact_choice", ""),
            custom_name=form.get("custom_name", ""),
            custom_mobile=form.get("custom_mobile", ""),
            custom_email=form.get("custom_email", ""),
            timezone=configured_zone(),
            extra_participants=self._extra_people(form),
            both_guardians=bool(form.get("both_guardians")),
        )
        try:
            return book_meeting(booking, organiser=api.user.get_current().getId())
        except BookingRefused as refusal:
            self.errors[refusal.field or "form"] = refusal.message
            return None

    def value(self, name: str, default: str = "") -> str:
        value = self.request.form.get(name, default)
        return value if isinstance(value, str) else default

    # -- "Lägg till deltagare" -------------------------------------------------------
    @staticmethod
    def _extra_name(index: int, key: str) -> str:
        return f"extra_{index}_{key}"

    def _extra_people(self, form) -> list[dict]:
        """The extra people typed in the dialog (a slot left empty is nobody)."""
        people = []
        for index in range(MAX_EXTRA_PARTICIPANTS):
            person = {
                key: self.value(self._extra_name(index, key))
                for key in ("name", "mobile", "email", "role")
            }
            if any(person[key].strip() for key in ("name", "mobile", "email")):
                people.append(person)
        return people

    def extra_open(self) -> bool:
        """Open when something is typed in it or refused there."""
        names = [
            self._extra_name(i, k)
            for i in range(MAX_EXTRA_PARTICIPANTS)
            for k in ["name", "mobile", "email"]
        ]
        return any(self.value(name).strip() for name in names) or bool(
            self.value("both_guardians")
            or any(
                str(field).startswith(("extra_participants", "both_guardians"))
                for field in self.errors
            )
        )

    def extra_slots(self) -> list[dict]:
        """The dialog's slots for "Deltagare 2" and "Deltagare 3"."""
        roles = [
            {"value": value, "title": translate(title, context=self.request)}
            for value, title in ROLE_TITLES.items()
        ]
        slots = []
        for index in range(MAX_EXTRA_PARTICIPANTS):
            fields = []
            for key, label, limit in PERSON_FIELDS:
                fields.append(
                    self._extra_field(
                        index,
                        key,
                        label,
                        {"name": "text", "mobile": "tel", "email": "email"}[key],
                        limit,
                    )
                )
            role = self._extra_field(index, "role", _("Roll"), "select", None)
            role["options"] = roles
            role["value"] = role["value"] or TOLK
            fields.append(role)
            slots.append(
                {"legend": translate(person_label(index), context=self.request), "fields": fields}
            )
        return slots

    def _extra_field(self, index: int, key: str, label, kind: str, limit) -> dict:
        error = self.errors.get(field_id(index, key))
        return {
            "id": f"videomote-extra-{index}-{key}",
            "name": self._extra_name(index, key),
            "label": translate(label, context=self.request),
            "type": kind,
            "value": self.value(self._extra_name(index, key)),
            "maxlength": limit,
            "error": error,
            "error_id": f"videomote-error-extra-{index}-{key}",
        }

    def default_start(self) -> str:
        start = parse_local(self.value("start"))
        return start.strftime("%Y-%m-%dT%H:%M") if start else ""

    def default_end(self) -> str:
        end = parse_local(self.value("end"))
        if end:
            return end.strftime("%Y-%m-%dT%H:%M")
        start = parse_local(self.value("start"))
        try:
            return (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M") if start else ""
        except OverflowError:
            return ""

    def patients(self) -> list:
        return list(patients_vocabulary(self.context))

    def selected_patient(self) -> str:
        if self.value("patient_uid"):
            return self.value("patient_uid")
        if IContactDetails.providedBy(self.context):
            return api.content.get_uuid(self.context)
        return ""

    def contact_choices(self) -> list:
        return list(CONTACT_CHOICES)

    def selected_choice(self) -> str:
        return self.value("contact_choice", "student")

    def error(self, field: str):
        return self.errors.get(field)


class MeetingView(MeetingsMixin, BrowserView):
    """The meeting dialog: details, "Flytta", "Avboka" and "Gå till videomöte"."""

    def __call__(self):
        # It shows the invitee's contact details: audited. That entry is the only write.
        self._viewed()
        return self.index()

    def _viewed(self, via: str | None = None) -> None:
        """Audit that this page shows the meeting (once per request: the fragments it
        includes, reminders and attendance, are the same look)."""
        alsoProvides(self.request, IDisableCSRFProtection)
        record_viewed(self.context, via, self.request)

    def patient(self):
        return self.context.aq_parent

    def invitation(self) -> dict:
        return invitation_status(self.context)

    def can_manage(self) -> bool:
        return may_manage(self.context)

    def is_active(self) -> bool:
        return self.context.state in (STATE_BOOKED, STATE_STARTED)

    def contact_title(self) -> str:
        return translate(
            CONTACT_CHOICES.getTerm(self.context.contact_choice).title, context=self.request
        )

    def sms_status(self) -> dict:
        return signins.sms_status(self.context)

    def extra_people(self) -> list[str]:
        """The extra participants as the room names them ("Anna Svensson (tolk)")."""
        return [participants.room_name(p, self.request) for p in participants.people(self.context)]


def _moved_message(before: tuple, meeting):
    """What "Spara" in "Flytta" did, as the participant's e-mail will say it: a new time
    (new link and code), a new title only (the link and code still work), or nothing."""
    name = {"name": meeting.invitee_name}
    if before[:2] != (meeting.start, meeting.end):
        return _("Mötet är flyttat. ${name} får ett e-postmeddelande om ändringen.", mapping=name)
    if before[2] != meeting.title:
        return _(
            "Titeln är ändrad. ${name} får ett e-postmeddelande om det; länken och möteskoden "
            "gäller fortfarande.",
            mapping=name,
        )
    return _("Inget är ändrat, så inget e-postmeddelande skickas.")


class MoveView(MeetingView):
    """ "Flytta": new start, end or title; the participant gets an update."""

    def __call__(self):
        if not self.can_manage():
            raise Unauthorized("Only staff can move video meetings")
        self.errors = {}
        form = self.request.form
        if self.request.method == "POST" and form.get("save"):
            CheckAuthenticator(self.request)
            start, end = parse_local(form.get("start")), parse_local(form.get("end"))
            if start is None or end is None:
                self.errors["start" if start is None else "end"] = _("Ange datum och tid.")
            else:
                meeting = self.context
                before = (meeting.start, meeting.end, meeting.title)
                try:
                    move_meeting(meeting, start, end, title=form.get("title"))
                except BookingRefused as refusal:
                    self.errors[refusal.field or "form"] = refusal.message
                else:
                    IStatusMessage(self.request).add(_moved_message(before, meeting), type="info")
                    return self.request.response.redirect(self.context.absolute_url())
        # The form shows the meeting's title and time: audited.
        self._viewed("flytta")
        return self.index()

    def value(self, name: str) -> str:
        if name in self.request.form:
            value = self.request.form[name]
            return value if isinstance(value, str) else ""
        if name == "title":
            return self.context.title
        return local(getattr(self.context, name)).strftime("%Y-%m-%dT%H:%M")

    def error(self, field: str):
        return self.errors.get(field)


class CancelView(MeetingView):
    """ "Avboka": confirm, then cancel; the participant gets a cancellation."""

    def __call__(self):
        if not self.can_manage():
            raise Unauthorized("Only staff can cancel video meetings")
        if self.request.method == "POST" and self.request.form.get("cancel"):
            CheckAuthenticator(self.request)
            if cancel_meeting(self.context):
                IStatusMessage(self.request).add(
                    _(
                        "Mötet är avbokat. ${name} får ett e-postmeddelande om "
                        "att det är inställt.",
                        mapping={"name": self.context.invitee_name},
                    ),
                    type="info",
                )
            return self.request.response.redirect(self.calendar_url())
        # "Vill du avboka …": names the invitee. Audited.
        self._viewed("avboka")
        return self.index()


class SmsLimitView(MeetingView):
    """POST "Återställ SMS-gräns": the participant may get codes again at once. Others
    who have the meeting code (a forwarded invitation) may have used up the limit."""

    def __call__(self):
        if not self.can_manage():
            raise Unauthorized("Only staff can lift the SMS limit")
        if self.request.method == "POST":
            CheckAuthenticator(self.request)
            signins.lift_sms_quota(self.context)
            record(audit.SMS_LIMIT_LIFTED, self.context)
            IStatusMessage(self.request).add(
                _(
                    "SMS-gränsen är återställd. ${name} kan få en ny engångskod.",
                    mapping={"name": self.context.invitee_name},
                ),
                type="info",
            )
        return self.request.response.redirect(self.context.absolute_url())


class RoomView(RoomMixin, MeetingView):
    """The staff side of the meeting room. Starting the meeting is a POST with the CSRF
    token ("Starta mötet"), never a GET: a link from another site must not start it
    (the staff cookie is SameSite=Lax, so such a GET arrives signed in)."""

    room_role = "staff"
    autostart = False

    def __call__(self):
        if not self.can_manage():
            raise Unauthorized("Only staff can start video meetings")
        form = self.request.form
        if self.request.method == "POST" and form.get("end_meeting"):
            CheckAuthenticator(self.request)
            if self.context.state in (STATE_BOOKED, STATE_STARTED):
                # Ended, audited, the media server told; outcome and draft note follow.
                end_meeting(self.context)
            return self.request.response.redirect(self.context.absolute_url())
        if self.context.state not in (STATE_BOOKED, STATE_STARTED):
            # Cancelled or ended: no room, no join token (the media server forgets ended
            # rooms when it restarts; the journal does not).
            IStatusMessage(self.request).add(
                _("Mötet är avbokat eller avslutat och kan inte öppnas."), type="warning"
            )
            return self.request.response.redirect(self.context.absolute_url())
        if self.request.method == "POST" and form.get("start_meeting"):
            CheckAuthenticator(self.request)
            if self.context.state == STATE_BOOKED:
                self.context.state = STATE_STARTED
                self.context.reindexObject(idxs=["meeting_state"])
                record(audit.STARTED, self.context)
            return self.request.response.redirect(room_url(self.context))
        if self.context.state == STATE_BOOKED:
            # Not started: the page offers "Starta mötet". Its script presses it when
            # staff came here from the journal itself or from outside any site (their
            # calendar program, a bookmark), never when another site sent them.
            self.autostart = self.request.getHeader("Sec-Fetch-Site") in AUTOSTART_FROM
            # Its title and time are shown before it is started: audited as a look (the
            # started room is audited as opened, below).
            self._viewed("rum")
            return self.index()
        # Opening the started room is audited: that entry is the only write.
        alsoProvides(self.request, IDisableCSRFProtection)
        record(audit.STAFF_OPENED, self.context)
        self.join_token = join_token_for(self.context, "staff", staff_name())
        return self.index()

    def started(self) -> bool:
        return self.context.state == STATE_STARTED

    def room_meeting(self):
        return self.context

    def room_token_url(self) -> str:
        return f"{self.context.absolute_url()}/@@videomote-rum-token"

    def room_csrf(self) -> str:
        return createToken()


class RoomTokenView(RoomMixin, MeetingView):
    """POST: a fresh join token for the staff room coming back after a dropped connection."""

    room_role = "staff"

    def __call__(self):
        if not self.can_manage() or self.request.method != "POST":
            raise Unauthorized("Only staff can enter video meetings")
        CheckAuthenticator(self.request)
        if self.context.state != STATE_STARTED:
            self.request.response.setStatus(409)
            return json.dumps({"state": self.context.state})
        record(audit.RECONNECTED, self.context)
        return self.token_response(self.context, staff_name())


def staff_name() -> str:
    user = api.user.get_current()
    return user.getProperty("fullname") or user.getId()


class OutboxView(MeetingsMixin, BrowserView):
    """Invitations not delivered yet, for staff and administrators; "Försök igen nu"."""

    def __call__(self):
        if self.request.method == "POST" and self.request.form.get("retry"):
            CheckAuthenticator(self.request)
            outbox = outbox_for(api.portal.get(), create=False)
            if outbox is not None:
                outbox.retry_now(utcnow())
                wake_after_commit(api.portal.get())
            IStatusMessage(self.request).add(_("Nytt försök att skicka görs nu."), type="info")
            return self.request.response.redirect(self.request.URL)
        return self.index()

    def pending(self) -> list[dict]:
        outbox = outbox_for(api.portal.get(), create=False)
        if outbox is None:
            return []
        rows = []
        is_admin = bool(checkPermission("cmf.ManagePortal", api.portal.get()))
        for mail in outbox.undelivered():
            # Only mail about meetings this user may see: titles can be sensitive.
            meeting = visible_meeting(mail.meeting_uid)
            if meeting is None and not is_admin:
                continue
            rows.append(
                {
                    "meeting": meeting,
                    "title": meeting.title if meeting is not None else "–",
                    "when": self.when(meeting) if meeting is not None else "",
                    "kind": translate(MAIL_KINDS[mail.kind], context=self.request),
                    "attempts": mail.attempts,
                    # A message id since the i18n change; older mail kept plain Swedish.
                    "error": translate(mail.last_error, context=self.request),
                    "next": ""
                    if mail.status == REFUSED
                    else local(mail.next_attempt).strftime("%H.%M.%S"),
                }
            )
        return rows


class TodaysActivities(MeetingsMixin):
    """Shared by the viewlet: today's meetings of the logged-in staff member."""

    def todays_meetings(self) -> list:
        if api.user.is_anonymous():
            return []
        zone = site_zone()
        start = zone.localize(datetime.combine(today(), time(0)))
        meetings = get_events(
            api.portal.get(),
            start=start,
            end=start + timedelta(days=1),
            ret_mode=RET_MODE_OBJECTS,
            portal_type="VideoMeeting",
            meeting_organiser=api.user.get_current().getId(),
        )
        return [m for m in meetings if m.state != STATE_CANCELLED and may_manage(m)]


class TodaysActivitiesViewlet(TodaysActivities, ViewletBase):
    """ "Dagens aktiviteter" on the home page of staff."""

    def available(self) -> bool:
        return bool(checkPermission(MANAGE_MEETINGS, self.context)) and not api.user.is_anonymous()
