"""Catalog indexes for meetings: organiser and state for calendars, hashes for sign-in."""

from plone.indexer import indexer
from prorenata.videomote.content import participants
from prorenata.videomote.content.meeting import IVideoMeeting


@indexer(IVideoMeeting)
def meeting_organiser(meeting):
    return meeting.organiser


@indexer(IVideoMeeting)
def meeting_state(meeting):
    return meeting.state


@indexer(IVideoMeeting)
def meeting_code_hash(meeting):
    return getattr(meeting, "meeting_code_hash", None)


@indexer(IVideoMeeting)
def join_token_hash(meeting):
    return getattr(meeting, "join_token_hash", None)


@indexer(IVideoMeeting)
def extra_code_hashes(meeting):
    """Each extra participant's own meeting code (sign-in finds the person by it)."""
    return participants.code_hashes(meeting)


@indexer(IVideoMeeting)
def extra_token_hashes(meeting):
    """Each extra participant's own join link."""
    return participants.token_hashes(meeting)
