"""1001 → 1002: the registry record for the clinic's phone number (``clinic_phone``)."""

from plone.registry.interfaces import IRegistry
from prorenata.videomote.interfaces import IVideomoteSettings
from zope.component import getUtility


def add_clinic_phone(context=None) -> None:
    """Add the settings' new records (the others keep their values)."""
    getUtility(IRegistry).registerInterface(IVideomoteSettings, prefix="prorenata.videomote")
