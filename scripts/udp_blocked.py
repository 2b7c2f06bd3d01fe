"""A participant on a network that drops all UDP, joining a room of the cluster: shared by
``tests/cluster/test_udp_blocked.py`` and ``benchmarks/cluster.py`` (turn_tcp_first_frame_ms).

Two network namespaces joined by a veth pair, made inside the caller's own namespace (the
tests and benchmarks run in ``scripts/in_netns.sh``'s): the caller's holds the cluster
(Plone through HAProxy, the media node, coturn) on ``OUTER``; the participant's is a child
namespace (kept alive by a ``sleep`` process, gone with it: nothing is left in
``/run/netns``) on ``INNER``. Both ends of the link drop every UDP packet (``tc``: an HTB
class for IP protocol 17 whose queue holds nothing, as this kernel has no tc actions), so
the participant's Chromium, run in its namespace through ``nsenter``, can only reach the
room by TURN over TCP. Playwright drives it over the pipe it inherits.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

OUTER = "10.231.0.1"  # the cluster's side of the link
INNER = "10.231.0.2"  # the participant's
PREFIX = 30


def _sibling(name: str):
    """``scripts/<name>.py`` beside this file (the scripts are no package, and this one
    is itself loaded by path)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BROWSER = _sibling("chromium_flags")
#: The site's texts the participant reads (the sign-in SMS).
_CLIENT = _sibling("cluster_client")
CHROMIUM = _BROWSER.CHROMIUM
#: The browser tests' flags, and the cluster's self-signed certificate accepted (HTTPS
#: and the media WebSocket).
FLAGS = [*_BROWSER.FLAGS, "--ignore-certificate-errors"]


def missing() -> str | None:
    """Why the two namespaces cannot be made here (None: they can)."""
    if os.geteuid() != 0:
        return "making network namespaces and veth links needs root (scripts/in_netns.sh)"
    for tool in ("ip", "tc", "nsenter", "unshare"):
        if not shutil.which(tool):
            return f"{tool} is not installed (make system-packages: iproute2, util-linux)"
    if not Path(CHROMIUM).exists():
        return "Chromium is not installed (make system-packages)"
    return None


def _tool(name: str) -> str:
    """The absolute path of one of iproute2's or util-linux's programs."""
    return shutil.which(name) or f"/usr/sbin/{name}"


def _run(*command: str) -> None:
    # our own fixed commands (iproute2, util-linux), no shell
    subprocess.run(  # noqa: S603
        [_tool(command[0]), *command[1:]], check=True, capture_output=True, timeout=30
    )


def _drop_udp(
    device: str, namespace_pid: int | None = None, ports: tuple[int, int] | None = None
) -> None:
    """Every UDP packet leaving ``device`` goes to a class whose queue holds none; with
    ``ports`` (first port, how many: a power of two, the first a multiple of it) only
    those from or to these ports (a media node's UDP range: its media plane fails, its
    WebSocket works)."""
    enter = ["nsenter", "-t", str(namespace_pid), "-n", "--"] if namespace_pid else []
    match = ["match ip protocol 17 0xff"]
    if ports is not None:
        first, count = ports
        if count & (count - 1) or first % count:
            raise ValueError(f"not an aligned block of ports: {ports}")
        mask = 0xFFFF & ~(count - 1)
        match = [
            f"match ip protocol 17 0xff match ip {end} {first} {mask:#06x}"
            for end in ("sport", "dport")
        ]
    for command in (
        f"tc qdisc add dev {device} root handle 1: htb default 10",
        f"tc class add dev {device} parent 1: classid 1:10 htb rate 10gbit",
        f"tc class add dev {device} parent 1: classid 1:20 htb rate 8kbit",
        f"tc qdisc add dev {device} parent 1:20 handle 20: pfifo limit 0",
        *(
            f"tc filter add dev {device} parent 1: protocol ip prio 1 u32 {m} flowid 1:20"
            for m in match
        ),
    ):
        _run(*enter, *command.split())


def drop_udp_ports(device: str, first: int, count: int) -> None:
    """UDP from or to ports ``first`` … ``first + count - 1`` is dropped on ``device`` (of
    this namespace) until :func:`stop_dropping`."""
    _drop_udp(device, ports=(first, count))


def stop_dropping(device: str) -> None:
    """Remove what :func:`drop_udp_ports` set up on ``device``."""
    _run("tc", "qdisc", "del", "dev", device, "root")


class ParticipantNetwork:
    """The participant's namespace, linked to ours, all UDP dropped; ``close()`` removes
    it (and the link). Make it before the cluster starts: the media node offers host
    candidates on the addresses it finds at its start (``OUTER`` among them)."""

    def __init__(self):
        suffix = f"{os.getpid() % 10000}"
        self.outer_device, self.inner_device = f"vmo{suffix}", f"vmp{suffix}"
        # a fixed command; the namespace lives as long as this process
        self.holder = subprocess.Popen([_tool("unshare"), "-n", _tool("sleep"), "3600"])  # noqa: S603
        self.folder = Path(tempfile.mkdtemp(prefix="videomote-participant-"))
        try:
            self._wait_for_namespace()
            pid = str(self.holder.pid)
            _run("ip", "link", "add", self.outer_device, "type", "veth", "peer", "name",
                 self.inner_device, "netns", pid)  # fmt: skip
            _run("ip", "addr", "add", f"{OUTER}/{PREFIX}", "dev", self.outer_device)
            _run("ip", "link", "set", self.outer_device, "up")
            inside = ("nsenter", "-t", pid, "-n", "--")
            _run(*inside, "ip", "link", "set", "lo", "up")
            _run(*inside, "ip", "addr", "add", f"{INNER}/{PREFIX}", "dev", self.inner_device)
            _run(*inside, "ip", "link", "set", self.inner_device, "up")
            _drop_udp(self.inner_device, self.holder.pid)  # what the participant sends
            _drop_udp(self.outer_device)  # what is sent to the participant
            self.chromium = self.folder / "chromium-in-participant-namespace"
            self.chromium.write_text(
                f'#!/bin/sh\nexec nsenter -t {pid} -n -- {CHROMIUM} "$@"\n', encoding="utf-8"
            )
            self.chromium.chmod(0o755)
        except BaseException:
            self.close()
            raise

    def _wait_for_namespace(self) -> None:
        own = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + 10
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == own:
            if time.monotonic() > deadline or self.holder.poll() is not None:
                raise RuntimeError("unshare -n did not make a network namespace")
            time.sleep(0.05)

    def inside(self, command: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """Run ``command`` in the participant's namespace."""
        return subprocess.run(  # noqa: S603 - the caller's own probe, no shell
            [_tool("nsenter"), "-t", str(self.holder.pid), "-n", "--", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def reaches(self, transport: str, seconds: float = 1.5) -> bool:
        """Whether a TCP connection, or one UDP datagram, from the participant's namespace
        arrives at a socket of ours on ``OUTER`` (the control check of the set-up)."""
        kind = socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as listener:
            listener.bind((OUTER, 0))
            listener.settimeout(seconds + 5)
            port = listener.getsockname()[1]
            if transport == "udp":
                send = (
                    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                    f"[s.sendto(b'probe', ('{OUTER}', {port})) for _ in range(5)]"
                )
            else:
                listener.listen()
                send = (
                    "import socket; "
                    f"socket.create_connection(('{OUTER}', {port}), 5).send(b'probe')"
                )
            sender = self.inside([sys.executable, "-c", send])
            if sender.returncode != 0:
                return False
            listener.settimeout(seconds)
            try:
                if transport == "udp":
                    return listener.recv(64) == b"probe"
                connection, _ = listener.accept()
                with connection:
                    return connection.recv(64) == b"probe"
            except OSError:
                return False

    def launch_chromium(self, playwright):
        """A Chromium in the participant's namespace, driven by ``playwright`` (the
        wrapper execs it through nsenter; Playwright's pipe is inherited)."""
        return playwright.chromium.launch(executable_path=str(self.chromium), args=FLAGS)

    def close(self) -> None:
        if self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait(10)
        # the namespace goes with its last process, and the link with it
        subprocess.run(  # noqa: S603 - a fixed command
            [_tool("ip"), "link", "del", self.outer_device], capture_output=True, timeout=30
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def cluster_settings(cluster_module) -> dict:
    """What a cluster needs so that the participant's namespace reaches it: HAProxy and
    coturn on ``OUTER`` (as ``--public-name``/``--turn-address`` on a real network), every
    other part on free loopback ports."""
    free = cluster_module.free_port
    https = free()
    return {
        "bind": "0.0.0.0",  # noqa: S104 - inside the test's own namespace: loopback and the link
        "public_name": OUTER,
        "public_host": f"{OUTER}:{https}",
        "https_port": https,
        "turn_address": OUTER,
        "turn_port": free(),
        "turn_tls_port": free(),
        "media_ports": (free(),),
        "media_tls_port": free(),
    }


# -- the call -------------------------------------------------------------------------------
#: The selected ICE candidate pair's local candidate and the frames decoded, per page.
STATS = """async () => {
  const room = window.videomoteRoom;
  const out = {frames: 0, local: null, state: null};
  if (!room || !room.pc) { return out; }
  out.state = room.pc.connectionState;
  const stats = await room.pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === "transport" && s.selectedCandidatePairId) {
      pair = stats.get(s.selectedCandidatePairId);
    }
  });
  if (!pair) {
    stats.forEach((s) => {
      if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") { pair = s; }
    });
  }
  if (pair) {
    const local = stats.get(pair.localCandidateId);
    if (local) {
      out.local = {type: local.candidateType, relayProtocol: local.relayProtocol || null,
                   protocol: local.protocol, address: local.address || local.ip};
    }
  }
  stats.forEach((s) => {
    if (s.type === "inbound-rtp" && s.kind === "video") { out.frames += s.framesDecoded || 0; }
  });
  return out;
}"""


def room_stats(page) -> dict:
    return page.evaluate(STATS)


def _new_page(browser):
    context = browser.new_context(locale="sv-SE", ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(30000)
    return context, page


def _logged_in(browser, site_url: str, credentials: tuple[str, str]):
    """A fresh context with ``credentials`` logged in through Plone's login form."""
    context, page = _new_page(browser)
    page.goto(f"{site_url}/login")
    page.get_by_label("Användarnamn").fill(credentials[0])
    page.get_by_label("Lösenord").fill(credentials[1])
    page.get_by_role("button", name="Logga in").click()
    page.wait_for_load_state()
    return context, page


def open_room(page, meeting_url: str) -> None:
    """The meeting's room page, starting the meeting when it is not yet started."""
    page.goto(f"{meeting_url}/@@videomote-rum")
    start = page.get_by_role("button", name="Starta mötet")
    if start.count():
        start.click()
        page.wait_for_load_state()
    _room_shown(page)


def _room_shown(page) -> None:
    try:
        page.get_by_role("region", name="Videomöte").wait_for()
    except Exception as error:
        raise AssertionError(f"no room at {page.url}: {page.inner_text('body')[:1500]}") from error


def _until(page, expression: str, seconds: float = 30) -> None:
    """Poll ``expression`` on the page (``wait_for_function`` needs ``eval``, which the
    participant pages' Content-Security-Policy refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds:.0f} s: {expression}")
        page.wait_for_timeout(200)


SMS_CODE = _CLIENT.SMS_CODE
JOIN_ENABLED = "document.getElementById('pv-join').getAttribute('aria-disabled') === 'false'"


@dataclass
class Guardian:
    """A participant as the invitation brings them in: no account, the e-mail's link and
    an SMS code. ``sms()``: the texts their phone has received, newest first (the
    cluster's SMS outbox, the dev and test gateway)."""

    link: str
    sms: Callable[[], list[str]]

    def sign_in(self, page, seconds: float = 60) -> None:
        """The invitation's link, an SMS code asked for, read and entered: the waiting
        room, where "Gå med nu" waits for staff to start the meeting."""
        page.goto(self.link)
        before = len(self.sms())
        page.get_by_role("button", name="Skicka engångskod via SMS").click()
        page.get_by_text("Vi har skickat en engångskod till").wait_for()
        deadline = time.monotonic() + seconds
        while len(texts := self.sms()) <= before:
            if time.monotonic() > deadline:
                raise AssertionError("no SMS code came")
            time.sleep(0.5)
        code = SMS_CODE.fullmatch(texts[0])
        if code is None:
            raise AssertionError(f"not a sign-in code: {texts[0]}")
        page.get_by_label("Engångskod från SMS").fill(code.group(1))
        page.get_by_role("button", name="Fortsätt").click()
        page.get_by_text("Väntar på att mötet ska starta…").wait_for()
        if page.get_by_role("button", name="Gå med nu").get_attribute("aria-disabled") != "true":
            raise AssertionError("'Gå med nu' open before the meeting started")

    def join(self, page, seconds: float = 60) -> float:
        """ "Gå med nu" once staff started the meeting: the participant's room. Returns
        when (``time.monotonic()``) the button was clicked."""
        _until(page, JOIN_ENABLED, seconds)
        button = page.get_by_role("button", name="Gå med nu")
        button.wait_for()
        clicked = time.monotonic()
        button.click()
        page.wait_for_url(re.compile(r"/videomote/rum$"))
        _room_shown(page)
        return clicked


def call_through_turn_tcp(
    network: ParticipantNetwork,
    playwright,
    meeting_url: str,
    staff: tuple[str, str],
    participant: Guardian,
    seconds: float = 60,
) -> dict:
    """Staff (our namespace) and the participant (theirs) in the meeting's room, until each
    decodes video from the other: what each page's selected candidate pair is, frames
    decoded, and ``first_frame_ms``: ms from the participant's click on "Gå med nu" to the
    first remote (staff's) video frame their page decoded.

    The participant signs in as the invitation brings them in (the link, an SMS code), and
    waits in the waiting room; staff, logged in, then open the room and start the meeting
    (staff are in the room before the participant joins); the participant clicks "Gå med
    nu" once the waiting room enables it."""
    from playwright.sync_api import Error

    staff_browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    participant_browser = network.launch_chromium(playwright)
    try:
        site_url = meeting_url[: meeting_url.index("/Plone/") + len("/Plone")]
        staff_context, staff_page = _logged_in(staff_browser, site_url, staff)
        their_context, their_page = _new_page(participant_browser)
        participant.sign_in(their_page)
        open_room(staff_page, meeting_url)
        opened = participant.join(their_page)
        first_frame_ms = None
        deadline = opened + seconds
        result: dict = {}
        while time.monotonic() < deadline:
            try:
                result = {"staff": room_stats(staff_page), "participant": room_stats(their_page)}
            except Error:  # a page navigating (reconnect): ask again
                result = {}
            theirs = result.get("participant", {})
            if first_frame_ms is None and theirs.get("frames", 0) > 0:
                first_frame_ms = round((time.monotonic() - opened) * 1000)
            if all(
                result.get(side, {}).get("frames", 0) >= 30 for side in ("staff", "participant")
            ):
                break
            time.sleep(0.1)
        result["first_frame_ms"] = first_frame_ms
        result["participant_url"] = their_page.url
        staff_context.close()
        their_context.close()
        return result
    finally:
        participant_browser.close()
        staff_browser.close()
