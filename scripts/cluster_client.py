"""A running cluster (``scripts/cluster.py``) as its users reach it, through HAProxy's TLS:
shared by ``tests/cluster/`` and ``benchmarks/cluster.py`` (the scripts are no package;
both load this file by path).

Staff book over REST; a participant's SMS codes are read from the site's SMS outbox
(``@@videomote-sms-utkorg``, the gateway the demo and the tests use) as a manager.
"""

from datetime import datetime
from datetime import timedelta
from zoneinfo import ZoneInfo

import base64
import html
import http.client
import json as jsonlib
import re
import ssl
import urllib.parse

#: The demo site's staff member and manager (scripts/create_site.py).
STAFF = ("skolskoterska", "videomote")
ADMIN = ("admin", "admin")
#: The demo site's first student (scripts/create_site.py), whose guardian has a mobile.
DEMO_STUDENT = "Alva Andersson"
#: Alva's guardian Anna in the demo site (scripts/create_site.py): the invitee when the
#: first student's meeting is booked with ``contact_choice="guardian"``.
DEMO_GUARDIAN_MOBILE = "+46701234502"

#: The invitation e-mail's plain text: its link, and the meeting code for the code page.
INVITATION_LINK = re.compile(r"Gå till videomöte: (\S+)")
MEETING_CODE = re.compile(r"möteskoden: ([0-9A-Z-]+)")
#: The sign-in SMS (the site's Swedish text).
SMS_CODE = re.compile(r"Din inloggningskod till Prorenata Videomöte är (\d{6})")
SMS_ROW = re.compile(r"<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>")


def https_request(
    cluster, method, path, body=None, auth=None, source="127.0.0.1", json=True, headers=None
):
    """One request through HAProxy's TLS port, checked against the cluster's certificate,
    on a fresh connection from ``source`` (any 127.0.0.0/8 address); ``json=False``: a
    form's post (or a page's GET) instead of plone.restapi's JSON. (status, text)."""
    context = ssl.create_default_context(cafile=str(cluster.var / "tls" / "site.crt"))
    connection = http.client.HTTPSConnection(
        "localhost", cluster.https_port, context=context, timeout=60, source_address=(source, 0)
    )
    sent = {"Accept": "application/json"} if json else {}
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        sent["Authorization"] = f"Basic {token}"
    data = None
    if body is not None:
        if json:
            data = jsonlib.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        else:
            data = urllib.parse.urlencode(body).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=data, headers={**sent, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def _ok(status: int, text: str, wanted: int) -> None:
    if status != wanted:
        raise AssertionError(f"answered {status}, not {wanted}: {text[:500]}")


def student_uid(cluster) -> str:
    """The UID of the demo site's first student (Alva, whose guardian has a mobile), found
    by her name: students a test or benchmark adds are created in the same minute as the
    site on a fast machine, and the catalog's ``created`` keeps minutes only, so "the
    oldest student" named one of them now and then (bookings for her guardian refused)."""
    query = "portal_type=Patient&b_size=1000&metadata_fields=UID"
    status, text = https_request(cluster, "GET", f"/Plone/elever/@search?{query}", auth=ADMIN)
    _ok(status, text, 200)
    found = [i["UID"] for i in jsonlib.loads(text)["items"] if i["title"] == DEMO_STUDENT]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} students named {DEMO_STUDENT} in the demo site")
    return found[0]


def soon(minutes: int) -> datetime:
    """Stockholm time ``minutes`` from now, whole minutes (naive, as bookings give it)."""
    moment = datetime.now(ZoneInfo("Europe/Stockholm")) + timedelta(minutes=minutes)
    return moment.replace(second=0, microsecond=0, tzinfo=None)


def book_soon(
    cluster, title: str, minutes: int, patient: str | None = None, contact: str = "guardian"
) -> dict:
    """A half-hour meeting ``minutes`` from now with ``patient`` (default: the first
    student) or their guardian (``contact``), booked by staff over REST through HAProxy;
    the meeting's JSON."""
    start = soon(minutes)
    body = {
        "title": title,
        "start": start.strftime("%Y-%m-%dT%H:%M"),
        "end": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        "patient": patient or student_uid(cluster),
        "contact_choice": contact,
    }
    status, text = https_request(cluster, "POST", "/Plone/@videomote-meetings", body, STAFF)
    _ok(status, text, 201)
    return jsonlib.loads(text)


def sms_outbox(cluster) -> list[tuple[str, str]]:
    """Every SMS in the site's outbox as (number, text), newest first, read as a manager
    through HAProxy (one page: the outbox keeps the newest 500)."""
    status, page = https_request(
        cluster, "GET", "/Plone/@@videomote-sms-utkorg", auth=ADMIN, json=False
    )
    _ok(status, page[:500], 200)
    return [(number, html.unescape(text)) for _time, number, text in SMS_ROW.findall(page)]


def sms_texts(cluster, to: str) -> list[str]:
    """The SMS to the number ``to`` in the site's SMS outbox, newest first."""
    return [text for number, text in sms_outbox(cluster) if number == to]


def newest_sign_in_codes(cluster) -> dict[str, str]:
    """The newest sign-in code each number in the outbox got (one read for them all)."""
    codes: dict[str, str] = {}
    for number, text in sms_outbox(cluster):
        found = SMS_CODE.fullmatch(text)
        if found and number not in codes:
            codes[number] = found.group(1)
    return codes
