"""A clinician connects a calendar; the app password is sealed and never shown back."""

from factories import STAFF_PASSWORD
from factories import add_staff
from prorenata.videomote.caldav_bridge.accounts import accounts

import re
import requests
import transaction


def _page(session, url):
    page = session.get(url).text
    return page, re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)


def test_connection_is_tested_saved_sealed_and_never_shown_back(mail_portal, radicale):
    add_staff("sara")
    transaction.commit()
    sara = requests.Session()
    sara.auth = ("sara", STAFF_PASSWORD)
    url = f"{mail_portal.absolute_url()}/@@videomote-kalenderkoppling"
    fields = {"url": radicale["url"], "username": "sara", "password": "app-secret-123"}
    _, token = _page(sara, url)
    tested = sara.post(url, data={**fields, "test": "1", "_authenticator": token}).text
    assert "Anslutningen fungerar." in tested
    saved = sara.post(url, data={**fields, "save": "1", "_authenticator": token}).text
    assert "Kalenderkopplingen är sparad." in saved
    assert "app-secret-123" not in saved and "app-secret-123" not in sara.get(url).text
    transaction.begin()
    record = accounts(mail_portal)["sara"]
    assert record.password and "app-secret-123" not in record.password


def test_unreachable_server_is_explained(mail_portal):
    add_staff("sara")
    transaction.commit()
    sara = requests.Session()
    sara.auth = ("sara", STAFF_PASSWORD)
    url = f"{mail_portal.absolute_url()}/@@videomote-kalenderkoppling"
    _, token = _page(sara, url)
    page = sara.post(
        url,
        data={
            "url": "http://127.0.0.1:9/",
            "username": "sara",
            "password": "x",
            "test": "1",
            "_authenticator": token,
        },
    ).text
    assert "Det gick inte att ansluta till kalenderservern" in page
