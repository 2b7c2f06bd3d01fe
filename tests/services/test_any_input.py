"""Property: whatever JSON, bytes, headers or query string reach a service or page of the
add-on, it answers 2xx/3xx/4xx (never 5xx), and a refusal saves nothing.

Hypothesis draws the inputs; the examples are bounded so that each test takes well
under a minute against the test's WSGI server.
"""

from datetime import date
from datetime import timedelta
from factories import add_staff
from factories import add_student
from factories import add_students_folder
from factories import session_as
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from plone import api

import json
import pytest
import requests
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()
FIELDS = [
    "title",
    "start",
    "end",
    "patient",
    "patient_uid",
    "contact_choice",
    "custom_name",
    "custom_mobile",
    "custom_email",
    "timezone",
    "mine",
    "day",
    "view",
    "uid",
    "code",
    "token",
    "one_time_code",
    "send_code",
    "continue",
    "url",
    "username",
    "password",
    "from",
    "to",
    "meeting",
    "format",
]
#: Zope's form converters turn these into lists, numbers, records.
SUFFIXES = ["", "", "", ":list", ":int", ":float", ":tokens", ":boolean", ":lines", ".a:record"]


def _examples(count: int) -> settings:
    """``count`` examples, the same on every run (derandomized, no example database)."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            "0",
            "9999-12-31",
            "0001-01-01",
            "9999-12-31T23:59",
            "2027-03-28T02:30",
            f"{TOMORROW}T09:00",
            "Europe/Stockholm",
            "student",
            "custom",
            "csv",
            "x" * 5000,
        ]
    ),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
json_objects = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values)
bodies = st.one_of(
    json_objects.map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"[" * 3000 + b"]" * 3000, '{"title":"Möte"}'.encode("latin-1")]),
)
content_types = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/plain", None]
)
origins = st.sampled_from([None, None, "own", "https://evil.example", "null"])
form_items = st.lists(
    st.tuples(
        st.tuples(st.sampled_from(FIELDS) | st.text(max_size=6), st.sampled_from(SUFFIXES)).map(
            "".join
        ),
        texts,
    ),
    max_size=5,
)


@pytest.fixture
def site(mail_portal):
    folder = add_students_folder(mail_portal)
    add_staff("sara", access_to=folder, roles=("Reader", "Contributor"))
    alva = add_student(folder)
    transaction.commit()
    url = mail_portal.absolute_url()
    session = _staff()
    created = session.post(
        f"{url}/@videomote-meetings",
        json={
            "title": "Samtal",
            "start": f"{TOMORROW}T09:00",
            "end": f"{TOMORROW}T09:30",
            "patient": alva.UID(),
            "contact_choice": "student",
        },
        headers={"Accept": "application/json"},
    )
    assert created.status_code == 201, created.text
    page = session.get(f"{url}/@@videomote-boka", headers={"Accept": "text/html"}).text
    token = page.split('name="_authenticator"', 1)[1].split('value="', 1)[1].split('"', 1)[0]
    return {
        "url": url,
        "portal": mail_portal,
        "meeting": created.json()["@id"],
        "token": token,
        "session": session,
    }


def _staff() -> requests.Session:
    return session_as("sara")


def _saved(site) -> list:
    """What a refusal must leave as it was: the meetings and the mail queued about them."""
    transaction.begin()
    site["portal"]._p_jar.sync()
    catalog = api.portal.get_tool("portal_catalog")
    meetings = [
        b._unrestrictedGetObject()
        for b in catalog.unrestrictedSearchResults(portal_type="VideoMeeting")
    ]
    from prorenata.videomote.notify.outbox import outbox_for

    outbox = outbox_for(site["portal"], create=False)
    mails = len(outbox.for_meeting(meetings[0].UID())) if outbox is not None else 0
    return [(m.title, m.start, m.end, m.state, m.sequence) for m in meetings] + [mails]


def _headers(site, content_type, origin, accept="application/json") -> dict:
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    if origin:
        headers["Origin"] = site["url"].rsplit("/", 1)[0] if origin == "own" else origin
    return headers


def _no_server_error(response) -> None:
    assert response.status_code < 500, (response.request.method, response.url, response.text)


@given(
    method=st.sampled_from(["POST", "PATCH"]),
    body=bodies,
    content_type=content_types,
    origin=origins,
)
@_examples(150)
def test_any_body_to_the_rest_services_is_answered_without_a_server_error(
    site, method, body, content_type, origin
):
    before = _saved(site)
    url = f"{site['url']}/@videomote-meetings"
    if method == "PATCH":
        url = f"{site['meeting']}/@videomote-meeting"
    response = site["session"].request(
        method, url, data=body, headers=_headers(site, content_type, origin)
    )
    _no_server_error(response)
    if response.status_code >= 400:
        assert _saved(site) == before, response.text
        assert response.json()["error"]["message"], (response.status_code, response.text)


@given(body=bodies, content_type=content_types, origin=st.sampled_from(["https://evil.example"]))
@_examples(10)
def test_a_cross_site_delete_is_refused_whatever_it_carries(site, body, content_type, origin):
    before = _saved(site)
    response = site["session"].delete(
        f"{site['meeting']}/@videomote-meeting",
        data=body,
        headers=_headers(site, content_type, origin),
    )
    assert response.status_code == 403, response.text
    assert _saved(site) == before


@given(
    path=st.sampled_from(
        [
            "@videomote-meetings",
            "MEETING/@videomote-meeting",
            "@@videomote-kalender",
            "@@videomote-boka",
            "@@videomote-inbjudan-status",
            "MEETING/@@videomote-flytta",
            "MEETING",
            "@@videomote-utkorg-epost",
            "@@videomote-kalenderkoppling",
            "videomote",
            "videomote/logga-in",
            "videomote/status",
        ]
    ),
    query=form_items,
)
@_examples(60)
def test_any_query_string_is_answered_without_a_server_error(site, path, query):
    before = _saved(site)
    url = f"{site['url']}/{path}".replace(f"{site['url']}/MEETING", site["meeting"])
    accept = "application/json" if "/@videomote" in f"/{path}" else "text/html"
    response = site["session"].get(
        url, params=query, headers={"Accept": accept}, allow_redirects=False
    )
    _no_server_error(response)
    assert _saved(site) == before


@given(
    path=st.sampled_from(
        [
            "@@videomote-boka",
            "MEETING/@@videomote-flytta",
            "@@videomote-kalenderkoppling",
            "videomote",
            "videomote/logga-in",
            "videomote/rum-token",
            "videomote/lamna",
        ]
    ),
    form=form_items,
)
@_examples(60)
def test_any_form_post_to_the_pages_is_answered_without_a_server_error(site, path, form):
    before = _saved(site)
    url = f"{site['url']}/{path}".replace(f"{site['url']}/MEETING", site["meeting"])
    fields = [*form, ("_authenticator", site["token"]), ("save", "1")]
    if "kalenderkoppling" in path:
        # Never a connection attempt: only addresses that go nowhere, no "Testa".
        fields = [(k, v) for k, v in fields if not k.startswith(("url", "test"))]
        fields.append(("url", "http://127.0.0.1:9/"))
    session = site["session"] if path.startswith(("@@", "MEETING")) else requests.Session()
    headers = {"Accept": "text/html"}
    response = session.post(url, data=fields, headers=headers, allow_redirects=False)
    _no_server_error(response)
    assert _saved(site) == before
