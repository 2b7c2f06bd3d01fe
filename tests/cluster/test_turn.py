"""coturn with time-limited credentials: the media server derives each join's TURN user
name and password from a secret it shares with coturn; coturn relays for a fresh one and
refuses one that has expired."""

from cluster_helpers import free_port
from concurrent.futures import ThreadPoolExecutor

import asyncio
import pytest
import subprocess
import time


def _run(coroutine):
    """Run ``coroutine`` in a thread of its own: earlier tests in the same process (the
    sync Playwright API) may leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=120)


pytestmark = [pytest.mark.slow, pytest.mark.cluster]


class _Quiet(asyncio.DatagramProtocol):
    pass


async def _allocate(port: int, username: str, password: str, transport: str):
    from aioice.turn import create_turn_endpoint

    relay, _protocol = await asyncio.wait_for(
        create_turn_endpoint(_Quiet, ("127.0.0.1", port), username, password, transport=transport),
        timeout=10,
    )
    try:
        return relay.get_extra_info("sockname")
    finally:
        relay.close()


@pytest.fixture
def coturn(cluster_module, cluster_dir):
    if cluster_module.turnserver() is None:
        pytest.skip("coturn is not installed (make system-packages)")
    cluster = cluster_module.Cluster(cluster_dir, turn_port=free_port(), turn_tls_port=free_port())
    certificate = cluster_module.ensure_certificate(cluster, {})
    secret = "turn-secret-for-tests"
    command = cluster_module.turn_command(cluster, secret, certificate)
    assert secret not in " ".join(command)  # ps shows command lines to every user
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        cluster_module.wait_for_port(cluster.turn_port, 30, process)
        yield cluster, secret
    finally:
        process.terminate()
        process.wait(10)


def test_coturn_relays_with_a_fresh_credential_and_refuses_an_expired_one(coturn):
    from prorenata.videomote.media.config import MediaConfig
    from prorenata.videomote.media.config import turn_credentials

    cluster, secret = coturn
    config = MediaConfig(
        turn_url=f"turn:127.0.0.1:{cluster.turn_port}?transport=udp", turn_secret=secret
    )
    (server,) = config.browser_ice_servers()
    expiry = int(server["username"].split(":")[0])
    assert time.time() < expiry <= time.time() + config.turn_ttl + 1

    relayed = _run(_allocate(cluster.turn_port, server["username"], server["credential"], "udp"))
    assert relayed[0] == "127.0.0.1"
    # over TCP too (networks that block UDP)
    assert _run(_allocate(cluster.turn_port, server["username"], server["credential"], "tcp"))

    expired = turn_credentials(secret, ttl=60, now=time.time() - 3600)
    with pytest.raises(Exception):  # noqa: B017 - aioice raises its TransactionFailed
        _run(_allocate(cluster.turn_port, *expired, "udp"))
    forged = turn_credentials("another-secret", ttl=3600)
    with pytest.raises(Exception):  # noqa: B017
        _run(_allocate(cluster.turn_port, *forged, "udp"))
