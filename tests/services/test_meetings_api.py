"""The REST API books, lists, reads, moves and cancels with the dialog's rules."""

from datetime import date
from datetime import timedelta
from factories import add_journal_record
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import booking_json
from factories import session_as
from mail_quiet import nothing_due

import pytest
import requests
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()


@pytest.fixture
def site(mail_portal):
    """Two staff members; only Sara has access to the students' folder."""
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder, roles=("Reader", "Contributor"))
    add_staff("olle")
    bodil = {"name": "Bodil", "email": "bodil@example.se", "mobile": None, "primary": True}
    alva = add_student(folder, guardians=[bodil])
    transaction.commit()
    return {"url": mail_portal.absolute_url(), "alva": alva.UID(), "portal": mail_portal}


def _as(user):
    return session_as(user, json=True)


def _booking(site, **changes):
    return booking_json(site["alva"], TOMORROW, **changes)


def test_staff_books_over_rest_and_the_invitation_arrives(site, smtp_sink):
    response = _as("sara").post(f"{site['url']}/@videomote-meetings", json=_booking(site))
    assert response.status_code == 201, response.text
    meeting = response.json()
    assert meeting["invitee"]["email"] == "alva@example.se"
    assert meeting["start"].startswith(f"{TOMORROW}T09:00")
    assert meeting["room_url"].endswith("/@@videomote-rum")
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "alva@example.se"


def test_refusal_is_json_naming_the_field_in_swedish(site):
    response = _as("sara").post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, contact_choice="guardian")
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["field"] == "contact_choice"
    assert error["message"].startswith("Vårdnadshavaren Bodil saknar mobilnummer")


def test_end_before_start_is_refused_on_end(site):
    response = _as("sara").post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, end=f"{TOMORROW}T08:00")
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "type": "BookingRefused",
        "field": "end",
        "message": "Slut måste vara efter start.",
    }


def test_booking_in_the_past_is_refused(site):
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    response = _as("sara").post(
        f"{site['url']}/@videomote-meetings",
        json=_booking(site, start=f"{yesterday}T09:00", end=f"{yesterday}T09:30"),
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "start"


def test_staff_without_access_to_the_student_cannot_book(site, smtp_sink):
    response = _as("olle").post(f"{site['url']}/@videomote-meetings", json=_booking(site))
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "patient_uid"
    assert smtp_sink.wait_for(1, timeout=1, settled=nothing_due(site["portal"])) == []


def test_anonymous_cannot_list_meetings(site):
    response = requests.get(
        f"{site['url']}/@videomote-meetings", headers={"Accept": "application/json"}
    )
    assert response.status_code == 401


def test_list_read_move_and_cancel(site, smtp_sink):
    sara = _as("sara")
    created = sara.post(f"{site['url']}/@videomote-meetings", json=_booking(site)).json()
    listing = sara.get(
        f"{site['url']}/@videomote-meetings", params={"start": TOMORROW, "end": TOMORROW}
    ).json()
    assert [item["UID"] for item in listing["items"]] == [created["UID"]]
    assert (
        _as("olle")
        .get(f"{site['url']}/@videomote-meetings", params={"start": TOMORROW})
        .json()["items"]
        == []
    )
    url = f"{created['@id']}/@videomote-meeting"
    assert sara.get(url).json()["title"] == "Uppföljande samtal"
    moved = sara.patch(url, json={"start": f"{TOMORROW}T14:00", "end": f"{TOMORROW}T14:30"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["sequence"] == 1
    cancelled = sara.delete(url).json()
    assert cancelled["state"] == "cancelled"
    assert cancelled["sequence"] == 2
    subjects = [m["Subject"].split(":")[0] for m in smtp_sink.wait_for(3)]
    assert subjects == ["Inbjudan", "Ändrad tid", "Inställt"]


def test_staff_without_access_to_the_student_cannot_read_open_move_or_cancel_it(site, smtp_sink):
    """Olle is staff (the Clinician role on the whole site) without access to Alva's
    record: knowing the meeting's address gives him nothing."""
    created = _as("sara").post(f"{site['url']}/@videomote-meetings", json=_booking(site)).json()
    olle = _as("olle")
    url = f"{created['@id']}/@videomote-meeting"
    assert olle.get(url).status_code == 401
    assert olle.patch(url, json={"start": f"{TOMORROW}T14:00"}).status_code == 401
    assert olle.delete(url).status_code == 401
    for view in ("@@videomote-rum", "@@videomote-flytta", "@@videomote-avboka"):
        page = olle.get(
            f"{created['@id']}/{view}", headers={"Accept": "text/html"}, allow_redirects=False
        )
        # Plone sends a signed-in user without the right to its "insufficient privileges".
        assert page.status_code == 302, view
        assert "require_login" in page.headers["Location"], view
    meeting = _as("sara").get(url).json()
    assert meeting["state"] == "booked" and meeting["sequence"] == 0
    assert meeting["start"].startswith(f"{TOMORROW}T09:00")
    assert (
        len(smtp_sink.wait_for(2, timeout=1.5, settled=nothing_due(site["portal"]))) == 1
    )  # the invitation only


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": 5}, "title"),
        ({"patient": 12}, "patient_uid"),
        (
            {
                "contact_choice": "custom",
                "custom_name": "Bo",
                "custom_email": "bo@example.se",
                "custom_mobile": 46701234567,
            },
            "custom_mobile",
        ),
        ({"timezone": "Stockholm"}, "timezone"),
    ],
    ids=["title a number", "patient a number", "mobile a number", "unknown zone"],
)
def test_malformed_booking_is_refused_in_swedish_naming_the_field(site, smtp_sink, changes, field):
    response = _as("sara").post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, **changes)
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["message"].startswith(("Skriv", "Okänd tidszon"))
    assert smtp_sink.wait_for(1, timeout=1, settled=nothing_due(site["portal"])) == []


def test_a_title_with_line_breaks_is_booked_on_one_line(site, smtp_sink):
    response = _as("sara").post(
        f"{site['url']}/@videomote-meetings",
        json=_booking(site, title="Uppföljning\r\nmed\tAlva", custom_name="x\ny"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Uppföljning med Alva"
    (message,) = smtp_sink.wait_for(1)
    assert "Uppföljning med Alva" in message["Subject"]


def test_a_record_type_not_set_up_for_meetings_is_refused_saying_what_to_do(mail_portal, smtp_sink):
    """A journal's own record type with the contact details behaviour, which does not
    allow meetings inside it."""
    record = add_journal_record(
        mail_portal,
        "Journalpost",
        "plone.dexterity.content.Container",
        "Alva",
        contact_email="alva@example.se",
        contact_mobile="+46701234501",
    )
    add_staff("sara", access_to=record, roles=("Reader", "Contributor"))
    transaction.commit()
    response = _as("sara").post(
        f"{mail_portal.absolute_url()}/@videomote-meetings",
        json={
            "title": "Samtal",
            "start": f"{TOMORROW}T09:00",
            "end": f"{TOMORROW}T09:30",
            "patient": record.UID(),
            "contact_choice": "student",
        },
    )
    assert response.status_code == 400, response.text
    assert "kan inte ha videomöten" in response.json()["error"]["message"]
    assert smtp_sink.wait_for(1, timeout=1, settled=nothing_due(mail_portal)) == []


def test_whom_a_meeting_is_with_cannot_be_changed_by_a_plain_rest_patch(site, smtp_sink):
    """Plone's own PATCH on the meeting (its owner may modify it) must not redirect the
    invitation, the SMS codes or the state: those follow only from booking."""
    sara = _as("sara")
    created = sara.post(f"{site['url']}/@videomote-meetings", json=_booking(site)).json()
    response = sara.patch(
        created["@id"],
        json={
            "invitee_email": "someone@example.se",
            "invitee_mobile": "+46709999999",
            "state": "ended",
            "sequence": 7,
        },
    )
    assert response.status_code in (204, 400, 401), response.text
    meeting = sara.get(f"{created['@id']}/@videomote-meeting").json()
    assert meeting["invitee"]["email"] == "alva@example.se"
    assert meeting["state"] == "booked" and meeting["sequence"] == 0
    transaction.begin()
    from plone import api
    from plone.app.uuid.utils import uuidToObject

    with api.env.adopt_user("admin"):
        stored = uuidToObject(created["UID"], unrestricted=True)
        assert (stored.invitee_mobile, stored.contact_choice, stored.custom_email) == (
            "+46701234501",
            "student",
            None,
        )
