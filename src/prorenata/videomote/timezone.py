"""The one place that decides which time zone a meeting, a page or the calendar uses.

A meeting's zone is its own ``meeting_timezone``, fixed when it is booked. New meetings,
the calendar pages and the CalDAV calendars use the configured zone: the control
panel's "Tidszon" (``prorenata.videomote.timezone``), without it the zone
plone.app.event decides for the site (``plone.app.event.base.default_timezone``).
Plone's own ``plone.portal_timezone`` is therefore not the zone of a meeting: its edit
form is told the meeting's zone (``content/edit_times.py``).

Times carry pytz zones, as plone.app.event stores them: zoneinfo objects do not pickle
into the ZODB (its pickler cannot name ``ZoneInfo._unpickle``), and plone.app.event and
plone.restapi read a stored time's zone back by its ``tzinfo.zone`` name. zoneinfo is
read directly only where no time is stored: ``calendar_zone`` derives a zone's VTIMEZONE
rules from its transitions, and ``caldav_bridge/events.py`` reads the zones that
calendar events name themselves.

The functions that need no site (``zone``, ``is_zone``, ``localize``, ``now_in``) touch
no Zope state, so plain code (the iMIP builder) calls them too; ``configured_zone`` and
``meeting_zone`` read the site's settings.
"""

from datetime import datetime
from plone import api
from plone.app.event.base import default_timezone

import pytz

#: Only when neither the control panel nor Plone names a zone (a site being set up).
FALLBACK_ZONE = "Europe/Stockholm"

NonExistentTime = pytz.NonExistentTimeError


def zone(name: str | None):
    """The tzinfo for the IANA zone ``name`` (the fallback zone for an empty one)."""
    return pytz.timezone(name or FALLBACK_ZONE)


def is_zone(name) -> bool:
    """Whether ``name`` is an IANA zone a meeting can have."""
    return isinstance(name, str) and name in pytz.all_timezones_set


def localize(value: datetime, name: str) -> datetime:
    """``value`` in zone ``name``: a naive value is a wall-clock time there.

    A wall-clock time that exists twice (the hour the clock goes back) is read in
    standard (winter) time; one that does not exist (the hour skipped in spring) raises
    :data:`NonExistentTime`. An aware value is converted to the same instant.
    """
    tz = zone(name)
    if value.tzinfo is not None:
        return value.astimezone(tz)
    try:
        return tz.localize(value, is_dst=None)
    except pytz.AmbiguousTimeError:
        return tz.localize(value, is_dst=False)


def configured_zone(context=None) -> str:
    """The zone of new meetings, the calendar pages and the CalDAV calendars."""
    name = api.portal.get_registry_record("prorenata.videomote.timezone", default=None)
    return name or default_timezone(context or api.portal.get()) or FALLBACK_ZONE


def meeting_zone(meeting) -> str:
    """The zone ``meeting`` was booked in (the configured one for a meeting without)."""
    return getattr(meeting, "meeting_timezone", None) or configured_zone()


def now_in(name: str) -> datetime:
    """The current time as a wall clock in zone ``name`` shows it."""
    return datetime.now(zone(name))
