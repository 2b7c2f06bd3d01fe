"""``make run``'s runner (``scripts/run.py``): every line prefixed with its process's
name, and everything stopped on Ctrl-C or when one process exits."""

from pathlib import Path

import json
import os
import pytest
import signal
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parent.parent.parent
RUNNER = f"""
import importlib.util, json, os, sys
spec = importlib.util.spec_from_file_location("run", {str(ROOT / "scripts" / "run.py")!r})
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)
sys.exit(run.serve(json.loads(sys.argv[1]), dict(os.environ)))
"""


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _sleeper(pidfile: Path) -> list[str]:
    """Writes its pid, says it is ready (without flushing: the runner must see it
    anyway), sleeps."""
    return _python(
        f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); "
        "print('ready'); time.sleep(60)"
    )


def _start(commands: dict) -> tuple[subprocess.Popen, list[str]]:
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(commands)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(runner.stdout), daemon=True).start()
    return runner, lines


def _wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_every_line_is_prefixed_with_its_process_and_one_exiting_stops_all(tmp_path):
    runner, lines = _start(
        {
            "plone": _python("import time; print('one'); print('two'); time.sleep(1.5)"),
            "media": _sleeper(tmp_path / "media.pid"),
        }
    )
    assert runner.wait(30) == 1
    _wait_for(lambda: any("stopping" in line for line in lines), 5)
    assert "plone | one\n" in lines
    assert "plone | two\n" in lines
    assert "media | ready\n" in lines
    assert "run   | plone exited with 0; stopping\n" in lines
    _wait_for(lambda: _gone(int((tmp_path / "media.pid").read_text())))


@pytest.mark.parametrize("whom", ["the terminal's job", "the runner alone"])
def test_ctrl_c_stops_every_process(tmp_path, whom):
    runner, lines = _start(
        {"media": _sleeper(tmp_path / "media.pid"), "caldav": _sleeper(tmp_path / "caldav.pid")}
    )
    _wait_for(lambda: {"media  | ready\n", "caldav | ready\n"} <= set(lines))
    if whom == "the runner alone":
        runner.send_signal(signal.SIGINT)
    else:
        os.killpg(runner.pid, signal.SIGINT)
    assert runner.wait(30) == 0
    for name in ("media", "caldav"):
        _wait_for(lambda name=name: _gone(int((tmp_path / f"{name}.pid").read_text())))
