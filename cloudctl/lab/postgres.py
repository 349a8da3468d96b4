"""The lab's PostgreSQL: the shared state server of issue 16, from Debian's package.

Its own cluster under ``<lab dir>/postgresql`` (``data/`` owned by the ``postgres`` user,
the unix socket in ``run/``), listening on 127.0.0.1:5433 only (5432 stays free for a
system cluster), with its own role and database ``cloudctl`` (password random per lab,
written to ``<lab dir>/pgpass``, 0600, for libpq's PGPASSFILE; never printed). Started
and stopped with the lab; after a kill -9 the next ``lab up`` starts it on the same data
(PostgreSQL replays its WAL).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from cloudctl.core.errors import ExternalError, Location
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _
from cloudctl.lab import procs
from cloudctl.lab.model import LOOPBACK
from cloudctl.lab.paths import LabPaths

NAME = "postgresql"
KEY = f"svc-{NAME}"
PORT = 5433
ROLE = "cloudctl"
DATABASE = "cloudctl"
OS_USER = "postgres"


def home(paths: LabPaths) -> Path:
    return paths.root / "postgresql"


def data_dir(paths: LabPaths) -> Path:
    return home(paths) / "data"


def socket_dir(paths: LabPaths) -> Path:
    return home(paths) / "run"


def pgpass_file(paths: LabPaths) -> Path:
    return paths.root / "pgpass"


def url() -> str:
    """The state URL of the lab's database (no password: that is in the pgpass file)."""
    return f"postgresql://{ROLE}@{LOOPBACK}:{PORT}/{DATABASE}"


def bin_dir() -> Path | None:
    """``/usr/lib/postgresql/<newest>/bin`` of Debian's postgresql package."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return found[-1].parent if found else None


def _ids() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(OS_USER)
    except KeyError:
        raise ExternalError(
            _("no 'postgres' user: apt-get install --no-install-recommends postgresql")
        ) from None
    return pw.pw_uid, pw.pw_gid


def _as_postgres() -> None:
    uid, gid = _ids()
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def password(paths: LabPaths) -> str:
    """The role's password: random per lab, kept in the pgpass file only."""
    f = pgpass_file(paths)
    with contextlib.suppress(OSError, IndexError):
        line = f.read_text().splitlines()[0]
        pw = line.split(":", 4)[4]
        if pw:
            return pw
    pw = secrets.token_hex(16)
    atomic_write(f, f"{LOOPBACK}:{PORT}:*:{ROLE}:{pw}\n", mode=0o600)
    return pw


def env(paths: LabPaths) -> dict[str, str]:
    """What a client needs: the state URL and the pgpass file libpq reads the password from."""
    return {"CLOUDCTL_STATE_URL": url(), "PGPASSFILE": str(pgpass_file(paths))}


def _title(paths: LabPaths) -> str:
    # postgres rewrites its processes' titles over their environment: the cluster name
    # carries the lab's marker into every process title instead (see procs.owned_pids)
    return f"[{procs.title_marker(paths.root, NAME)}]"[:63]


def _initdb(paths: LabPaths, bindir: Path) -> None:
    uid, gid = _ids()
    for d, mode in ((home(paths), 0o755), (data_dir(paths), 0o700), (socket_dir(paths), 0o700)):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, mode)
        if d != home(paths):
            os.chown(d, uid, gid)
    if (data_dir(paths) / "PG_VERSION").exists():
        return
    log = paths.logs / "init-postgresql.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        r = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data_dir(paths)),
                "-U",
                OS_USER,
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_as_postgres,
            cwd="/",
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        )
    if r.returncode != 0:
        shutil.rmtree(data_dir(paths), ignore_errors=True)
        raise ExternalError(
            _("initdb failed (exit {returncode}); see {log}").format(
                returncode=r.returncode, log=log
            ),
            Location(str(log)),
        )


def _clear_stale_pidfile(paths: LabPaths) -> None:
    """A killed postmaster leaves postmaster.pid and the socket's lock file behind. If its
    pid is now a zombie nobody reaps or someone else's, postgres would refuse to start.
    Only a pid that is no live postgres of ours is cleared (the socket dir is ours alone)."""
    pidfile = data_dir(paths) / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    if pid is not None and pid in procs.owned_pids(paths.root):
        return
    pidfile.unlink(missing_ok=True)
    for f in socket_dir(paths).glob(".s.PGSQL.*"):
        f.unlink(missing_ok=True)


def _connect_admin(paths: LabPaths, timeout: float = 3.0):
    import psycopg

    return psycopg.connect(
        host=str(socket_dir(paths)),
        port=PORT,
        user=OS_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=max(1, int(timeout)),
    )


def answers(paths: LabPaths, timeout: float = 3.0) -> bool:
    import psycopg

    try:
        with _connect_admin(paths, timeout) as c:
            c.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _wait(paths: LabPaths, rec: procs.ProcRecord, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs.is_running(rec):
            raise ExternalError(
                _("postgresql exited at start; see {log}").format(log=rec.log),
                Location(rec.log or str(paths.logs)),
            )
        if answers(paths):
            return
        time.sleep(0.3)
    raise ExternalError(
        _("postgresql did not answer within {timeout:.0f} s; see {log}").format(
            timeout=timeout, log=rec.log
        )
    )


def _provision(paths: LabPaths) -> None:
    """The role (password from the pgpass file, CREATEDB for the tests' throwaway
    databases) and its database, idempotently."""
    from psycopg import sql

    pw = password(paths)
    with _connect_admin(paths) as c:
        exists = c.execute("SELECT 1 FROM pg_roles WHERE rolname=%s", (ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        c.execute(
            sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                sql.Identifier(ROLE), sql.Literal(pw)
            )
        )
        if not c.execute("SELECT 1 FROM pg_database WHERE datname=%s", (DATABASE,)).fetchone():
            c.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(ROLE)
                )
            )


def record(paths: LabPaths) -> procs.ProcRecord | None:
    return procs.ProcRecord.load(paths.run / f"{KEY}.json")


def ensure(paths: LabPaths, port_check) -> procs.ProcRecord:
    """Start the cluster unless it runs and answers; make the role and database."""
    rec = record(paths)
    if rec and procs.is_running(rec) and answers(paths, timeout=10):
        _provision(paths)
        return rec
    if rec:
        stop(paths)
    bindir = bin_dir()
    if bindir is None:
        raise ExternalError(
            _("PostgreSQL not found: apt-get install --no-install-recommends postgresql")
        )
    port_check(PORT, paths, NAME)
    _initdb(paths, bindir)
    _clear_stale_pidfile(paths)
    rec = procs.spawn(
        KEY,
        [
            str(bindir / "postgres"),
            "-D",
            str(data_dir(paths)),
            "-p",
            str(PORT),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            f"unix_socket_directories={socket_dir(paths)}",
            "-c",
            f"cluster_name={_title(paths)}",
            "-c",
            "shared_buffers=32MB",
            "-c",
            "max_connections=200",
        ],
        {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        paths.logs / f"{NAME}.log",
        paths.root,
        cwd=data_dir(paths),
        preexec=_as_postgres,
    )
    rec.save(paths.run)
    _wait(paths, rec)
    _provision(paths)
    return rec


def stop(paths: LabPaths, timeout: float = 15.0) -> bool:
    """Fast shutdown (SIGINT: clients are disconnected, no waiting for them); SIGKILL
    after ``timeout``. Returns whether it was running."""
    rec = record(paths)
    if rec is None:
        return False
    running = procs.is_running(rec)
    if running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and procs.is_running(rec):
            time.sleep(0.05)
        procs.terminate([rec], timeout=1)
    (paths.run / f"{KEY}.json").unlink(missing_ok=True)
    return running


def status_row(paths: LabPaths, kids, deep: bool) -> dict:
    rec = record(paths)
    running = bool(rec and procs.is_running(rec))
    ok, detail = False, "not running"
    if running:
        ok, detail = probe(paths) if deep else (True, "-")
    rss = procs.rss_bytes(procs.tree(rec.pid, kids)) if running and rec else 0
    return {
        "name": NAME,
        "port": PORT,
        "pid": rec.pid if running and rec else None,
        "running": running,
        "healthy": ok,
        "detail": detail,
        "rss_mib": round(rss / 2**20, 1),
        "log": str(paths.logs / f"{NAME}.log"),
        "url": url(),
    }


def probe(paths: LabPaths) -> tuple[bool, str]:
    """A real login as the lab's role over TCP, with the password from the pgpass file."""
    import psycopg

    t0 = time.monotonic()
    try:
        with psycopg.connect(
            url(), passfile=str(pgpass_file(paths)), connect_timeout=5, autocommit=True
        ) as c:
            ver = c.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as e:
        return False, (str(e).strip().splitlines() or ["login failed"])[0][:120]
    return True, f"PostgreSQL {ver}, db {DATABASE} ({(time.monotonic() - t0) * 1000:.0f} ms)"


@contextlib.contextmanager
def fresh_database(paths: LabPaths | None = None, prefix: str = "t"):
    """A throwaway database on the lab's PostgreSQL (tests, benchmarks): yields its state
    URL (no password; PGPASSFILE from :func:`env` gives it) and drops it afterwards, with
    every session still connected to it."""
    import psycopg
    from psycopg import sql

    paths = paths or LabPaths.from_env()
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = dict(passfile=str(pgpass_file(paths)), connect_timeout=5, autocommit=True)
    with psycopg.connect(url(), **admin) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql://{ROLE}@{LOOPBACK}:{PORT}/{name}"
    finally:
        with psycopg.connect(url(), **admin) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
