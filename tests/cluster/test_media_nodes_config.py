"""run-cluster's media nodes: one per core, each configured in Plone with its public
(TLS) address for browsers and its direct address for Plone's health checks."""

import os


def test_one_media_node_per_core_each_behind_its_own_tls_frontend(cluster_module, tmp_path):
    ports = cluster_module.default_media_ports()
    assert ports == tuple(range(8090, 8090 + (os.cpu_count() or 1)))
    cluster = cluster_module.Cluster(tmp_path, media_ports=(8090, 8091))
    assert cluster_module.media_node_lines(cluster) == [
        "wss://localhost:8444/ws http://127.0.0.1:8090",
        "wss://localhost:8445/ws http://127.0.0.1:8091",
    ]
