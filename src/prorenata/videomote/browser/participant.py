"""The participant's way in: code page, SMS one-time code, waiting room.

``<site>/videomote`` (meeting code), ``/videomote/logga-in`` (the invitation link lands
here with its token in the URL fragment, which the page posts), ``/videomote/vantrum``
(waiting room, "Gå med nu"), ``/videomote/status`` (JSON for the waiting room).
Participants are not Plone users: a signed, HttpOnly, SameSite=Strict cookie carries
first the pending sign-in, then the participant session.
"""

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from plone import api
from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from prorenata.videomote import _
from prorenata.videomote import logger
from prorenata.videomote.access import otp
from prorenata.videomote.access import signins
from prorenata.videomote.access.client_limits import SharedWindow
from prorenata.videomote.access.codes import meeting_code_hashes
from prorenata.videomote.access.codes import secret_hashes
from prorenata.videomote.access.keys import secret_key
from prorenata.videomote.access.keys import secret_keys
from prorenata.videomote.access.media_room import join_token_for
from prorenata.videomote.access.signing import sign
from prorenata.videomote.access.signing import unsign
from prorenata.videomote.audit import log as audit
from prorenata.videomote.audit.record import record
from prorenata.videomote.browser.meetings import local
from prorenata.videomote.browser.room import RoomMixin
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import STATE_STARTED
from prorenata.videomote.interfaces import IIdentityCheck
from prorenata.videomote.interfaces import SMSFailed
from prorenata.videomote.notify.imip import MeetingNotice
from prorenata.videomote.notify.imip import swedish_when
from prorenata.videomote.notify.sms import is_transactional
from prorenata.videomote.notify.sms import sms_gateway
from prorenata.videomote.notify.sms import sms_outbox
from prorenata.videomote.notify.subscribers import base_url
from prorenata.videomote.request_input import InputRefused
from prorenata.videomote.request_input import form_text
from prorenata.videomote.timezone import meeting_zone
from zope.component import getUtility
from zope.i18n import translate
from zope.interface import alsoProvides
from zope.interface import implementer
from zope.publisher.interfaces import IPublishTraverse
from zope.publisher.interfaces import NotFound

import json
import secrets

PENDING_COOKIE = "videomote_pending"
SESSION_COOKIE = "videomote_session"
PENDING_LIFETIME = timedelta(minutes=30)
SENT_IN_REQUEST = "prorenata.videomote.sms_sent"
SMS_TEXT = _("Din inloggningskod till Prorenata Videomöte är ${code}")
# Per client address: code page and sign-in posts together; counted in the database, so
# several Zope instances behind the load balancer enforce one limit.
PAGE_LIMIT = SharedWindow("participant-pages", limit=60, seconds=600)

MOVED = _(
    "Mötet har flyttats till en ny tid. Använd länken eller möteskoden i det senaste "
    "e-postmeddelandet om mötet."
)

# What participant.js shows (browser check, device check, waiting room).
PAGE_TEXTS = {
    "phone": _("Videomötet kan inte hållas via mobiltelefon – använd en dator."),
    "browser": _(
        "Din webbläsare stöds inte. Använd Google Chrome, Mozilla Firefox eller Microsoft Edge "
        "version 83 eller senare."
    ),
    "devicesok": _("Kameran och mikrofonen fungerar."),
    "devicesfailed": _(
        "Kameran eller mikrofonen gick inte att använda. Kontrollera att webbläsaren får "
        "använda dem."
    ),
    "started": _("Mötet har startat. Klicka på Gå med nu."),
    "ended": _("Mötet är avslutat."),
    "moved": MOVED,
}

STEPS = {"logga-in", "vantrum", "status", "rum", "rum-token", "lamna"}


def now_utc() -> datetime:
    return datetime.now(UTC)


def _meeting_by(index: str, value: str | list[str] | None):
    """The one meeting whose ``index`` holds ``value`` (or any of several values: a
    code's hash under each configured key, while a key is rotated)."""
    if not value:
        return None
    catalog = api.portal.get_tool("portal_catalog")
    brains = catalog.unrestrictedSearchResults(portal_type="VideoMeeting", **{index: value})
    return brains[0]._unrestrictedGetObject() if len(brains) == 1 else None


def _meeting_by_uid(uid: str):
    return _meeting_by("UID", uid)


@implementer(IPublishTraverse)
class ParticipantView(RoomMixin, BrowserView):
    layout = ViewPageTemplateFile("templates/participant_layout.pt")
    code_page = ViewPageTemplateFile("templates/participant_code.pt")
    signin_page = ViewPageTemplateFile("templates/participant_signin.pt")
    waiting_page = ViewPageTemplateFile("templates/participant_waiting.pt")
    room_page = ViewPageTemplateFile("templates/participant_room.pt")

    step = ""
    message = None
    error = None
    # The form field an error is about (aria-invalid, aria-describedby, focus), and the
    # meeting code as typed, shown again with its error so that a typo can be corrected.
    invalid_field = None
    typed_code = ""
    meeting = None
    join_token = ""
    left = False
    moved = None  # the meeting, when a cookie was for its time before a move
    #: Whom this browser signs in as: the invitee, or an extra participant's id.
    person_id = signins.INVITEE
    # The room page is as wide as the window allows (room.css, no ``:has()``).
    body_class = ""
    #: Whether this request has written its audit entry about the meeting already.
    audited = False

    def publishTraverse(self, request, name):  # noqa: N802 - Zope API
        if self.step or name not in STEPS:
            raise NotFound(self, name, request)
        self.step = name
        return self

    # -- cookies -----------------------------------------------------------------
    def _key(self) -> bytes:
        """The newest key: what new cookies are signed with."""
        return secret_key(api.portal.get())

    def _keys(self) -> tuple[bytes, ...]:
        """Every configured key: what a cookie, code or link is checked against."""
        return secret_keys(api.portal.get())

    def _set_cookie(self, name: str, value: str, expires: datetime) -> None:
        self.request.response.setCookie(
            name,
            value,
            path="/",
            expires=expires.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            http_only=True,
            same_site="Strict",
            secure=self.request.get("SERVER_URL", "").startswith("https://"),
        )

    def _cookie(self, name: str, purpose: str) -> dict | None:
        return unsign(self.request.cookies.get(name, ""), self._keys(), purpose)

    def _for_current_time(self, data: dict | None):
        """The meeting of a cookie, unless the meeting has moved since it was issued:
        then None, and ``moved`` is that meeting (the new e-mail's link or code is needed)."""
        meeting = _meeting_by_uid(data["m"]) if data else None
        if meeting is not None and data.get("g", 0) != signins.generation(meeting):
            self.moved = meeting
            return None
        return meeting

    def _pending(self):
        data = self._cookie(PENDING_COOKIE, "pending")
        meeting = self._for_current_time(data)
        signin = signins.pending(meeting, data["s"]) if meeting is not None else None
        if signin is not None:
            self.person_id = signin.invitee
        return meeting, signin

    def _session(self):
        data = self._cookie(SESSION_COOKIE, "session")
        meeting = self._for_current_time(data)
        if meeting is not None:
            person_id = data.get("r", signins.INVITEE)
            if not self._invited(meeting, person_id):
                return None, None  # removed from the meeting: their session opens nothing
            self.person_id = person_id
        return meeting, (data if meeting is not None else None)

    @staticmethod
    def _invited(meeting, person_id: str) -> bool:
        return person_id == signins.INVITEE or participants.person(meeting, person_id) is not None

    def _person(self, meeting) -> dict | None:
        """The extra participant this browser is for (None: the invitee)."""
        if meeting is None or self.person_id == signins.INVITEE:
            return None
        return participants.person(meeting, self.person_id)

    def _mobile(self, meeting) -> str:
        person = self._person(meeting)
        return person["mobile"] if person else meeting.invitee_mobile

    def _room_name(self, meeting) -> str:
        """The name the others see in the room: an extra person with their role."""
        person = self._person(meeting)
        return participants.room_name(person, self.request) if person else meeting.invitee_name

    @property
    def room_who(self) -> str:
        return self.person_id

    def _refuse_old_time(self) -> None:
        """A session or sign-in for the time before a move: say what to do instead (its
        cookie stays: it opens nothing, and says so again if used again)."""
        self.error = MOVED
        self._audit(audit.OLD_TIME_REFUSED, self.moved)

    def _start_signin(self, meeting) -> None:
        signin = otp.PendingSignIn(
            meeting_uid=meeting.UID(),
            invitee=self.person_id,
            signin_id=secrets.token_urlsafe(16),
        )
        signins.start_pending(meeting, signin, now_utc(), PENDING_LIFETIME)
        expires = now_utc() + PENDING_LIFETIME
        value = sign(
            {"m": meeting.UID(), "s": signin.signin_id, "g": signins.generation(meeting)},
            self._key(),
            "pending",
            expires,
        )
        self._set_cookie(PENDING_COOKIE, value, expires)

    def _limited(self) -> bool:
        if PAGE_LIMIT.allow(api.portal.get(), self.request.getClientAddr() or "unknown"):
            return False
        self.error = _("För många försök från din dator. Vänta en stund och försök igen.")
        self.request.response.setStatus(429)
        return True

    def _sms_text(self, code: str) -> str:
        """The SMS with the one-time code, in the participant's page's language."""
        return translate(_(SMS_TEXT, mapping={"code": code}), context=self.request)

    def _audit(self, action: str, meeting, **detail) -> None:
        person = self._person(meeting)
        if person is not None:
            # An extra participant: their role, and their name.
            actor = f"deltagare:{person['role']}"
            detail["person"] = person["name"]
        else:
            actor = f"deltagare:{meeting.contact_choice}"
        self.audited = True
        record(
            action,
            meeting,
            actor=actor,
            role="participant",
            request=self.request,
            **detail,
        )

    def _shown(self, meeting, page: str, **detail) -> None:
        """A page that shows the meeting (its title, time or state) to the holder of its
        link, code or session: audited, unless this request has an entry of its own
        already (a code sent, a wrong code)."""
        if not self.audited:
            self._audit(audit.PAGE_SHOWN, meeting, page=page, **detail)

    def _audit_unknown(self, action: str) -> None:
        """A code or link that leads to no meeting: who tried, from where (guessing)."""
        record(action, None, actor="okänd", role="participant", request=self.request)

    # -- dispatch ------------------------------------------------------------------
    def __call__(self):
        # Participants are anonymous; writes here (sign-ins, audit) are meant.
        alsoProvides(self.request, IDisableCSRFProtection)
        self.request.response.setHeader("Cache-Control", "no-store")
        self.request.response.setHeader("Referrer-Policy", "no-referrer")
        handler = {
            "": self.code_step,
            "logga-in": self.signin_step,
            "vantrum": self.waiting_step,
            "status": self.status_step,
            "rum": self.room_step,
            "rum-token": self.room_token_step,
            "lamna": self.leave_step,
        }[self.step]
        try:
            return handler()
        except InputRefused as refused:
            # A code, link token or one-time code that is no short text (a list, a
            # record, a megabyte): nothing is looked up, the page says why.
            self.request.response.setStatus(refused.status)
            self.error = refused.message
            return self.code_page()

    # -- /videomote: the meeting code -------------------------------------------
    def code_step(self):
        if self.request.method == "POST" and not self._limited():
            typed = form_text(self.request, "code", label=_("Möteskod"))
            meeting = self._find("meeting_code_hash", meeting_code_hashes(typed, self._keys()))
            if meeting is None or signins.window_state(meeting) == "over":
                self._audit_unknown(audit.CODE_UNKNOWN)
                self.invalid_field, self.typed_code = "code", typed
                # The same words whether no meeting has this code or it is over.
                self.error = _(
                    "Möteskoden stämmer inte. Kontrollera koden i e-postinbjudan och försök igen."
                )
            elif self._in_session_for(meeting):
                return self.request.response.redirect(self._url("vantrum"))
            else:
                self._start_signin(meeting)
                self._audit(audit.CODE_PAGE_USED, meeting)
                return self.request.response.redirect(self._url("logga-in"))
        return self.code_page()

    def _find(self, index: str, hashes: list[str]):
        """The meeting of a code or link, the invitee's or an extra participant's (then
        ``person_id`` is that person's)."""
        meeting = _meeting_by(index, hashes)
        if meeting is not None:
            self.person_id = signins.INVITEE
            return meeting
        extra = {"meeting_code_hash": "extra_code_hashes", "join_token_hash": "extra_token_hashes"}
        meeting = _meeting_by(extra[index], hashes)
        person = participants.find(meeting, extra[index], hashes) if meeting else None
        if person is None:
            return None
        self.person_id = person["id"]
        return meeting

    def _in_session_for(self, meeting) -> bool:
        """Whether this browser's participant session (valid until the join window
        closes) is for ``meeting`` and the same person: coming back after leaving costs
        no new SMS code."""
        wanted = self.person_id
        current, _session = self._session()
        same = current is not None and current.UID() == meeting.UID()
        if same and self.person_id == wanted:
            return True
        self.person_id = wanted
        return False

    # -- /videomote/logga-in: link token, SMS code -------------------------------
    def signin_step(self):
        token = form_text(self.request, "token", label=_("Länk"))
        if self.request.method == "POST" and token:
            return self._open_link(token)
        meeting, signin = self._pending()
        self.meeting = meeting
        if self.moved is not None:
            self._refuse_old_time()
            return self.code_page()
        if meeting is None or signin is None:
            return self.signin_page()  # its script posts the link's token, if any
        window = signins.window_state(meeting)
        if window == "early":
            self._shown(meeting, "logga-in", window=window)
            return self.signin_page()
        if window == "over":
            # Cancelled or ended since the link or code was given: no SMS for it.
            self._shown(meeting, "logga-in", window=window)
            return self._over(meeting)
        if self.request.method == "POST" and not self._limited():
            page = self._code_form(meeting, signin)
        else:
            page = self.signin_page()
        self._shown(meeting, "logga-in", window=window)
        return page

    def _open_link(self, token: str):
        """The invitation's link (its token posted by the page's script, never in a URL)."""
        if self._limited():
            return self.code_page()  # with the reason (the link is gone from the URL)
        meeting = self._find("join_token_hash", secret_hashes(token, self._keys()))
        if meeting is None:
            self._audit_unknown(audit.LINK_UNKNOWN)
            self.error = _(
                "Länken fungerar inte längre. Använd länken i den senaste e-posten "
                "om mötet, eller skriv in möteskoden."
            )
            return self.code_page()
        if signins.window_state(meeting) == "over":
            # The link proves the invitation: saying that it is over reveals nothing
            # more than the invitation did; that it was opened is written down.
            self._audit(audit.LINK_OPENED, meeting, window="over")
            return self._over(meeting)
        if self._in_session_for(meeting):
            return self.request.response.redirect(self._url("vantrum"))
        self._start_signin(meeting)
        self._audit(audit.LINK_OPENED, meeting)
        return self.request.response.redirect(self._url("logga-in"))

    def _over(self, meeting):
        self.meeting = meeting
        self.error = _("Mötet ${when} är avslutat eller inställt.", mapping={"when": self.when()})
        return self.code_page()

    def _code_form(self, meeting, signin):
        """ "Skicka kod" or "Fortsätt" on the one-time-code form."""
        form = self.request.form
        if form.get("send_code"):
            self._send_code(meeting, signin)
        elif form.get("continue"):
            typed = form_text(self.request, "one_time_code", label=_("Engångskod från SMS"))
            if self._check_code(meeting, signin, typed):
                return self.request.response.redirect(self._url("vantrum"))
        return self.signin_page()

    def _sent_in_this_request(self) -> dict:
        """What an earlier attempt of this very request sent (Zope publishes a request
        again after a database conflict, with the same WSGI environ): the SMS has gone,
        so the retry keeps its code instead of texting another (which would make the
        first one fail as "Fel kod"). Only the code's keyed hash is kept there, and for a
        gateway whose sending is part of the attempt's transaction (the outbox: its copy
        was rolled back with the attempt) the text to keep once more."""
        environ = getattr(self.request, "_orig_env", None)
        return environ.setdefault(SENT_IN_REQUEST, {}) if environ is not None else {}

    def _send_code(self, meeting, signin) -> None:
        policy, key, now = signins.code_policy(), self._key(), now_utc()
        quota = signins.quota(meeting, self.person_id)
        sent = self._sent_in_this_request()
        if signin.signin_id in sent:
            signin.code_hash, signin.issued_at, again = sent[signin.signin_id]
            if again is not None:
                sms_gateway().send(self._mobile(meeting), again)
            signin.attempts, signin.used = 0, False
            self._code_sent(meeting, signin, quota, now)
            return
        before = otp.issued_state(signin)
        try:
            code = otp.issue_code(signin, quota, key, now, policy)
        except otp.QuotaExceeded as refused:
            when = local(refused.next_allowed).strftime("%H.%M") if refused.next_allowed else ""
            if refused.scope == otp.MEETING:
                # Others with the meeting code may have used it up: staff can lift it.
                self.error = _(
                    "Det har skickats för många SMS-koder till det här mötet. Kontakta den "
                    "som bjöd in dig, eller försök igen kl. ${time}.",
                    mapping={"time": when},
                )
            else:
                self.error = _(
                    "Du har fått för många SMS-koder. Du kan få en ny kod kl. ${time}.",
                    mapping={"time": when},
                )
            self._audit(audit.SMS_REFUSED, meeting, limit=refused.scope)
            return
        gateway, text = sms_gateway(), self._sms_text(code)
        try:
            gateway.send(self._mobile(meeting), text)
        except SMSFailed as failure:
            otp.withdraw(signin, before)  # a code sent earlier still works
            signins.save_pending(meeting, signin)
            logger.warning("SMS for meeting %s failed: %s", meeting.UID(), failure.reason)
            self._audit(audit.SMS_FAILED, meeting, reason=failure.reason)
            self.error = _("SMS kunde inte skickas, försök igen")
            return
        again = text if is_transactional(gateway) else None
        sent[signin.signin_id] = (signin.code_hash, signin.issued_at, again)
        self._code_sent(meeting, signin, quota, now)

    def _code_sent(self, meeting, signin, quota, now) -> None:
        otp.count_sent(quota, now, signin)
        signins.save_quota(meeting, quota, self.person_id)
        signins.save_pending(meeting, signin)
        self._audit(audit.SMS_SENT, meeting)
        self.message = _(
            "Vi har skickat en engångskod till ${number}.",
            mapping={"number": otp.mask_mobile(self._mobile(meeting))},
        )

    def _check_code(self, meeting, signin, typed: str) -> bool:
        policy = signins.code_policy()
        verdict = otp.verify(signin, typed, self._keys(), now_utc(), policy)
        signins.save_pending(meeting, signin)
        if verdict is otp.Verdict.ACCEPTED:
            self._open_session(meeting, signin)
            return True
        action, self.error = {
            otp.Verdict.WRONG: (
                audit.CODE_WRONG,
                _(
                    "Fel kod. Du har ${left} försök kvar.",
                    mapping={"left": policy.max_attempts - signin.attempts},
                ),
            ),
            otp.Verdict.LOCKED: (
                audit.LOCKED_OUT,
                _(
                    "För många felaktiga försök. Klicka på Skicka engångskod via SMS för att få "
                    "en ny kod."
                ),
            ),
            otp.Verdict.EXPIRED: (
                audit.CODE_EXPIRED,
                _("Koden har gått ut. Klicka på Skicka engångskod via SMS för att få en ny kod."),
            ),
            otp.Verdict.USED: (
                audit.CODE_WRONG,
                _("Koden är redan använd. Klicka på Skicka engångskod via SMS för en ny kod."),
            ),
            otp.Verdict.NO_CODE: (
                audit.CODE_WRONG,
                _("Klicka först på Skicka engångskod via SMS."),
            ),
        }[verdict]
        self.invalid_field = "one_time_code"
        self._audit(action, meeting)
        return False

    def _open_session(self, meeting, signin) -> None:
        check = getUtility(IIdentityCheck, name="sms")
        _opens, closes = signins.join_window(meeting)
        value = sign(
            {
                "m": meeting.UID(),
                "g": signins.generation(meeting),
                "r": signin.invitee,
                "s": signin.signin_id,
                "id": check.method,
                "al": check.assurance,
            },
            self._key(),
            "session",
            closes,
        )
        self._set_cookie(SESSION_COOKIE, value, closes)
        self.request.response.expireCookie(PENDING_COOKIE, path="/")
        signins.drop_pending(meeting, signin.signin_id)
        self._audit(audit.CODE_ACCEPTED, meeting, method=check.method, assurance=check.assurance)

    # -- /videomote/vantrum and /videomote/status ----------------------------------
    def waiting_step(self):
        meeting, session = self._session()
        if self.moved is not None:
            self._refuse_old_time()
            return self.code_page()
        if meeting is None or signins.window_state(meeting) == "over":
            self.error = _("Du är inte inloggad till något pågående videomöte.")
            return self.code_page()
        self.meeting = meeting
        self._audit(audit.WAITING_ROOM, meeting)
        return self.waiting_page()

    def status_step(self):
        meeting, session = self._session()
        self.request.response.setHeader("Content-Type", "application/json")
        if meeting is None:
            self.request.response.setStatus(401)
            return json.dumps({"state": "moved" if self.moved is not None else "signed_out"})
        state = meeting.state if signins.window_state(meeting) != "over" else "ended"
        return json.dumps({"state": state, "started": meeting.state == STATE_STARTED})

    def room_step(self):
        meeting, session = self._session()
        if meeting is None or meeting.state != STATE_STARTED:
            return self.request.response.redirect(self._url("vantrum"))
        self.meeting = meeting
        self._audit(audit.JOINED, meeting)
        # How the session was opened (method, eIDAS level) goes into the visit note.
        self.join_token = join_token_for(
            meeting,
            "participant",
            self._room_name(meeting),
            identification=(session.get("id", ""), session.get("al", "")),
            who=self.person_id,
        )
        self.body_class = "vm-room-page"
        return self.room_page()

    def room_token_step(self):
        """POST from the room page coming back after a dropped connection: a fresh token."""
        meeting, session = self._session()
        self.request.response.setHeader("Content-Type", "application/json")
        if self.moved is not None and self.request.method == "POST":
            self._refuse_old_time()
            self.request.response.setStatus(410)  # room.js: "use the new e-mail"
            return json.dumps({"state": "moved"})
        if meeting is None or self.request.method != "POST":
            self.request.response.setStatus(401)
            return json.dumps({"state": "signed_out"})
        if meeting.state != STATE_STARTED or signins.window_state(meeting) == "over":
            self.request.response.setStatus(409)
            return json.dumps({"state": "ended"})
        self._audit(audit.RECONNECTED, meeting)
        return self.token_response(meeting, self._room_name(meeting))

    # -- texts for participant.js ----------------------------------------------------
    def page_texts(self) -> str:
        texts = {key: self.text(message) for key, message in PAGE_TEXTS.items()}
        return json.dumps(texts, ensure_ascii=False)

    # -- the room (room_macros.pt) ---------------------------------------------------
    def room_meeting(self):
        return self.meeting

    def room_token_url(self) -> str:
        return self._url("rum-token")

    def leave_step(self):
        """ "Lämna mötet": the session stays (until the join window closes), so that
        someone who left by mistake comes back without a new SMS code."""
        meeting, session = self._session()
        if meeting is not None and self.request.method == "POST":
            self._audit(audit.LEFT, meeting)
        elif meeting is not None:
            # Shows whether the meeting is still on ("Gå med igen"): audited too.
            self._shown(meeting, "lamna")
        self.message = _("Du har lämnat mötet. Du kan stänga webbläsarfönstret.")
        self.left = True
        self.meeting = meeting
        return self.code_page()

    def can_rejoin(self) -> bool:
        """After leaving: whether "Gå med igen" leads back in (the meeting is still on)."""
        return self.meeting is not None and signins.window_state(self.meeting) != "over"

    # -- helpers for the templates --------------------------------------------------
    def _url(self, step: str = "") -> str:
        base = f"{api.portal.get().absolute_url()}/videomote"
        return f"{base}/{step}" if step else base

    def url(self, step: str = "") -> str:
        return self._url(step)

    def text(self, message) -> str:
        return translate(message, context=self.request) if message is not None else ""

    def code_page_address(self) -> str:
        """The code page's address as the invitation e-mail gives it (public address)."""
        return f"{base_url()}/videomote"

    def clinic_phone(self) -> str:
        """The clinic's number for a family that cannot go on here (empty: no line)."""
        value = api.portal.get_registry_record("prorenata.videomote.clinic_phone", default=None)
        return (value or "").strip()

    def clinic_phone_href(self) -> str:
        """``tel:`` with only the digits (and a leading +) of the clinic's number."""
        number = self.clinic_phone()
        digits = "".join(c for c in number if c.isdigit())
        return f"tel:{'+' if number.startswith('+') else ''}{digits}"

    def masked_mobile(self) -> str:
        return otp.mask_mobile(self._mobile(self.meeting)) if self.meeting is not None else ""

    def when(self) -> str:
        meeting = self.meeting
        notice = MeetingNotice(
            kind="invitation",
            uid="",
            sequence=0,
            title=meeting.title,
            start=meeting.start,
            end=meeting.end,
            timezone=meeting_zone(meeting),
            organiser_name="",
            invitee_name="",
            invitee_email="",
            code_page_url="",
            service_address="",
            sender_name="",
        )
        return swedish_when(notice)

    def early(self) -> bool:
        return self.meeting is not None and signins.window_state(self.meeting) == "early"

    def opens_at(self) -> str:
        opens, _closes = signins.join_window(self.meeting)
        return local(opens).strftime("%H.%M")

    def signed_in_pending(self) -> bool:
        return self.meeting is not None


class SmsOutboxView(BrowserView):
    """The demo's phone: SMS kept by the outbox gateway, newest first (Managers only)."""

    def messages(self) -> list[dict]:
        return [
            dict(m, local_time=local(m["time"]).strftime("%Y-%m-%d %H.%M.%S"))
            for m in reversed(list(sms_outbox(api.portal.get())))
        ]
