"""What the staff room and the participant room share: markup, texts, join tokens."""

from plone import api
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from prorenata.videomote import _
from prorenata.videomote.access.media_room import join_token_for
from prorenata.videomote.access.media_room import media_node_for
from prorenata.videomote.access.media_room import report_media_failure
from prorenata.videomote.request_input import InputRefused
from prorenata.videomote.request_input import json_object
from zope.i18n import translate

import hashlib
import json

ROOM_MACROS = ViewPageTemplateFile("templates/room_macros.pt")

# What room.js shows; "{name}" is filled in by the page.
ROOM_TEXTS = {
    "connecting": _("Ansluter…"),
    "connected": _("Ansluten"),
    "unstable": _("Anslutningen är instabil…"),
    "reconnecting": _("Anslutningen bröts. Ansluter igen…"),
    "lost": _("Anslutningen kunde inte återupprättas. Ladda om sidan."),
    "mediafailed": _("Ljud och bild kunde inte kopplas upp. Chatten fungerar."),
    "nodevices": _(
        "Kameran eller mikrofonen gick inte att använda. De andra kan inte se eller höra dig, "
        "men chatten fungerar."
    ),
    "full": _("Mötet är fullt. Högst fyra personer kan vara med."),
    "replaced": _("Du har öppnat mötet i ett annat fönster."),
    "signedout": _("Du är inte längre inloggad till mötet."),
    "ended": _("Mötet är avslutat"),
    "joined": _("${name} anslöt till mötet.", mapping={"name": "{name}"}),
    "left": _("${name} lämnade mötet.", mapping={"name": "{name}"}),
    "micoff": _("mikrofon av"),
    "camoff": _("kamera av"),
    "micoffaction": _("Stäng av mikrofonen"),
    "micon": _("Slå på mikrofonen"),
    "camoffaction": _("Stäng av kameran"),
    "camon": _("Slå på kameran"),
    # The buttons' names say the state they show (not only a pressed look).
    "miclabelon": _("Mikrofon på"),
    "miclabeloff": _("Mikrofon av"),
    "camlabelon": _("Kamera på"),
    "camlabeloff": _("Kamera av"),
    "nomic": _("Ingen mikrofon att använda"),
    "nocam": _("Ingen kamera att använda"),
    "confirmend": _("Avsluta mötet för alla deltagare?"),
    "sound": _("Slå på ljudet"),
    # Screen sharing.
    "sharestart": _("Dela din skärm, ett fönster eller en flik"),
    "sharestop": _("Sluta dela skärmen"),
    "screenof": _("Skärm från ${name}", mapping={"name": "{name}"}),
    "sharing": _("${name} delar sin skärm.", mapping={"name": "{name}"}),
    "sharerefused": _("Du får inte dela skärm i det här mötet."),
    "sharebusy": _("Någon annan delar redan sin skärm."),
    "sharefailed": _("Skärmen gick inte att dela."),
    "sharestopped": _("Din skärmdelning avslutades."),
    "shareallowed": _("Deltagarna får dela sin skärm."),
    "sharenotallowed": _("Deltagarna får inte längre dela sin skärm."),
}

# The room closed because the meeting moved to a new time.
MOVED_TEXTS = {
    "staff": _("Mötet har flyttats till en ny tid. Starta det igen när det är dags."),
    "participant": _(
        "Mötet har flyttats till en ny tid. Använd länken eller möteskoden i det senaste "
        "e-postmeddelandet om mötet."
    ),
}

# The journal took this person out of the room (media server close code 4411).
REMOVED_TEXTS = {
    "staff": _("Du har inte längre behörighet till mötet och har lämnat det."),
    "participant": _("Du har tagits bort från mötet."),
}


class RoomMixin:
    """For views that render the room: ``room_settings()`` feeds room_macros.pt."""

    join_token = ""
    room_role = "participant"

    @property
    def room_macros(self):
        return ROOM_MACROS.macros

    def room_meeting(self):
        raise NotImplementedError

    def room_token_url(self) -> str:
        raise NotImplementedError

    def room_csrf(self) -> str:
        return ""

    def room_settings(self) -> dict:
        texts = {key: translate(text, context=self.request) for key, text in ROOM_TEXTS.items()}
        texts["moved"] = translate(MOVED_TEXTS[self.room_role], context=self.request)
        texts["removed"] = translate(REMOVED_TEXTS[self.room_role], context=self.request)
        # Staff leave to the meeting's page and the meeting goes on ("Avsluta för alla"
        # ends it); participants leave through the leave form.
        staff = self.room_role == "staff"
        hangup = _("Lämna") if staff else _("Lämna mötet")
        return {
            "token": self.join_token,
            "server": media_node_for(self.room_meeting()),
            "meeting": self.room_meeting().UID(),
            "role": self.room_role,
            "token_url": self.room_token_url(),
            "csrf": self.room_csrf(),
            "leave_form": "vm-leave-form",
            "leave_url": self.room_meeting().absolute_url() if staff else "",
            "hangup_title": translate(hangup, context=self.request),
            "texts": json.dumps(texts, ensure_ascii=False),
        }

    def token_response(self, meeting, display_name: str) -> str:
        """A fresh join token for a page coming back after a dropped connection, and the
        media node to use it at: another one when the meeting's node stopped answering,
        or when its media failed (the page's report in the body, see
        ``failed_media_node``). ``"relay": true``: the meeting stays where the page's
        media failed (its own network, as far as anyone can tell): retry through TURN."""
        self.request.response.setHeader("Content-Type", "application/json")
        self.request.response.setHeader("Cache-Control", "no-store")
        who = getattr(self, "room_who", "")
        failed = self.failed_media_node()
        stays = False
        if failed:
            stays = report_media_failure(meeting, failed, self._reporter(who), self.room_role)
        token = join_token_for(meeting, self.room_role, display_name, who=who)
        answer = {"token": token, "server": media_node_for(meeting)}
        if stays and answer["server"] == failed:
            answer["relay"] = True
        return json.dumps(answer)

    def failed_media_node(self) -> str:
        """The node the page reports its media failed on (``{"failed": <its WebSocket
        URL>}`` as JSON in the POST body; never in the URL), or ""."""
        if "application/json" not in (self.request.getHeader("Content-Type") or ""):
            return ""  # an older page: no report
        try:
            data = json_object(self.request)
        except InputRefused:
            return ""
        failed = data.get("failed")
        return failed if isinstance(failed, str) and len(failed) <= 500 else ""

    def _reporter(self, who: str) -> str:
        """Who reports, opaque and stable per person in this meeting."""
        if self.room_role == "staff":
            user = api.user.get_current().getId()
            return hashlib.sha256(f"staff|{user}".encode()).hexdigest()[:16]
        return f"participant|{who or 'invitee'}"
