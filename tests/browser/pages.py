"""Helpers for Playwright pages."""


def logged_in_page(chromium, url: str, userid: str, password: str):
    """A fresh browser context with ``userid`` logged in through Plone's login form."""
    context = chromium.new_context(locale="sv-SE", viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{url}/login")
    page.get_by_label("Användarnamn").fill(userid)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    return context, page
