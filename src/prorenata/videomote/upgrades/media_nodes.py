"""1002 → 1003: the registry record listing several media nodes (``media_nodes``)."""

from plone.registry.interfaces import IRegistry
from prorenata.videomote.interfaces import IVideomoteSettings
from zope.component import getUtility


def add_media_nodes(context=None) -> None:
    """Add the settings' new record, empty: the single ``media_server_url`` stays in use
    until an administrator lists nodes (the other records keep their values)."""
    getUtility(IRegistry).registerInterface(IVideomoteSettings, prefix="prorenata.videomote")
