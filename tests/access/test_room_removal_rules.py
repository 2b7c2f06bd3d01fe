"""The plain rules of taking someone out of a meeting's room (access/revocation.py)."""

from datetime import UTC
from datetime import datetime
from prorenata.videomote.access.jointoken import issue_join_token
from prorenata.videomote.access.jointoken import verify_join_token
from prorenata.videomote.access.revocation import CLOCK_SLACK_SECONDS
from prorenata.videomote.access.revocation import MAX_WHO
from prorenata.videomote.access.revocation import NO_ACCESS
from prorenata.videomote.access.revocation import REMOVED
from prorenata.videomote.access.revocation import Removals
from prorenata.videomote.access.revocation import clean_reason
from prorenata.videomote.access.revocation import clean_who
from prorenata.videomote.access.revocation import issued_at
from prorenata.videomote.access.revocation import staff_who

KEY = b"k" * 32


def test_a_token_issued_up_to_the_removal_is_refused_and_one_issued_after_is_not():
    removals = Removals()
    removals.add("m#1", ["p-1"], before=1000.0, reason=REMOVED, now=0)
    assert removals.refusal("m#1", "p-1", issued=999.5, now=1) == REMOVED
    assert removals.refusal("m#1", "p-1", issued=1000.0, now=1) == REMOVED
    # Another Zope instance's clock may be a little ahead.
    assert removals.refusal("m#1", "p-1", issued=1000 + CLOCK_SLACK_SECONDS, now=1) == REMOVED
    assert removals.refusal("m#1", "p-1", issued=1000.001 + CLOCK_SLACK_SECONDS, now=1) == ""


def test_only_the_removed_person_in_that_room_is_refused():
    removals = Removals()
    removals.add("m#1", ["p-1"], before=1000.0, reason=REMOVED, now=0)
    assert removals.refusal("m#1", "invitee", issued=10, now=1) == ""
    assert removals.refusal("m#2", "p-1", issued=10, now=1) == ""
    assert removals.refusal("other", "p-1", issued=10, now=1) == ""


def test_a_removal_is_forgotten_after_every_token_it_refuses_has_expired():
    removals = Removals(remember=600)
    removals.add("m", [staff_who("tove")], before=50.0, reason=NO_ACCESS, now=0)
    assert removals.refusal("m", staff_who("tove"), issued=40, now=599) == NO_ACCESS
    assert removals.refusal("m", staff_who("tove"), issued=40, now=600) == ""
    removals.add("n", ["x"], before=1.0, reason=REMOVED, now=601)
    assert len(removals) == 1  # the old one swept


def test_a_second_removal_keeps_the_later_time_and_memory_is_bounded():
    removals = Removals(limit=3)
    removals.add("m", ["a"], before=100.0, reason=REMOVED, now=0)
    removals.add("m", ["a"], before=50.0, reason=REMOVED, now=1)
    assert removals.refusal("m", "a", issued=80, now=2) == REMOVED
    removals.add("m", ["b", "c", "d"], before=1.0, reason=REMOVED, now=2)
    assert len(removals) == 3
    assert removals.refusal("m", "a", issued=80, now=3) == ""  # the oldest went first


def test_tokens_say_when_they_were_issued_to_the_millisecond():
    now = datetime(2026, 11, 29, 10, 0, 0, 250000, tzinfo=UTC)
    token = issue_join_token("m", "participant", "Anna", KEY, now=now)
    claims = verify_join_token(token, KEY, "m", now=now)
    assert issued_at(claims) == now.timestamp()
    # A token of an older Plone without "i": its expiry less its two minutes.
    assert issued_at({"exp": 1000}) == 880.0


def test_the_who_list_is_short_strings_without_repeats():
    assert clean_who(["p-1", "p-1", "", 3, "x" * 65, "invitee"]) == ("p-1", "invitee")
    assert clean_who("p-1") == ()
    assert len(clean_who([f"p-{n}" for n in range(100)])) == MAX_WHO
    assert clean_reason("access") == NO_ACCESS and clean_reason("<script>") == REMOVED


def test_staff_are_named_to_the_media_server_by_an_opaque_stable_hash():
    assert staff_who("tove") == staff_who("tove") != staff_who("sara")
    assert "tove" not in staff_who("tove") and len(staff_who("tove")) == 16
