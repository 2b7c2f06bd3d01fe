"""How the tests and benchmarks start Debian's Chromium: one list of flags, shared by
``tests/browser/conftest.py`` (the room tests on loopback) and ``scripts/udp_blocked.py``
(the participant whose network drops UDP, in the cluster test and ``bench-cluster``).
Each adds what only its own set-up needs."""

import shutil

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",  # QUIC is UDP: a network that drops UDP refuses it anyway
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
