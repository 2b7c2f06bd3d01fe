"""Any change to a meeting puts it on its organiser's list for the next (incremental) round."""

from plone import api
from prorenata.videomote.caldav_bridge.accounts import mark_meeting_changed
from prorenata.videomote.content.meeting import new_ical_uid


def meeting_changed(meeting, event) -> None:
    organiser = getattr(meeting, "organiser", None)
    meeting_uid = meeting.UID()
    if not organiser or not meeting_uid:
        return  # not booked yet (created, not added): its added event follows
    if "ical_uid" not in meeting.__dict__:
        # The field's default is made anew on each read until stored (as booking does).
        meeting.ical_uid = new_ical_uid()
    mark_meeting_changed(api.portal.get(), organiser, meeting.ical_uid, meeting_uid)
