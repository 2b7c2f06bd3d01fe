"""Helpers for the browser tests."""

import os
import pytest

# Every Content-Security-Policy violation of a tab, kept across its pages (same origin).
CSP_WATCH = """() => {
  document.addEventListener("securitypolicyviolation", (event) => {
    try {
      const seen = JSON.parse(sessionStorage.getItem("csp-violations") || "[]");
      seen.push(`${location.pathname}: ${event.effectiveDirective} blocked ` +
                `${event.blockedURI || "inline"} (${event.sourceFile}:${event.lineNumber})`);
      sessionStorage.setItem("csp-violations", JSON.stringify(seen));
    } catch (error) { /* a page without storage (about:blank) */ }
  });
}"""
CSP_VIOLATIONS = "JSON.parse(sessionStorage.getItem('csp-violations') || '[]')"


def watch_csp(context) -> None:
    """Record the policy violations of every page of ``context`` (see csp_violations)."""
    context.add_init_script(f"({CSP_WATCH})();")


def csp_violations(page) -> list[str]:
    """What the Content-Security-Policy refused on this tab's pages so far."""
    return page.evaluate(CSP_VIOLATIONS)


def wait_until(page, expression: str, timeout: float = 15000) -> None:
    """``page.wait_for_function`` for pages with a strict Content-Security-Policy:
    Playwright's predicate there needs ``eval``, which the policy refuses (at random: it
    races with Playwright's own evaluation); ``page.evaluate`` is not subject to it."""
    import time

    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout / 1000:.0f} s: {expression}")
        page.wait_for_timeout(100)


def participant_page(chromium):
    """A fresh browser context with nobody logged in (a participant's own browser), its
    policy violations recorded; (context, page)."""
    context = chromium.new_context(locale="sv-SE")
    watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def logged_in_page(chromium, url: str, userid: str, password: str):
    """A fresh browser context with ``userid`` logged in through Plone's login form."""
    context = chromium.new_context(locale="sv-SE", viewport={"width": 1280, "height": 1000})
    watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{url}/login")
    page.get_by_label("Användarnamn").fill(userid)
    page.get_by_label("Lösenord").fill(password)
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    return context, page


def skip_here_fail_in_ci(reason: str) -> None:
    """What the room tests need is missing: skip locally, fail where CI requires them."""
    if os.environ.get("VIDEOMOTE_REQUIRE_NETNS"):
        pytest.fail(reason)
    pytest.skip(reason)

