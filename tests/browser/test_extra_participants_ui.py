"""Extra participants with real browsers: staff add an interpreter in the booking dialog,
and a three-person meeting (staff, guardian, interpreter) where each signs in with their
own SMS code and all see each other in the room."""

from datetime import date
from datetime import datetime
from datetime import timedelta
from factories import book_at
from factories import session_as
from pages import participant_page
from pages import wait_until
from prorenata.videomote.notify.sms import sms_outbox
from test_accessibility import axe_violations
from test_room import media
from test_room import open_staff_room
from test_room import sees
from test_room import stopped_for_good
from test_room import wait_for
from zoneinfo import ZoneInfo

import pytest
import re
import time
import transaction

pytestmark = pytest.mark.slow

TOMORROW = date.today() + timedelta(days=1)
TOLK = {"name": "Tina Tolk", "mobile": "070-111 22 33", "email": "tina@tolk.se", "role": "tolk"}


def _mails_by_recipient(smtp_sink, count: int) -> dict:
    return {m["To"].addresses[0].addr_spec: m for m in smtp_sink.wait_for(count)}


def _plain(message) -> str:
    return message.get_body(("plain",)).get_content()


def test_staff_add_an_interpreter_in_the_booking_dialog(staff_page, journal, smtp_sink):
    page = staff_page
    page.goto(f"{journal['url']}/@@videomote-boka?start={TOMORROW.isoformat()}T10:00")
    page.get_by_label("Titel").fill("Samtal med tolk")
    page.get_by_label("Elev/patient").select_option(label="Alva Andersson")
    page.get_by_label("Vårdnadshavare (Primär kontaktuppgift)").check()
    page.get_by_text("Lägg till deltagare").click()
    second = page.get_by_role("group", name="Deltagare 2")
    second.get_by_label("Namn").fill("Tina Tolk")
    second.get_by_label("Mobilnummer").fill("12")  # refused, naming the person and field
    second.get_by_label("E-postadress").fill("tina@tolk.se")
    second.get_by_label("Roll").select_option(label="Tolk")
    page.get_by_role("button", name="Spara").click()
    page.get_by_text("Deltagare 2: Ogiltigt mobilnummer.").wait_for()
    second = page.get_by_role("group", name="Deltagare 2")
    assert second.get_by_label("Mobilnummer").get_attribute("aria-invalid") == "true"
    assert second.get_by_label("Namn").input_value() == "Tina Tolk"  # kept
    assert axe_violations(page, "bokning med deltagare och fel") == []
    second.get_by_label("Mobilnummer").fill("070-111 22 33")
    page.get_by_role("button", name="Spara").click()
    page.get_by_role("status").get_by_text(
        "En inbjudan har skickats till Anna Andersson och Tina Tolk (tolk)"
    ).wait_for()
    mails = _mails_by_recipient(smtp_sink, 2)
    assert set(mails) == {"anna@example.se", "tina@tolk.se"}
    assert "Hej Tina Tolk," in _plain(mails["tina@tolk.se"])
    # The meeting's page names her with her role.
    page.get_by_role("link", name=re.compile("Samtal med tolk")).first.click()
    page.get_by_text("Tina Tolk (tolk)").wait_for()


def _sms_to(portal, mobile: str, after: int) -> str:
    """The newest SMS to ``mobile`` beyond the first ``after`` messages (bounded wait)."""
    for _ in range(50):
        transaction.begin()
        box = [m for m in list(sms_outbox(portal))[after:] if m["to"] == mobile]
        if box:
            return box[-1]["text"]
        time.sleep(0.1)
    raise AssertionError(f"no SMS to {mobile}")


def _enter(page, link: str, portal, mobile: str, masked: str) -> None:
    """Open one's own invitation link, sign in with the SMS to one's own mobile, join."""
    page.goto(link)
    page.get_by_text(masked).wait_for()
    transaction.begin()
    before = len(list(sms_outbox(portal)))
    page.get_by_role("button", name="Skicka engångskod via SMS").click()
    page.get_by_text(f"Vi har skickat en engångskod till {masked}.").wait_for()
    sms = _sms_to(portal, mobile, before)
    assert re.fullmatch(r"Din inloggningskod till Prorenata Videomöte är \d{6}", sms)
    page.get_by_label("Engångskod från SMS").fill(sms[-6:])
    page.get_by_role("button", name="Fortsätt").click()
    join = page.get_by_role("button", name="Gå med nu")
    wait_until(page, "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'")
    join.click()
    page.wait_for_url(re.compile(r"/videomote/rum$"))


@pytest.fixture
def interpreter(chromium):
    context, page = participant_page(chromium)
    yield page
    context.close()


def _booked_with_interpreter(journal, smtp_sink):
    """A meeting in ten minutes with the guardian and an interpreter; each one's link
    from their own invitation, by address."""
    start = datetime.now(ZoneInfo("Europe/Stockholm")).replace(tzinfo=None) + timedelta(minutes=10)
    meeting = book_at(journal["alva"], start, "Samtal med tolk", extra_participants=[TOLK])
    mails = _mails_by_recipient(smtp_sink, 2)
    links = {
        who: re.search(r"Gå till videomöte: (\S+)", _plain(message)).group(1)
        for who, message in mails.items()
    }
    return meeting, links


def test_staff_guardian_and_interpreter_each_sign_in_and_see_each_other(
    staff_page, participant, interpreter, journal, media_server, mail_portal, smtp_sink
):
    meeting, links = _booked_with_interpreter(journal, smtp_sink)
    assert links["anna@example.se"] != links["tina@tolk.se"]

    open_staff_room(staff_page, meeting)
    _enter(participant, links["anna@example.se"], mail_portal, "+46701234502", "070-*** **02")
    _enter(interpreter, links["tina@tolk.se"], mail_portal, "+46701112233", "070-*** **33")

    everyone = {
        "Sara Skolsköterska": staff_page,
        "Anna Andersson": participant,
        "Tina Tolk (tolk)": interpreter,
    }
    for name, page in everyone.items():
        others = [other for other in everyone if other != name]
        state = wait_for(page, sees(others, energy=False), 30, f"{name} sees {others}")
        assert media(page)["state"] == "connected", state


def test_an_interpreter_removed_over_rest_sees_why_and_the_others_go_on(
    staff_page, participant, interpreter, journal, media_server, mail_portal, smtp_sink
):
    meeting, links = _booked_with_interpreter(journal, smtp_sink)
    open_staff_room(staff_page, meeting)
    _enter(participant, links["anna@example.se"], mail_portal, "+46701234502", "070-*** **02")
    _enter(interpreter, links["tina@tolk.se"], mail_portal, "+46701112233", "070-*** **33")
    wait_for(interpreter, sees(["Sara Skolsköterska", "Anna Andersson"], energy=False), 30)

    patched = session_as("sara", json=True).patch(
        f"{meeting.absolute_url()}/@videomote-meeting", json={"extra_participants": []}
    )
    assert patched.status_code == 200, patched.text

    stopped_for_good(interpreter, "Du har tagits bort från mötet.")
    wait_for(staff_page, sees(["Anna Andersson"]), what="staff still decode the guardian")
    wait_for(participant, sees(["Sara Skolsköterska"]), what="the guardian still decodes staff")
    wait_for(
        staff_page,
        lambda state: "Tina Tolk (tolk)" not in [tile["name"] for tile in state["tiles"]],
        what="the interpreter's picture goes from the staff page",
    )
