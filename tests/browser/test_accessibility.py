"""WCAG 2.1 AA: axe-core finds nothing serious on any page the add-on shows; the
participant path and staff booking work by keyboard alone; the room reflows at 320 px.

axe-core comes from npm (package.json/package-lock.json at the repository root, ``npm ci``
in ``make install``). Injecting it is a script from outside the page: the participant and
room pages' Content-Security-Policy (no inline script, no eval, scripts from the site only)
rightly refuses that, so the axe contexts alone are opened with ``bypass_csp=True``. The
keyboard and reflow tests keep the policy (and watch it, as the other browser tests do).
"""

from datetime import date
from datetime import timedelta
from factories import start_room
from pages import csp_violations
from pages import wait_until
from pathlib import Path

import pytest
import re
import requests
import transaction

pytestmark = pytest.mark.slow

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ADMIN = ("ada", "secret-pw-admin")
TOMORROW = date.today() + timedelta(days=1)
# WCAG 2.0/2.1 A and AA, which Swedish public-sector law (DOS-lagen, EN 301 549) requires.
AXE_RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    resultTypes: ["violations"],
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ") + " :: " +
                                      (n.failureSummary || "").replace(/\\s+/g, " ")),
    }));
}"""


def axe_violations(page, name: str) -> list[str]:
    """Serious and critical WCAG A/AA violations on ``page``, one line per rule."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` in the repository root (make install)")
    page.wait_for_load_state()
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(AXE_RUN)
    return [
        f"{name} ({page.url}): [{v['impact']}] {v['id']} – {v['help']}: {v['nodes']}" for v in found
    ]


def _new_context(chromium, **kwargs):
    context = chromium.new_context(
        locale="sv-SE", viewport={"width": 1280, "height": 1000}, **kwargs
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _log_in(page, url: str, userid: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Användarnamn").fill(userid)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()


@pytest.fixture
def admin(journal):
    from plone import api
    from plone.app.testing import SITE_OWNER_NAME

    with api.env.adopt_user(SITE_OWNER_NAME):
        api.user.create(
            username=ADMIN[0],
            email="ada@example.se",
            password=ADMIN[1],
            roles=["Member", "Manager", "Site Administrator"],
            properties={"fullname": "Ada Admin"},
        )
    transaction.commit()
    return ADMIN


def test_axe_finds_no_serious_violation_on_any_page_of_the_add_on(
    chromium, journal, invitation, admin, mail_portal, sign_in_with_sms, latest_sms
):
    found: list[str] = []
    url = journal["url"]
    meeting_url = invitation["meeting"].absolute_url()

    # -- the participant: code page, its error, sign-in, its error, waiting room, room, left
    context, page = _new_context(chromium, bypass_csp=True)
    page.goto(f"{url}/videomote")
    found += axe_violations(page, "kodsida")
    page.get_by_label("Möteskod").fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Möteskoden stämmer inte.").wait_for()
    found += axe_violations(page, "kodsida, fel kod")
    page.get_by_label("Möteskod").fill(invitation["code"])
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_role("button", name="Skicka engångskod via SMS").wait_for()
    found += axe_violations(page, "inloggning")
    page.get_by_role("button", name="Skicka engångskod via SMS").click()
    sms = latest_sms(mail_portal)
    page.get_by_label("Engångskod från SMS").fill(f"{(int(sms[-6:]) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Fel kod.").wait_for()
    found += axe_violations(page, "inloggning, fel engångskod")
    page.get_by_label("Engångskod från SMS").fill(sms[-6:])
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Väntar på att mötet ska starta…").wait_for()
    found += axe_violations(page, "väntrum")
    staff = requests.Session()
    staff.auth = ("sara", "secret-pw-1")
    start_room(staff, invitation["meeting"])
    wait_until(page, "document.getElementById('pv-join').getAttribute('aria-disabled') !== 'true'")
    found += axe_violations(page, "väntrum, mötet har startat")
    page.goto(f"{url}/videomote/rum")
    page.get_by_role("button", name=re.compile("Lämna mötet")).wait_for()
    found += axe_violations(page, "rum (deltagare)")
    page.get_by_role("button", name=re.compile("Lämna mötet")).click()
    page.get_by_text("Du har lämnat mötet.").wait_for()
    found += axe_violations(page, "lämnat mötet")
    context.close()

    # -- staff: calendar, dialogs, room, home page, patient overview, calendar settings
    context, page = _new_context(chromium, bypass_csp=True)
    _log_in(page, url, "sara", "secret-pw-1")
    found += axe_violations(page, "startsida (Dagens aktiviteter)")
    staff_pages = {
        "kalender, vecka": f"{url}/@@videomote-kalender?view=week",
        "kalender, dag": f"{url}/@@videomote-kalender?view=day",
        "bokning": f"{url}/@@videomote-boka?start={TOMORROW.isoformat()}T10:00",
        "möte": meeting_url,
        "flytta": f"{meeting_url}/@@videomote-flytta",
        "avboka": f"{meeting_url}/@@videomote-avboka",
        "elev/patient": journal["alva"].absolute_url(),
        "kalenderkoppling": f"{url}/@@videomote-kalenderkoppling",
        "rum (personal)": f"{meeting_url}/@@videomote-rum",
    }
    titles = set()
    for name, address in staff_pages.items():
        page.goto(address)
        found += axe_violations(page, name)
        titles.add(page.title())
    # Each page its own title (the meeting and its room both show the meeting's name).
    assert len(titles) >= len(staff_pages) - 1, titles
    page.goto(f"{url}/@@videomote-boka")
    page.get_by_role("button", name="Spara").click()
    page.wait_for_load_state()
    found += axe_violations(page, "bokning, fel")
    context.close()

    # -- administrators: audit log, mail outbox, SMS outbox, control panel
    context, page = _new_context(chromium, bypass_csp=True)
    _log_in(page, url, *admin)
    for name, view in {
        "granskningslogg": "@@videomote-granskningslogg",
        "e-postutkorg": "@@videomote-utkorg-epost",
        "sms-utkorg": "@@videomote-sms-utkorg",
        "kontrollpanel": "@@videomote-controlpanel",
    }.items():
        page.goto(f"{url}/{view}")
        found += axe_violations(page, name)
    context.close()

    assert not found, "axe-core (WCAG 2.1 AA), serious/critical:\n" + "\n".join(found)


# -- keyboard only ----------------------------------------------------------------------
FOCUSED = "document.activeElement"


def tab_to(page, condition: str, limit: int = 250) -> None:
    """Press Tab (only Tab) until ``condition`` (JavaScript about ``el``, the focused
    element) holds, at most ``limit`` times."""
    check = f"(() => {{ const el = {FOCUSED}; return !!el && ({condition}); }})()"
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(check):
            return
    raise AssertionError(f"{limit} × Tab never reached: {condition}")


def test_participant_goes_from_code_to_room_with_tab_enter_and_space_only(
    participant, invitation, journal, mail_portal, latest_sms
):
    page = participant
    page.goto(f"{journal['url']}/videomote")
    assert page.title().startswith("Skriv in möteskoden")
    tab_to(page, "el.id === 'pv-code'")
    page.keyboard.type(invitation["code"])
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Skicka engångskod via SMS").wait_for()
    assert page.title().startswith("Logga in med engångskod")
    tab_to(page, "el.textContent.trim() === 'Skicka engångskod via SMS'")
    page.keyboard.press(" ")
    page.get_by_text("Vi har skickat en engångskod").wait_for()
    tab_to(page, "el.id === 'pv-otp'")
    page.keyboard.type(latest_sms(mail_portal)[-6:])
    page.keyboard.press("Enter")
    page.get_by_text("Väntar på att mötet ska starta…").wait_for()
    assert page.title().startswith("Väntrum")
    # Not yet started: "Gå med nu" is a button, focusable, and Space does nothing yet.
    tab_to(page, "el.id === 'pv-join'")
    assert page.evaluate(f"{FOCUSED}.tagName") == "BUTTON"
    page.keyboard.press(" ")
    page.wait_for_timeout(300)
    assert page.url.endswith("/videomote/vantrum")
    staff = requests.Session()
    staff.auth = ("sara", "secret-pw-1")
    start_room(staff, invitation["meeting"])
    wait_until(page, "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'")
    assert page.evaluate(f"{FOCUSED}.id") == "pv-join"
    page.keyboard.press(" ")
    page.wait_for_url(re.compile(r"/videomote/rum$"))
    assert page.title().startswith("Videomöte pågår")
    assert csp_violations(page) == []


def test_staff_book_a_meeting_with_the_keyboard_only(staff_page, journal, smtp_sink):
    page = staff_page
    page.goto(f"{journal['url']}/@@videomote-kalender?view=day&day={TOMORROW.isoformat()}")
    assert page.title().startswith("Kalender")
    # The skip link passes the grid in one step.
    tab_to(page, "el.classList.contains('videomote-skip')")
    page.keyboard.press("Enter")
    assert page.evaluate(f"{FOCUSED}.id") == "videomote-after-grid"
    page.goto(f"{journal['url']}/@@videomote-kalender?view=day&day={TOMORROW.isoformat()}")
    # The free slots are one tab stop: Tab into the grid, the arrow keys to 10.00.
    tab_to(page, "el.classList.contains('videomote-slot')")
    assert page.evaluate(f"{FOCUSED}.getAttribute('aria-label')").endswith(" 07.00")
    for _ in range(6):
        page.keyboard.press("ArrowDown")
    assert page.evaluate(f"{FOCUSED}.getAttribute('aria-label')").endswith(" 10.00")
    assert page.evaluate(f"{FOCUSED}.textContent.trim()") == "Boka"  # visible, not only read
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nytt videomöte").wait_for()
    assert page.title().startswith("Nytt videomöte")
    tab_to(page, "el.id === 'videomote-title'")
    page.keyboard.type("Samtal med tangentbord")
    tab_to(page, "el.id === 'videomote-patient'")
    page.keyboard.press("ArrowDown")
    assert page.evaluate(f"{FOCUSED}.selectedOptions[0].textContent") == "Alva Andersson"
    tab_to(page, "el.name === 'contact_choice'")
    page.keyboard.press(" ")
    assert page.get_by_label("Elev (Primär kontaktuppgift)").is_checked()
    tab_to(page, "el.textContent.trim() === 'Spara'")
    page.keyboard.press("Enter")
    page.get_by_role("status").get_by_text(
        "En inbjudan har skickats till Alva Andersson"
    ).wait_for()
    assert smtp_sink.wait_for(1)[0]["To"].addresses[0].addr_spec == "alva@example.se"


SLOT = "el.classList.contains('videomote-slot')"
LABEL = f"{FOCUSED}.getAttribute('aria-label')"


def test_a_free_slot_of_the_week_is_a_few_keys_away_not_a_hundred_tabs(staff_page, journal):
    """Next week, Wednesday 10.00: Tab into the grid, two right, six down, Enter."""
    page = staff_page
    day = TOMORROW + timedelta(days=7)
    monday = day - timedelta(days=day.weekday())
    wednesday = monday + timedelta(days=2)
    page.goto(f"{journal['url']}/@@videomote-kalender?view=week&day={day.isoformat()}")
    assert page.locator("a.videomote-slot").count() > 100  # a week of free half hours
    # Only one of them is in the tab order, and Tab reaches it after the page's controls.
    tab_stops = page.evaluate(
        "[...document.querySelectorAll('a.videomote-slot')].filter(a => a.tabIndex >= 0).length"
    )
    assert tab_stops == 1
    tabs = 0
    while not page.evaluate(f"(() => {{ const el = {FOCUSED}; return !!el && {SLOT}; }})()"):
        assert tabs < 60, "60 × Tab never reached the calendar's free slots"
        page.keyboard.press("Tab")
        tabs += 1
    assert page.evaluate(LABEL) == f"Boka Måndag {monday.day}/{monday.month} 07.00"
    assert page.get_by_text("piltangenterna flyttar mellan lediga tider").is_visible()
    keys = ["ArrowRight"] * 2 + ["ArrowDown"] * 6
    for key in keys:
        page.keyboard.press(key)
    assert page.evaluate(LABEL) == f"Boka Onsdag {wednesday.day}/{wednesday.month} 10.00"
    assert page.evaluate(f"{FOCUSED}.textContent.trim()") == "Boka"
    # Two hours on and back, the ends of the row; Tab leaves the grid at once.
    page.keyboard.press("PageDown")
    assert page.evaluate(LABEL).endswith(" 12.00")
    page.keyboard.press("PageUp")
    assert page.evaluate(LABEL).endswith(" 10.00")
    page.keyboard.press("End")
    assert page.evaluate(LABEL).startswith("Boka Söndag ")
    page.keyboard.press("Home")
    assert page.evaluate(LABEL) == f"Boka Måndag {monday.day}/{monday.month} 10.00"
    page.keyboard.press("Tab")
    assert not page.evaluate(f"(() => {{ const el = {FOCUSED}; return !!el && {SLOT}; }})()")
    # Coming back (Shift+Tab) lands where the arrows left it, and Enter books that time.
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(LABEL) == f"Boka Måndag {monday.day}/{monday.month} 10.00"
    for key in ["ArrowRight", "ArrowRight"]:
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Nytt videomöte").wait_for()
    assert page.url.endswith(f"start={wednesday.isoformat()}T10:00")
    assert tabs + len(keys) + 1 < 60


def test_a_booked_meeting_is_skipped_by_the_arrows_and_stays_a_tab_stop(
    staff_page, journal, smtp_sink
):
    from factories import book

    page = staff_page
    meeting = book(journal["alva"], 24 * 60 * 8, "student", "Bokat samtal", organiser="sara")
    from zoneinfo import ZoneInfo

    start = meeting.start.astimezone(ZoneInfo("Europe/Stockholm"))
    page.goto(f"{journal['url']}/@@videomote-kalender?view=day&day={start.date().isoformat()}")
    booked_row = f"{start:%H}.{'00' if start.minute < 30 else '30'}"
    tab_to(page, SLOT)
    for _ in range(60):
        label = page.evaluate(LABEL)
        page.keyboard.press("ArrowDown")
        if page.evaluate(LABEL) == label:
            break  # the last free slot of the day
        assert not page.evaluate(LABEL).endswith(f" {booked_row}")
    # The meeting itself keeps its own tab stop (it is no free slot).
    assert page.locator("a.videomote-meeting").evaluate("a => a.tabIndex") == 0


# -- errors are tied to their fields ----------------------------------------------------
def test_a_wrong_meeting_code_is_tied_to_its_field_focused_and_kept(participant, journal):
    page = participant
    page.goto(f"{journal['url']}/videomote")
    page.get_by_label("Möteskod").fill("AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Fortsätt").click()
    page.get_by_text("Möteskoden stämmer inte.").wait_for()
    field = page.get_by_label("Möteskod")
    assert field.get_attribute("aria-invalid") == "true"
    assert "pv-error" in field.get_attribute("aria-describedby").split()
    assert field.input_value() == "AAAA-BBBB-CCCC"
    assert page.evaluate(f"{FOCUSED}.id") == "pv-code"
    assert page.title().startswith("Fel:")


def test_booking_errors_are_tied_to_their_fields_and_the_title_says_so(staff_page, journal):
    page = staff_page
    page.goto(f"{journal['url']}/@@videomote-boka")
    page.get_by_label("Titel").fill("Samtal")
    page.get_by_label("Start").fill(f"{TOMORROW.isoformat()}T10:00")
    page.get_by_label("Slut").fill(f"{TOMORROW.isoformat()}T09:00")
    page.get_by_label("Elev/patient").select_option(label="Alva Andersson")
    page.get_by_role("button", name="Spara").click()
    page.wait_for_load_state()
    assert page.title().startswith("Fel: Nytt videomöte")
    invalid = page.locator("[aria-invalid='true']").first
    message = page.locator(f"#{invalid.get_attribute('aria-describedby').split()[0]}")
    assert message.is_visible() and message.inner_text()
    assert page.evaluate(f"{FOCUSED}.getAttribute('aria-invalid')") == "true"
    assert page.get_by_role("dialog").count() == 0  # a page with a form, not a dialog
    assert page.get_by_role("group", name="Vem bjuds in?").is_visible()


# -- the room at 320 px -------------------------------------------------------------------
def test_the_room_reflows_at_320_px(
    participant, invitation, journal, mail_portal, sign_in_with_sms
):
    page = participant
    page.goto(invitation["link"])
    sign_in_with_sms(page, mail_portal)
    staff = requests.Session()
    staff.auth = ("sara", "secret-pw-1")
    start_room(staff, invitation["meeting"])
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto(f"{journal['url']}/videomote/rum")
    leave = page.get_by_role("button", name=re.compile("Lämna mötet"))
    leave.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    for thing in (
        page.locator("#vm-self"),
        page.get_by_label("Skriv ett meddelande"),
        page.get_by_role("button", name="Skicka"),
        page.get_by_role("button", name=re.compile("Mikrofon")),
        leave,
    ):
        thing.scroll_into_view_if_needed()
        box = thing.bounding_box()
        assert thing.is_visible() and box["width"] > 0
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, box


# -- focus rings --------------------------------------------------------------------------
def _contrast(page, colour: str, background: str = "#ffffff") -> float:
    """WCAG contrast of two CSS colours, as the browser resolves them."""
    return page.evaluate(
        """([fg, bg]) => {
          const probe = document.createElement("div");
          document.body.append(probe);
          const lum = (css) => { probe.style.color = css;
            const [r, g, b] = getComputedStyle(probe).color.match(/[\\d.]+/g).map(Number);
            return [r, g, b].map((c) => { c /= 255;
              return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
              .reduce((s, c, i) => s + c * [0.2126, 0.7152, 0.0722][i], 0); };
          const a = lum(fg), b = lum(bg);
          probe.remove();
          return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        }""",
        [colour, background],
    )


def _focus_ring(page) -> tuple[str, str]:
    return tuple(
        page.evaluate(
            "[getComputedStyle(document.activeElement).outlineStyle,"
            " getComputedStyle(document.activeElement).outlineColor]"
        )
    )


def test_focus_rings_have_3_to_1_against_white(participant, staff_page, journal):
    participant.goto(f"{journal['url']}/videomote")
    tab_to(participant, "el.id === 'pv-code'")
    style, colour = _focus_ring(participant)
    assert style != "none" and _contrast(participant, colour) >= 3
    staff_page.goto(f"{journal['url']}/@@videomote-boka")
    tab_to(staff_page, "el.id === 'videomote-title'")
    style, colour = _focus_ring(staff_page)
    assert style != "none" and _contrast(staff_page, colour) >= 3
