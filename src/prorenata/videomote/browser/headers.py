"""Security headers on every answer of a site where the add-on is active.

Three policies, chosen per request after publishing (and after an error page):

``strict``  the participant's pages (``/videomote/...``) and the staff room
            (``@@videomote-rum``): a Content-Security-Policy that allows scripts, styles,
            images and connections only from the site itself, plus the WebSocket origins
            of the media server or of every media node (a page may fail over to any);
            camera and microphone streams (``blob:``, ``mediastream:``); never framed
            (``frame-ancestors 'none'``); no referrer.
``staff``   every other page and REST answer of the add-on, and Plone's own pages of its
            content (a meeting's or student's edit form, history, folder listing): never
            framed by another site, ``Referrer-Policy: same-origin``, no MIME sniffing.
            Plone's own markup needs inline scripts and styles, so no script policy here.
``site``    anything else on the site: ``Referrer-Policy: same-origin`` (what staff open
            names records; addresses stay on the site).

A header a view has set itself (the participant pages' ``no-referrer``) is kept.
"""

from Acquisition import aq_base
from collections.abc import Sequence
from plone import api
from prorenata.videomote.access.media_room import media_nodes
from prorenata.videomote.behaviors.contact_details import IContactDetails
from prorenata.videomote.browser.meetings import RoomView
from prorenata.videomote.browser.participant import ParticipantView
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.interfaces import IVideomoteLayer
from urllib.parse import urlsplit

import re

STRICT, STAFF, SITE = "strict", "staff", "site"

# A host name, an IPv4 or an IPv6 address: nothing that could end a CSP directive.
_HOST = re.compile(r"^[A-Za-z0-9.-]+$")
_IPV6 = re.compile(r"^[0-9A-Fa-f:.]+$")


def media_origin(url: str | None) -> str | None:
    """``ws(s)://host[:port]`` of the media server's WebSocket URL, or None when the
    setting is empty or not such a URL (then the room can reach no other origin)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if ":" in host and _IPV6.match(host):
        host = f"[{host}]"
    elif not _HOST.match(host):
        return None
    if parts.scheme not in ("ws", "wss"):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def strict_policy(media_url: str | Sequence[str] | None) -> str:
    """The participant's and the room's Content-Security-Policy (``media_url``: the
    media server's URL, or every media node's: a page may fail over to any of them)."""
    urls = [media_url] if isinstance(media_url, str) or media_url is None else media_url
    connect = "'self'"
    for origin in dict.fromkeys(media_origin(url) for url in urls):
        if origin:
            connect += f" {origin}"
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob: mediastream:",
            f"connect-src {connect}",
            "object-src 'none'",
            "frame-src 'none'",
            "worker-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        )
    )


STAFF_POLICY = "frame-ancestors 'self'; base-uri 'self'; object-src 'none'"


def headers_for(policy: str, media_url: str | Sequence[str] | None = None) -> dict[str, str]:
    """The headers of one policy (plain: no Zope)."""
    if policy == STRICT:
        return {
            "Content-Security-Policy": strict_policy(media_url),
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    if policy == STAFF:
        return {
            "Content-Security-Policy": STAFF_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        }
    return {"Referrer-Policy": "same-origin"}


def _is_ours(obj) -> bool:
    """A view or service of this add-on (ZCML's generated view classes included)."""
    if obj is None:
        return False
    return any(
        (klass.__module__ or "").startswith("prorenata.videomote.") for klass in type(obj).__mro__
    )


def _is_our_content(obj) -> bool:
    obj = aq_base(obj)
    return IVideoMeeting.providedBy(obj) or IContactDetails.providedBy(obj)


def policy_for(request) -> str | None:
    """Which policy the answer to ``request`` gets; None outside an add-on site."""
    if not IVideomoteLayer.providedBy(request):
        return None
    published = request.get("PUBLISHED")
    published = getattr(published, "__self__", published)  # a view's method
    # What was traversed too: an error below /videomote still is the participant's page.
    chain = [published, *request.get("PARENTS", ())]
    if any(isinstance(obj, ParticipantView | RoomView) for obj in chain):
        return STRICT
    form = getattr(published, "form_instance", None)  # a control panel's form wrapper
    if _is_ours(published) or _is_ours(form):
        return STAFF
    if any(_is_our_content(obj) for obj in chain if obj is not None):
        return STAFF
    return SITE


def _media_urls() -> list[str]:
    try:
        return media_nodes()
    except api.exc.CannotGetPortalError:
        return []


def set_security_headers(event) -> None:
    """IPubBeforeCommit / IPubBeforeAbort: the answer (or the error page) is ready."""
    request = event.request
    policy = policy_for(request)
    if policy is None:
        return
    response = request.response
    media_url = _media_urls() if policy == STRICT else None
    for name, value in headers_for(policy, media_url).items():
        if name == "Referrer-Policy" and response.getHeader(name):
            continue  # the view chose one (the participant's no-referrer)
        response.setHeader(name, value)
