"""Upgrade 1003 → 1004: the reminder settings appear on an existing site with their
defaults (e-mail 24 hours before, SMS one hour before, both on), other settings kept."""

from plone import api
from plone.registry.interfaces import IRegistry
from prorenata.videomote.notify.reminders import reminder_settings
from zope.component import getUtility

import transaction

PROFILE = "prorenata.videomote:default"
RECORDS = {
    "prorenata.videomote.reminder_email_enabled": True,
    "prorenata.videomote.reminder_email_hours": 24,
    "prorenata.videomote.reminder_sms_enabled": True,
    "prorenata.videomote.reminder_sms_minutes": 60,
}


def test_a_new_site_has_the_reminder_settings(portal):
    for name, value in RECORDS.items():
        assert api.portal.get_registry_record(name) == value


def test_upgrading_a_1003_site_adds_the_reminder_settings_and_keeps_the_others(portal):
    registry = getUtility(IRegistry)
    for name in RECORDS:
        del registry.records[name]
    api.portal.set_registry_record("prorenata.videomote.sms_per_hour", 3)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1003")
    assert setup.listUpgrades(PROFILE), "no upgrade step from 1003"
    setup.upgradeProfile(PROFILE, dest="1004")
    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    for name, value in RECORDS.items():
        assert api.portal.get_registry_record(name) == value
    assert api.portal.get_registry_record("prorenata.videomote.sms_per_hour") == 3
    settings = reminder_settings()
    assert settings.sms_on and settings.sms_before.total_seconds() == 3600


def test_the_control_panel_shows_and_saves_the_reminder_settings_in_swedish(browser, functional):
    browser.open(functional["portal"].absolute_url() + "/@@videomote-controlpanel")
    for label in (
        "Skicka påminnelse med e-post",
        "E-postpåminnelsen skickas så här många timmar före start",
        "Skicka påminnelse med SMS",
        "SMS-påminnelsen skickas så här många minuter före start",
    ):
        assert label in browser.contents
    browser.getControl(name="form.widgets.reminder_sms_minutes").value = "30"
    browser.getControl(name="form.widgets.reminder_sms_enabled:list").value = False
    browser.getControl(name="form.buttons.save").click()
    transaction.begin()
    settings = reminder_settings()
    assert not settings.sms_on and settings.sms_before.total_seconds() == 1800
