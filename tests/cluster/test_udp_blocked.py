"""A participant whose network drops all UDP still gets a meeting with video both ways:
their Chromium reaches the room through the cluster's coturn over TCP.

Two network namespaces joined by a veth pair (scripts/udp_blocked.py, shared with
bench-cluster): ours runs the cluster as ``make run-cluster`` does (coturn with
time-limited credentials, one media node, HAProxy's TLS), reached on the link's address;
the participant's drops every UDP packet on the link."""

from cluster_helpers import ROOT
from cluster_helpers import missing_engines
from datetime import datetime
from datetime import timedelta
from test_topology import STAFF
from test_topology import _request
from test_topology import _student_uid
from zoneinfo import ZoneInfo

import importlib.util
import json
import os
import pytest
import shutil

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

ADMIN = ("admin", "admin")


def _udp_blocked_module():
    spec = importlib.util.spec_from_file_location("udp_blocked", ROOT / "scripts/udp_blocked.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def udp_blocked():
    module = _udp_blocked_module()
    reason = module.missing()
    if reason:
        pytest.skip(reason)
    return module


@pytest.fixture(scope="module")
def participant_network(udp_blocked):
    network = udp_blocked.ParticipantNetwork()
    yield network
    network.close()


@pytest.fixture(scope="module")
def reachable_cluster(cluster_module, participant_network, udp_blocked):
    """The cluster with coturn and a media node, HAProxy and coturn on the link's address
    (the network must exist first: the media node offers candidates on it)."""
    reason = missing_engines()
    if reason:
        pytest.skip(reason)
    if cluster_module.turnserver() is None:
        pytest.skip("coturn is not installed (make system-packages)")
    topology = cluster_module.on_free_ports("videomote-udp-blocked-", cluster_module.free_port())
    for key, value in udp_blocked.cluster_settings(cluster_module).items():
        setattr(topology, key, value)
    environ = {k: v for k, v in os.environ.items() if k != "VIDEOMOTE_DSN"}
    log = open(topology.directory / "cluster.log", "ab")  # noqa: SIM115 - closed below
    processes = cluster_module.start(topology, environ, with_site=True, output=log)
    cluster_module.wait_for_port(
        topology.turn_port, 30, processes["coturn"], host=topology.turn_address
    )
    yield topology
    cluster_module.stop(processes)
    log.close()
    shutil.rmtree(topology.directory, ignore_errors=True)


def _meeting_soon(cluster) -> str:
    soon = (datetime.now(ZoneInfo("Europe/Stockholm")) + timedelta(minutes=5)).replace(
        second=0, microsecond=0
    )
    body = {
        "title": "Samtal utan UDP",
        "start": soon.strftime("%Y-%m-%dT%H:%M"),
        "end": (soon + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M"),
        "patient": _student_uid(cluster),
        "contact_choice": "guardian",
    }
    status, text = _request(cluster, "POST", "/Plone/@videomote-meetings", body, STAFF)
    assert status == 201, text
    return json.loads(text)["@id"]


def test_a_participant_whose_network_drops_udp_gets_video_both_ways_through_turn_over_tcp(
    reachable_cluster, participant_network, udp_blocked, playwright_driver
):
    # the set-up itself: the participant reaches us over TCP, and no UDP gets through
    assert participant_network.reaches("tcp")
    assert not participant_network.reaches("udp")

    meeting_url = _meeting_soon(reachable_cluster)
    assert meeting_url.startswith(f"https://{udp_blocked.OUTER}:")
    call = udp_blocked.call_through_turn_tcp(
        participant_network, playwright_driver, meeting_url, STAFF, ADMIN
    )
    theirs, ours = call["participant"], call["staff"]
    # the participant's media go through coturn, reached over TCP
    assert theirs["local"]["type"] == "relay", call
    assert theirs["local"]["relayProtocol"] == "tcp", call
    # and video is decoded both ways
    assert theirs["frames"] >= 30, call
    assert ours["frames"] >= 30, call
    assert theirs["state"] == ours["state"] == "connected", call
    assert call["first_frame_ms"] is not None
