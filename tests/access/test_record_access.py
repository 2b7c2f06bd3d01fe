"""Access to a meeting follows access to the student's record, everywhere.

A clinician who loses access to a record loses its meetings from every page, REST read,
catalog listing and search, although she booked them; contact details are served only by
the audited meeting views; meetings and records are deleted only by administrators.
"""

from datetime import datetime
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import staff_clock_at
from factories import tomorrow_at
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.record import audit_log
from zoneinfo import ZoneInfo

import json
import pytest
import requests
import transaction

STOCKHOLM = ZoneInfo("Europe/Stockholm")
TITLE = "Hemligt uppföljningssamtal"
STUDENT = "Alva Andersson"
CONTACTS = ("alva@example.se", "+46701234501", "0701234501")


def _session(user: str, password: str = STAFF_PASSWORD, accept: str = "application/json"):
    session = requests.Session()
    session.auth = (user, password)
    session.headers["Accept"] = accept
    return session


def _text(response) -> str:
    """What a response says, with JSON's escaped letters as they read."""
    if response.headers.get("Content-Type", "").startswith("application/json"):
        return json.dumps(response.json(), ensure_ascii=False)
    return response.text


def _soon() -> datetime:
    """A start later on the staff pages' "today" (so "Dagens aktiviteter" lists it): 10.00
    tomorrow, their clock at 08.00 (``journal``), whatever the hour the test runs."""
    return tomorrow_at(10)


def _add_events_portlet(portal) -> None:
    """Plone's own "Upcoming events" portlet on the home page, for every state."""
    from plone.app.event.portlets import portlet_events
    from plone.portlets.interfaces import IPortletAssignmentMapping
    from plone.portlets.interfaces import IPortletManager
    from zope.component import getMultiAdapter
    from zope.component import getUtility

    manager = getUtility(IPortletManager, name="plone.rightcolumn", context=portal)
    mapping = getMultiAdapter((portal, manager), IPortletAssignmentMapping)
    mapping["kommande"] = portlet_events.Assignment(count=10, state=None)


@pytest.fixture
def journal(mail_portal, smtp_sink, monkeypatch):
    """Sara (staff) has Reader and Contributor on Alva's record and books a meeting later
    today over REST; Olle is staff without access to Alva."""
    portal = mail_portal
    folder = add_students_folder(portal)
    alva = add_student(folder)
    add_staff("sara", access_to=alva, roles=("Reader", "Contributor"))
    add_staff("olle")
    _add_events_portlet(portal)
    transaction.commit()
    staff_clock_at(monkeypatch, tomorrow_at(8))
    start = _soon()
    created = _session("sara").post(
        f"{portal.absolute_url()}/@videomote-meetings",
        json={
            "title": TITLE,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "patient": alva.UID(),
            "contact_choice": "student",
        },
    )
    assert created.status_code == 201, created.text
    smtp_sink.wait_for(1)
    transaction.begin()
    return {"portal": portal, "url": portal.absolute_url(), "alva": alva, "meeting": created.json()}


def _revoke_on_sharing_page(journal, userid: str) -> None:
    """The administrator takes the user's roles on the record away (the Sharing tab)."""
    response = _session(SITE_OWNER_NAME, SITE_OWNER_PASSWORD).post(
        f"{journal['alva'].absolute_url()}/@sharing",
        json={
            "entries": [
                {
                    "id": userid,
                    "type": "user",
                    "roles": {"Reader": False, "Contributor": False, "Editor": False},
                }
            ]
        },
    )
    assert response.status_code == 204, response.text
    transaction.begin()


def _where_seen(journal, user: str) -> dict[str, bool]:
    """Every place where ``user`` could see the meeting: True where it shows."""
    url, meeting = journal["url"], journal["meeting"]["@id"]
    json_ = _session(user)
    html = _session(user, accept="text/html")

    def page_shows_title(address: str, part: str = "", **params) -> bool:
        """The title is on the page (in the part that begins with ``part``)."""
        response = html.get(address, params=params, allow_redirects=False)
        text = _text(response) if response.status_code == 200 else ""
        if part:
            text = text[text.find(part) : text.find(part) + 5000] if part in text else ""
        return TITLE in text

    def readable(address: str, session=html) -> bool:
        response = session.get(address, allow_redirects=False)
        return response.status_code == 200

    search = json_.get(f"{url}/@search", params={"portal_type": "VideoMeeting"}).json()
    query = json_.post(
        f"{url}/@querystring-search",
        json={
            "query": [
                {
                    "i": "portal_type",
                    "o": "plone.app.querystring.operation.selection.any",
                    "v": ["VideoMeeting"],
                }
            ]
        },
    ).json()
    return {
        "the meeting's page": readable(meeting),
        "its plain REST read": readable(meeting, json_),
        "its edit form": readable(f"{meeting}/@@edit"),
        "its ics_view": readable(f"{meeting}/ics_view"),
        "@search": bool(search.get("items")),
        "@querystring-search": bool(query.get("items")),
        "the calendar": page_shows_title(f"{url}/@@videomote-kalender"),
        "Dagens aktiviteter": page_shows_title(url, 'class="videomote-today"'),
        "the events portlet": page_shows_title(url, "portletEvents"),
        "the catalog vocabulary (folder contents)": page_shows_title(
            f"{url}/@@getVocabulary",
            name="plone.app.vocabularies.Catalog",
            query=json.dumps(
                {
                    "criteria": [
                        {
                            "i": "portal_type",
                            "o": "plone.app.querystring.operation.selection.any",
                            "v": ["VideoMeeting"],
                        }
                    ]
                }
            ),
            attributes=json.dumps(["Title"]),
        ),
        "the event listing": page_shows_title(f"{url}/@@event_listing"),
        "the site's ics_view": page_shows_title(f"{url}/ics_view"),
        "the record's folder contents": readable(
            f"{journal['alva'].absolute_url()}/@@folder_contents"
        ),
    }


def test_a_clinician_who_lost_access_to_the_student_no_longer_sees_the_meeting_she_booked(
    journal,
):
    with api.env.adopt_user(SITE_OWNER_NAME):  # Editor too: the edit form was hers
        api.user.grant_roles(username="sara", obj=journal["alva"], roles=["Editor"])
        journal["alva"].reindexObjectSecurity()
    transaction.commit()
    assert all(_where_seen(journal, "sara").values()), _where_seen(journal, "sara")
    _revoke_on_sharing_page(journal, "sara")
    assert not any(_where_seen(journal, "sara").values()), _where_seen(journal, "sara")


def test_staff_given_access_to_the_record_later_see_its_meetings(journal):
    assert not any(_where_seen(journal, "olle").values())
    response = _session(SITE_OWNER_NAME, SITE_OWNER_PASSWORD).post(
        f"{journal['alva'].absolute_url()}/@sharing",
        json={"entries": [{"id": "olle", "type": "user", "roles": {"Reader": True}}]},
    )
    assert response.status_code == 204, response.text
    seen = _where_seen(journal, "olle")
    assert seen["@search"] and seen["the meeting's page"] and seen["its plain REST read"]


def test_a_role_given_on_the_meeting_alone_gives_no_access_to_it(journal):
    """The Sharing page of a meeting (open to the record's Editors) cannot let someone
    without access to the student see the meeting: roles are given on the record."""
    response = _session(SITE_OWNER_NAME, SITE_OWNER_PASSWORD).post(
        f"{journal['meeting']['@id']}/@sharing",
        json={"entries": [{"id": "olle", "type": "user", "roles": {"Reader": True}}]},
    )
    assert response.status_code == 204, response.text
    assert not any(_where_seen(journal, "olle").values())


def test_a_new_meeting_has_no_roles_of_its_own(journal):
    """Whoever books it gets no Owner role on it: its roles come from the record."""
    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = api.content.get(UID=journal["meeting"]["UID"])
        assert meeting.get_local_roles() == ()


# -- Contact details: only the audited views show them ------------------------------------


def test_plone_s_own_reads_of_a_meeting_show_no_contact_details(journal):
    """The stock serializer (object GET, full objects in searches and folder reads), the
    edit form and the iCalendar export show neither e-mail nor mobile, to staff or
    administrators, whether the invitee is the student or someone else ("Anpassad")."""
    url = journal["url"]
    start = _soon() + timedelta(hours=1)
    custom = _session("sara").post(
        f"{url}/@videomote-meetings",
        json={
            "title": TITLE,
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "patient": journal["alva"].UID(),
            "contact_choice": "custom",
            "custom_name": "Bo Berg",
            "custom_mobile": "0709876543",
            "custom_email": "bo@example.se",
        },
    )
    assert custom.status_code == 201, custom.text
    contacts = (*CONTACTS, "bo@example.se", "+46709876543", "0709876543")
    for user, password in (("sara", STAFF_PASSWORD), (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)):
        json_ = _session(user, password)
        html = _session(user, password, accept="text/html")
        reads = {
            "@search fullobjects": json_.get(
                f"{url}/@search", params={"portal_type": "VideoMeeting", "fullobjects": 1}
            ),
            "record GET with full items": json_.get(
                journal["alva"].absolute_url(), params={"fullobjects": 1}
            ),
        }
        for meeting in (journal["meeting"]["@id"], custom.json()["@id"]):
            reads[f"object GET {meeting}"] = json_.get(meeting)
            reads[f"ics_view {meeting}"] = html.get(f"{meeting}/ics_view")
            if user == SITE_OWNER_NAME:  # Sara may not edit; the administrator may
                reads[f"edit form {meeting}"] = html.get(f"{meeting}/@@edit")
        for name, response in reads.items():
            assert response.status_code == 200, (user, name)
            text = _text(response)
            assert TITLE in text, (user, name)
            if name.startswith("record GET"):  # the record's own contacts are its own
                text = json.dumps(response.json().get("items"), ensure_ascii=False)
            for contact in contacts:
                assert contact not in text, (user, name, contact)
        assert json_.get(journal["meeting"]["@id"]).json().get("invitee_email") is None


def test_every_answer_of_the_meeting_service_shows_contact_details_and_is_audited(journal):
    def reads() -> list:
        transaction.begin()
        entries = audit_log(journal["portal"]).query(meeting_uid=journal["meeting"]["UID"])
        return [(e.action, e.actor) for e in entries if e.action == "viewed"]

    service = f"{journal['meeting']['@id']}/@videomote-meeting"
    for call in (
        lambda sara: sara.get(service),
        lambda sara: sara.patch(service, json={}),  # changes nothing: no event of its own
        lambda sara: sara.delete(service),
        lambda sara: sara.delete(service),  # cancelled already: no event either
    ):
        before = reads()
        response = call(_session("sara"))
        assert response.json()["invitee"]["mobile"] == "+46701234501"
        assert reads() == [*before, ("viewed", "sara")]


# -- The booking dialog inside a record ------------------------------------------------------


def test_the_booking_dialog_of_a_record_is_refused_without_access_and_names_nobody(journal):
    record = journal["alva"].absolute_url()
    olle = _session("olle", accept="text/html")
    refused = olle.get(f"{record}/@@videomote-boka", allow_redirects=False)
    assert refused.status_code in (302, 401, 403)
    if refused.status_code == 302:
        assert "require_login" in refused.headers["Location"]
    final = olle.get(f"{record}/@@videomote-boka")
    assert STUDENT not in final.text
    assert "Alva" not in final.text
    sara = _session("sara", accept="text/html").get(f"{record}/@@videomote-boka")
    assert sara.status_code == 200 and STUDENT in sara.text


def test_the_booking_dialog_of_a_record_is_refused_after_access_is_taken_away(journal):
    _revoke_on_sharing_page(journal, "sara")
    page = _session("sara", accept="text/html").get(
        f"{journal['alva'].absolute_url()}/@@videomote-boka"
    )
    assert STUDENT not in page.text


# -- Deleting: cancelled, not deleted, except by administrators ------------------------------


def test_staff_cannot_delete_a_meeting_or_a_record_even_as_editor(journal, smtp_sink):
    alva = journal["alva"]
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.grant_roles(username="sara", obj=alva, roles=["Editor"])
        alva.reindexObjectSecurity()
    transaction.commit()
    sara = _session("sara")
    meeting = journal["meeting"]["@id"]
    assert sara.delete(meeting).status_code in (401, 403)
    assert sara.delete(alva.absolute_url()).status_code in (401, 403)
    html = _session("sara", accept="text/html")
    confirm = html.get(f"{meeting}/delete_confirmation", allow_redirects=False)
    assert confirm.status_code != 200
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        assert api.content.get(UID=journal["meeting"]["UID"]) is not None
        assert api.content.get(UID=alva.UID()) is not None
    # The record is still editable for an Editor (completing contact details).
    patched = sara.patch(alva.absolute_url(), json={"contact_mobile": "0701234599"})
    assert patched.status_code == 204, patched.text
    assert len(smtp_sink.wait_for(2, timeout=1.5)) == 1  # the invitation only


def test_deleting_the_folder_of_the_records_does_not_delete_them_for_staff(journal):
    """Whoever may delete a folder of records (here: Editor on it, Plone's default) must
    not delete the records and meetings inside it that way."""
    folder = journal["alva"].aq_parent
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.grant_roles(username="olle", obj=folder, roles=["Editor"])
        folder.reindexObjectSecurity()
    transaction.commit()
    response = _session("olle").delete(folder.absolute_url())
    assert response.status_code in (401, 403), response.text
    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        assert api.content.get(UID=journal["meeting"]["UID"]) is not None


def test_an_administrator_may_delete_a_meeting_and_the_invitee_is_told(journal, smtp_sink):
    response = _session(SITE_OWNER_NAME, SITE_OWNER_PASSWORD).delete(journal["meeting"]["@id"])
    assert response.status_code == 204, response.text
    invitation, cancellation = smtp_sink.wait_for(2)
    assert cancellation["Subject"].startswith("Inställt")
