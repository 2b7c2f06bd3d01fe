"""1003 → 1004: the registry records of the reminders (e-mail and SMS before a meeting).

Meetings booked before the upgrade get no reminders planned: they were booked without
any, and their participants were told nothing about one. Meetings booked or moved
afterwards do.
"""

from plone.registry.interfaces import IRegistry
from prorenata.videomote.interfaces import IVideomoteSettings
from zope.component import getUtility


def add_reminder_settings(context=None) -> None:
    """Add the settings' new records with their defaults (the others keep their values)."""
    getUtility(IRegistry).registerInterface(IVideomoteSettings, prefix="prorenata.videomote")
