"""iTIP/iMIP messages for invitations, updates and cancellations (plain Python).

``multipart/mixed{multipart/alternative{text/plain, text/html, text/calendar}, invite.ics}``
with the same METHOD in the MIME parameter and the calendar, a stable UID and a SEQUENCE
that grows with every change, so Outlook, Thunderbird and Gmail update the entry in place.
"""

from babel.dates import format_date
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from email.utils import formataddr
from email.utils import make_msgid
from html import escape
from prorenata.videomote import _
from prorenata.videomote.calendar_zone import vtimezone
from prorenata.videomote.timezone import zone as zone_of
from zope.i18n import translate

import functools
import icalendar

INVITATION = "invitation"
UPDATE = "update"
CANCELLATION = "cancellation"

METHODS = {INVITATION: "REQUEST", UPDATE: "REQUEST", CANCELLATION: "CANCEL"}
PRODID = "-//Prorenata//Säkert Videomöte//SV"


@dataclass(frozen=True)
class MeetingNotice:
    """Everything one e-mail about one meeting says, for one recipient."""

    kind: str
    uid: str
    sequence: int
    title: str
    start: datetime
    end: datetime
    timezone: str
    organiser_name: str
    invitee_name: str
    invitee_email: str
    code_page_url: str
    service_address: str
    sender_name: str
    organiser_unit: str = ""
    join_url: str | None = None
    meeting_code: str | None = None
    #: The language of the e-mail (the site's default language): Swedish unless English.
    language: str = "sv"
    #: For an update: whether the time changed (then the link and code are new) and, when
    #: the title changed, the title the participant was told before.
    moved: bool = True
    previous_title: str | None = None

    @property
    def method(self) -> str:
        return METHODS[self.kind]


def swedish_when(notice: MeetingNotice) -> str:
    """``tisdag 1 december 2026 kl. 09.00–09.30 (Europe/Stockholm)``."""
    return _when(notice, "sv", "{day} kl. {start}–{until} ({zone})", "%H.%M", " kl. ")


def _when(notice: MeetingNotice, locale: str, pattern: str, clock: str, joiner: str) -> str:
    """The meeting's day and times in ``locale``; the end's day too when it differs."""
    zone = zone_of(notice.timezone)
    start, end = notice.start.astimezone(zone), notice.end.astimezone(zone)
    until = end.strftime(clock)
    if end.date() != start.date():
        until = format_date(end.date(), "EEEE d MMMM y", locale=locale) + joiner + until
    return pattern.format(
        day=format_date(start.date(), "EEEE d MMMM y", locale=locale),
        start=start.strftime(clock),
        until=until,
        zone=notice.timezone,
    )


def build_calendar(notice: MeetingNotice, now: datetime | None = None) -> icalendar.Calendar:
    """The VCALENDAR with METHOD, VTIMEZONE and one VEVENT."""
    now = now or datetime.now(UTC)
    zone = zone_of(notice.timezone)
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", notice.method)
    calendar.add_component(vtimezone(notice.timezone, notice.start.astimezone(zone)))
    event = icalendar.Event()
    event.add("uid", notice.uid)
    event.add("sequence", notice.sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", notice.start.astimezone(zone))
    event.add("dtend", notice.end.astimezone(zone))
    event.add("summary", notice.title)
    event.add("location", "Säkert Videomöte")
    event.add("description", plain_text(notice))
    if notice.join_url and notice.kind != CANCELLATION:
        event.add("url", notice.join_url)
    event.add("status", "CANCELLED" if notice.kind == CANCELLATION else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = icalendar.vCalAddress(f"mailto:{notice.service_address}")
    organizer.params["cn"] = icalendar.vText(notice.sender_name)
    event.add("organizer", organizer)
    attendee = icalendar.vCalAddress(f"mailto:{notice.invitee_email}")
    attendee.params["cn"] = icalendar.vText(notice.invitee_name)
    attendee.params["role"] = icalendar.vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = icalendar.vText("NEEDS-ACTION")
    attendee.params["rsvp"] = icalendar.vText("FALSE")
    event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar


def _update_prefix(notice: MeetingNotice):
    """An update's subject names what changed: the time, the title, or both."""
    if notice.previous_title is None:
        return _("Ändrad tid")
    return _("Ändrad tid och titel") if notice.moved else _("Ändrad titel")


def subject(notice: MeetingNotice) -> str:
    prefix = {
        INVITATION: _("Inbjudan"),
        CANCELLATION: _("Inställt"),
    }.get(notice.kind) or _update_prefix(notice)
    return f"{_translated(notice, prefix)}: {notice.title} – {when_text(notice)}"


REQUIREMENTS = (
    _(
        "en dator med webbläsare: Google Chrome, Mozilla Firefox eller Microsoft Edge version "
        "83 eller senare"
    ),
    _("webbkamera"),
    _("mikrofon eller headset"),
    _("din mobiltelefon, dit en engångskod skickas med SMS"),
)
AUTOMATIC = _("Det här meddelandet är automatiskt och går inte att svara på.")


def _translated(notice: MeetingNotice, message, **mapping) -> str:
    """``message`` in the notice's language (Swedish when no catalog is loaded)."""
    if mapping:
        message = _(message, mapping=mapping)
    return translate(message, target_language=notice.language)


def when_text(notice: MeetingNotice) -> str:
    """The meeting's time in the notice's language; Swedish as :func:`swedish_when`."""
    if not notice.language.startswith("en"):
        return swedish_when(notice)
    return _when(notice, "en", "{day}, {start}–{until} ({zone})", "%H:%M", " ")


def _inviter(notice: MeetingNotice) -> str:
    unit = f", {notice.organiser_unit}" if notice.organiser_unit else ""
    return f"{notice.organiser_name}{unit}"


def _lead(notice: MeetingNotice, inviter: str, previous_title: str | None = None) -> str:
    """The first sentence: what happened, and whether the earlier link and code still work
    (they do unless the time changed). ``previous_title`` comes escaped for HTML."""
    if notice.kind == INVITATION:
        return _translated(
            notice, _("${inviter} har bjudit in dig till ett säkert videomöte."), inviter=inviter
        )
    previous = notice.previous_title if previous_title is None else previous_title
    if notice.previous_title is not None and not notice.moved:
        return _translated(
            notice,
            _(
                'Videomötet med ${inviter} har fått en ny titel (tidigare "${previous}"). '
                "Tiden är densamma, och länken och möteskoden i tidigare e-post gäller "
                "fortfarande."
            ),
            inviter=inviter,
            previous=previous,
        )
    if notice.previous_title is not None:
        return _translated(
            notice,
            _(
                'Tiden och titeln (tidigare "${previous}") för videomötet med ${inviter} är '
                "ändrade. Länken och möteskoden i tidigare e-post gäller inte längre."
            ),
            inviter=inviter,
            previous=previous,
        )
    return _translated(
        notice,
        _(
            "Tiden för videomötet med ${inviter} är ändrad. Länken och möteskoden i tidigare "
            "e-post gäller inte längre."
        ),
        inviter=inviter,
    )


def plain_text(notice: MeetingNotice) -> str:
    """The text part (also the calendar DESCRIPTION)."""
    t = functools.partial(_translated, notice)
    when = when_text(notice)
    hello = t(_("Hej ${name},"), name=notice.invitee_name)
    if notice.kind == CANCELLATION:
        cancelled = t(
            _('Videomötet "${title}" ${when} med ${inviter} är inställt.'),
            title=notice.title,
            when=when,
            inviter=_inviter(notice),
        )
        return f"{hello}\n\n{cancelled}\n\n{t(AUTOMATIC)}\n"
    lines = [
        hello,
        "",
        _lead(notice, _inviter(notice)),
        "",
        t(_("Möte: ${title}"), title=notice.title),
        t(_("När: ${when}"), when=when),
        "",
        t(_("Det här behöver du:")),
        *[f"- {t(item)}" for item in REQUIREMENTS],
        t(_("Videomötet kan inte hållas via mobiltelefon – använd en dator.")),
        "",
    ]
    if notice.join_url:
        lines += [t(_("Gå till videomöte: ${url}"), url=notice.join_url), ""]
    if notice.join_url or notice.meeting_code:
        # (A new title only: the earlier e-mail's link and code still work, and are not
        # known here; only their hashes are stored.)
        lines += [t(_("Om länken inte fungerar: gå till ${url}"), url=notice.code_page_url)]
    if notice.meeting_code:
        lines += [t(_("och skriv in möteskoden: ${code}"), code=notice.meeting_code)]
    lines += ["", t(AUTOMATIC)]
    return "\n".join(lines) + "\n"


def html_text(notice: MeetingNotice) -> str:
    """The HTML part: the same content, with a "Gå till videomöte" button.

    The sentences come from our own catalogs; what is filled into them is escaped.
    """
    t = functools.partial(_translated, notice)
    when = escape(when_text(notice))
    title = escape(notice.title)
    inviter = escape(_inviter(notice))
    hello = t(_("Hej ${name},"), name=escape(notice.invitee_name))
    if notice.kind == CANCELLATION:
        word = t(_("inställt"))
        cancelled = t(
            _("Videomötet ${title} ${when} med ${inviter} är ${cancelled}."),
            title=f"<strong>{title}</strong>",
            when=when,
            inviter=inviter,
            cancelled=f"<strong>{word}</strong>",
        )
        body = f"<p>{hello}</p><p>{cancelled}</p>"
    else:
        needs = "".join(f"<li>{escape(t(item))}</li>" for item in REQUIREMENTS)
        button = ""
        if notice.join_url:
            url = escape(notice.join_url, quote=True)
            button = (
                f'<p><a href="{url}" style="display:inline-block;padding:12px 24px;'
                "background:#007bb1;color:#ffffff;text-decoration:none;border-radius:4px;"
                f'font-weight:bold">{escape(t(_("Gå till videomöte")))}</a></p>'
            )
        page = escape(notice.code_page_url, quote=True)
        link = f'<a href="{page}">{escape(notice.code_page_url)}</a>'
        fallback = ""
        if notice.join_url or notice.meeting_code:
            fallback = t(_("Om knappen inte fungerar: gå till ${url}"), url=link)
        if notice.meeting_code:
            code = f"<strong>{escape(notice.meeting_code)}</strong>"
            fallback += t(_(" och skriv in möteskoden ${code}"), code=code)
        previous = escape(notice.previous_title or "")
        body = (
            f"<p>{hello}</p><p>{_lead(notice, inviter, previous)}</p>"
            f"<p><strong>{title}</strong><br>{when}</p>{button}"
            f"<p>{escape(t(_('Det här behöver du:')))}</p><ul>{needs}</ul>"
            f"<p>{escape(t(_('Videomötet kan inte hållas via mobiltelefon – använd en dator.')))}"
            "</p>" + (f"<p>{fallback}.</p>" if fallback else "")
        )
    language = "en" if notice.language.startswith("en") else "sv"
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif">{body}'
        f'<p style="color:#666">{escape(t(AUTOMATIC))}</p>'
        "</body></html>"
    )


def addressed(notice: MeetingNotice, subject_text: str, now: datetime) -> EmailMessage:
    """An empty e-mail from the service to the invitee, marked as automatic (no
    out-of-office replies)."""
    message = EmailMessage()
    message["Subject"] = subject_text
    message["From"] = formataddr((notice.sender_name, notice.service_address))
    message["To"] = formataddr((notice.invitee_name, notice.invitee_email))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=notice.service_address.rpartition("@")[2] or None)
    message["MIME-Version"] = "1.0"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    return message


def build_message(notice: MeetingNotice, now: datetime | None = None) -> EmailMessage:
    """The complete iMIP e-mail to the invitee."""
    now = now or datetime.now(UTC)
    ical = build_calendar(notice, now).to_ical()
    message = addressed(notice, subject(notice), now)
    message.make_mixed()
    alternative = EmailMessage()
    # quoted-printable keeps every line short, as SMTP requires (RFC 5321 4.5.3.1.6)
    qp = {"charset": "utf-8", "cte": "quoted-printable"}
    alternative.set_content(plain_text(notice), subtype="plain", **qp)
    alternative.add_alternative(html_text(notice), subtype="html", **qp)
    alternative.add_alternative(
        ical.decode("utf-8"), subtype="calendar", params={"method": notice.method}, **qp
    )
    message.attach(alternative)
    message.add_attachment(ical, maintype="application", subtype="ics", filename="invite.ics")
    return message


def next_retry(attempts: int, now: datetime) -> datetime:
    """Exponential backoff for a failed delivery: 10 s, 20 s, … capped at 15 minutes."""
    return now + timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 900))
