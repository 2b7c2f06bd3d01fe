"""Serve the product: Plone, the media server, the CalDAV worker and the demo mail server.

Starts every process, prints the demo address, and stops them all on Ctrl-C or when
one of them exits. Every line a process writes is shown prefixed with its name
(``plone  | ...``), as honcho or foreman would, so the four interleaved logs can be told
apart. A small loop here instead of honcho: the secrets of a start are made here (and
``tests/as_make_run.py`` starts the media server from this file), which a Procfile
cannot express without a wrapper like this one anyway, and it needs no new dependency.
"""

from pathlib import Path

import argparse
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


MAIL_PORT = int(os.environ.get("VIDEOMOTE_MAIL_PORT", "8025"))
MEDIA_PORT = int(os.environ.get("VIDEOMOTE_MEDIA_PORT", "8090"))
#: A longer line (a process that writes without newlines) is shown in pieces of this size.
MAX_LINE = 64 * 1024


def media_command(port: int = MEDIA_PORT) -> list[str]:
    """The room's media server (signalling, chat, WebRTC media) with its shipped defaults:
    no media settings but the port (the browser room tests start it with this too)."""
    return [str(BIN / "videomote-media"), "--port", str(port)]


def environment(base: dict[str, str]) -> dict[str, str]:
    """``base`` plus the secrets of this start: Plone and the CalDAV worker share one,
    Plone and the media server (join tokens) another; an operator may set the latter for
    longer-lived tokens."""
    return {
        **base,
        "VIDEOMOTE_WORKER_SECRET": secrets.token_urlsafe(32),
        "VIDEOMOTE_MEDIA_SECRET": base.get("VIDEOMOTE_MEDIA_SECRET") or secrets.token_urlsafe(32),
    }


def processes(instance: Path, port: int) -> dict[str, list[str]]:
    """The programs that make up the product, by name."""
    maildir = instance / "var" / "mail"
    return {
        # Its address is in the control panel.
        "media": media_command(),
        # Syncs clinicians' CalDAV calendars through Plone (see caldav_bridge/worker.py).
        "caldav": [
            str(BIN / "videomote-caldav-sync"),
            "--site",
            f"http://localhost:{port}/Plone",
        ],
        "plone": [str(BIN / "runwsgi"), str(instance / "etc" / "zope.ini")],
        # The demo's e-mail goes to a local SMTP server that keeps it in a Maildir.
        "mail": [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"localhost:{MAIL_PORT}",
            "-c",
            "aiosmtpd.handlers.Mailbox",
            str(maildir),
        ],
    }


def _relay(name: str, stream, out: "_Prefixed") -> None:
    """Copy ``stream`` to ``out`` line by line, each line prefixed with ``name``."""
    for raw in iter(lambda: stream.readline(MAX_LINE), b""):
        out.write(name, [raw.decode("utf-8", errors="replace").rstrip("\r\n")])
    stream.close()


def serve(commands: dict[str, list[str]], env: dict[str, str], out=None, banner: str = "") -> int:
    """Run ``commands`` (by name) until Ctrl-C, SIGTERM or one of them exits, then stop
    them all; every output line prefixed with its process's name. The exit code is the
    first failing process's (0 after Ctrl-C)."""
    out = _Prefixed(out or sys.stdout, width=max(len(name) for name in [*commands, "run"]))
    # Python children write to a pipe in blocks unless told otherwise: lines would lag.
    running, relays = _start(commands, {**env, "PYTHONUNBUFFERED": "1"}, out)
    if banner:
        out.say("run", banner)
    exit_code = _wait_for_stop(running, out)
    _stop(running)
    for relay in relays:
        relay.join(timeout=2)  # the last lines of each process
    return exit_code


class _Prefixed:
    """Whole lines to ``out``, each prefixed with a process's name, from any thread."""

    def __init__(self, out, width: int):
        self.out, self.width, self.lock = out, width, threading.Lock()

    def say(self, name: str, text: str) -> None:
        """Each line of ``text``, prefixed."""
        self.write(name, text.splitlines())

    def write(self, name: str, lines: list[str]) -> None:
        """``lines`` as they are, each prefixed, none interleaved with another's."""
        with self.lock:
            for line in lines:
                self.out.write(f"{name:<{self.width}} | {line}\n")
            self.out.flush()


def _start(
    commands: dict[str, list[str]], env: dict[str, str], out: _Prefixed
) -> tuple[dict[str, subprocess.Popen], list[threading.Thread]]:
    """Start every command, each with a thread relaying its output to ``out``."""
    running, relays = {}, []
    for name, command in commands.items():
        # S603: the argv lists of processes() (or a test's), no shell.
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        running[name] = process
        relay = threading.Thread(target=_relay, args=(name, process.stdout, out), daemon=True)
        relay.start()
        relays.append(relay)
    return running, relays


def _wait_for_stop(running: dict[str, subprocess.Popen], out: _Prefixed) -> int:
    """Wait for Ctrl-C, SIGTERM or a process exiting; the exit code ``serve`` returns."""
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, process in running.items():
            if process.poll() is not None:
                out.say("run", f"{name} exited with {process.returncode}; stopping")
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)
    return exit_code


def _stop(running: dict[str, subprocess.Popen]) -> None:
    """Ask every process still running to end; kill one that has not after 15 s."""
    for process in running.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in running.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instance", default="instance", type=Path)
    parser.add_argument("--port", default=8080, type=int)
    args = parser.parse_args()
    return serve(
        processes(args.instance.resolve(), args.port),
        environment(dict(os.environ)),
        banner=(
            f"Serving http://localhost:{args.port}/Plone  (Ctrl-C stops everything)\n"
            f"E-mail sent by the demo: {args.instance.resolve() / 'var' / 'mail'} (Maildir)"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
