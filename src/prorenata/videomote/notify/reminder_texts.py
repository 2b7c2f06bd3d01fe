"""The reminder e-mail and the reminder SMS (plain Python).

Both say who the meeting is with, when it is and how to join, and carry no meeting
code, join link or one-time code: the personal link and the code live only in the
invitation (or the update about a new time), as hashes in the database, so a reminder
could not repeat them even if it should. The e-mail points to that message and to the
code page's address; the SMS, which may show on a locked phone, names no title either.
A reminder is no calendar message (no text/calendar part): it changes nothing.
"""

from babel.dates import format_date
from datetime import datetime
from email.message import EmailMessage
from html import escape
from prorenata.videomote import _
from prorenata.videomote.notify.imip import AUTOMATIC
from prorenata.videomote.notify.imip import REQUIREMENTS
from prorenata.videomote.notify.imip import MeetingNotice
from prorenata.videomote.notify.imip import addressed
from prorenata.videomote.notify.imip import when_text
from prorenata.videomote.timezone import zone as zone_of
from zope.i18n import translate

REMINDER = "reminder"


def _t(notice: MeetingNotice, message, **mapping) -> str:
    """``message`` in the notice's language (Swedish when no catalog is loaded)."""
    if mapping:
        message = _(message, mapping=mapping)
    return translate(message, target_language=notice.language)


def _inviter(notice: MeetingNotice) -> str:
    unit = f", {notice.organiser_unit}" if notice.organiser_unit else ""
    return f"{notice.organiser_name}{unit}"


def _where_the_link_is(notice: MeetingNotice):
    """After a move only the update about the new time has a working link and code."""
    if notice.moved:
        return _("i e-postmeddelandet om den nya tiden")
    return _("i inbjudan")


REMINDER_PREFIX = _("Påminnelse")


def subject(notice: MeetingNotice) -> str:
    return f"{_t(notice, REMINDER_PREFIX)}: {notice.title} – {when_text(notice)}"


def how_to_join(notice: MeetingNotice, code_page: str | None = None) -> list[str]:
    """The steps, one sentence each; ``code_page`` is the address as it is to appear."""
    where = _t(notice, _where_the_link_is(notice))
    return [
        _t(
            notice,
            _('Öppna länken "Gå till videomöte" ${where} på en dator.'),
            where=where,
        ),
        _t(
            notice,
            _("Fungerar inte länken: gå till ${url} och skriv in möteskoden som står ${where}."),
            url=code_page or notice.code_page_url,
            where=where,
        ),
        _t(notice, _("När du loggar in får du en engångskod med SMS till din mobiltelefon.")),
    ]


def plain_text(notice: MeetingNotice) -> str:
    lines = [
        _t(notice, _("Hej ${name},"), name=notice.invitee_name),
        "",
        _t(
            notice,
            _("Det här är en påminnelse om ditt säkra videomöte med ${inviter}."),
            inviter=_inviter(notice),
        ),
        "",
        _t(notice, _("Möte: ${title}"), title=notice.title),
        _t(notice, _("När: ${when}"), when=when_text(notice)),
        "",
        _t(notice, _("Så ansluter du:")),
        *[f"- {step}" for step in how_to_join(notice)],
        "",
        _t(notice, _("Det här behöver du:")),
        *[f"- {_t(notice, item)}" for item in REQUIREMENTS],
        _t(notice, _("Videomötet kan inte hållas via mobiltelefon – använd en dator.")),
        "",
        _t(notice, AUTOMATIC),
    ]
    return "\n".join(lines) + "\n"


def html_text(notice: MeetingNotice) -> str:
    """The same content as HTML; what is filled into our sentences is escaped."""
    page = escape(notice.code_page_url, quote=True)
    link = f'<a href="{page}">{escape(notice.code_page_url)}</a>'
    steps = how_to_join(notice, code_page="\0")
    # The address goes in as a link: the sentence is escaped around it.
    items = "".join(f"<li>{escape(step).replace(chr(0), link)}</li>" for step in steps)
    needs = "".join(f"<li>{escape(_t(notice, item))}</li>" for item in REQUIREMENTS)
    hello = escape(_t(notice, _("Hej ${name},"), name=notice.invitee_name))
    lead = escape(
        _t(
            notice,
            _("Det här är en påminnelse om ditt säkra videomöte med ${inviter}."),
            inviter=_inviter(notice),
        )
    )
    language = "en" if notice.language.startswith("en") else "sv"
    return (
        f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"></head>'
        f'<body style="font-family:sans-serif"><p>{hello}</p><p>{lead}</p>'
        f"<p><strong>{escape(notice.title)}</strong><br>{escape(when_text(notice))}</p>"
        f"<p>{escape(_t(notice, _('Så ansluter du:')))}</p><ul>{items}</ul>"
        f"<p>{escape(_t(notice, _('Det här behöver du:')))}</p><ul>{needs}</ul>"
        f"<p>{escape(_t(notice, _('Videomötet kan inte hållas via mobiltelefon – använd en dator.')))}</p>"  # noqa: E501
        f'<p style="color:#666">{escape(_t(notice, AUTOMATIC))}</p></body></html>'
    )


def build_reminder(notice: MeetingNotice, now: datetime) -> EmailMessage:
    """The reminder e-mail: text and HTML, no calendar part."""
    message = addressed(notice, subject(notice), now)
    qp = {"charset": "utf-8", "cte": "quoted-printable"}
    message.set_content(plain_text(notice), subtype="plain", **qp)
    message.add_alternative(html_text(notice), subtype="html", **qp)
    return message


def day_text(notice: MeetingNotice, now: datetime) -> str:
    """ "i dag", "i morgon" or the weekday and date, seen from ``now`` in the meeting's zone."""
    zone = zone_of(notice.timezone)
    day, today = notice.start.astimezone(zone).date(), now.astimezone(zone).date()
    if day == today:
        return _t(notice, _("i dag"))
    if (day - today).days == 1:
        return _t(notice, _("i morgon"))
    locale = "en" if notice.language.startswith("en") else "sv"
    return format_date(day, "EEEE d MMMM", locale=locale)


def sms_text(notice: MeetingNotice, now: datetime) -> str:
    """``Påminnelse: videomöte med Sara Svensson (Skolhälsan) i morgon kl. 09.00. …``

    Who and when and how to join; no title (it shows on a locked phone), no link, no
    code of any kind."""
    start = notice.start.astimezone(zone_of(notice.timezone))
    clock = start.strftime("%H:%M" if notice.language.startswith("en") else "%H.%M")
    return _t(
        notice,
        _(
            "Påminnelse: videomöte med ${inviter} ${day} kl. ${time}. Anslut från en dator "
            "med länken ${where}."
        ),
        inviter=f"{notice.organiser_name} ({notice.organiser_unit})"
        if notice.organiser_unit
        else notice.organiser_name,
        day=day_text(notice, now),
        time=clock,
        where=_t(notice, _sms_where(notice)),
    )


def _sms_where(notice: MeetingNotice):
    if notice.moved:
        return _("i e-posten om den nya tiden")
    return _("i e-postinbjudan")
