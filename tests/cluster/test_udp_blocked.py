"""A participant whose network drops all UDP still gets a meeting with video both ways:
their Chromium reaches the room through the cluster's coturn over TCP.

The participant is the student's guardian, coming in as a guardian does: the invitation
e-mail's link, an SMS code (read from the site's SMS outbox, the dev and test gateway),
the waiting room, "Gå med nu" once staff, on a network of their own, started the meeting.

Two network namespaces joined by a veth pair (scripts/udp_blocked.py, shared with
bench-cluster): ours runs the cluster as ``make run-cluster`` does (coturn with
time-limited credentials, one media node, HAProxy's TLS), reached on the link's address;
the participant's drops every UDP packet on the link."""

from as_make_run import load_script
from cluster_helpers import DEMO_GUARDIAN_MOBILE
from cluster_helpers import STAFF
from cluster_helpers import book_soon
from cluster_helpers import invitation_link
from cluster_helpers import missing_engines
from cluster_helpers import sms_texts

import os
import pytest
import shutil

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture(scope="module")
def udp_blocked():
    module = load_script("udp_blocked")
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


def test_a_guardian_whose_network_drops_udp_signs_in_and_gets_video_both_ways_through_turn_over_tcp(
    reachable_cluster, participant_network, udp_blocked, playwright_driver
):
    # the set-up itself: the participant reaches us over TCP, and no UDP gets through
    assert participant_network.reaches("tcp")
    assert not participant_network.reaches("udp")

    meeting_url = book_soon(reachable_cluster, "Samtal utan UDP", minutes=5)["@id"]
    assert meeting_url.startswith(f"https://{udp_blocked.OUTER}:")
    link = invitation_link(reachable_cluster, "Samtal utan UDP")
    assert link.startswith(f"https://{udp_blocked.OUTER}:")
    guardian = udp_blocked.Guardian(
        link, lambda: sms_texts(reachable_cluster, DEMO_GUARDIAN_MOBILE)
    )
    call = udp_blocked.call_through_turn_tcp(
        participant_network, playwright_driver, meeting_url, STAFF, guardian
    )
    theirs, ours = call["participant"], call["staff"]
    # the guardian's own room, not a staff member's
    assert call["participant_url"].endswith("/Plone/videomote/rum"), call
    # the participant's media go through coturn, reached over TCP
    local = theirs["local"] or {}  # None: no candidate pair was selected
    assert local.get("type") == "relay", call
    assert local.get("relayProtocol") == "tcp", call
    # and video is decoded both ways
    assert theirs["frames"] >= 30, call
    assert ours["frames"] >= 30, call
    assert theirs["state"] == ours["state"] == "connected", call
    assert call["first_frame_ms"] is not None
