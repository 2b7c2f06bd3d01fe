"""Upgrade 1003 → 1004: the catalog indexes that find an extra participant's code and
link appear (filled for the meetings there are); meetings stored before read no extra
participants."""

from datetime import datetime
from datetime import timedelta
from factories import add_student
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from prorenata.videomote.content import participants
from prorenata.videomote.content.participants import INDEXES
from prorenata.videomote.content.scheduling import Booking
from prorenata.videomote.content.scheduling import book_meeting

PROFILE = "prorenata.videomote:default"
TOLK = {"name": "Tina Tolk", "mobile": "0701112233", "email": "tina@tolk.se", "role": "tolk"}


def _book(patient, extra=None):
    start = datetime.now() + timedelta(days=1)
    with api.env.adopt_user(SITE_OWNER_NAME):
        return book_meeting(
            Booking(
                title="Samtal",
                start=start,
                end=start + timedelta(minutes=30),
                patient_uid=patient.UID(),
                contact_choice="student",
                extra_participants=extra,
            ),
            organiser=SITE_OWNER_NAME,
        )


def test_upgrading_a_1003_site_adds_the_participant_indexes(portal):
    patient = add_student(portal)
    old = _book(patient)
    old.__dict__.pop("extra_participants", None)  # stored before the attribute existed
    with_interpreter = _book(patient, [TOLK])
    (tolk,) = participants.people(with_interpreter)
    catalog = api.portal.get_tool("portal_catalog")
    for name in INDEXES:  # as at version 1003
        catalog.delIndex(name)
    setup = api.portal.get_tool("portal_setup")
    setup.setLastVersionForProfile(PROFILE, "1003")

    setup.upgradeProfile(PROFILE, dest="1004")

    assert setup.getLastVersionForProfile(PROFILE) == ("1004",)
    assert set(INDEXES) <= set(catalog.indexes())
    assert participants.people(old) == ()
    found = catalog.unrestrictedSearchResults(extra_code_hashes=tolk["code_hash"])
    assert [brain.UID for brain in found] == [with_interpreter.UID()]
    found = catalog.unrestrictedSearchResults(extra_token_hashes=tolk["token_hash"])
    assert [brain.UID for brain in found] == [with_interpreter.UID()]
