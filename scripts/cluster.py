"""The production topology on one machine: PostgreSQL (RelStorage), N Zope instances
behind HAProxy with TLS, one media node per core (each meeting lives on one, see
access/media_nodes.py), the CalDAV worker and the demo mail server.

``make run-cluster`` runs ``python scripts/cluster.py run``; Ctrl-C stops it all.

- **Database.** ``VIDEOMOTE_DSN`` names an external PostgreSQL (production). Without it a
  cluster is made once in ``<dir>/var/pg`` (initdb) and run as the unprivileged system
  user ``videomote`` (PostgreSQL refuses root; the user is created when missing), on
  127.0.0.1 only, with a password from ``<dir>/var/secrets.env``.
- **Zope.** ``etc/zope-<n>.conf``/``zope-<n>.ini`` per instance (``etc/zope-cluster.conf.in``),
  all on one history-free RelStorage database with blobs in PostgreSQL.
- **HAProxy** (``etc/haproxy.cfg.in``): TLS on ``--https-port`` with ``VIDEOMOTE_TLS_PEM``
  (certificate + key) or a self-signed one made at first start; health checks; the
  client's address in X-Forwarded-For, trusted by Zope from 127.0.0.1 only.
- **Secrets** shared by every process of the cluster (not generated per start, so a
  restarted instance still accepts tokens signed by another): ``VIDEOMOTE_MEDIA_SECRET``,
  ``VIDEOMOTE_WORKER_SECRET`` (and the local database password) from the environment or
  from ``<dir>/var/secrets.env`` (0600, made once). ``VIDEOMOTE_SECRET_KEY`` is passed on
  when set; otherwise every instance reads the per-site key from the shared database.

Sub-commands: ``write`` (configuration only), ``run`` (everything, supervised),
``migrate --from instance/var`` (copy a FileStorage site into an empty cluster database).
"""

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import argparse
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "etc"
BIN = Path(sys.executable).parent
SERVICE_USER = "videomote"
DATABASE = "videomote"
# two passed health checks a second apart (haproxy.cfg.in: inter 1s rise 2)
HEALTH_SETTLE_SECONDS = 2.5


@dataclass
class Cluster:
    """Where the cluster lives and on which loopback ports its parts listen."""

    directory: Path
    instances: int = 2
    zope_port: int = 8081  # instance n listens on zope_port + n - 1
    https_port: int = 8443
    internal_port: int = 8079  # plain HTTP on 127.0.0.1 for the CalDAV worker
    media_ports: tuple[int, ...] = (8090,)
    media_tls_port: int = 8444  # media node i behind TLS on media_tls_port + i
    pg_port: int = 5433
    turn_port: int = 3478  # coturn: UDP and TCP
    turn_tls_port: int = 5349  # coturn: TLS over TCP, for networks that block UDP
    mail_port: int = 8025
    bind: str = "127.0.0.1"  # HAProxy's frontends (Plone, media WebSockets)
    public_host: str = "localhost:8443"
    # the name (or address) browsers use for this machine: media WebSockets, TURN over TLS,
    # and the self-signed certificate's subject
    public_name: str = "localhost"
    # where coturn listens and relays from, and what the TURN addresses handed to browsers
    # name: the address clients reach (a network that drops UDP reaches it over TCP)
    turn_address: str = "127.0.0.1"
    trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.directory = Path(self.directory).resolve()

    @property
    def etc(self) -> Path:
        return self.directory / "etc"

    @property
    def var(self) -> Path:
        return self.directory / "var"

    @property
    def pgdir(self) -> Path:
        return self.var / "pg"

    def zope_ports(self) -> list[int]:
        return [self.zope_port + n for n in range(self.instances)]


# -- a cluster on free loopback ports (tests and benchmarks) -----------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def two_free_ports() -> int:
    """A base port p with p and p + 1 free (instance n listens on base + n - 1)."""
    for _ in range(50):
        base = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise RuntimeError("no two consecutive free ports")


def on_free_ports(prefix: str, mail_port: int) -> Cluster:
    """Two instances, no media node, in a fresh folder under /tmp that the unprivileged
    service user can enter (PostgreSQL runs as it), every part on a free loopback port."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(path, 0o755)  # noqa: S103 - the unprivileged service user must enter it
    https = free_port()
    return Cluster(
        path,
        instances=2,
        zope_port=two_free_ports(),
        https_port=https,
        internal_port=free_port(),
        media_ports=(),
        media_tls_port=free_port(),
        pg_port=free_port(),
        mail_port=mail_port,
        public_host=f"localhost:{https}",
    )


# -- configuration ------------------------------------------------------------------
def _render(template: str, values: dict[str, object]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", str(value))
    return template


def write_config(
    cluster: Cluster, certificate: Path | None = None, run_as: str | None = None
) -> None:
    """Render every configuration file of the cluster (idempotent; data is not touched).
    ``run_as``: the user HAProxy becomes once it has bound its ports and read the
    certificate (when started as root)."""
    for sub in ("etc", "var/log", "var/cache"):
        (cluster.directory / sub).mkdir(parents=True, exist_ok=True)
    proxies = "\n".join(f"trusted-proxy {proxy}" for proxy in cluster.trusted_proxies)
    conf = (TEMPLATES / "zope-cluster.conf.in").read_text(encoding="utf-8")
    ini = (TEMPLATES / "zope.ini.in").read_text(encoding="utf-8")
    for n, port in enumerate(cluster.zope_ports(), start=1):
        values = {
            "instance": cluster.directory,
            "name": n,
            "host": "127.0.0.1",
            "port": port,
            "trusted_proxies": proxies,
        }
        (cluster.etc / f"zope-{n}.conf").write_text(_render(conf, values), encoding="utf-8")
        (cluster.var / f"cache-{n}").mkdir(parents=True, exist_ok=True)
        rendered = (
            _render(ini, values)
            .replace("%(here)s/zope.conf", f"%(here)s/zope-{n}.conf")
            .replace("/var/log/access.log", f"/var/log/access-{n}.log")
            .replace("/var/log/event.log", f"/var/log/event-{n}.log")
        )
        (cluster.etc / f"zope-{n}.ini").write_text(rendered, encoding="utf-8")
    shutil.copyfile(TEMPLATES / "site.zcml", cluster.etc / "site.zcml")
    servers = "\n".join(
        f"    server zope{n} 127.0.0.1:{port} check"
        for n, port in enumerate(cluster.zope_ports(), start=1)
    )
    haproxy = _render(
        (TEMPLATES / "haproxy.cfg.in").read_text(encoding="utf-8"),
        {
            "bind": cluster.bind,
            "port": cluster.https_port,
            "internal_port": cluster.internal_port,
            "public_host": cluster.public_host,
            "certificate": certificate or cluster.var / "tls" / "site.pem",
            "servers": servers,
            "run_as": f"user {run_as}\n    group {run_as}" if run_as else "# runs as its caller",
        },
    )
    media = []
    for i, port in enumerate(cluster.media_ports):
        media.append(
            f"\nfrontend media{i + 1}\n"
            f"    bind {cluster.bind}:{cluster.media_tls_port + i} ssl crt "
            f"{certificate or cluster.var / 'tls' / 'site.pem'}\n"
            f"    default_backend media{i + 1}\n"
            f"\nbackend media{i + 1}\n"
            f"    server media{i + 1} 127.0.0.1:{port} check\n"
        )
    (cluster.etc / "haproxy.cfg").write_text(haproxy + "".join(media), encoding="utf-8")


def write_zodbconvert(cluster: Cluster, source_var: Path) -> Path:
    """``etc/zodbconvert.conf``: the FileStorage under ``source_var`` into the cluster."""
    source_var = Path(source_var).resolve()
    text = _render(
        (TEMPLATES / "zodbconvert.conf.in").read_text(encoding="utf-8"),
        {
            "instance": cluster.directory,
            "data_fs": source_var / "filestorage" / "Data.fs",
            "blob_dir": source_var / "blobstorage",
        },
    )
    path = cluster.etc / "zodbconvert.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- secrets and TLS -------------------------------------------------------------------
SECRET_NAMES = (
    "VIDEOMOTE_MEDIA_SECRET",
    "VIDEOMOTE_WORKER_SECRET",
    "VIDEOMOTE_PG_PASSWORD",
    "VIDEOMOTE_TURN_SECRET",
)


def load_secrets(cluster: Cluster, environ: dict[str, str]) -> dict[str, str]:
    """The cluster's shared secrets: the environment's, else ``var/secrets.env`` (made
    once, mode 0600), so every instance and every restart uses the same ones."""
    path = cluster.var / "secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() in SECRET_NAMES:
                stored[key.strip()] = value.strip()
    missing = [name for name in SECRET_NAMES if name not in stored]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{key}={value}\n" for key, value in sorted(stored.items()))
    return {name: environ.get(name) or stored[name] for name in SECRET_NAMES}


def ensure_certificate(cluster: Cluster, environ: dict[str, str]) -> Path:
    """``VIDEOMOTE_TLS_PEM`` (certificate, chain and key in one file, as HAProxy wants),
    or a self-signed certificate for localhost made with openssl at the first start."""
    configured = environ.get("VIDEOMOTE_TLS_PEM")
    if configured:
        return Path(configured)
    tls = cluster.var / "tls"
    pem = tls / "site.pem"
    if pem.exists():
        return pem
    tls.mkdir(parents=True, exist_ok=True)
    os.chmod(tls, 0o700)
    key, crt = tls / "site.key", tls / "site.crt"
    subprocess.run(
        [
            shutil.which("openssl") or "/usr/bin/openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "825",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1" + _subject_name(cluster.public_name),
            "-keyout",
            str(key),
            "-out",
            str(crt),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    fd = os.open(pem, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(crt.read_bytes() + key.read_bytes())
    key.unlink()
    return pem


def _subject_name(name: str) -> str:
    """The public name as one more subjectAltName of the self-signed certificate."""
    import ipaddress

    if name in ("localhost", "127.0.0.1"):
        return ""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return f",DNS:{name}"
    return f",IP:{name}"


# -- PostgreSQL ---------------------------------------------------------------------------
def pg_bindir() -> Path | None:
    """Debian's PostgreSQL programs (not on PATH there), newest version first."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def service_user() -> str | None:
    """Whom PostgreSQL runs as: ``videomote`` when we are root (made when missing),
    else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                shutil.which("useradd") or "/usr/sbin/useradd",
                "--system",
                "--user-group",
                "--home-dir",
                "/nonexistent",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            timeout=30,
        )
    return SERVICE_USER


def as_user(command: list[str], user: str | None) -> list[str]:
    """``command`` as ``user`` (setpriv execs it: signals reach the program itself)."""
    if not user:
        return command
    return [
        "setpriv",
        f"--reuid={user}",
        f"--regid={user}",
        "--init-groups",
        "--reset-env",
        "--",
        *command,
    ]


def _chown(path: Path, user: str | None) -> None:
    if user:
        record = pwd.getpwnam(user)
        os.chown(path, record.pw_uid, record.pw_gid)


def init_postgres(cluster: Cluster, password: str, user: str | None) -> None:
    """initdb once: password (SCRAM) logins only, on 127.0.0.1 and the socket in pgdir."""
    bindir = pg_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (make system-packages)")
    pgdir = cluster.pgdir
    if (pgdir / "PG_VERSION").exists():
        return
    pgdir.mkdir(parents=True, exist_ok=True)
    os.chmod(pgdir, 0o700)
    _chown(pgdir, user)
    pwfile = cluster.var / "pg-initdb-password"
    fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(password + "\n")
    _chown(pwfile, user)
    try:
        subprocess.run(
            as_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(pgdir),
                    "-U",
                    SERVICE_USER,
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
                user,
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        pwfile.unlink()


def postgres_command(cluster: Cluster, user: str | None) -> list[str]:
    """The server in the foreground (supervised like every other part)."""
    return as_user(
        [
            str(pg_bindir() / "postgres"),
            "-D",
            str(cluster.pgdir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={cluster.pg_port}",
            "-c",
            f"unix_socket_directories={cluster.pgdir}",
            "-c",
            "max_connections=200",
        ],
        user,
    )


def local_dsn(cluster: Cluster, password: str) -> str:
    return (
        f"dbname={DATABASE} user={SERVICE_USER} password={password} "
        f"host=127.0.0.1 port={cluster.pg_port}"
    )


def wait_for_port(
    port: int, timeout: float, process: subprocess.Popen | None = None, host: str = "127.0.0.1"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f} s")


def ensure_database(cluster: Cluster, password: str) -> None:
    """CREATE DATABASE once (the server must be up)."""
    env = {**os.environ, "PGPASSWORD": password}
    common = ["-h", "127.0.0.1", "-p", str(cluster.pg_port), "-U", SERVICE_USER]
    psql = str(pg_bindir() / "psql")
    deadline = time.monotonic() + 30
    while True:
        probe = subprocess.run(
            [
                psql,
                *common,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",  # noqa: S608 - a constant
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)  # accepting TCP, not yet queries (recovery at start)
    if probe.returncode != 0:
        raise RuntimeError(f"PostgreSQL does not answer: {probe.stderr.strip()}")
    if probe.stdout.strip() != "1":
        subprocess.run(
            [str(pg_bindir() / "createdb"), *common, DATABASE],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )


# -- processes ------------------------------------------------------------------------------
def zope_command(cluster: Cluster, n: int) -> list[str]:
    return [str(BIN / "runwsgi"), str(cluster.etc / f"zope-{n}.ini")]


def haproxy_command(cluster: Cluster) -> list[str]:
    # -db: stay in the foreground, logs to stdout
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return [haproxy, "-db", "-f", str(cluster.etc / "haproxy.cfg")]


def media_command(port: int) -> list[str]:
    return [str(BIN / "videomote-media"), "--port", str(port)]


def caldav_command(cluster: Cluster) -> list[str]:
    return [
        str(BIN / "videomote-caldav-sync"),
        "--site",
        f"http://localhost:{cluster.internal_port}/Plone",
        "--lock",
        str(cluster.var / "caldav-sync.lock"),
    ]


def turnserver() -> str | None:
    return shutil.which("turnserver") or (
        "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
    )


def turn_command(cluster: Cluster, secret: str, certificate: Path) -> list[str]:
    """coturn with time-limited credentials (use-auth-secret: the media server derives
    each join's user name and password from the shared secret, see media/config.py), on
    UDP/TCP and on TLS for networks that let only TCP out. Relays only to loopback
    peers here (the media server on this machine); in production allow the media nodes'
    addresses and deny private ranges (``denied-peer-ip``). The secret goes into a 0600
    file, not onto the command line (where ``ps`` shows it)."""
    settings = [
        "no-cli",
        f"listening-ip={cluster.turn_address}",
        f"relay-ip={cluster.turn_address}",
        f"listening-port={cluster.turn_port}",
        f"tls-listening-port={cluster.turn_tls_port}",
        f"cert={certificate}",
        f"pkey={certificate}",
        "use-auth-secret",
        f"static-auth-secret={secret}",
        "realm=videomote",
        "fingerprint",
        "no-multicast-peers",
        "allow-loopback-peers",
        "min-port=49160",
        "max-port=49200",
        "log-file=stdout",
        "simple-log",
    ]
    path = cluster.etc / "turnserver.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("# Written by scripts/cluster.py at every start\n")
        out.writelines(f"{line}\n" for line in settings)
    return [turnserver() or "turnserver", "-c", str(path)]


def media_turn_environment(cluster: Cluster, secret: str) -> dict[str, str]:
    """What the media nodes need to hand out time-limited TURN credentials."""
    return {
        "VIDEOMOTE_MEDIA_TURN_URL": (
            f"turn:{cluster.turn_address}:{cluster.turn_port}?transport=udp,"
            f"turn:{cluster.turn_address}:{cluster.turn_port}?transport=tcp,"
            f"turns:{cluster.public_name}:{cluster.turn_tls_port}?transport=tcp"
        ),
        "VIDEOMOTE_MEDIA_TURN_SECRET": secret,
    }


def mail_command(cluster: Cluster) -> list[str]:
    return [
        sys.executable,
        "-m",
        "aiosmtpd",
        "-n",
        "-l",
        f"localhost:{cluster.mail_port}",
        "-c",
        "aiosmtpd.handlers.Mailbox",
        str(cluster.var / "mail"),
    ]


def cluster_environment(cluster: Cluster, environ: dict[str, str]) -> dict[str, str]:
    """The environment every process of the cluster gets: one DSN, one set of secrets."""
    shared = load_secrets(cluster, environ)
    env = {**environ, **cluster.extra_env}
    env["VIDEOMOTE_MEDIA_SECRET"] = shared["VIDEOMOTE_MEDIA_SECRET"]
    env["VIDEOMOTE_WORKER_SECRET"] = shared["VIDEOMOTE_WORKER_SECRET"]
    env.setdefault("VIDEOMOTE_DSN", local_dsn(cluster, shared["VIDEOMOTE_PG_PASSWORD"]))
    env["VIDEOMOTE_MAIL_PORT"] = str(cluster.mail_port)
    bundle = trusted_certificates(cluster, environ)
    if bundle is not None:
        env["REQUESTS_CA_BUNDLE"] = env["SSL_CERT_FILE"] = str(bundle)
    return env


def trusted_certificates(cluster: Cluster, environ: dict[str, str]) -> Path | None:
    """With the self-signed certificate, the processes of the cluster trust it too: Plone
    reaches a media node given only as ``wss://…`` (its ``/health`` and ``/end`` then go
    through HAProxy's TLS). ``var/tls/trusted.pem``: the usual authorities (certifi's, or
    the ``REQUESTS_CA_BUNDLE`` already set) and that certificate; None with
    ``VIDEOMOTE_TLS_PEM`` (a certificate the usual authorities vouch for)."""
    own = cluster.var / "tls" / "site.crt"
    if environ.get("VIDEOMOTE_TLS_PEM") or not own.exists():
        return None
    import certifi

    usual = Path(environ.get("REQUESTS_CA_BUNDLE") or certifi.where())
    bundle = cluster.var / "tls" / "trusted.pem"
    text = usual.read_text(encoding="utf-8").rstrip("\n") + "\n" + own.read_text(encoding="utf-8")
    if not bundle.exists() or bundle.read_text(encoding="utf-8") != text:
        bundle.write_text(text, encoding="utf-8")
        bundle.chmod(0o644)
    return bundle


def uses_local_postgres(environ: dict[str, str]) -> bool:
    return not environ.get("VIDEOMOTE_DSN")


def start_postgres(cluster: Cluster, environ: dict[str, str]) -> subprocess.Popen:
    """initdb once, start the server as the service user, create the database once."""
    password = load_secrets(cluster, environ)["VIDEOMOTE_PG_PASSWORD"]
    user = service_user()
    init_postgres(cluster, password, user)
    (cluster.var / "log").mkdir(parents=True, exist_ok=True)
    log = open(cluster.var / "log" / "postgresql.log", "ab")  # noqa: SIM115 - kept open
    process = subprocess.Popen(
        postgres_command(cluster, user), stdout=log, stderr=subprocess.STDOUT, cwd="/"
    )
    wait_for_port(cluster.pg_port, 60, process)
    ensure_database(cluster, password)
    return process


def media_node_lines(cluster: Cluster) -> list[str]:
    """The ``media_nodes`` setting: each node's public address (HAProxy's TLS frontend,
    what browsers connect to) and where Plone reaches its /health and /end directly."""
    return [
        f"wss://{cluster.public_name}:{cluster.media_tls_port + i}/ws http://127.0.0.1:{port}"
        for i, port in enumerate(cluster.media_ports)
    ]


def default_media_ports(first: int = 8090) -> tuple[int, ...]:
    """One media node per core: each is one asyncio process, so one core at most."""
    return tuple(first + i for i in range(max(1, os.cpu_count() or 1)))


def create_site(cluster: Cluster, env: dict[str, str], output=None) -> None:
    """The demo site in the cluster's database (safe to run again), with https links."""
    subprocess.run(
        [str(BIN / "zconsole"), "run", str(cluster.etc / "zope-1.conf"), "scripts/create_site.py"],
        cwd=ROOT,
        env={
            **env,
            "VIDEOMOTE_PUBLIC_URL": f"https://{cluster.public_host}/Plone",
            "VIDEOMOTE_MEDIA_URL": f"wss://{cluster.public_name}:{cluster.media_tls_port}/ws",
            "VIDEOMOTE_MEDIA_NODES": "\n".join(media_node_lines(cluster)),
        },
        check=True,
        timeout=900,
        stdout=output,
        stderr=output,
    )


def start_turn_and_media(
    cluster: Cluster, environ: dict[str, str], output=None
) -> dict[str, subprocess.Popen]:
    """coturn (when installed) and the media nodes, which hand out its time-limited
    credentials; by name (the caller stops them)."""
    quiet = {"stdout": output, "stderr": output} if output is not None else {}
    env = cluster_environment(cluster, environ)
    running: dict[str, subprocess.Popen] = {}
    media_env = env
    if turnserver():
        secret = load_secrets(cluster, environ)["VIDEOMOTE_TURN_SECRET"]
        certificate = ensure_certificate(cluster, environ)
        running["coturn"] = subprocess.Popen(
            turn_command(cluster, secret, certificate), cwd="/", env=env, **quiet
        )
        media_env = {**env, **media_turn_environment(cluster, secret)}
    for i, port in enumerate(cluster.media_ports, start=1):
        running[f"media{i}"] = subprocess.Popen(
            media_command(port), cwd=ROOT, env=media_env, **quiet
        )
    return running


def stop(processes: dict[str, subprocess.Popen], timeout: float = 20.0) -> None:
    """Terminate every process (PostgreSQL last, after its clients) and wait, bounded."""
    ordered = sorted(processes.items(), key=lambda item: item[0] == "postgres")
    for last in (False, True):
        group = [p for name, p in ordered if (name == "postgres") == last]
        for process in group:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in group:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def start(
    cluster: Cluster,
    environ: dict[str, str],
    with_site: bool = True,
    with_extras: bool = True,
    output=None,
) -> dict[str, subprocess.Popen]:
    """Start every part; returns the processes by name (the caller stops them).
    ``output``: where the parts write (a file; default: this process's own output)."""
    quiet = {"stdout": output, "stderr": output} if output is not None else {}
    certificate = ensure_certificate(cluster, environ)
    write_config(cluster, certificate, run_as=service_user())
    env = cluster_environment(cluster, environ)
    running: dict[str, subprocess.Popen] = {}
    try:
        if uses_local_postgres(environ):
            running["postgres"] = start_postgres(cluster, environ)
        if with_site:
            create_site(cluster, env, output)
        if with_extras:
            running["mail"] = subprocess.Popen(mail_command(cluster), cwd=ROOT, env=env, **quiet)
        for n in range(1, cluster.instances + 1):
            running[f"zope{n}"] = subprocess.Popen(
                zope_command(cluster, n), cwd=ROOT, env=env, **quiet
            )
        running["haproxy"] = subprocess.Popen(haproxy_command(cluster), cwd=ROOT, env=env, **quiet)
        if with_extras:
            running.update(start_turn_and_media(cluster, environ, output))
            running["caldav"] = subprocess.Popen(
                caldav_command(cluster), cwd=ROOT, env=env, **quiet
            )
        for n, port in enumerate(cluster.zope_ports(), start=1):
            wait_for_port(port, 300, running[f"zope{n}"])
        wait_for_port(cluster.https_port, 30, running["haproxy"])
        time.sleep(HEALTH_SETTLE_SECONDS)  # HAProxy's checks see each instance up
    except BaseException:
        stop(running)
        raise
    return running


def migrate(cluster: Cluster, source_var: Path, environ: dict[str, str]) -> None:
    """Copy a FileStorage site (Data.fs + blobs) into the cluster's empty database."""
    config = write_zodbconvert(cluster, source_var)
    env = cluster_environment(cluster, environ)
    postgres = start_postgres(cluster, environ) if uses_local_postgres(environ) else None
    try:
        subprocess.run(
            [sys.executable, "-m", "relstorage.zodbconvert", str(config)],
            env=env,
            check=True,
            timeout=3600,
        )
    finally:
        if postgres is not None:
            stop({"postgres": postgres})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=("write", "run", "migrate"))
    parser.add_argument("--dir", default="cluster", type=Path)
    parser.add_argument("--instances", default=2, type=int)
    parser.add_argument("--https-port", default=8443, type=int)
    parser.add_argument("--zope-port", default=8081, type=int)
    parser.add_argument("--pg-port", default=5433, type=int)
    parser.add_argument("--mail-port", default=int(os.environ.get("MAIL_PORT", "8025")), type=int)
    parser.add_argument(
        "--media-ports", default="", help="comma-separated; default one per core from 8090"
    )
    parser.add_argument(
        "--bind", default="127.0.0.1", help="HAProxy's address (0.0.0.0: every address)"
    )
    parser.add_argument(
        "--public-name",
        default="localhost",
        help="this machine's name or address as browsers reach it",
    )
    parser.add_argument(
        "--turn-address",
        default="127.0.0.1",
        help="coturn's listening and relay address, as clients reach it",
    )
    parser.add_argument("--from", dest="source", type=Path, help="migrate: e.g. instance/var")
    args = parser.parse_args()
    cluster = Cluster(
        args.dir,
        instances=args.instances,
        zope_port=args.zope_port,
        https_port=args.https_port,
        pg_port=args.pg_port,
        mail_port=args.mail_port,
        media_ports=tuple(int(p) for p in args.media_ports.split(",") if p)
        or default_media_ports(),
        public_host=f"{args.public_name}:{args.https_port}",
        bind=args.bind,
        public_name=args.public_name,
        turn_address=args.turn_address,
    )
    environ = dict(os.environ)
    if args.command == "write":
        write_config(cluster, ensure_certificate(cluster, environ))
        print(f"Cluster configuration written to {cluster.etc}")
        return 0
    if args.command == "migrate":
        if not args.source:
            parser.error("migrate needs --from <instance>/var")
        migrate(cluster, args.source, environ)
        print("Migrated; start it with make run-cluster")
        return 0
    running = start(cluster, environ)
    print(
        f"Serving https://{cluster.public_host}/Plone through HAProxy to "
        f"{cluster.instances} Zope instances (self-signed certificate: accept it once)\n"
        f"E-mail sent by the demo: {cluster.var / 'mail'} (Maildir); Ctrl-C stops everything",
        flush=True,
    )
    stopping = False

    def on_signal(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    while not stopping:
        for name, process in running.items():
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping", flush=True)
                exit_code = process.returncode or 1
                stopping = True
        time.sleep(0.3)
    stop(running)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
