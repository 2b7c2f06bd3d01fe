"""1000 → 1001: a meeting's access follows its record; only administrators delete.

Re-imports the rolemap (the invitee's contact details outside the audited views: no role)
and the record workflow (Delete objects only for Manager and Site Administrator), then
for every record and meeting under that workflow applies the new role mappings, drops
the roles given on meetings themselves (the booker's Owner) and reindexes their security,
so the catalog's listings and searches follow the records.
"""

from plone import api
from prorenata.videomote import logger
from prorenata.videomote.content.meeting import IVideoMeeting
from prorenata.videomote.content.security import drop_local_roles

PROFILE = "profile-prorenata.videomote:default"
WORKFLOW = "videomote_record_workflow"


def types_with_workflow(workflow_id: str) -> list[str]:
    """The content types bound to ``workflow_id`` (ours, or a journal's own record type)."""
    chain = api.portal.get_tool("portal_workflow").getChainForPortalType
    types = api.portal.get_tool("portal_types").listContentTypes()
    return [type_id for type_id in types if workflow_id in chain(type_id)]


def meetings_follow_their_records(context) -> None:
    setup = api.portal.get_tool("portal_setup")
    setup.runImportStepFromProfile(PROFILE, "rolemap", run_dependencies=False)
    setup.runImportStepFromProfile(PROFILE, "workflow", run_dependencies=False)
    workflow = api.portal.get_tool("portal_workflow").getWorkflowById(WORKFLOW)
    catalog = api.portal.get_tool("portal_catalog")
    changed = 0
    for brain in catalog.unrestrictedSearchResults(portal_type=types_with_workflow(WORKFLOW)):
        obj = brain._unrestrictedGetObject()
        updated = workflow.updateRoleMappingsFor(obj)
        if IVideoMeeting.providedBy(obj):
            updated = drop_local_roles(obj) or updated
        if updated:
            obj.reindexObject(idxs=["allowedRolesAndUsers"])
            changed += 1
    logger.info("Records and meetings now share access; %d objects updated", changed)
