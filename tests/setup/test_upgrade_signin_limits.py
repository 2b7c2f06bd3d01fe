"""Upgrading a site from profile version 1000: the SMS limit per meeting."""

from plone import api
from plone.registry.interfaces import IRegistry
from zope.component import getUtility

PROFILE = "prorenata.videomote:default"
PER_MEETING = "prorenata.videomote.sms_per_meeting_per_hour"
PER_SIGNIN = "prorenata.videomote.sms_per_hour"


def test_upgrade_from_1000_adds_the_sms_limit_per_meeting_and_keeps_the_settings(portal):
    registry = getUtility(IRegistry)
    del registry.records[PER_MEETING]  # as a site at version 1000 has it
    api.portal.set_registry_record(PER_SIGNIN, 3)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1000")

    setup.upgradeProfile(PROFILE, dest="1001")

    assert setup.getLastVersionForProfile(PROFILE) == ("1001",)
    assert api.portal.get_registry_record(PER_MEETING) == 20
    assert api.portal.get_registry_record(PER_SIGNIN) == 3  # the administrator's value
    assert registry.records[PER_SIGNIN].field.title == "Högst antal SMS per inloggning och timme"
