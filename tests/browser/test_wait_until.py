"""The browser tests' own wait: an element that appears later, a page between documents."""

from pages import participant_page
from pages import wait_until

import pytest

pytestmark = pytest.mark.slow

LATER = """<script>setTimeout(function () {
  var b = document.createElement("button"); b.id = "pv-join";
  b.setAttribute("aria-disabled", "false"); document.body.appendChild(b);
}, 400);</script>"""
JOIN_READY = "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'"


def test_waiting_for_an_element_that_is_not_there_yet_waits_for_it(chromium):
    context, page = participant_page(chromium)
    try:
        page.set_content(LATER)
        wait_until(
            page, "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'"
        )
        with pytest.raises(AssertionError, match="not true within 1 s") as raised:
            wait_until(page, "document.getElementById('nowhere').hidden", timeout=1000)
        assert "Cannot read properties of null" in str(raised.value.__cause__)
    finally:
        context.close()
