"""Every staff action on a meeting is in the audit log, without secrets; admins export it."""

from datetime import UTC
from datetime import date
from datetime import timedelta
from factories import STAFF_PASSWORD
from factories import add_staff
from factories import add_student
from factories import start_room
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from prorenata.videomote.audit.log import AuditLog
from prorenata.videomote.audit.log import make_entry
from prorenata.videomote.audit.record import audit_log

import csv
import io
import pytest
import re
import requests
import transaction

TOMORROW = (date.today() + timedelta(days=1)).isoformat()
PERSONNUMMER = "19811218-9876"


def test_audit_entries_refuse_secrets():
    with pytest.raises(ValueError):
        make_entry("sms_sent", actor="x", role="participant", code="123456")
    with pytest.raises(ValueError):
        make_entry("joined", actor="x", role="participant", personnummer=PERSONNUMMER)


def test_retention_purge_removes_only_old_entries():
    from datetime import datetime

    log = AuditLog()
    old = datetime(2019, 1, 1, tzinfo=UTC)
    new = datetime(2026, 1, 1, tzinfo=UTC)
    log.append(make_entry("booked", actor="a", role="staff", now=old))
    log.append(make_entry("booked", actor="b", role="staff", now=new))
    assert log.purge_before(datetime(2021, 11, 25, tzinfo=UTC)) == 1
    assert [e.actor for e in log.query()] == ["b"]


@pytest.fixture
def booked(mail_portal, smtp_sink):
    patient = add_student(mail_portal, title="Alva", personnummer=PERSONNUMMER, guardians=[])
    add_staff("sara", access_to=patient, roles=("Reader", "Contributor"))
    transaction.commit()
    sara = requests.Session()
    sara.auth = ("sara", STAFF_PASSWORD)
    sara.headers["Accept"] = "application/json"
    meeting = sara.post(
        f"{mail_portal.absolute_url()}/@videomote-meetings",
        json={
            "title": "Samtal",
            "start": f"{TOMORROW}T09:00",
            "end": f"{TOMORROW}T09:30",
            "patient": patient.UID(),
            "contact_choice": "student",
        },
    ).json()
    (message,) = smtp_sink.wait_for(1)
    start_room(sara, meeting["@id"])
    transaction.begin()
    return {
        "portal": mail_portal,
        "meeting": meeting,
        "patient": patient,
        "sara": sara,
        "mail": message.get_body(("plain",)).get_content(),
    }


def _actions(portal, **query):
    return [(e.action, e.actor) for e in audit_log(portal).query(**query)]


def test_booking_sending_and_opening_are_audited(booked):
    import time

    for _ in range(50):  # the delivery worker writes "invitation_sent" after the SMTP reply
        transaction.begin()
        if ("invitation_sent", "system") in _actions(booked["portal"]):
            break
        time.sleep(0.1)
    actions = _actions(booked["portal"], meeting_uid=booked["meeting"]["UID"])
    assert ("booked", "sara") in actions
    assert ("invitation_sent", "system") in actions
    assert ("staff_opened", "sara") in actions
    assert ("started", "sara") in actions
    entry = audit_log(booked["portal"]).query(meeting_uid=booked["meeting"]["UID"])[0]
    assert entry.patient_uid == booked["patient"].UID()
    assert entry.ip == "127.0.0.1"


def test_audit_log_holds_no_code_token_or_personnummer(booked):
    text = repr(audit_log(booked["portal"]).query())
    code = re.search(r"möteskoden: (\S+)", booked["mail"])
    token = re.search(r"logga-in#(\S+)", booked["mail"])
    assert PERSONNUMMER not in text
    assert code and token
    for secret in (code.group(1), code.group(1).replace("-", ""), token.group(1)):
        assert secret not in text


def test_admin_exports_the_log_as_csv_and_staff_cannot_read_it(booked):
    url = f"{booked['portal'].absolute_url()}/@@videomote-granskningslogg"
    admin = requests.get(
        url,
        params={"format": "csv", "meeting": booked["meeting"]["UID"]},
        auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD),
    )
    assert admin.status_code == 200
    assert admin.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(admin.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0][:3] == ["Tid", "Händelse", "Vem"]
    assert any(row[1] == "Bokat" and row[2] == "sara" for row in rows[1:])
    assert booked["sara"].get(url, allow_redirects=False).status_code in (302, 401, 403)


def test_the_csv_export_is_made_in_chunks_and_names_every_row(booked, monkeypatch):
    """Years of entries are written a chunk at a time to a file and streamed from it: a
    chunk's end changes nothing in what the rows say, and every entry is there."""
    from prorenata.videomote.audit import view
    from prorenata.videomote.audit.log import make_entry

    portal, meeting = booked["portal"], booked["meeting"]
    log = audit_log(portal)
    for _ in range(7):
        log.append(
            make_entry("viewed", actor="sara", role="staff", meeting_uid=meeting["UID"], via="rest")
        )
    transaction.commit()
    monkeypatch.setattr(view, "CSV_CHUNK", 3)
    answer = requests.get(
        f"{portal.absolute_url()}/@@videomote-granskningslogg",
        params={"format": "csv", "meeting": meeting["UID"]},
        auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD),
    )
    assert answer.status_code == 200
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff")), delimiter=";"))[1:]
    transaction.begin()
    assert len(rows) == len(audit_log(portal).query(meeting_uid=meeting["UID"])) > 9
    assert {row[4] for row in rows} == {rows[0][4]} and rows[0][4].startswith(meeting["title"])
    assert [row[0] for row in rows] == sorted((row[0] for row in rows), reverse=True)


def test_staff_reading_a_meeting_in_the_dialog_or_over_rest_is_audited(booked):
    """Each shows the invitee's contact details: every one is written down."""
    sara, meeting, portal = booked["sara"], booked["meeting"], booked["portal"]

    def entries() -> list:
        transaction.begin()
        return [
            e for e in audit_log(portal).query(meeting_uid=meeting["UID"]) if e.action == "viewed"
        ]

    # Booking (its answer) and opening the room before it started were looks of their own.
    before = len(entries())
    sara.get(f"{meeting['@id']}/@videomote-meeting").raise_for_status()
    sara.get(meeting["@id"], headers={"Accept": "text/html"}).raise_for_status()
    sara.get(f"{portal.absolute_url()}/@videomote-meetings", params={"start": TOMORROW})
    viewed = entries()[before:]
    assert sorted(e.detail for e in viewed) == ["", "via=rest", "via=rest-lista"]
    assert {(e.actor, e.ip) for e in viewed} == {("sara", "127.0.0.1")}


def _table(page: str) -> list[list[str]]:
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return [
        [
            " ".join(re.sub(r"<[^>]+>", " ", cell).split())
            for cell in re.findall(r"<td>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_the_log_shows_meeting_student_and_roles_in_swedish_not_uids(booked):
    portal, meeting = booked["portal"], booked["meeting"]
    url = f"{portal.absolute_url()}/@@videomote-granskningslogg"
    page = requests.get(url, auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)).text
    rows = _table(page)
    booked_row = next(row for row in rows if row[1] == "Bokat")
    assert booked_row[2:6] == ["sara", "Personal", f"Samtal ({TOMORROW} 09.00–09.30)", "Alva"]
    assert booked_row[7] == "Kontakt: eleven"
    shown = " ".join(" ".join(row) for row in rows)
    for raw in (meeting["UID"], booked["patient"].UID(), "staff", "participant", "student"):
        assert raw not in shown
    # The names lead to that meeting's and that student's entries.
    assert f'href="{url}?meeting={meeting["UID"]}"' in page
    assert f'href="{url}?patient={booked["patient"].UID()}"' in page
    # Nothing English among the roles, whoever acted.
    assert {row[3] for row in rows} <= {"Personal", "Deltagare", "Systemet"}

    # A deleted meeting (administrators only) is named as such; its entries stay.
    from plone import api

    transaction.begin()
    with api.env.adopt_user(SITE_OWNER_NAME):
        api.content.delete(api.content.get(UID=meeting["UID"]))
    transaction.commit()
    rows = _table(requests.get(url, auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)).text)
    booked_row = next(row for row in rows if row[1] == "Bokat")
    assert booked_row[4:6] == ["Borttaget möte", "Alva"]
    export = requests.get(
        url, params={"format": "csv"}, auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)
    ).text
    csv_rows = list(csv.reader(io.StringIO(export.lstrip("\ufeff")), delimiter=";"))
    assert csv_rows[0][-2:] == ["Mötes-UID", "Elev/patient-UID"]
    assert any(row[-2] == meeting["UID"] and row[4] == "Borttaget möte" for row in csv_rows[1:])


def test_a_participants_entries_read_as_such_in_swedish(booked):
    from prorenata.videomote.audit.record import record

    transaction.begin()
    from plone import api

    with api.env.adopt_user(SITE_OWNER_NAME):
        meeting = api.content.get(UID=booked["meeting"]["UID"])
    record("sms_refused", meeting, actor="deltagare:guardian", role="participant", limit="meeting")
    record("code_unknown", None, actor="okänd", role="participant")
    transaction.commit()
    url = f"{booked['portal'].absolute_url()}/@@videomote-granskningslogg"
    rows = _table(requests.get(url, auth=(SITE_OWNER_NAME, SITE_OWNER_PASSWORD)).text)
    refused = next(row for row in rows if row[1] == "SMS-kod nekad: gränsen nådd")
    assert refused[2:4] == ["Deltagare (vårdnadshavare)", "Deltagare"]
    assert refused[7] == "Gräns: mötets SMS-gräns"
    unknown = next(row for row in rows if row[1] == "Okänd eller gammal möteskod")
    assert unknown[2:6] == ["Okänd", "Deltagare", "", ""]
