"""Print a buildout ``versions.cfg`` generated from constraints.txt (one source of truth).

Usage: python scripts/versions_cfg.py > versions.cfg   (``make versions-cfg``)
"""

from pathlib import Path

import re
import sys

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def pins_from_constraints(text: str) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line."""
    pins = {}
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[match.group(1)] = match.group(2)
    return pins


def render(pins: dict[str, str]) -> str:
    lines = [
        "# Generated from constraints.txt by scripts/versions_cfg.py: do not edit by hand.",
        "[versions]",
    ]
    lines += [
        f"{name} = {version}" for name, version in sorted(pins.items(), key=lambda i: i[0].lower())
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    pins = pins_from_constraints((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    sys.stdout.write(render(pins))


if __name__ == "__main__":
    main()
