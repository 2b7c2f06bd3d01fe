"""Helpers for the production-topology tests: scripts/cluster.py's own functions, with fresh
loopback ports in a temporary folder (PostgreSQL runs as the unprivileged ``videomote``
user when we are root, so the folder is made traversable for it)."""

from as_make_run import load_script
from pathlib import Path

import email
import email.policy
import shutil
import time

ROOT = Path(__file__).resolve().parents[2]


def load_cluster_module():
    return load_script("cluster", "cluster_script")


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


#: Talking to a running cluster through HAProxy (shared with benchmarks/cluster.py).
_client = load_script("cluster_client")
STAFF = _client.STAFF
ADMIN = _client.ADMIN
DEMO_GUARDIAN_MOBILE = _client.DEMO_GUARDIAN_MOBILE
https_request = _client.https_request
student_uid = _client.student_uid
book_soon = _client.book_soon
sms_texts = _client.sms_texts


def invitation_link(cluster, title: str, seconds: float = 90) -> str:
    """The "Gå till videomöte" link of the invitation to the meeting ``title``, from the
    mailbox the cluster's own mail server writes (``var/mail``, as ``make run-cluster``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for folder in ("new", "cur"):
            for path in sorted((cluster.var / "mail" / folder).glob("*")):
                message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                if title not in str(message["Subject"]):
                    continue
                text = message.get_body(preferencelist=("plain",)).get_content()
                link = _client.INVITATION_LINK.search(text)
                if link:
                    return link.group(1)
        time.sleep(0.5)
    raise AssertionError(f"no invitation to {title} within {seconds:.0f} s")
