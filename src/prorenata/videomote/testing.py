"""plone.app.testing layers for the add-on."""

from plone import api
from plone.app.testing import PLONE_FIXTURE
from plone.app.testing import FunctionalTesting
from plone.app.testing import IntegrationTesting
from plone.app.testing import PloneSandboxLayer
from plone.app.testing import applyProfile
from plone.testing.zope import WSGIServer
from prorenata.videomote.wsgi import strip_revealing_headers

import plone.app.event
import plone.restapi
import prorenata.videomote


class VideomoteLayer(PloneSandboxLayer):
    """A Plone site with the add-on activated (profile ``prorenata.videomote:default``)."""

    defaultBases = (PLONE_FIXTURE,)

    def setUpZope(self, app, configurationContext):
        self.loadZCML(package=plone.app.event)
        self.loadZCML(package=plone.restapi)
        self.loadZCML(package=prorenata.videomote)

    def setUpPloneSite(self, portal):
        applyProfile(portal, "plonetheme.barceloneta:default")
        applyProfile(portal, "prorenata.videomote:default")
        # Like the demo and the journal: a Swedish site, English available.
        portal.setLanguage("sv")
        api.portal.set_registry_record("plone.default_language", "sv")
        api.portal.set_registry_record("plone.available_languages", ["sv", "en"])


VIDEOMOTE_FIXTURE = VideomoteLayer()


class VideomoteWSGIServer(WSGIServer):
    """plone.testing's WSGI server with the instance's own filter (etc/zope.ini.in), so
    functional tests see the headers a real instance sends."""

    def make_wsgi_app(self):
        return strip_revealing_headers(super().make_wsgi_app())


VIDEOMOTE_WSGI_SERVER_FIXTURE = VideomoteWSGIServer(
    name="VideomoteWSGIServer", module="prorenata.videomote.testing"
)

VIDEOMOTE_INTEGRATION_TESTING = IntegrationTesting(
    bases=(VIDEOMOTE_FIXTURE,),
    name="VideomoteLayer:IntegrationTesting",
)

VIDEOMOTE_FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(VIDEOMOTE_FIXTURE, VIDEOMOTE_WSGI_SERVER_FIXTURE),
    name="VideomoteLayer:FunctionalTesting",
)
