"""The control panel "Videomöte", in classic UI and in plone.restapi."""

from plone.app.registry.browser.controlpanel import ControlPanelFormWrapper
from plone.app.registry.browser.controlpanel import RegistryEditForm
from plone.restapi.controlpanels import RegistryConfigletPanel
from plone.z3cform import layout
from prorenata.videomote import _
from prorenata.videomote.interfaces import IVideomoteLayer
from prorenata.videomote.interfaces import IVideomoteSettings
from zope.component import adapter
from zope.interface import Interface

SETTINGS_PREFIX = "prorenata.videomote"


class VideomoteSettingsForm(RegistryEditForm):
    schema = IVideomoteSettings
    schema_prefix = SETTINGS_PREFIX
    label = _("Videomöte")
    description = _(
        "Inställningar för Säkert Videomöte: adresser, avsändare, SMS-tjänst, "
        "mediaserver och hur länge koder och sessioner gäller."
    )


VideomoteControlPanelView = layout.wrap_form(VideomoteSettingsForm, ControlPanelFormWrapper)


@adapter(Interface, IVideomoteLayer)
class VideomoteControlpanel(RegistryConfigletPanel):
    """The same settings at ``@controlpanels/videomote``."""

    schema = IVideomoteSettings
    schema_prefix = SETTINGS_PREFIX
    configlet_id = "videomote"
    configlet_category_id = "Products"
