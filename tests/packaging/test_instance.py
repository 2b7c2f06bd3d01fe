"""The Zope instance the Makefile writes: its configuration is one Zope itself accepts."""

from pathlib import Path

import importlib.util

ROOT = Path(__file__).resolve().parents[2]


def _make_instance():
    spec = importlib.util.spec_from_file_location(
        "make_instance", ROOT / "scripts/make_instance.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_instance


def _load(conf: Path):
    """The configuration as Zope reads it at start-up (its own schema and loader)."""
    from Zope2.Startup.options import ZopeWSGIOptions

    options = ZopeWSGIOptions(str(conf))
    options.load_schema()
    options.load_configfile()
    return options.configroot


def test_a_trusted_proxy_reaches_zope_so_audit_and_limits_see_the_participant(tmp_path):
    directory = _make_instance()(tmp_path / "inst", trusted_proxies=("127.0.0.1", "10.0.0.5"))
    config = _load(directory / "etc" / "zope.conf")
    assert list(config.trusted_proxies) == ["127.0.0.1", "10.0.0.5"]


def test_without_a_proxy_zope_trusts_no_forwarded_address(tmp_path):
    directory = _make_instance()(tmp_path / "inst")
    assert not _load(directory / "etc" / "zope.conf").trusted_proxies
