"""1000 → 1001: the SMS limit per meeting beside the one per sign-in (browser)."""

from plone import api
from prorenata.videomote.interfaces import IVideomoteSettings


def add_sms_limit_per_meeting(context) -> None:
    """Register ``sms_per_meeting_per_hour`` (default 20) and the settings' new titles;
    values already set are kept (``registerInterface`` keeps valid existing values)."""
    registry = api.portal.get_tool("portal_registry")
    registry.registerInterface(IVideomoteSettings, prefix="prorenata.videomote")
