"""Serve the product: Plone, the media server, the CalDAV worker and the demo mail server.

Starts every process, prints the demo address, and stops them all on Ctrl-C or when
one of them exits.
"""

from pathlib import Path

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


MAIL_PORT = int(os.environ.get("VIDEOMOTE_MAIL_PORT", "8025"))
MEDIA_PORT = int(os.environ.get("VIDEOMOTE_MEDIA_PORT", "8090"))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instance", default="instance", type=Path)
    parser.add_argument("--port", default=8080, type=int)
    args = parser.parse_args()
    env = environment(dict(os.environ))
    running = {
        name: subprocess.Popen(command, cwd=ROOT, env=env)
        for name, command in processes(args.instance.resolve(), args.port).items()
    }
    print(
        f"Serving http://localhost:{args.port}/Plone  (Ctrl-C stops everything)\n"
        f"E-mail sent by the demo: {args.instance.resolve() / 'var' / 'mail'} (Maildir)",
        flush=True,
    )
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
                print(f"{name} exited with {process.returncode}; stopping", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)
    for process in running.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + 15
    for process in running.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
