"""Browser layer, settings schema and the public interfaces of the add-on."""

from prorenata.videomote import _
from prorenata.videomote.booking.contacts import InvalidContactDetail
from prorenata.videomote.booking.contacts import normalise_email
from zope import schema
from zope.interface import Attribute
from zope.interface import Interface
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.interface.interfaces import IObjectEvent
from zope.interface.interfaces import ObjectEvent
from zope.publisher.interfaces.browser import IDefaultBrowserLayer
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary

import re

SMS_GATEWAYS = SimpleVocabulary(
    [
        SimpleTerm("outbox", "outbox", _("Utkorg (lokal, för demo och test)")),
        SimpleTerm("46elks", "46elks", _("46elks (HTTP-API)")),
    ]
)


class NotAPlainAddress(schema.ValidationError):
    __doc__ = _("Skriv bara adressen, t.ex. noreply@skola.se (namnet har ett eget fält).")


class NotAnSmsSender(schema.ValidationError):
    __doc__ = _("Högst 11 tecken, bara bokstäver a–z och siffror, minst en bokstav.")


class NotAPhoneNumber(schema.ValidationError):
    __doc__ = _("Skriv ett telefonnummer med siffror, t.ex. 08-123 456 78.")


def phone_number(value: str) -> bool:
    """A number to call, as people write it: digits, spaces, +, - and parentheses."""
    if re.fullmatch(r"\+?[0-9][0-9 ()-]{4,29}", (value or "").strip()):
        return True
    raise NotAPhoneNumber(value)


def plain_address(value: str) -> bool:
    """An envelope sender: the address alone (a display name here fails every send)."""
    try:
        normalise_email(value)
    except InvalidContactDetail:
        raise NotAPlainAddress(value) from None
    return True


def sms_sender(value: str) -> bool:
    """What an SMS operator shows as the sender: 1–11 of a–z and digits, one a letter."""
    if re.fullmatch(r"(?=.*[A-Za-z])[A-Za-z0-9]{1,11}", value or ""):
        return True
    raise NotAnSmsSender(value)


class IVideomoteLayer(IDefaultBrowserLayer):
    """Marker for the add-on's browser layer: present once the service is activated."""


class IVideomoteSettings(Interface):
    """Site-wide settings, edited in the control panel "Videomöte" (plone.registry)."""

    public_base_url = schema.URI(
        title=_("Publik adress"),
        description=_(
            "Sajtens adress som deltagare ser i e-post och SMS, t.ex. "
            "https://journal.example.se. Tom: adressen som sajten nås på."
        ),
        required=False,
    )
    sender_address = schema.TextLine(
        title=_("Avsändarens e-postadress"),
        description=_("Tom: sajtens avsändaradress (Inställningar → E-post)."),
        required=False,
        constraint=plain_address,
    )
    sender_name = schema.TextLine(
        title=_("Avsändarens namn"),
        default="Prorenata Videomöte",
        required=False,
    )
    sms_gateway = schema.Choice(
        title=_("SMS-tjänst"),
        vocabulary=SMS_GATEWAYS,
        default="outbox",
    )
    sms_api_url = schema.URI(
        title=_("SMS-tjänstens adress"),
        default="https://api.46elks.com/a1/sms",
        required=False,
    )
    sms_api_username = schema.TextLine(
        title=_("SMS-tjänstens användarnamn"),
        required=False,
    )
    sms_api_password = schema.Password(
        title=_("SMS-tjänstens lösenord"),
        required=False,
    )
    sms_sender = schema.TextLine(
        title=_("SMS-avsändare"),
        description=_("Högst 11 tecken, bokstäver och siffror."),
        default="Videomote",
        max_length=11,
        required=False,
        constraint=sms_sender,
    )
    media_server_url = schema.TextLine(
        title=_("Mediaserverns adress"),
        description=_(
            "WebSocket-adressen till den egna mediaservern, t.ex. wss://media.example.se/ws."
        ),
        default="ws://localhost:8090/ws",
    )
    media_nodes = schema.List(
        title=_("Medianoder"),
        description=_(
            "WebSocket-adresserna till flera mediaservrar, en per rad. Varje möte hålls på "
            "en av dem (den minst belastade när mötet börjar); slutar den svara flyttas "
            "mötet till en annan. Efter ett mellanslag kan adressen som Plone når nodens "
            "hälsokontroll på stå, t.ex. wss://media1.example.se/ws http://10.0.0.5:8090. "
            "Tomt: bara mediaserverns adress ovan används."
        ),
        value_type=schema.TextLine(),
        default=[],
        required=False,
    )
    timezone = schema.Choice(
        title=_("Tidszon"),
        vocabulary="plone.app.vocabularies.Timezones",
        default="Europe/Stockholm",
    )
    code_lifetime_minutes = schema.Int(
        title=_("Engångskodens giltighetstid (minuter)"),
        default=5,
        min=1,
        max=30,
    )
    code_max_attempts = schema.Int(
        title=_("Antal försök per engångskod"),
        default=5,
        min=1,
        max=10,
    )
    sms_per_hour = schema.Int(
        title=_("Högst antal SMS per inloggning och timme"),
        description=_("Gäller varje webbläsare som anger möteskoden eller öppnar länken."),
        default=5,
        min=1,
        max=20,
    )
    sms_per_meeting_per_hour = schema.Int(
        title=_("Högst antal SMS per möte och timme"),
        description=_(
            "Gäller alla inloggningar till samma möte tillsammans. Personalen ser antalet i "
            "mötets dialog och kan återställa gränsen där."
        ),
        default=20,
        min=1,
        max=100,
    )
    join_window_minutes = schema.Int(
        title=_("Deltagare kan logga in så här många minuter före start"),
        default=30,
        min=0,
        max=240,
    )
    session_grace_minutes = schema.Int(
        title=_("Sessionen gäller så här många minuter efter mötets slut"),
        default=15,
        min=0,
        max=240,
    )
    max_meeting_minutes = schema.Int(
        title=_("Ett videomöte får vara högst (minuter)"),
        description=_(
            "Längre möten kan inte bokas eller flyttas till. Deltagarens inloggning gäller "
            "till mötets slut."
        ),
        default=240,
        min=15,
        max=24 * 60,
    )
    reminder_email_enabled = schema.Bool(
        title=_("Skicka påminnelse med e-post"),
        description=_(
            "Deltagaren får en påminnelse med e-post före mötet: vem mötet är med, när och "
            "hur man ansluter (länken och möteskoden står bara i inbjudan)."
        ),
        default=True,
        required=False,
    )
    reminder_email_hours = schema.Int(
        title=_("E-postpåminnelsen skickas så här många timmar före start"),
        description=_(
            "Har den tiden redan passerat när mötet bokas eller flyttas skickas ingen "
            "påminnelse: inbjudan kommer då nyss."
        ),
        default=24,
        min=1,
        max=168,
    )
    reminder_sms_enabled = schema.Bool(
        title=_("Skicka påminnelse med SMS"),
        description=_(
            "Ett kort SMS före mötet, utan länk och utan koder. Räknas inte mot "
            "gränserna för engångskoder."
        ),
        default=True,
        required=False,
    )
    reminder_sms_minutes = schema.Int(
        title=_("SMS-påminnelsen skickas så här många minuter före start"),
        description=_(
            "Har den tiden redan passerat när mötet bokas eller flyttas skickas SMS:et två "
            "minuter senare, om mötet börjar om minst 10 minuter."
        ),
        default=60,
        min=10,
        max=24 * 60,
    )
    clinic_phone = schema.TextLine(
        title=_("Mottagningens telefonnummer"),
        description=_(
            "Visas för deltagare som inte kommer vidare (mobiltelefon, webbläsare som inte "
            "stöds, inställt eller avslutat möte). Tomt: ingen telefonrad visas."
        ),
        required=False,
        max_length=30,
        constraint=phone_number,
    )
    audit_retention_years = schema.Int(
        title=_("Granskningsloggen sparas (år)"),
        default=5,
        min=1,
        max=20,
    )


class ISerializeMeetingToJson(Interface):
    """The JSON of a meeting as the add-on's REST services (``@videomote-meetings``,
    ``@videomote-meeting``) give it to staff who may manage it: contact details included.

    A multi-adapter of (meeting, request), called without arguments, like plone.restapi's
    ``ISerializeToJson``, so an add-on can extend it for its own browser layer. It is an
    interface of its own on purpose: the stock serializer (``GET <meeting>``) keeps the
    contact fields hidden (``content/security.py``) and is not replaced.
    """

    def __call__() -> dict:
        """The meeting as a JSON-ready dict."""


# What happens to a meeting, told by the domain (``content/scheduling.py``) once it has
# changed the meeting: SEQUENCE raised, codes issued or dropped, what the participant
# was told recorded. The e-mail (``notify``), the audit log (``audit``) and the CalDAV
# bridge subscribe to these independently and only react: none depends on another
# having run first.


class IMeetingBookedEvent(IObjectEvent):
    """A meeting was booked: its code and join link are issued."""

    code = Attribute("The new meeting code, in clear (only its hash is stored)")
    token = Attribute("The new personal join token, in clear (only its hash is stored)")


@implementer(IMeetingBookedEvent)
class MeetingBookedEvent(ObjectEvent):
    """Fired once a meeting is added (by ``book_meeting``, or any other way it is added)."""

    def __init__(self, meeting, code: str, token: str):
        super().__init__(meeting)
        self.code, self.token = code, token


class IMeetingUpdatedEvent(IObjectEvent):
    """Something the participant was told changed: the time, the title or both.

    Fired after ``sequence`` is raised. The event also provides
    :class:`IMeetingMovedEvent` and/or :class:`IMeetingRetitledEvent`.
    """

    moved = Attribute("True if the time changed (then ``code`` and ``token`` are new)")
    previous_title = Attribute("The title the participant was told, if it changed; else None")
    sequence = Attribute("The meeting's SEQUENCE after the change")
    code = Attribute("The new meeting code in clear when moved, else None")
    token = Attribute("The new join token in clear when moved, else None")


class IMeetingMovedEvent(IMeetingUpdatedEvent):
    """The meeting has a new time: a new code and link; the old time's room is closed."""


class IMeetingRetitledEvent(IMeetingUpdatedEvent):
    """The meeting has a new title: code and link stay."""


@implementer(IMeetingUpdatedEvent)
class MeetingUpdatedEvent(ObjectEvent):
    """Fired by ``scheduling.tell_what_changed`` (every path that changes time or title)."""

    def __init__(
        self,
        meeting,
        sequence: int,
        moved: bool,
        previous_title: str | None = None,
        code: str | None = None,
        token: str | None = None,
    ):
        super().__init__(meeting)
        self.sequence, self.moved, self.previous_title = sequence, moved, previous_title
        self.code, self.token = code, token
        if moved:
            alsoProvides(self, IMeetingMovedEvent)
        if previous_title is not None:
            alsoProvides(self, IMeetingRetitledEvent)


class IMeetingCancelledEvent(IObjectEvent):
    """A video meeting was cancelled ("Avboka"); it stays in the journal as cancelled.

    Fired after ``sequence`` is raised and the code and join link are dropped.
    """


@implementer(IMeetingCancelledEvent)
class MeetingCancelledEvent(ObjectEvent):
    """Fired by ``cancel_meeting``."""


class SMSFailed(Exception):
    """The SMS could not be handed to the operator; ``reason`` is safe to log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ISMSGateway(Interface):
    """Sends one SMS. Named utilities; the control panel's "SMS-tjänst" picks one."""

    def send(to: str, text: str) -> str:
        """Send ``text`` to the E.164 number ``to``; return the operator's message id.

        Raises :class:`SMSFailed` when the message was not accepted.
        """


class IIdentityCheck(Interface):
    """A way for a participant to prove who they are (SMS today, BankID/Freja later)."""

    method = schema.ASCIILine(title="Method id recorded in sessions and the audit log")
    assurance = schema.ASCIILine(title="Assurance level (eIDAS: low, substantial, high)")
