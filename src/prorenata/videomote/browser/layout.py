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

from prorenata.videomote.browser.headers import SITE
from prorenata.videomote.browser.headers import STRICT
from prorenata.videomote.browser.headers import policy_for

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
