"""Texts for places without a reader's request: the site's own language.

The mail and calendar workers write texts that someone reads later elsewhere (a CalDAV
event's description in the clinician's calendar program). They have no browser request
to negotiate a language from, so they use the site's default language (Swedish unless
the site is set to another). Texts shown later in Plone are stored as message ids
instead and translated for whoever looks.
"""

from plone import api
from zope.i18n import translate


def site_language() -> str:
    """The site's default language (``sv`` when no site is at hand)."""
    try:
        return api.portal.get_default_language() or "sv"
    except api.exc.CannotGetPortalError:
        return "sv"


def in_site_language(message) -> str:
    """``message`` (a message id, or a plain text kept as is) in the site's language."""
    return translate(message, target_language=site_language())
