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


def test_the_instance_answers_without_naming_zope_and_python(tmp_path):
    """Zope 6 writes X-Powered-By into every answer; the pipeline's first filter drops it."""
    from configparser import ConfigParser
    from paste.deploy import loadfilter

    directory = _make_instance()(tmp_path / "inst")
    ini = directory / "etc" / "zope.ini"
    parser = ConfigParser(interpolation=None)
    parser.read(ini)
    pipeline = parser["pipeline:main"]["pipeline"].split()
    first = pipeline[0]
    assert pipeline[-1] == "zope"

    def zope(environ, start_response):
        start_response(
            "200 OK",
            [
                ("X-Powered-By", "Zope (www.zope.dev), Python (www.python.org)"),
                ("Content-Type", "text/plain"),
            ],
        )
        return [b"ok"]

    app = loadfilter(f"config:{ini}", name=first)(zope)
    sent = []
    body = app({}, lambda status, headers, exc_info=None: sent.append(headers))
    assert list(body) == [b"ok"]
    assert sent == [[("Content-Type", "text/plain")]]
