"""Helpers for the production-topology tests: scripts/cluster.py's own functions, with fresh
loopback ports in a temporary folder (PostgreSQL runs as the unprivileged ``videomote``
user when we are root, so the folder is made traversable for it)."""

from as_make_run import load_script
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import base64
import email
import email.policy
import html
import http.client
import json as jsonlib
import re
import shutil
import ssl
import time
import urllib.parse

ROOT = Path(__file__).resolve().parents[2]


def load_cluster_module():
    return load_script("cluster", "cluster_script")


#: The runner's own: a TCP port on 127.0.0.1 that nothing listens on just now.
free_port = load_cluster_module().free_port


def missing_engines(need_haproxy: bool = True) -> str | None:
    """Why the cluster cannot run here (CI installs all of it with make install)."""
    cluster = load_cluster_module()
    if cluster.pg_bindir() is None:
        return "PostgreSQL is not installed (make system-packages)"
    if need_haproxy and not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        return "HAProxy is not installed (make system-packages)"
    if not shutil.which("openssl"):
        return "openssl is not installed (make system-packages)"
    try:
        import psycopg2  # noqa: F401
        import relstorage  # noqa: F401
    except ImportError:
        return "RelStorage/psycopg2 are not installed (make install: the cluster extra)"
    return None


#: The demo site's staff member and manager (scripts/create_site.py).
STAFF = ("skolskoterska", "videomote")
ADMIN = ("admin", "admin")


def https_request(cluster, method, path, body=None, auth=None, source="127.0.0.1", json=True):
    """One request through HAProxy's TLS port, checked against the cluster's certificate,
    on a fresh connection from ``source`` (any 127.0.0.0/8 address); ``json=False``: a
    form's post (or a page's GET) instead of plone.restapi's JSON."""
    context = ssl.create_default_context(cafile=str(cluster.var / "tls" / "site.crt"))
    connection = http.client.HTTPSConnection(
        "localhost", cluster.https_port, context=context, timeout=60, source_address=(source, 0)
    )
    headers = {"Accept": "application/json"} if json else {}
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    data = None
    if body is not None:
        if json:
            data = jsonlib.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        else:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


def student_uid(cluster) -> str:
    """The UID of the demo site's first student (Alva, whose guardian has a mobile)."""
    status, text = https_request(
        cluster, "GET", "/Plone/elever/@search?portal_type=Patient&metadata_fields=UID", auth=ADMIN
    )
    assert status == 200, text
    return jsonlib.loads(text)["items"][0]["UID"]


def book_soon(cluster, title: str, minutes: int) -> dict:
    """A half-hour meeting with the first student's guardian ``minutes`` from now
    (Stockholm time, whole minutes), booked by staff over REST through HAProxy; the
    meeting's JSON."""
    soon = (datetime.now(ZoneInfo("Europe/Stockholm")) + timedelta(minutes=minutes)).replace(
        second=0, microsecond=0
    )
    body = {
        "title": title,
        "start": soon.strftime("%Y-%m-%dT%H:%M"),
        "end": (soon + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        "patient": student_uid(cluster),
        "contact_choice": "guardian",
    }
    status, text = https_request(cluster, "POST", "/Plone/@videomote-meetings", body, STAFF)
    assert status == 201, text
    return jsonlib.loads(text)


def invitation_link(cluster, title: str, seconds: float = 90) -> str:
    """The "Gå till videomöte" link of the invitation to the meeting ``title``, from the
    mailbox the cluster's own mail server writes (``var/mail``, as ``make run-cluster``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for folder in ("new", "cur"):
            for path in sorted((cluster.var / "mail" / folder).glob("*")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if title not in str(message["Subject"]):
                    continue
                text = message.get_body(preferencelist=("plain",)).get_content()
                link = re.search(r"Gå till videomöte: (\S+)", text)
                if link:
                    return link.group(1)
        time.sleep(0.5)
    raise AssertionError(f"no invitation to {title} within {seconds:.0f} s")


SMS_ROW = re.compile(r"<td>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>")


def sms_texts(cluster, to: str) -> list[str]:
    """The SMS to the number ``to`` in the site's SMS outbox (the gateway the demo and
    the tests use), newest first, read as a manager through HAProxy."""
    status, page = https_request(
        cluster, "GET", "/Plone/@@videomote-sms-utkorg", auth=ADMIN, json=False
    )
    assert status == 200, page[:500]
    return [html.unescape(text) for _time, number, text in SMS_ROW.findall(page) if number == to]
