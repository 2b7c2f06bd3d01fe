"""Upgrade 1000 → 1001: the setting for the longest meeting appears on an existing site."""

from plone import api
from plone.registry.interfaces import IRegistry
from zope.component import getUtility

PROFILE = "prorenata.videomote:default"
RECORD = "prorenata.videomote.max_meeting_minutes"


def test_the_longest_meeting_setting_has_its_default(portal):
    assert api.portal.get_registry_record(RECORD) == 240


def test_upgrading_a_1000_site_adds_the_longest_meeting_setting_and_keeps_the_others(portal):
    registry = getUtility(IRegistry)
    del registry.records[RECORD]
    api.portal.set_registry_record("prorenata.videomote.code_lifetime_minutes", 7)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1000")
    steps = setup.listUpgrades(PROFILE)
    assert steps, "no upgrade step from 1000"
    setup.upgradeProfile(PROFILE, dest="1001")
    assert setup.getLastVersionForProfile(PROFILE) == ("1001",)
    assert api.portal.get_registry_record(RECORD) == 240
    assert api.portal.get_registry_record("prorenata.videomote.code_lifetime_minutes") == 7
