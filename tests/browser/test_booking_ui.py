"""Staff book, are refused, move and cancel, by the Swedish labels they read."""

from datetime import date
from datetime import timedelta

import pytest

pytestmark = pytest.mark.slow

TOMORROW = date.today() + timedelta(days=1)


def _fill_dialog(page, title, student, choice, start="09:00", end="09:30"):
    page.get_by_label("Titel").fill(title)
    page.get_by_label("Start").fill(f"{TOMORROW.isoformat()}T{start}")
    page.get_by_label("Slut").fill(f"{TOMORROW.isoformat()}T{end}")
    if student:
        page.get_by_label("Elev/patient").select_option(label=student)
    page.get_by_label(choice).check()


def test_booking_from_the_calendar_sends_invitation_and_notifies(staff_page, journal, smtp_sink):
    page = staff_page
    page.goto(f"{journal['url']}/@@videomote-kalender")
    page.get_by_role("link", name="Nytt videomöte").click()
    _fill_dialog(page, "Uppföljande samtal", "Alva Andersson", "Elev (Primär kontaktuppgift)")
    page.get_by_role("button", name="Spara").click()
    toast = page.get_by_role("status")
    toast.get_by_text("En inbjudan har skickats till Alva Andersson").wait_for()
    box = toast.bounding_box()
    assert box["x"] < 100 and box["y"] > 500  # lower left, as in the guide
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "alva@example.se"
    page.goto(f"{journal['url']}/@@videomote-kalender?view=week&day={TOMORROW.isoformat()}")
    grid = page.get_by_role("table")
    assert grid.get_by_role("link", name="09.00–09.30 Uppföljande samtal").is_visible()


def test_guardian_without_mobile_is_refused_and_custom_contact_books(
    staff_page, journal, smtp_sink
):
    page = staff_page
    page.goto(journal["bruno"].absolute_url())
    page.get_by_text("Använd elev/patient för att…").click()
    page.get_by_role("link", name="Boka i kalendern").click()
    assert page.get_by_label("Elev/patient").input_value() == journal["bruno"].UID()
    _fill_dialog(page, "Samtal", None, "Vårdnadshavare (Primär kontaktuppgift)")
    page.get_by_role("button", name="Spara").click()
    page.get_by_text(
        "Vårdnadshavaren Bodil Berg saknar mobilnummer (primär kontaktuppgift)."
    ).wait_for()
    page.get_by_label("Anpassad (Om annan kontaktuppgift)").check()
    page.get_by_role("button", name="Spara").click()
    page.get_by_text("Vid Anpassad behöver du fylla i Namn, Mobilnummer, E-postadress.").wait_for()
    page.get_by_label("Anpassad (Om annan kontaktuppgift)").check()
    page.get_by_label("Namn", exact=True).fill("Tolk Tina")
    page.get_by_label("Mobilnummer", exact=True).fill("070-111 22 33")
    page.get_by_label("E-postadress", exact=True).fill("tina@example.se")
    page.get_by_role("button", name="Spara").click()
    page.get_by_text("En inbjudan har skickats till Tolk Tina").wait_for()
    (message,) = smtp_sink.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "tina@example.se"


def test_guardian_choice_from_patient_overview_invites_the_guardian(staff_page, journal, smtp_sink):
    page = staff_page
    page.goto(f"{journal['alva'].absolute_url()}/@@videomote-boka")
    _fill_dialog(page, "Samtal med vårdnadshavare", None, "Vårdnadshavare (Primär kontaktuppgift)")
    page.get_by_role("button", name="Spara").click()
    page.get_by_text("En inbjudan har skickats till Anna Andersson").wait_for()
    assert smtp_sink.wait_for(1)[0]["To"].addresses[0].addr_spec == "anna@example.se"


def test_moving_and_cancelling_from_the_meeting_dialog(staff_page, journal, smtp_sink):
    page = staff_page
    page.goto(f"{journal['url']}/@@videomote-boka?start={TOMORROW.isoformat()}T10:00")
    assert page.get_by_label("Start").input_value() == f"{TOMORROW.isoformat()}T10:00"
    assert page.get_by_label("Slut").input_value() == f"{TOMORROW.isoformat()}T10:30"
    page.get_by_label("Titel").fill("Hälsosamtal")
    page.get_by_label("Elev/patient").select_option(label="Alva Andersson")
    page.get_by_role("button", name="Spara").click()
    page.get_by_role("table").get_by_role("link", name="10.00–10.30 Hälsosamtal").click()
    join = page.get_by_role("link", name="Gå till videomöte")
    assert join.get_attribute("target") == "_blank"
    assert join.get_attribute("href").endswith("/@@videomote-rum")
    page.get_by_role("link", name="Flytta").click()
    page.get_by_label("Start").fill(f"{TOMORROW.isoformat()}T13:00")
    page.get_by_label("Slut").fill(f"{TOMORROW.isoformat()}T13:45")
    page.get_by_role("button", name="Spara").click()
    page.get_by_text("Mötet är flyttat.").wait_for()
    page.get_by_role("link", name="Avboka").click()
    page.get_by_role("button", name="Ja, avboka mötet").click()
    page.get_by_text("Mötet är avbokat.").wait_for()
    subjects = [m["Subject"].split(":")[0] for m in smtp_sink.wait_for(3)]
    assert subjects == ["Inbjudan", "Ändrad tid", "Inställt"]
