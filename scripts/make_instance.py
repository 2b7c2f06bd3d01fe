"""Render a Zope/Plone WSGI instance (etc/ and var/) from the templates in ../etc.

Idempotent: existing config files are rewritten, the database is never touched.
Usage: python scripts/make_instance.py [--dir instance] [--host localhost] [--port 8080]
                                       [--trusted-proxy 127.0.0.1 ...]

Behind a TLS proxy (browsers give camera and microphone only over HTTPS) every request
comes from the proxy: name it with ``--trusted-proxy`` and Zope takes the participant's
address from X-Forwarded-For, for the audit log and the rate limits.
"""

from pathlib import Path

import argparse
import shutil

TEMPLATES = Path(__file__).resolve().parent.parent / "etc"


def make_instance(
    directory: Path,
    host: str = "localhost",
    port: int = 8080,
    trusted_proxies: tuple[str, ...] = (),
) -> Path:
    """Write etc/zope.conf, etc/zope.ini and etc/site.zcml under ``directory``."""
    directory = directory.resolve()
    etc = directory / "etc"
    for sub in ("etc", "var/log", "var/cache", "var/filestorage", "var/blobstorage"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    proxies = "\n".join(f"trusted-proxy {proxy}" for proxy in trusted_proxies)
    values = {
        "instance": str(directory),
        "host": host,
        "port": port,
        "trusted_proxies": proxies or "# trusted-proxy: none (no proxy in front)",
    }
    for name in ("zope.conf", "zope.ini"):
        template = (TEMPLATES / f"{name}.in").read_text(encoding="utf-8")
        rendered = template
        for key, value in values.items():
            rendered = rendered.replace("{" + key + "}", str(value))
        (etc / name).write_text(rendered, encoding="utf-8")
    shutil.copyfile(TEMPLATES / "site.zcml", etc / "site.zcml")
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="instance", type=Path)
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", default=8080, type=int)
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        help="a proxy in front of Zope (repeatable; also space-separated)",
    )
    args = parser.parse_args()
    proxies = tuple(p for value in args.trusted_proxy for p in value.split())
    path = make_instance(args.dir, args.host, args.port, proxies)
    print(f"Instance written to {path}")


if __name__ == "__main__":
    main()
