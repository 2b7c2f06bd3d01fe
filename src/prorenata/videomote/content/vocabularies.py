"""Vocabularies: the student/patient records the current user may book for."""

from plone.base.utils import safe_text
from Products.CMFCore.utils import getToolByName
from prorenata.videomote.behaviors.contact_details import IContactDetails
from zope.component.hooks import getSite
from zope.interface import provider
from zope.schema.interfaces import IVocabularyFactory
from zope.schema.vocabulary import SimpleTerm
from zope.schema.vocabulary import SimpleVocabulary


@provider(IVocabularyFactory)
def patients_vocabulary(context):
    """Every record with contact details the user can see, by name; token = UID."""
    catalog = getToolByName(getSite(), "portal_catalog")
    brains = catalog(
        object_provides=IContactDetails.__identifier__,
        sort_on="sortable_title",
    )
    return SimpleVocabulary(
        [SimpleTerm(brain.UID, brain.UID, safe_text(brain.Title)) for brain in brains]
    )
