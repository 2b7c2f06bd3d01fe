"""Which media node a meeting's room lives on (plain rules, no Zope).

Every meeting lives on one node: everybody in it must reach the same process, which
forwards their streams. Plone places a meeting when it issues a join token: the node the
meeting already has while that node answers its health check, else the healthy node with
the fewest people (then rooms, then the order of the setting). A node that dies is left
by the next token request of each page, which reconnects to the new one.
"""

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from prorenata.videomote.access.media_failover import media_failing_in
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

#: How long Plone waits for a node's health answer (it waits in a page's request).
HEALTH_TIMEOUT_SECONDS = 1.5


def configured_nodes(nodes: Iterable[str] | None, fallback: str | None) -> dict[str, str]:
    """The media nodes, in the setting's order, without blanks and repeats: each one's
    WebSocket URL (what pages connect to) and the address Plone reaches its ``/health``
    and ``/end`` at. A line is ``wss://public/ws`` or ``wss://public/ws http://internal``
    (a node behind a TLS proxy Plone need not go through). With no node listed, the
    single media server of ``media_server_url``."""
    lines = [line for line in nodes or () if (line or "").strip()] or [fallback or ""]
    found: dict[str, str] = {}
    for line in lines:
        parts = line.split()
        if not parts or parts[0] in found:
            continue
        internal = parts[1].rstrip("/") if len(parts) > 1 else ""
        if urlsplit(internal).scheme not in ("http", "https"):
            internal = http_base(parts[0])
        found[parts[0]] = internal
    return found


def http_base(ws_url: str) -> str:
    """``ws(s)://host:port/prefix/ws`` → ``http(s)://host:port/prefix``: where a node's
    ``/health`` and ``/end`` are."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    path = parts.path.rsplit("/", 1)[0]
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def load_of(health: object) -> tuple[int, int] | None:
    """(people, rooms) from a node's ``/health`` answer; None when it is not a healthy one."""
    if not isinstance(health, Mapping) or health.get("ok") is not True:
        return None
    if media_failing_in(health):
        return None  # signalling answers, media does not (media_failover.py)
    people, rooms = health.get("people", 0), health.get("rooms", 0)
    if not isinstance(people, int) or not isinstance(rooms, int):
        return None
    return people, rooms


def choose_node(
    nodes: list[str],
    current: str | None,
    health_of: Callable[[str], object],
    avoid: Iterable[str] = (),
) -> str | None:
    """The node for a meeting now at ``current`` (None: not placed yet).

    ``health_of(url)`` is a node's parsed ``/health`` answer, or None when it did not
    answer. A meeting stays where it is while its node is configured and healthy (the
    others are not even asked); otherwise it goes to the least loaded healthy node. None
    when no node answers: then the meeting keeps its node, and the page tries again.

    ``avoid``: nodes treated as failed although they answer (their media fails, as
    pages reported: ``media_failover.py``); the meeting leaves them for a healthy one.
    """
    avoid = set(avoid)
    if current in nodes and current not in avoid and load_of(health_of(current)) is not None:
        return current
    best: tuple[tuple[int, int, int], str] | None = None
    for index, url in enumerate(nodes):
        if url == current or url in avoid:
            continue  # just found unhealthy, or failing
        load = load_of(health_of(url))
        if load is not None and (best is None or (*load, index) < best[0]):
            best = ((*load, index), url)
    return best[1] if best else None
