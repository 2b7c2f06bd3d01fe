"""Activating the service (installing the profile) and removing it again."""

from AccessControl.Permission import getPermissionIdentifier
from plone import api
from plone.base.utils import get_installer
from plone.browserlayer import utils as browserlayer_utils
from plone.registry.interfaces import IRegistry
from prorenata.videomote import PACKAGE_NAME
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.setuphandlers import PERMISSIONS
from zope.component import getUtility

import pytest

TYPES = ("Patient", "VideoMeeting")


def _registry_keys():
    return [key for key in getUtility(IRegistry).records if key.startswith(PACKAGE_NAME + ".")]


def test_activating_the_service_installs_the_profile(portal):
    assert get_installer(portal).is_product_installed(PACKAGE_NAME)


def test_browser_layer_is_registered(portal):
    assert IVideomoteLayer in browserlayer_utils.registered_layers()


def test_settings_have_their_defaults(portal):
    assert api.portal.get_registry_record("prorenata.videomote.timezone") == "Europe/Stockholm"
    assert api.portal.get_registry_record("prorenata.videomote.code_lifetime_minutes") == 5
    assert api.portal.get_registry_record("prorenata.videomote.sms_gateway") == "outbox"


def test_staff_role_and_permissions(portal):
    assert "Clinician" in portal.valid_roles()
    roles = {
        r["name"]
        for r in portal.rolesOfPermission("prorenata.videomote: View audit log")
        if r["selected"]
    }
    assert roles == {"Manager", "Site Administrator"}
    roles = {
        r["name"]
        for r in portal.rolesOfPermission("prorenata.videomote: Manage video meetings")
        if r["selected"]
    }
    assert "Clinician" in roles


def test_records_are_never_public(portal):
    workflow = api.portal.get_tool("portal_workflow")
    for type_id in TYPES:
        assert workflow.getChainForPortalType(type_id) == ("videomote_record_workflow",)
    state = workflow["videomote_record_workflow"].states["internal"]
    assert "Anonymous" not in state.getPermissionInfo("View")["roles"]
    assert "Authenticated" not in state.getPermissionInfo("View")["roles"]


def test_control_panel_is_listed(portal):
    actions = [a.getId() for a in api.portal.get_tool("portal_controlpanel").listActions()]
    assert "videomote" in actions


@pytest.fixture
def uninstalled(portal):
    get_installer(portal).uninstall_product(PACKAGE_NAME)
    return portal


def test_uninstall_marks_the_product_uninstalled(uninstalled):
    assert not get_installer(uninstalled).is_product_installed(PACKAGE_NAME)


def test_uninstall_removes_the_browser_layer(uninstalled):
    assert IVideomoteLayer not in browserlayer_utils.registered_layers()


def test_uninstall_removes_every_registry_record(uninstalled):
    assert _registry_keys() == []


def test_uninstall_removes_types_and_workflow(uninstalled):
    types = api.portal.get_tool("portal_types")
    for type_id in TYPES:
        assert type_id not in types.objectIds()
    assert "videomote_record_workflow" not in api.portal.get_tool("portal_workflow").objectIds()


def test_uninstall_removes_control_panel_role_and_permissions(uninstalled):
    actions = [a.getId() for a in api.portal.get_tool("portal_controlpanel").listActions()]
    assert "videomote" not in actions
    assert "Clinician" not in uninstalled.valid_roles()
    for permission in PERMISSIONS:
        assert getPermissionIdentifier(permission) not in uninstalled.__dict__


def test_reinstall_after_uninstall_works(uninstalled):
    get_installer(uninstalled).install_product(PACKAGE_NAME)
    assert get_installer(uninstalled).is_product_installed(PACKAGE_NAME)
    assert "Patient" in api.portal.get_tool("portal_types").objectIds()


INDEXES = ("meeting_organiser", "meeting_state", "meeting_code_hash", "join_token_hash")


def test_meeting_indexes_exist(portal):
    indexes = api.portal.get_tool("portal_catalog").indexes()
    assert set(INDEXES) <= set(indexes)


def test_uninstall_removes_the_meeting_indexes(uninstalled):
    indexes = api.portal.get_tool("portal_catalog").indexes()
    assert not set(INDEXES) & set(indexes)
