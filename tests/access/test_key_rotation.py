"""Rotating the instance secret: a new key beside the old ones breaks nothing.

The newest key (``VIDEOMOTE_SECRET_KEY``) makes every new hash, seal and signature; the
retired ones (``VIDEOMOTE_OLD_SECRET_KEYS``) still check and open what they made, until
``scripts/reseal.py`` has sealed the stored secrets again and they are dropped.
"""

from email.message import EmailMessage
from factories import add_student
from factories import book
from plone import api
from prorenata.videomote.access.keys import seal
from prorenata.videomote.access.keys import secret_keys
from prorenata.videomote.access.keys import unseal
from prorenata.videomote.caldav_bridge.accounts import CalDAVAccountRecord
from prorenata.videomote.caldav_bridge.accounts import accounts
from prorenata.videomote.notify.delivery import deliver_due
from prorenata.videomote.notify.delivery import enqueue
from prorenata.videomote.notify.sms import sms_outbox
from prorenata.videomote.rotation import forget_site_key
from prorenata.videomote.rotation import reseal_site

import cryptography.fernet
import pytest
import re
import requests
import transaction

OLD, NEW = "old-key-A-0123456789", "new-key-B-9876543210"


@pytest.fixture
def keys(monkeypatch):
    """Set the configured keys: ``keys(NEW, OLD)`` is "B beside A", newest first."""

    def configure(current, *old):
        monkeypatch.setenv("VIDEOMOTE_SECRET_KEY", current)
        monkeypatch.setenv("VIDEOMOTE_OLD_SECRET_KEYS", ",".join(old))

    return configure


def test_a_password_sealed_under_the_old_key_opens_beside_a_new_one_and_new_seals_use_it(
    portal, keys
):
    keys(OLD)
    sealed_before = seal(portal, "app-password")
    keys(NEW, OLD)
    assert unseal(portal, sealed_before) == "app-password"
    sealed_now = seal(portal, "another")
    keys(NEW)
    assert unseal(portal, sealed_now) == "another"
    keys(OLD)
    with pytest.raises(cryptography.fernet.InvalidToken):
        unseal(portal, sealed_now)


def test_setting_the_variable_for_the_first_time_keeps_the_sites_own_key_readable(
    portal, keys, monkeypatch
):
    monkeypatch.delenv("VIDEOMOTE_SECRET_KEY", raising=False)
    monkeypatch.delenv("VIDEOMOTE_OLD_SECRET_KEYS", raising=False)
    sealed_before = seal(portal, "app-password")
    keys(NEW)
    assert unseal(portal, sealed_before) == "app-password"


def test_the_sites_own_key_is_forgotten_only_once_a_key_is_configured(portal, keys, monkeypatch):
    monkeypatch.delenv("VIDEOMOTE_SECRET_KEY", raising=False)
    monkeypatch.delenv("VIDEOMOTE_OLD_SECRET_KEYS", raising=False)
    accounts(portal)["sara"] = CalDAVAccountRecord(
        "sara", "http://127.0.0.1:1/", "sara", seal(portal, "app-password")
    )
    assert not forget_site_key(portal)  # it is the only key
    keys(NEW)
    assert len(secret_keys(portal)) == 2
    assert reseal_site(portal)["passwords"] == 1
    assert forget_site_key(portal)
    assert secret_keys(portal) == (NEW.encode(),)
    assert unseal(portal, accounts(portal)["sara"].password) == "app-password"


def _queued_mail(portal) -> None:
    message = EmailMessage()
    message["From"] = "noreply@journal.example.se"
    message["To"] = "vardnadshavare@example.se"
    message["Subject"] = "Kallelse till videomöte"
    message.set_content("Skriv in möteskoden: 7KQ2-M9XD-4HPA")
    enqueue(portal, message, "meeting-uid", "invitation")


def test_after_resealing_the_old_key_can_be_dropped(portal, keys, smtp_sink):
    api.portal.set_registry_record("plone.smtp_host", "127.0.0.1")
    api.portal.set_registry_record("plone.smtp_port", smtp_sink.port)
    keys(OLD)
    accounts(portal)["sara"] = CalDAVAccountRecord(
        "sara", "http://127.0.0.1:1/", "sara", seal(portal, "app-password")
    )
    _queued_mail(portal)

    keys(NEW, OLD)
    done = reseal_site(portal)
    assert (done["passwords"], done["mail"], done["unreadable"]) == (1, 1, 0)
    assert reseal_site(portal)["current"] == 2  # nothing left to do the second time

    keys(NEW)
    assert unseal(portal, accounts(portal)["sara"].password) == "app-password"
    assert deliver_due(portal, commit=lambda: None) == (1, 0)
    delivered = smtp_sink.wait_for(1)[0]
    assert "Skriv in möteskoden: 7KQ2-M9XD-4HPA" in delivered.get_body(("plain",)).get_content()


def test_without_resealing_dropping_the_old_key_too_early_is_reported(portal, keys):
    keys(OLD)
    accounts(portal)["sara"] = CalDAVAccountRecord(
        "sara", "http://127.0.0.1:1/", "sara", seal(portal, "app-password")
    )
    keys(NEW)
    assert reseal_site(portal)["unreadable"] == 1


@pytest.fixture
def invitation_under_old_key(mail_portal, smtp_sink, keys):
    """A meeting booked while only the old key was configured: its e-mail's code and link."""
    keys(OLD)
    patient = add_student(mail_portal, title="Alva", guardians=[])
    transaction.commit()
    book(patient, 10)
    text = smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()
    return {
        "code": re.search(r"möteskoden: (\S+)", text).group(1),
        "token": re.search(r"Gå till videomöte: \S+#(\S+)", text).group(1),
    }


def _last_sms(portal) -> str:
    transaction.begin()
    return list(sms_outbox(portal))[-1]["text"][-6:]


def test_codes_links_and_sms_codes_issued_under_the_old_key_work_after_a_new_key_is_added(
    mail_portal, invitation_under_old_key, keys
):
    base = f"{mail_portal.absolute_url()}/videomote"
    browser = requests.Session()
    assert browser.post(base, data={"code": invitation_under_old_key["code"]}).url.endswith(
        "/logga-in"
    )
    browser.post(f"{base}/logga-in", data={"send_code": "1"})
    sms_code = _last_sms(mail_portal)  # issued, and the browser's cookie signed, under A

    keys(NEW, OLD)
    done = browser.post(f"{base}/logga-in", data={"continue": "1", "one_time_code": sms_code})
    assert done.url.endswith("/vantrum"), done.text[:300]

    link = requests.Session().post(
        f"{base}/logga-in", data={"token": invitation_under_old_key["token"]}
    )
    assert link.status_code == 200
    assert "Länken fungerar inte längre" not in link.text
    assert "Skicka kod" in link.text or 'name="send_code"' in link.text

    # A stranger's browser signs in with the meeting code under the new key as well.
    stranger = requests.Session()
    entered = stranger.post(base, data={"code": invitation_under_old_key["code"]})
    assert entered.url.endswith("/logga-in")
    stranger.post(f"{base}/logga-in", data={"send_code": "1"})
    signed = stranger.post(
        f"{base}/logga-in", data={"continue": "1", "one_time_code": _last_sms(mail_portal)}
    )
    assert signed.url.endswith("/vantrum")


def test_once_the_old_key_is_dropped_its_meeting_code_is_unknown(
    mail_portal, invitation_under_old_key, keys
):
    keys(NEW)
    response = requests.post(
        f"{mail_portal.absolute_url()}/videomote", data={"code": invitation_under_old_key["code"]}
    )
    assert "Möteskoden stämmer inte." in response.text


def test_the_reseal_script_reports_what_it_sealed_again(functional, keys, capsys):
    """``zconsole run instance/etc/zope.conf scripts/reseal.py``, as the operator runs it."""
    from pathlib import Path

    import importlib.util

    portal = functional["portal"]
    keys(OLD)
    accounts(portal)["sara"] = CalDAVAccountRecord(
        "sara", "http://127.0.0.1:1/", "sara", seal(portal, "app-password")
    )
    transaction.commit()
    keys(NEW, OLD)
    path = Path(__file__).resolve().parent.parent.parent / "scripts" / "reseal.py"
    spec = importlib.util.spec_from_file_location("reseal", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.SITE_ID = portal.getId()

    assert script.main(functional["app"], []) == 0
    printed = capsys.readouterr().out
    assert "re-sealed 1 CalDAV passwords and 0 queued mails" in printed
    keys(NEW)
    transaction.begin()
    assert unseal(portal, accounts(portal)["sara"].password) == "app-password"
