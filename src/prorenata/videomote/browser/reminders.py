"""The meeting dialog's "Påminnelser": which reminders go out, and what became of them.

A fragment of its own (``@@videomote-paminnelser``), included in the dialog's list of
details, so the dialog's view stays as it was.
"""

from datetime import datetime
from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from prorenata.videomote import _
from prorenata.videomote.audit.record import record_viewed
from prorenata.videomote.notify.reminders import reminders_of
from zope.i18n import translate
from zope.interface import alsoProvides

CHANNELS = {"email": _("E-post"), "sms": _("SMS")}
STATUSES = {
    "planned": _("Planerad"),
    "sent": _("Skickad"),
    "failed": _("Kunde inte skickas ännu – nya försök görs automatiskt"),
    "refused": _("Kunde inte skickas: mottagarens e-postserver tog inte emot adressen"),
}
DROPPED = {
    "cancelled": _("Skickas inte: mötet är avbokat"),
    "ended": _("Skickades inte: mötet var avslutat"),
    "started": _("Skickades inte: mötet hade redan börjat"),
    "moved": _("Skickas inte: mötet har flyttats"),
    "off": _("Skickades inte: påminnelser är avstängda"),
    "gone": _("Skickas inte: mötet är borttaget"),
}
NOT_SENT = _("Skickas inte")


class RemindersView(BrowserView):
    """``<dt>``/``<dd>`` of the reminders for the meeting's current time.

    How and when the family is reminded, and whether it reached them, is the meeting's
    data: audited, once with the dialog that includes it, by its own name if opened
    alone."""

    def __call__(self):
        alsoProvides(self.request, IDisableCSRFProtection)
        record_viewed(self.context, "paminnelser", self.request)
        return self.index()

    def _t(self, message) -> str:
        return translate(message, context=self.request)

    def rows(self) -> list[dict]:
        rows = []
        for reminder in reminders_of(self.context):
            due = datetime.fromisoformat(reminder["due"])
            if reminder["status"] == "dropped":
                status = DROPPED.get(reminder.get("reason"), NOT_SENT)
            else:
                status = STATUSES.get(reminder["status"], reminder["status"])
            rows.append(
                {
                    "channel": self._t(CHANNELS.get(reminder["channel"], reminder["channel"])),
                    "when": self._t(
                        _(
                            "${date} kl. ${time}",
                            mapping={"date": f"{due:%Y-%m-%d}", "time": f"{due:%H.%M}"},
                        )
                    ),
                    "status": self._t(status),
                    "problem": reminder["status"] in ("failed", "refused"),
                }
            )
        return rows
