"""Helpers for the production-topology tests: scripts/cluster.py's own functions, with fresh
loopback ports in a temporary folder (PostgreSQL runs as the unprivileged ``videomote``
user when we are root, so the folder is made traversable for it)."""

from pathlib import Path

import importlib.util
import shutil
import socket

ROOT = Path(__file__).resolve().parents[2]


def load_cluster_module():
    spec = importlib.util.spec_from_file_location("cluster_script", ROOT / "scripts/cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
