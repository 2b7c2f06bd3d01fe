"""A site set to English shows English everywhere staff and participants look; a
Swedish site (the default) shows the same Swedish as before.

Texts written without a reader's request (the mail and CalDAV workers) are stored as
message ids and translated when shown, or written in the site's language."""

from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import booking_json
from factories import session_as
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.record import audit_log
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.caldav_bridge.sync import SERVER_DOWN
from prorenata.videomote.caldav_bridge.sync import UNRESOLVED_NOTE
from prorenata.videomote.caldav_bridge.sync import failed
from prorenata.videomote.notify.delivery import _describe
from prorenata.videomote.notify.outbox import OutgoingMail
from prorenata.videomote.notify.outbox import outbox_for
from prorenata.videomote.translation import in_site_language

import html
import pytest
import requests
import transaction

MONDAY = date.today() - timedelta(days=date.today().weekday()) + timedelta(weeks=3)
TOMORROW = (date.today() + timedelta(days=1)).isoformat()
ADMIN = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)

TEXTS = {
    "sv": {
        "monday": "Måndag",
        "sunday": "Söndag",
        "week": "Vecka",
        "action": "Gick med i mötet",
        "column": "Händelse",
        "kind": "Ändring",
        "failure": "E-postservern svarar inte.",
        "refused": "Mottagarens e-postserver tog inte emot adressen (550).",
        "caldav": "Kalenderservern svarade inte; nytt försök görs.",
        "note": "Säkert Videomöte: deltagaren kunde inte hittas",
        "rest": "Vårdnadshavaren Bodil saknar mobilnummer",
    },
    "en": {
        "monday": "Monday",
        "sunday": "Sunday",
        "week": "Week",
        "action": "Joined the meeting",
        "column": "Event",
        "kind": "Change",
        "failure": "The mail server does not answer.",
        "refused": "The recipient's mail server did not accept the address (550).",
        "caldav": "The calendar server did not answer; it will be tried again.",
        "note": "Secure Video Meeting: the participant could not be found",
        "rest": "The guardian Bodil",
    },
}


@pytest.fixture(params=["sv", "en"])
def site(request, mail_portal):
    """The mail portal with its default language set; staff Sara with a student."""
    api.portal.set_registry_record("plone.default_language", request.param)
    folder = add_students_folder(mail_portal)
    add_staff("sara", "Sara Skolsköterska", access_to=folder, roles=("Reader", "Contributor"))
    bodil = {"name": "Bodil", "email": "bodil@example.se", "mobile": None, "primary": True}
    alva = add_student(folder, guardians=[bodil])
    transaction.commit()
    return {
        "portal": mail_portal,
        "url": mail_portal.absolute_url(),
        "alva": alva.UID(),
        "texts": TEXTS[request.param],
        "language": request.param,
    }


def _get(url: str, auth=ADMIN, **params) -> str:
    answer = requests.get(url, params=params, auth=auth)
    assert answer.status_code == 200, answer.text[:500]
    return html.unescape(answer.text)


def test_the_calendar_names_weekdays_and_the_week_in_the_sites_language(site):
    texts = site["texts"]
    url = f"{site['url']}/@@videomote-kalender"
    week = _get(url, ("sara", STAFF_PASSWORD), view="week", day=MONDAY.isoformat())
    number = MONDAY.isocalendar()[1]
    assert f"{texts['week']} {number}, {MONDAY} – {MONDAY + timedelta(days=6)}" in week
    assert f"{texts['monday']} {MONDAY.day}/{MONDAY.month}" in week
    sunday = MONDAY + timedelta(days=6)
    assert f"{texts['sunday']} {sunday.day}/{sunday.month}" in week
    day = _get(url, ("sara", STAFF_PASSWORD), view="day", day=MONDAY.isoformat())
    assert f"{texts['monday']} {MONDAY:%Y-%m-%d}" in day


def test_the_audit_log_shows_action_titles_and_columns_in_the_sites_language(site):
    audit_log(site["portal"]).append(
        make_entry("joined", actor="okänd", role="participant", now=datetime.now(UTC))
    )
    transaction.commit()
    url = f"{site['url']}/@@videomote-granskningslogg"
    page = _get(url)
    assert site["texts"]["action"] in page
    assert f">{site['texts']['column']}<" in page
    csv = _get(url, format="csv")
    assert site["texts"]["action"] in csv and site["texts"]["column"] in csv


def _outbox_mail(outbox, recipient: str) -> OutgoingMail:
    mail = OutgoingMail("gone-meeting", "update", recipient, "noreply@example.se", b"")
    outbox.add(mail)
    return mail


def test_the_outbox_shows_kinds_and_errors_in_the_sites_language(site):
    """New failures are stored as message ids; one stored as plain Swedish before the
    change is shown as it was stored."""
    outbox = outbox_for(site["portal"])
    later = datetime.now(UTC) + timedelta(hours=1)
    outbox.mark_failed(
        _outbox_mail(outbox, "a@example.se"), _describe(ConnectionRefusedError()), later
    )
    outbox.mark_refused(_outbox_mail(outbox, "b@example.se"), 550, later)
    outbox.mark_failed(_outbox_mail(outbox, "c@example.se"), "Gammalt fel kvar som text.", later)
    transaction.commit()
    page = _get(f"{site['url']}/@@videomote-utkorg-epost")
    texts = site["texts"]
    assert f">{texts['kind']}<" in page
    assert texts["failure"] in page
    assert texts["refused"] in page
    assert "Gammalt fel kvar som text." in page


def test_the_calendar_connection_page_shows_the_last_result_in_the_sites_language(site):
    tree = accounts(site["portal"])
    tree["sara"] = record = CalDAVAccountRecord("sara", "http://127.0.0.1:9/", "sara", "")
    failed(record, datetime.now(UTC), "ServerUnavailable", SERVER_DOWN)
    transaction.commit()
    page = _get(f"{site['url']}/@@videomote-kalenderkoppling", ("sara", STAFF_PASSWORD))
    assert site["texts"]["caldav"] in page


def test_a_calendar_note_is_written_in_the_sites_language(site):
    assert in_site_language(UNRESOLVED_NOTE).startswith(site["texts"]["note"])


def test_a_rest_refusal_is_in_the_sites_language(site):
    response = session_as("sara", json=True).post(
        f"{site['url']}/@videomote-meetings",
        json=booking_json(site["alva"], TOMORROW, contact_choice="guardian"),
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(site["texts"]["rest"])


def test_the_invitation_e_mail_is_in_the_sites_language(site, smtp_sink):
    response = session_as("sara", json=True).post(
        f"{site['url']}/@videomote-meetings", json=booking_json(site["alva"], TOMORROW)
    )
    assert response.status_code == 201, response.text
    (message,) = smtp_sink.wait_for(1)
    text = message.get_body(("plain",)).get_content()
    if site["language"] == "en":
        assert message["Subject"].startswith("Invitation: Uppföljande samtal")
        assert "has invited you to a secure video meeting." in text
    else:
        assert message["Subject"].startswith("Inbjudan: Uppföljande samtal")
        assert "har bjudit in dig till ett säkert videomöte." in text
