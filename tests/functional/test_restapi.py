"""The same rules hold over plone.restapi."""

from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD

import pytest
import requests


@pytest.fixture
def api_url(functional):
    return functional["portal"].absolute_url()


def _session():
    session = requests.Session()
    session.auth = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    session.headers["Accept"] = "application/json"
    return session


def test_patient_created_over_rest_has_normalised_contacts_and_neutral_id(api_url):
    response = _session().post(
        api_url,
        json={
            "@type": "Patient",
            "title": "Elsa Elev",
            "contact_mobile": "070-123 45 67",
            "contact_email": "Elsa@Example.SE",
            "guardians": [
                {
                    "name": "Vera",
                    "email": "vera@example.se",
                    "mobile": "0707654321",
                    "primary": True,
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["contact_mobile"] == "+46701234567"
    assert data["guardians"][0]["mobile"] == "+46707654321"
    assert "elsa" not in data["@id"].lower()


def test_bad_mobile_over_rest_is_a_json_error_naming_the_field(api_url):
    response = _session().post(
        api_url, json={"@type": "Patient", "title": "Elsa", "contact_mobile": "12345"}
    )
    assert response.status_code == 400
    body = response.text
    assert "contact_mobile" in body
    assert "Ogiltigt mobilnummer" in body


def test_settings_are_available_in_the_restapi_control_panel(api_url):
    response = _session().get(api_url + "/@controlpanels/videomote")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["timezone"]["token"] == "Europe/Stockholm"


def test_anonymous_cannot_see_a_patient_record(api_url):
    created = _session().post(api_url, json={"@type": "Patient", "title": "Hemlig"}).json()
    response = requests.get(created["@id"], headers={"Accept": "application/json"})
    assert response.status_code == 401
