"""One source of truth for versions: constraints.txt; versions.cfg must agree with it."""

from pathlib import Path

import configparser
import importlib.util

ROOT = Path(__file__).resolve().parents[2]

spec = importlib.util.spec_from_file_location("versions_cfg", ROOT / "scripts" / "versions_cfg.py")
versions_cfg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(versions_cfg)


def _constraints():
    return versions_cfg.pins_from_constraints((ROOT / "constraints.txt").read_text())


def test_versions_cfg_matches_constraints():
    parser = configparser.ConfigParser()
    parser.optionxform = str
    parser.read(ROOT / "versions.cfg")
    assert dict(parser["versions"]) == _constraints(), "run `make versions-cfg`"


def test_known_traps_are_pinned():
    pins = _constraints()
    assert pins["plone.app.layout"] == "6.0.2"  # 7.0.0a6 breaks Zope start-up
    assert pins["aiortc"] == "1.16.0"  # the media server relies on its internals
    assert pins["Plone"].startswith("6.2.")


def test_buildout_extends_the_generated_versions():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "buildout.cfg")
    assert parser["buildout"]["extends"].strip() == "versions.cfg"
    assert "prorenata.videomote" in parser["instance"]["eggs"]


def test_every_install_uses_the_constraints():
    requirements = (ROOT / "requirements.txt").read_text()
    assert "-c constraints.txt" in requirements
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_CONSTRAINT=$(CURDIR)/constraints.txt" in makefile
