"""With its self-signed certificate, the cluster's processes trust it: Plone's calls to a
media node given only by its ``wss://`` address (``/health``, ``/end`` through HAProxy's
TLS) succeed, and the usual authorities stay trusted."""

from cluster_helpers import free_port
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import os
import pytest
import ssl
import subprocess
import sys
import threading

pytestmark = pytest.mark.cluster

#: What Plone does to end a meeting on a node (access/media_room.py), in a process with
#: the cluster's environment.
END = """import requests, sys
answer = requests.post(sys.argv[1], json={"meeting": "x"}, timeout=10)
print(answer.status_code, answer.text)
"""


class _Node(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ended": true}')

    def log_message(self, *args):
        pass


@pytest.fixture
def node_behind_tls(cluster_module, cluster_dir):
    """A media node's /end behind the cluster's own (self-signed) certificate."""
    cluster = cluster_module.Cluster(cluster_dir)
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIDEOMOTE_TLS_PEM", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
    }
    pem = cluster_module.ensure_certificate(cluster, environ)
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Node)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield cluster, environ, f"https://localhost:{server.server_address[1]}/end"
    server.shutdown()
    server.server_close()


def test_plone_ends_a_meeting_on_a_node_behind_the_clusters_self_signed_certificate(
    cluster_module, node_behind_tls
):
    cluster, environ, end_url = node_behind_tls
    env = cluster_module.cluster_environment(cluster, environ)
    done = subprocess.run(
        [sys.executable, "-c", END, end_url], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert done.stdout.startswith('200 {"ended": true}')
    # the usual authorities are still trusted (certifi's bundle comes first)
    import certifi

    trusted = Path(env["REQUESTS_CA_BUNDLE"]).read_text(encoding="utf-8")
    assert trusted.startswith(Path(certifi.where()).read_text(encoding="utf-8").rstrip("\n"))


def test_a_certificate_of_our_own_needs_no_extra_trust(cluster_module, cluster_dir):
    cluster = cluster_module.Cluster(cluster_dir)
    env = cluster_module.cluster_environment(cluster, {"VIDEOMOTE_TLS_PEM": "/etc/site.pem"})
    assert "REQUESTS_CA_BUNDLE" not in env
