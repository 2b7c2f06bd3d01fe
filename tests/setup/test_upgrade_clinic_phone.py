"""Upgrade 1001 → 1002: the clinic's phone number setting appears on an existing site."""

from plone import api
from plone.registry.interfaces import IRegistry
from zope.component import getUtility

PROFILE = "prorenata.videomote:default"
RECORD = "prorenata.videomote.clinic_phone"


def test_the_clinic_phone_is_empty_on_a_new_site(portal):
    assert api.portal.get_registry_record(RECORD) is None


def test_upgrading_a_1001_site_adds_the_clinic_phone_and_keeps_the_other_settings(portal):
    registry = getUtility(IRegistry)
    del registry.records[RECORD]
    api.portal.set_registry_record("prorenata.videomote.code_lifetime_minutes", 7)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1001")
    assert setup.listUpgrades(PROFILE), "no upgrade step from 1001"
    setup.upgradeProfile(PROFILE)
    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    assert RECORD in registry.records
    assert api.portal.get_registry_record(RECORD) is None
    assert api.portal.get_registry_record("prorenata.videomote.code_lifetime_minutes") == 7
    api.portal.set_registry_record(RECORD, "08-123 456 78")
    assert api.portal.get_registry_record(RECORD) == "08-123 456 78"
