"""The media server's settings: an optional INI file, overridden by the environment.

``[media]`` keys (environment ``VIDEOMOTE_MEDIA_<KEY>``):

- ``host``, ``port``: where the WebSocket (signalling, chat) listens (127.0.0.1:8090);
- ``ice_addresses``: comma-separated local addresses offered as ICE host candidates
  (default: every address of the machine except loopback, as aioice finds them, looked up
  at each offer; ``127.0.0.1`` when the machine has no other, so that the room works on a
  loopback-only host and in the tests' network namespace);
- ``announced_address``: the address written into the candidates instead of the bound
  one (a 1:1 NAT in front of the server);
- ``udp_ports``: the range media uses, one port per person and address (default
  ``40000-40999``: open it in the firewall);
- ``turn_url``, ``turn_username``, ``turn_password``: a TURN server (coturn) for clients
  behind strict firewalls, given to aiortc and to the browsers. There is deliberately no
  STUN/TURN default: without a setting no third party is ever contacted. ``turn_url`` may
  list several, comma-separated (``turn:host:3478,turns:host:5349?transport=tcp``: TLS
  over TCP for networks that block UDP);
- ``turn_secret`` (instead of username and password): coturn's ``static-auth-secret``
  (``use-auth-secret``); every join gets its own credentials that expire after
  ``turn_ttl`` seconds (default 43200), so one seen in a browser is of no use for long;
- ``mode``: ``forward`` (default: encoded media is passed through) or ``reencode``
  (aiortc's stock path: decode once, encode per viewer; for comparison and as fallback);
- ``remb``: ``on`` (default) sends browsers a receiver bandwidth estimate to adapt their
  bitrate to; ``off`` saves about a fifth of the forwarding CPU (browsers then adapt to
  packet loss alone).
"""

from aioice.ice import get_host_addresses
from aiortc import RTCIceServer
from dataclasses import dataclass

import base64
import configparser
import hashlib
import hmac
import ipaddress
import os
import time

MODES = ("forward", "reencode")
UDP_PORTS = (40000, 40999)
#: Offered when the machine has no address but loopback: browsers on the same machine
#: (``make run`` on a laptop, the tests' network namespace) still connect.
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class MediaConfig:
    host: str = "127.0.0.1"
    port: int = 8090
    ice_addresses: tuple[str, ...] = ()
    announced_address: str | None = None
    udp_ports: tuple[int, int] = UDP_PORTS
    turn_url: str | None = None
    turn_username: str | None = None
    turn_password: str | None = None
    turn_secret: str | None = None
    turn_ttl: int = 43200
    mode: str = "forward"
    remb: bool = True

    def host_addresses(self) -> list[str]:
        """The addresses to offer host candidates on: the configured ones, or else the
        machine's (as for aioice: IPv4 and global IPv6, loopback left out), or else
        loopback. Looked up each time: an address may come after the server started."""
        return list(self.ice_addresses) or machine_addresses() or [LOOPBACK]

    def ice_servers(self) -> list[RTCIceServer]:
        """For aiortc: exactly the configured servers, an empty list otherwise."""
        if not self.turn_url:
            return []
        urls = [url.strip() for url in self.turn_url.split(",") if url.strip()]
        username, password = self.turn_username, self.turn_password
        if self.turn_secret:
            username, password = turn_credentials(self.turn_secret, self.turn_ttl)
        return [
            RTCIceServer(
                urls=urls if len(urls) > 1 else urls[0], username=username, credential=password
            )
        ]

    def browser_ice_servers(self) -> list[dict]:
        """The same servers in the form ``RTCPeerConnection`` takes in the browser."""
        return [
            {"urls": server.urls, "username": server.username, "credential": server.credential}
            for server in self.ice_servers()
        ]


def turn_credentials(secret: str, ttl: int, now: float | None = None) -> tuple[str, str]:
    """Time-limited TURN credentials (coturn's ``use-auth-secret``, the "TURN REST API"):
    the user name is the expiry time, the password its HMAC-SHA1 under the shared secret."""
    expires = int(time.time() if now is None else now) + ttl
    username = f"{expires}:videomote"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def machine_addresses() -> list[str]:
    """This machine's addresses as aioice gathers them (IPv4, IPv6 but link-local),
    without loopback (aioice leaves out 127.0.0.1 and ::1 only)."""
    return [
        address
        for address in get_host_addresses(use_ipv4=True, use_ipv6=True)
        if not ipaddress.ip_address(address).is_loopback
    ]


def _ports(value: str) -> tuple[int, int]:
    low, _, high = value.partition("-")
    first, last = int(low), int(high or low)
    if not 0 < first <= last < 65536:
        raise ValueError(f"udp_ports: not a port range: {value!r}")
    return first, last


def load(path: str | None = None, environ: dict | None = None) -> MediaConfig:
    """Settings from ``path`` (section ``[media]``), then ``VIDEOMOTE_MEDIA_*`` variables."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if path:
        parser = configparser.ConfigParser()
        if not parser.read(path, encoding="utf-8"):
            raise ValueError(f"cannot read media configuration {path!r}")
        if parser.has_section("media"):
            values.update(parser.items("media"))
    for key in MediaConfig.__dataclass_fields__:
        variable = f"VIDEOMOTE_MEDIA_{key.upper()}"
        if environ.get(variable):
            values[key] = environ[variable]
    mode = values.get("mode", "forward")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return MediaConfig(
        host=values.get("host", "127.0.0.1"),
        port=int(values.get("port", 8090)),
        ice_addresses=tuple(
            a.strip() for a in values.get("ice_addresses", "").split(",") if a.strip()
        ),
        announced_address=values.get("announced_address") or None,
        udp_ports=_ports(values["udp_ports"]) if values.get("udp_ports") else UDP_PORTS,
        turn_url=values.get("turn_url") or None,
        turn_username=values.get("turn_username") or None,
        turn_password=values.get("turn_password") or None,
        turn_secret=values.get("turn_secret") or None,
        turn_ttl=int(values.get("turn_ttl") or 43200),
        mode=mode,
        remb=_switch(values.get("remb", "on")),
    )


def _switch(value: str) -> bool:
    value = value.strip().lower()
    if value not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
        raise ValueError(f"remb must be on or off, not {value!r}")
    return value in ("on", "true", "yes", "1")
