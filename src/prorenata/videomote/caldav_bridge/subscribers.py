"""Any change to a meeting makes its organiser's calendar due for a sync."""

from plone import api
from prorenata.videomote.caldav_bridge.accounts import mark_dirty


def meeting_changed(meeting, event) -> None:
    organiser = getattr(meeting, "organiser", None)
    if organiser:
        mark_dirty(api.portal.get(), organiser)
