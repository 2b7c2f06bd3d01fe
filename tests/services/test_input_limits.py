"""Whatever a request brings, the add-on's services answer 2xx or 4xx with a Swedish
message naming the field, save nothing on a refusal, and bound what they read."""

from datetime import date
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import booking_json
from factories import session_as
from mail_quiet import nothing_due
from plone import api

import json
import pytest
import requests
import time
import tracemalloc
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()


@pytest.fixture
def site(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder, roles=("Reader", "Contributor"))
    alva = add_student(folder)
    transaction.commit()
    return {"url": mail_portal.absolute_url(), "alva": alva.UID(), "portal": mail_portal}


def _as(user="sara"):
    return session_as(user, json=True)


def _booking(site, **changes):
    return booking_json(site["alva"], TOMORROW, **changes)


def _meetings(site) -> list:
    transaction.begin()
    site["portal"]._p_jar.sync()
    catalog = api.portal.get_tool("portal_catalog")
    return [
        (m.title, m.start, m.end, m.state, m.sequence)
        for m in (
            b._unrestrictedGetObject()
            for b in catalog.unrestrictedSearchResults(portal_type="VideoMeeting")
        )
    ]


def _book(site) -> str:
    response = _as().post(f"{site['url']}/@videomote-meetings", json=_booking(site))
    assert response.status_code == 201, response.text
    return f"{response.json()['@id']}/@videomote-meeting"


def _refused(response, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    return error["message"]


# -- 1. unbounded input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "T" * 201, "Titel får vara högst 200 tecken."),
        ("custom_name", "N" * 101, "Namn får vara högst 100 tecken."),
        ("custom_email", "e" * 250 + "@example.se", "E-postadress får vara högst 254 tecken."),
        ("custom_mobile", "0" * 33, "Mobilnummer får vara högst 32 tecken."),
        ("patient", "p" * 101, "Elev/patient får vara högst 100 tecken."),
        ("timezone", "Europe/" + "x" * 100, "Tidszon får vara högst 100 tecken."),
    ],
)
def test_an_over_long_text_is_refused_naming_the_field(site, smtp_sink, field, value, message):
    data = _booking(site, contact_choice="custom", custom_name="Bo", custom_mobile="0701234567")
    data["custom_email"] = "bo@example.se"
    data[field] = value
    response = _as().post(f"{site['url']}/@videomote-meetings", json=data)
    name = {"patient": "patient_uid"}.get(field, field)
    assert _refused(response, 400, name) == message
    assert _meetings(site) == []
    assert smtp_sink.wait_for(1, timeout=0.5, settled=nothing_due(site["portal"])) == []


def test_an_over_long_title_in_a_move_is_refused_and_nothing_changes(site, smtp_sink):
    url = _book(site)
    before = _meetings(site)
    response = _as().patch(url, json={"title": "T" * 1000})
    assert _refused(response, 400, "title") == "Titel får vara högst 200 tecken."
    assert _meetings(site) == before


def test_a_body_over_64_kb_is_refused_before_it_is_read(site):
    response = _as().post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, title="x" * 70_000)
    )
    assert _refused(response, 413, "body") == "Anropet är för stort (högst 64 kB)."
    url = _book(site)
    before = _meetings(site)
    response = _as().patch(url, json={"title": "x" * 1_000_000})
    assert response.status_code == 413
    assert _meetings(site) == before


def _peak_during(send) -> tuple[object, int]:
    """Python's peak memory (every thread: the test's WSGI server, and the mail delivery
    that follows a booking) above the start, until a second after the answer."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        response = send()
        time.sleep(1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return response, peak - base


@pytest.mark.parametrize("size", [1_000_000, 60_000], ids=["1 MB body", "60 kB title"])
def test_one_oversized_request_raises_memory_by_a_few_mb_at_most(site, size):
    session = _as()
    url = f"{site['url']}/@videomote-meetings"
    body = json.dumps(_booking(site, title="x" * size)).encode()
    headers = {"Content-Type": "application/json"}
    session.get(url)  # everything loaded once
    response, peak = _peak_during(lambda: session.post(url, data=body, headers=headers))
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MB"
    assert response.status_code in (400, 413), response.text
    assert _meetings(site) == []


# -- 6. any input is answered 2xx/4xx -----------------------------------------------------

BAD_BODIES = {
    "list": b"[]",
    "null": b"null",
    "string": b'"x"',
    "number": b"123",
    "truncated": b'{"title": "Samtal", "start": ',
    "latin-1": '{"title": "Möte"}'.encode("latin-1"),
    "deep": b"[" * 30_000 + b"]" * 30_000,
    "deep object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
    "huge number": b'{"title": ' + b"9" * 10_000 + b"}",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_a_body_that_is_no_json_object_is_a_400_on_post_and_patch(site, smtp_sink, body):
    url = _book(site)
    before = _meetings(site)
    headers = {"Content-Type": "application/json"}
    for response in (
        _as().post(f"{site['url']}/@videomote-meetings", data=body, headers=headers),
        _as().patch(url, data=body, headers=headers),
    ):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["field"] in ("body", "title")
        assert error["message"].startswith(("Anropet", "Skicka", "Ange", "Skriv"))
    assert _meetings(site) == before


def test_a_50000_deep_body_is_refused_for_its_size(site):
    body = b"[" * 50_000 + b"]" * 50_000
    headers = {"Content-Type": "application/json"}
    response = _as().post(f"{site['url']}/@videomote-meetings", data=body, headers=headers)
    assert _refused(response, 413, "body")


@pytest.mark.parametrize("zone", [["a"], {"a": 1}, 5])
def test_a_time_zone_that_is_not_text_is_refused(site, zone):
    response = _as().post(f"{site['url']}/@videomote-meetings", json=_booking(site, timezone=zone))
    assert _refused(response, 400, "timezone") == "Skriv timezone som text."


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"end": "9999-12-31T23:59"}, "end"),
        ({"start": "9999-12-31T23:00", "end": "9999-12-31T23:59"}, "start"),
        ({"start": "0001-01-01T00:00", "end": f"{TOMORROW}T09:30"}, "start"),
        ({"end": "9999-12-31T23:59+00:00"}, "end"),
        ({"start": 12, "end": None}, "start"),
    ],
)
def test_a_time_out_of_any_range_is_a_400_on_post_and_patch(site, changes, field):
    response = _as().post(f"{site['url']}/@videomote-meetings", json=_booking(site, **changes))
    assert _refused(response, 400, field)
    url = _book(site)
    before = _meetings(site)
    response = _as().patch(url, json=changes)
    assert _refused(response, 400, field)
    assert _meetings(site) == before


@pytest.mark.parametrize(
    "query",
    [
        "start=0001-01-01&end=9999-12-31",
        "start=9999-12-31&end=9999-12-31",
        "start=a&start=b",
        "start:list=2026-01-01&start:list=2026-01-02",
        "start:int=5",
        "end.a:record=1",
        "start=2026-01-01&end=2025-01-01",
        "mine:list=0&mine:list=1",
        "start=" + "2" * 5000,
    ],
)
def test_a_listing_asked_for_with_odd_dates_is_a_400_naming_the_field(site, query):
    response = _as().get(f"{site['url']}/@videomote-meetings?{query}")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] in ("start", "end", "mine")
    assert error["message"].startswith(("Ange", "Slutdagen", "Välj", "start", "end"))


def test_a_listing_of_a_normal_range_still_works(site):
    _book(site)
    response = _as().get(
        f"{site['url']}/@videomote-meetings", params={"start": TOMORROW, "end": TOMORROW}
    )
    assert response.status_code == 200 and response.json()["items_total"] == 1


# -- 7. a meeting's length and date range --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        (
            f"{TOMORROW}T09:00",
            (date.today() + timedelta(days=366)).isoformat() + "T09:00",
            "end",
            "Ett videomöte får vara högst 4 h.",
        ),
        (
            f"{TOMORROW}T09:00",
            (date.today() + timedelta(days=1 + 365 * 100)).isoformat() + "T09:00",
            "end",
            "Ett videomöte får vara högst 4 h.",
        ),
        (
            (date.today() + timedelta(days=800)).isoformat() + "T09:00",
            (date.today() + timedelta(days=800)).isoformat() + "T09:30",
            "start",
            "Ett videomöte kan bokas högst 730 dagar framåt.",
        ),
    ],
    ids=["a year long", "a century long", "three years ahead"],
)
def test_a_meeting_too_long_or_too_far_ahead_is_refused(site, start, end, field, message):
    response = _as().post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, start=start, end=end)
    )
    assert _refused(response, 400, field) == message
    url = _book(site)
    before = _meetings(site)
    assert _refused(_as().patch(url, json={"start": start, "end": end}), 400, field) == message
    assert _meetings(site) == before


def test_the_longest_meeting_is_a_setting(site):
    api.portal.set_registry_record("prorenata.videomote.max_meeting_minutes", 60)
    transaction.commit()
    booking = _booking(site, end=f"{TOMORROW}T10:30")
    response = _as().post(f"{site['url']}/@videomote-meetings", json=booking)
    assert _refused(response, 400, "end") == "Ett videomöte får vara högst 1 h."
    response = _as().post(
        f"{site['url']}/@videomote-meetings", json=_booking(site, end=f"{TOMORROW}T10:00")
    )
    assert response.status_code == 201


# -- 9. cross-site calls -------------------------------------------------------------------


def _cookie_session(site) -> requests.Session:
    """Signed in as a browser is: Plone's login form, then its cookie only."""
    session = requests.Session()
    session.post(
        f"{site['url']}/login",
        data={"__ac_name": "sara", "__ac_password": STAFF_PASSWORD, "buttons.login": "Logga in"},
    )
    assert "__ac" in session.cookies, "not signed in"
    return session


def test_a_cross_site_simple_post_with_the_cookie_is_refused(site, smtp_sink):
    browser = _cookie_session(site)
    url = f"{site['url']}/@videomote-meetings"
    body = json.dumps(_booking(site))
    simple = {"Accept": "application/json", "Content-Type": "text/plain"}
    response = browser.post(url, data=body, headers={**simple, "Origin": "https://evil.example"})
    assert response.status_code in (403, 415), response.text
    response = browser.post(url, data=body, headers=simple)
    assert _refused(response, 415, "Content-Type").startswith("Skicka anropet som JSON")
    as_json = {"Accept": "application/json", "Content-Type": "application/json"}
    response = browser.post(url, data=body, headers={**as_json, "Origin": "https://evil.example"})
    assert _refused(response, 403, "Origin") == "Anrop från en annan webbplats tas inte emot."
    assert _meetings(site) == []
    assert smtp_sink.wait_for(1, timeout=0.5, settled=nothing_due(site["portal"])) == []
    response = browser.post(url, data=body, headers={**as_json, "Origin": site["url"]})
    assert response.status_code == 201, response.text  # the site's own page


def test_a_cross_site_move_or_cancel_is_refused(site):
    url = _book(site)
    before = _meetings(site)
    evil = {"Origin": "https://evil.example"}
    response = _as().patch(url, json={"title": "Kapad"}, headers=evil)
    assert _refused(response, 403, "Origin")
    assert _refused(_as().delete(url, headers=evil), 403, "Origin")
    response = _as().delete(url, data="x", headers={"Content-Type": "text/plain"})
    assert _refused(response, 415, "Content-Type")
    assert _meetings(site) == before
    public = "https://journal.example.se"
    api.portal.set_registry_record("prorenata.videomote.public_base_url", public)
    transaction.commit()
    response = _as().patch(url, json={"title": "Ny titel"}, headers={"Origin": public})
    assert response.status_code == 200, response.text


# -- 13. a time that does not exist --------------------------------------------------------


def test_a_start_in_the_spring_forward_gap_says_the_time_does_not_exist(site):
    response = _as().post(
        f"{site['url']}/@videomote-meetings",
        json=_booking(site, start="2027-03-28T02:30", end="2027-03-28T03:00"),
    )
    assert _refused(response, 400, "start") == (
        "Klockan 02.30 finns inte natten till 2027-03-28: då ställs klockan fram en timme "
        "(sommartid börjar). Välj en annan tid."
    )
    response = _as().post(
        f"{site['url']}/@videomote-meetings",
        json=_booking(site, start="2027-03-28T01:30", end="2027-03-28T02:15"),
    )
    assert _refused(response, 400, "end").startswith("Klockan 02.15 finns inte")
