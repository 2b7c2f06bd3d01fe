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


def test_staff_reading_a_meeting_in_the_dialog_or_over_rest_is_audited(booked):
    """Each shows the invitee's contact details: every one is written down."""
    sara, meeting, portal = booked["sara"], booked["meeting"], booked["portal"]
    sara.get(f"{meeting['@id']}/@videomote-meeting").raise_for_status()
    sara.get(meeting["@id"], headers={"Accept": "text/html"}).raise_for_status()
    sara.get(f"{portal.absolute_url()}/@videomote-meetings", params={"start": TOMORROW})
    transaction.begin()
    viewed = [
        e for e in audit_log(portal).query(meeting_uid=meeting["UID"]) if e.action == "viewed"
    ]
    assert sorted(e.detail for e in viewed) == ["", "via=rest", "via=rest-lista"]
    assert {(e.actor, e.ip) for e in viewed} == {("sara", "127.0.0.1")}
