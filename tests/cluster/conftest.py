"""Fixtures for the production topology (helpers in cluster_helpers.py)."""

from cluster_helpers import load_cluster_module
from pathlib import Path

import os
import pytest
import shutil
import tempfile


@pytest.fixture(scope="session")
def cluster_module():
    return load_cluster_module()


@pytest.fixture
def cluster_dir():
    """A folder the service user can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="videomote-cluster-", dir="/tmp"))
    os.chmod(path, 0o755)  # noqa: S103 - the unprivileged service user must enter it
    yield path
    shutil.rmtree(path, ignore_errors=True)
