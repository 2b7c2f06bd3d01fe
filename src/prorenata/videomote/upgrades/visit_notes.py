"""1003 → 1004: the visit note ("Besöksanteckning") and its workflow.

Imports the ``VisitNote`` type, the workflow ``videomote_visit_note_workflow`` (draft →
signed) bound to it, and the rolemap (``Add VisitNote``: Manager only; notes are made by
the journal when a meeting ends). Meetings that ended before have no recorded attendance
and get no outcome or note; everything else stays as it was.
"""

from plone import api
from prorenata.videomote import logger

PROFILE = "profile-prorenata.videomote:default"


def add_visit_notes(context=None) -> None:
    setup = api.portal.get_tool("portal_setup")
    for step in ("rolemap", "typeinfo", "workflow"):
        setup.runImportStepFromProfile(PROFILE, step, run_dependencies=False)
    logger.info("Visit notes installed (type VisitNote, videomote_visit_note_workflow)")
