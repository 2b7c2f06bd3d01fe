"""What Plone shows around the add-on's pages.

Portlets: plone.app.event's "Upcoming Events" (assigned at the site root by its profile,
English on a Swedish site: plone.app.locales lacks the Swedish words) lists meeting titles
on every page where it is shown, the meeting room included, on a screen that may be shared
in the meeting. The add-on's pages (its views and services, and Plone's pages of its
content, see ``headers.policy_for``) therefore show no portlet columns at all: its own
"Kalender" and "Dagens aktiviteter" show each staff member their own meetings. The room
and the participant's pages have no editing toolbar either (its markup and scripts use
inline styles that their Content-Security-Policy refuses, and it is not needed there).
"""

from html import escape
from plone import api
from plone.app.layout.viewlets.common import TitleViewlet
from plone.app.layout.viewlets.common import ViewletBase
from plone.base.interfaces import IPloneSiteRoot
from prorenata.videomote import _
from prorenata.videomote.browser.headers import SITE
from prorenata.videomote.browser.headers import STAFF
from prorenata.videomote.browser.headers import STRICT
from prorenata.videomote.browser.headers import policy_for
from zope.i18n import translate

NO_PORTLETS = ("disable_plone.leftcolumn", "disable_plone.rightcolumn")


def addon_page_layout(event) -> None:
    """IPubAfterTraversal: what is published is known, nothing is rendered yet."""
    request = event.request
    policy = policy_for(request)
    if policy in (None, SITE):
        return
    for flag in NO_PORTLETS:
        request.set(flag, True)
    if policy == STRICT:
        request.set("disable_toolbar", True)


class AddonAssetsViewlet(ViewletBase):
    """The add-on's stylesheet and script in the head of its staff and administrator pages
    (and of the home page, which shows "Dagens aktiviteter"): besides the add-on's own
    markup they mend, on these pages only, what in Plone's chrome falls short of WCAG 2.1
    AA there (contrast of the search button, breadcrumbs and footer links; the toolbar's
    pin links, which are named but are no buttons). Viewlets are ZCML, not profile: no
    registry bundle, so nothing to upgrade."""

    def available(self) -> bool:
        policy = policy_for(self.request)
        if policy == STAFF:
            return True
        return policy == SITE and IPloneSiteRoot.providedBy(self.context)

    def render(self) -> str:
        if not self.available():
            return ""
        base = f"{api.portal.get().absolute_url()}/++plone++prorenata.videomote"
        return (
            f'<link rel="stylesheet" href="{escape(base)}/videomote.css" />\n'
            f'<script defer src="{escape(base)}/videomote.js"></script>'
        )


# The add-on's pages whose object is not what they show (on the site root, or an action on
# a meeting): each gets its own title (WCAG 2.4.2) instead of the site's or the meeting's.
PAGE_TITLES = {
    "videomote-kalender": _("Kalender"),
    "videomote-boka": _("Nytt videomöte"),
    "videomote-flytta": _("Flytta videomöte"),
    "videomote-avboka": _("Avboka videomöte"),
    "videomote-utkorg-epost": _("E-post som inte har skickats ännu"),
    "videomote-sms-utkorg": _("SMS-utkorg (demo)"),
    "videomote-granskningslogg": _("Granskningslogg"),
    "videomote-kalenderkoppling": _("Kalenderkoppling"),
    "videomote-controlpanel": _("Inställningar för Videomöte"),
}


class PageTitleViewlet(TitleViewlet):
    """Plone's title, with the add-on page's own name in front ("Kalender — Plone"), and
    "Fel:" before it when the page reports an error to a form that was sent."""

    def update(self) -> None:
        super().update()
        name = getattr(self.view, "__name__", "") or ""
        title = PAGE_TITLES.get(name)
        if title is None or policy_for(self.request) != STAFF:
            return
        text = escape(translate(title, context=self.request))
        if _has_errors(self.view):
            text = f"{escape(translate(_('Fel:'), context=self.request))} {text}"
        self.site_title = self.sep.join([text, self.site_title_setting])


def _has_errors(view) -> bool:
    errors = getattr(view, "errors", None)
    return bool(errors) and isinstance(errors, dict)
