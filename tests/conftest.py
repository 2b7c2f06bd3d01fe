"""Wire the add-on's plone.app.testing layers into pytest (pytest-plone)."""

from prorenata.videomote.testing import VIDEOMOTE_FUNCTIONAL_TESTING
from prorenata.videomote.testing import VIDEOMOTE_INTEGRATION_TESTING
from pytest_plone import fixtures_factory

import os

# Compile the .po files of every add-on (ours included) when Zope loads them.
os.environ.setdefault("zope_i18n_compile_mo_files", "true")

pytest_plugins = ["pytest_plone"]

globals().update(
    fixtures_factory(
        (
            (VIDEOMOTE_FUNCTIONAL_TESTING, "functional"),
            (VIDEOMOTE_INTEGRATION_TESTING, "integration"),
        )
    )
)
