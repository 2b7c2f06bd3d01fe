"""The media server started the way ``make run`` (``scripts/run.py``) starts it.

The room tests use exactly the shipped defaults: the command and environment come from
``run.py`` itself, and no ``VIDEOMOTE_MEDIA_*`` setting of the test run reaches it.
"""

from pathlib import Path

import ifaddr
import importlib.util
import os

ROOT = Path(__file__).resolve().parent.parent


def load_script(name: str, module_name: str | None = None):
    """``scripts/<name>.py`` as a module (the scripts are no package)."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(module_name or name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_script():
    return load_script("run", "videomote_run")


def start_media_server(
    port: int,
    secret: str,
    output=None,
    settings: dict | None = None,
    environ: dict[str, str] | None = None,
):
    """``videomote-media`` as ``make run`` starts it, but on ``port`` with ``secret``;
    ``settings`` (``VIDEOMOTE_MEDIA_<KEY>``): only what a test breaks on purpose (a
    node's UDP range that the test then blocks), never what the room needs to work;
    ``environ``: the environment to start from (default: this process's now)."""
    from prorenata.videomote.media.synthetic import start_server_process

    run = _run_script()
    environ = os.environ if environ is None else environ
    base = {k: v for k, v in environ.items() if not k.startswith("VIDEOMOTE_MEDIA_")}
    environ = run.environment({**base, "VIDEOMOTE_MEDIA_SECRET": secret})
    return start_server_process(port, settings or {}, run.media_command(port), output, environ)


def loopback_only() -> bool:
    """Whether loopback is this host's only network (``make test``'s namespace)."""
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            if not (address.startswith("127.") or address == "::1"):
                return False
    return True


def require_loopback_only() -> None:
    """WebRTC tests may only talk over loopback: skip elsewhere, fail where CI needs them."""
    import pytest

    if not loopback_only():
        reason = (
            "WebRTC tests run only where loopback is the only network "
            "(make test starts a network namespace with unshare -n)"
        )
        if os.environ.get("VIDEOMOTE_REQUIRE_NETNS"):
            pytest.fail(reason)
        pytest.skip(reason)


def media_settings_for_tests() -> dict[str, str]:
    """None (the shipped defaults) in ``make test``'s namespace; elsewhere media stays on
    127.0.0.1, as every test's traffic must."""
    return {} if loopback_only() else {"ice_addresses": "127.0.0.1"}
