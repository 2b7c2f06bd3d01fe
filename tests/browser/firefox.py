"""Debian's firefox-esr, driven over its built-in WebDriver BiDi WebSocket (no driver binary).

Just what the room test needs: start headless with fake camera and microphone, navigate,
and evaluate JavaScript (awaiting promises, results as JSON strings). Loopback ICE needs
``media.peerconnection.ice.loopback`` and the default camera/microphone permissions; the
room tests run in a network namespace, where Firefox's background services reach nothing.
"""

from pathlib import Path

import contextlib
import json
import shutil
import socket
import subprocess
import time
import websocket

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")
PREFS = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.loopback": True,
    "permissions.default.camera": 1,
    "permissions.default.microphone": 1,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "app.update.disabledForTesting": True,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "browser.aboutwelcome.enabled": False,
    "intl.accept_languages": "sv-SE, sv",
}


class Firefox:
    def __init__(self, profile: Path):
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items())
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [
                FIREFOX,
                "--headless",
                "--no-remote",
                "--profile",
                str(profile),
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._id = 0
        try:
            self._connect(port)
        except BaseException:
            self.process.kill()  # never leave a browser behind
            self.process.wait(10)
            raise

    def _connect(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                self.ws = websocket.create_connection(
                    f"ws://127.0.0.1:{port}/session", timeout=30, suppress_origin=True
                )
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("Firefox did not open its WebDriver BiDi port") from None
                time.sleep(0.2)
        self.command("session.new", {"capabilities": {}})
        tree = self.command("browsingContext.getTree", {})
        self.context = tree["contexts"][0]["context"]

    def command(self, method: str, params: dict) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") != self._id:
                continue  # an event
            if message.get("type") == "error" or "error" in message:
                raise RuntimeError(f"{method}: {message.get('error')}: {message.get('message')}")
            return message["result"]

    def preload(self, function_declaration: str) -> None:
        """Run ``function_declaration`` (``() => {...}``) in every page before its scripts."""
        self.command("script.addPreloadScript", {"functionDeclaration": function_declaration})

    def goto(self, url: str) -> None:
        self.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def evaluate(self, expression: str):
        """The JSON value of ``expression`` (a promise is awaited)."""
        result = self.command(
            "script.evaluate",
            {
                "expression": f"Promise.resolve({expression}).then((v) => JSON.stringify(v))",
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        if result["type"] != "success":
            raise RuntimeError(result.get("exceptionDetails", {}).get("text", "script failed"))
        value = result["result"].get("value")
        return json.loads(value) if value is not None else None

    def wait_for(self, expression: str, seconds: float = 20):
        deadline = time.monotonic() + seconds
        while True:
            try:
                value = self.evaluate(expression)
            except RuntimeError:
                value = None  # the page is navigating
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true within {seconds} s: {expression}")
            time.sleep(0.25)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # it is going away either way
            self.command("browser.close", {})
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
