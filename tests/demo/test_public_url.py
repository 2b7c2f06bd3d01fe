"""Where the demo's e-mail and SMS links lead: HOST and PORT, unless someone chose."""

from pathlib import Path

import importlib.util
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo_public_url():
    spec = importlib.util.spec_from_file_location("create_site", ROOT / "scripts/create_site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.demo_public_url


@pytest.mark.parametrize(
    ("current", "host", "port", "wanted"),
    [
        (None, "localhost", "8080", "http://localhost:8080/Plone"),  # a new demo
        ("", "0.0.0.0", "8080", "http://localhost:8080/Plone"),  # noqa: S104 - input, not a bind
        ("http://localhost:8080/Plone", "localhost", "8081", "http://localhost:8081/Plone"),
        ("http://127.0.0.1:8080/Plone", "localhost", "8080", "http://localhost:8080/Plone"),
        ("http://localhost:8080/Plone", "localhost", "8080", None),  # unchanged
        ("https://journal.example.se", "localhost", "8081", None),  # configured: kept
        ("http://intranet.skola.se/Plone", "localhost", "8081", None),  # configured: kept
    ],
)
def test_the_demo_follows_host_and_port_but_keeps_a_configured_address(current, host, port, wanted):
    assert _demo_public_url()(current, host, port, "Plone") == wanted
