"""The cluster's configuration (scripts/cluster.py): what each file says, checked without
starting anything (HAProxy checks its own file when it is installed)."""

from pathlib import Path

import importlib.util
import pytest
import shutil
import subprocess

ROOT = Path(__file__).resolve().parents[2]


def _cluster_module():
    spec = importlib.util.spec_from_file_location("cluster_script", ROOT / "scripts/cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def written(tmp_path):
    cluster = _cluster_module()
    topology = cluster.Cluster(tmp_path / "cluster", instances=3, zope_port=9101)
    certificate = tmp_path / "site.pem"
    cluster.write_config(topology, certificate)
    return topology, certificate


def test_every_instance_is_on_one_history_free_relstorage_with_blobs_in_postgresql(written):
    topology, _certificate = written
    for n in (1, 2, 3):
        conf = (topology.etc / f"zope-{n}.conf").read_text()
        assert "<relstorage>" in conf and "keep-history false" in conf
        assert "shared-blob-dir false" in conf
        assert f"blob-dir $CLIENTHOME/blobcache-{n}" in conf
        assert "dsn $(VIDEOMOTE_DSN)" in conf  # the password is never in a file
        assert "trusted-proxy 127.0.0.1" in conf
        ini = (topology.etc / f"zope-{n}.ini").read_text()
        assert f"listen = 127.0.0.1:{9100 + n}" in ini
        assert f"zope-{n}.conf" in ini and f"access-{n}.log" in ini


def test_haproxy_balances_checked_instances_and_forwards_the_client_address(written):
    topology, certificate = written
    config = (topology.etc / "haproxy.cfg").read_text()
    for n in (1, 2, 3):
        assert f"server zope{n} 127.0.0.1:{9100 + n} check" in config
    assert f"ssl crt {certificate}" in config
    assert "option forwardfor" in config and "del-header X-Forwarded-For" in config
    assert "option httpchk GET /@@ok" in config
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if Path(haproxy).exists():
        certificate.write_text("")  # -c checks syntax; an empty file fails only on load
        checked = subprocess.run(
            [haproxy, "-c", "-f", str(topology.etc / "haproxy.cfg")],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert "unknown keyword" not in checked.stderr, checked.stderr


def test_the_shared_secrets_are_made_once_and_kept(tmp_path):
    cluster = _cluster_module()
    topology = cluster.Cluster(tmp_path / "cluster")
    first = cluster.load_secrets(topology, {})
    again = cluster.load_secrets(topology, {})
    assert first == again
    assert (topology.var / "secrets.env").stat().st_mode & 0o077 == 0
    configured = cluster.load_secrets(topology, {"VIDEOMOTE_MEDIA_SECRET": "from-production"})
    assert configured["VIDEOMOTE_MEDIA_SECRET"] == "from-production"
