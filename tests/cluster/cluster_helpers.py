"""Helpers for the production-topology tests: scripts/cluster.py's own functions, with fresh
loopback ports in a temporary folder (PostgreSQL runs as the unprivileged ``videomote``
user when we are root, so the folder is made traversable for it)."""

from pathlib import Path

import importlib.util
import shutil

ROOT = Path(__file__).resolve().parents[2]


def load_cluster_module():
    spec = importlib.util.spec_from_file_location("cluster_script", ROOT / "scripts/cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The runner's own: a TCP port on 127.0.0.1 that nothing listens on just now.
free_port = load_cluster_module().free_port


def missing_engines(need_haproxy: bool = True) -> str | None:
    """Why the cluster cannot run here (CI installs all of it with make install)."""
    cluster = load_cluster_module()
    if cluster.pg_bindir() is None:
        return "PostgreSQL is not installed (make system-packages)"
    if need_haproxy and not (shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists()):
        return "HAProxy is not installed (make system-packages)"
    if not shutil.which("openssl"):
        return "openssl is not installed (make system-packages)"
    try:
        import psycopg2  # noqa: F401
        import relstorage  # noqa: F401
    except ImportError:
        return "RelStorage/psycopg2 are not installed (make install: the cluster extra)"
    return None
