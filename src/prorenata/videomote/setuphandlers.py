"""Install and uninstall handlers: what GenericSetup XML cannot express."""

from AccessControl.Permission import getPermissionIdentifier
from plone import api
from plone.base.interfaces import INonInstallable
from prorenata.videomote import logger
from zope.interface import implementer

STAFF_ROLE = "Clinician"

PERMISSIONS = (
    "prorenata.videomote: Add Patient",
    "prorenata.videomote: Add VideoMeeting",
    "prorenata.videomote: Manage video meetings",
    "prorenata.videomote: View personal identity number",
    "prorenata.videomote: View audit log",
    "prorenata.videomote: Contact details outside the audited meeting views",
)


@implementer(INonInstallable)
class HiddenProfiles:
    def getNonInstallableProfiles(self):
        """Hide the uninstall profile from the add-on control panel."""
        return ["prorenata.videomote:uninstall"]


def post_install(context):
    """Activating the service: nothing beyond the profile yet."""
    logger.info("Säkert Videomöte activated")


def uninstall(context):
    """Remove the staff role and the permission settings that rolemap.xml added but
    cannot take away."""
    portal = api.portal.get()
    if STAFF_ROLE in portal.__ac_roles__:
        portal.__ac_roles__ = tuple(r for r in portal.__ac_roles__ if r != STAFF_ROLE)
    for permission in PERMISSIONS:
        attribute = getPermissionIdentifier(permission)
        if attribute in portal.__dict__:
            delattr(portal, attribute)
    logger.info("Säkert Videomöte removed")
