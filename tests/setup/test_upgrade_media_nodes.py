"""Upgrade 1002 → 1003: the media nodes setting appears on an existing site, empty, and
the single media server keeps serving every meeting until nodes are listed."""

from plone import api
from plone.registry.interfaces import IRegistry
from prorenata.videomote.access.media_room import media_nodes
from zope.component import getUtility

PROFILE = "prorenata.videomote:default"
RECORD = "prorenata.videomote.media_nodes"
SINGLE = "prorenata.videomote.media_server_url"


def test_a_new_site_lists_no_media_nodes_and_uses_the_media_server(portal):
    assert api.portal.get_registry_record(RECORD) == []
    api.portal.set_registry_record(SINGLE, "wss://media.example.se/ws")
    assert media_nodes() == ["wss://media.example.se/ws"]


def test_upgrading_a_1002_site_adds_media_nodes_and_keeps_the_media_server(portal):
    registry = getUtility(IRegistry)
    del registry.records[RECORD]
    api.portal.set_registry_record(SINGLE, "wss://media.example.se/ws")
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1002")
    assert setup.listUpgrades(PROFILE), "no upgrade step from 1002"
    setup.upgradeProfile(PROFILE)
    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    assert api.portal.get_registry_record(RECORD) == []
    assert api.portal.get_registry_record(SINGLE) == "wss://media.example.se/ws"
    nodes = ["wss://media1.example.se/ws", "wss://media2.example.se/ws"]
    api.portal.set_registry_record(RECORD, nodes)
    assert media_nodes() == nodes
