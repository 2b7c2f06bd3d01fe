"""1000 → 1001: the registry record for the longest meeting (``max_meeting_minutes``)."""

from plone.registry.interfaces import IRegistry
from prorenata.videomote.interfaces import IVideomoteSettings
from zope.component import getUtility


def add_max_meeting_minutes(context=None) -> None:
    """Add the settings' new records (the others keep their values)."""
    getUtility(IRegistry).registerInterface(IVideomoteSettings, prefix="prorenata.videomote")
