"""The two backends of the shared state: SQLite (one file in the state directory, the
default) and PostgreSQL (one server for every operator and CI runner of a center).

Areas write plain SQL with ``?`` placeholders and the subset both dialects share
(``INSERT ... ON CONFLICT ... DO UPDATE``, ``RETURNING``, ``COALESCE``, ``||``); the
PostgreSQL connection translates the placeholders. Rows read like ``sqlite3.Row``: by
name or by position.

Locks: on SQLite an ``flock`` file under ``<state>/locks`` (one machine, released by the
kernel when the holder dies); on PostgreSQL a session advisory lock on a connection of its
own, released by the server when the holder's session ends — a killed process closes its
socket at once; a machine that vanishes is noticed by TCP keepalives (about 25 s).
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cloudctl.core.errors import ConflictError, ExternalError, InputError, Location
from cloudctl.core.i18n import _
from cloudctl.state import schema
from cloudctl.state.url import redact_url

#: libpq options for every connection: fail fast when the server is away, notice a dead
#: peer (keepalives) so its advisory locks are released, and name ourselves.
PG_OPTIONS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,
}


class StateUnavailable(ExternalError):
    """The state database cannot be reached (or was lost in the middle of a command)."""


class Row(dict):
    """A row by column name (``row["status"]``) or position (``row[0]``), like sqlite3.Row."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


def _me() -> str:
    from cloudctl.core.audit import operator

    return operator()


def lock_key(name: str) -> int:
    """A lock name as the signed 64-bit key of pg_advisory_lock."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_slug(name: str) -> str:
    """A lock name as a file name (readable part + hash, so names never collide)."""
    if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name):
        return name
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", name)[:40].strip("_")
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:10]}"


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|%")


def to_pg(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%`` outside string literals; BEGIN IMMEDIATE is
    SQLite's way to take the write lock up front (PostgreSQL: plain BEGIN)."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"

    def sub(m: re.Match) -> str:
        t = m.group(0)
        return "%s" if t == "?" else "%%" if t == "%" else t.replace("%", "%%")

    return _PLACEHOLDER.sub(sub, sql)


# ---------------------------------------------------------------------------------------


class StateDB(abc.ABC):
    """What every area uses: connections, transactions, locks, the schema version."""

    dialect = ""
    cross_machine = False  # locks and records shared between machines

    def __init__(self) -> None:
        self._local = threading.local()
        self.applied: list[schema.Migration] = []  # by this process (state upgrade says so)

    # -- connections
    def conn(self) -> Any:
        """This thread's connection (made on first use, schema checked)."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self.new_conn()
            self._local.conn = c
        return c

    def new_conn(self) -> Any:
        """A connection of its own, with the schema brought to this cloudctl's version."""
        c = self.open_raw()
        try:
            self.upgrade(c)
        except BaseException:
            with contextlib.suppress(Exception):
                c.close()
            raise
        return c

    @abc.abstractmethod
    def open_raw(self) -> Any:
        """A connection that neither checks nor changes the schema (``state status``)."""

    def exists(self) -> bool:
        """Whether there is a database to read (readers do not create a SQLite file)."""
        return True

    def close(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            with contextlib.suppress(Exception):
                c.close()
            self._local.conn = None

    @contextlib.contextmanager
    def transaction(self, conn: Any = None) -> Iterator[Any]:
        """One write transaction (SQLite: the write lock from the start)."""
        c = conn or self.conn()
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            with contextlib.suppress(Exception):
                c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    def serialize(self, conn: Any, name: str) -> None:  # noqa: B027 - SQLite needs nothing
        """Inside a transaction: wait for every other transaction serialized on ``name``
        (SQLite's BEGIN IMMEDIATE already serializes every writer)."""

    # -- locks
    @abc.abstractmethod
    def lock(self, name: str, *, timeout: float, what: str) -> contextlib.AbstractContextManager:
        """An exclusive lock named ``name`` (a context manager), released when the holder
        dies; ConflictError naming the holder after ``timeout``."""
        yield

    # -- schema
    def version(self, conn: Any = None) -> int:
        c = conn or self.conn()
        c.execute(schema.VERSION_TABLE.format(**schema.DIALECT[self.dialect]))
        row = c.execute("SELECT MAX(version) FROM cloudctl_schema").fetchone()
        return int(row[0] or 0)

    def upgrade(self, conn: Any = None) -> list[schema.Migration]:
        """Bring the schema to this cloudctl's version; refuse a newer one."""
        c = conn or self.conn()
        at = self.version(c)
        if at > schema.CURRENT:
            raise InputError(schema.too_new_message(at, self.where))
        if at == schema.CURRENT:
            return []
        with self.transaction(c):
            self.serialize(c, "cloudctl-schema")
            at = self.version(c)
            todo = schema.pending(at)
            for m in todo:
                for stmt in m.sql(self.dialect):
                    c.execute(stmt)
                c.execute(
                    "INSERT INTO cloudctl_schema(version, name, applied_at, applied_by) "
                    "VALUES (?, ?, ?, ?)",
                    (m.version, m.name, time.time(), _me()),
                )
        self.applied.extend(todo)
        return todo

    def counts(self, tables: Sequence[str]) -> dict[str, int]:
        c = self.conn()
        return {t: int(c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in tables}

    @property
    @abc.abstractmethod
    def where(self) -> str:
        """Where the state lives, for messages (never with a password)."""


# ---------------------------------------------------------------------------------------


SQLITE_MAGIC = b"SQLite format 3\x00"


_CHECKED: set[str] = set()


def _refuse_foreign_file(path: Path) -> None:
    """A file that is not a SQLite database is refused before SQLite opens it: opening in
    WAL mode would write to a damaged or foreign file that the command then refuses.

    Checked once per path and process, before SQLite's first connection: closing any
    descriptor of the file drops every POSIX lock this process holds on it, SQLite's too.
    """
    key = os.path.abspath(path)
    if key in _CHECKED:
        return
    _check_sqlite_header(path)
    _CHECKED.add(key)


def _check_sqlite_header(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(
            _("cannot open the state database: {strerror}").format(strerror=e.strerror),
            Location(str(path)),
        ) from None
    import stat

    if not stat.S_ISREG(st.st_mode):
        raise InputError(_("not a regular file, not a state database"), Location(str(path)))
    if st.st_size == 0:
        return  # a database SQLite created and has not written yet
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    if head != SQLITE_MAGIC:
        raise InputError(
            _("not a usable SQLite state database: damaged or another kind of file"),
            Location(str(path)),
        )


def sqlite_connect(path: Path, where: str | None = None) -> sqlite3.Connection:
    """A SQLite connection with WAL and a busy timeout (two processes read while one
    writes); errors read as the file's problem."""
    if path.is_dir():
        raise InputError(_("is a directory, not a state database"), Location(str(path)))
    _refuse_foreign_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
    except sqlite3.DatabaseError as e:  # not SQLite, truncated, or not writable
        raise InputError(
            _("not a usable SQLite state database: {e}").format(e=e), Location(str(path))
        ) from None
    except OSError as e:
        raise InputError(
            _("cannot open the state database: {strerror}").format(strerror=e.strerror),
            Location(str(path)),
        ) from None
    return conn


class SqliteDB(StateDB):
    """``<state>/cloudctl.db``; locks are flock files in ``lock_dir`` (this machine only)."""

    dialect = "sqlite"

    def __init__(self, path: str | Path, lock_dir: str | Path | None = None):
        super().__init__()
        self.path = Path(path)
        self.lock_dir = Path(lock_dir) if lock_dir else self.path.parent / "locks"

    @property
    def where(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return self.path.is_file()

    def open_raw(self) -> sqlite3.Connection:
        return sqlite_connect(self.path)

    def new_conn(self) -> sqlite3.Connection:
        try:
            return super().new_conn()
        except sqlite3.DatabaseError as e:
            raise InputError(
                _("not a usable SQLite state database: {e}").format(e=e), Location(str(self.path))
            ) from None

    @contextlib.contextmanager
    def lock(self, name: str, *, timeout: float, what: str) -> Iterator[None]:
        from cloudctl.core.fileio import file_lock

        with file_lock(self.lock_dir / lock_slug(name), timeout=timeout, what=what):
            yield


# ---------------------------------------------------------------------------------------


class PgConn:
    """A psycopg connection that takes the areas' SQLite-style SQL and returns Rows.

    The first lost connection makes the whole database ``lost`` for this process: a wave
    stops at the first write it cannot make instead of carrying on half-journaled.
    """

    dialect = "postgresql"

    def __init__(self, raw: Any, db: PostgresDB):
        self.raw = raw
        self.db = db

    def _run(self, fn: Any, sql: str, args: Any) -> Any:
        import psycopg

        self.db.check()
        try:
            return fn(to_pg(sql), args)
        except psycopg.OperationalError as e:
            raise self.db.lost(e) from None

    def execute(self, sql: str, args: Sequence[Any] | None = ()) -> PgCursor:
        cur = self.raw.cursor()
        self._run(cur.execute, sql, tuple(args or ()))
        return PgCursor(cur)

    def executemany(self, sql: str, rows: Any) -> PgCursor:
        cur = self.raw.cursor()
        self._run(cur.executemany, sql, [tuple(r) for r in rows])
        return PgCursor(cur)

    def close(self) -> None:
        self.raw.close()


class PgCursor:
    """Like sqlite3's cursor: fetching after a statement without rows gives nothing."""

    def __init__(self, cur: Any):
        self.cur = cur
        self.rowcount = cur.rowcount

    def fetchone(self) -> Row | None:
        return self.cur.fetchone() if self.cur.description is not None else None

    def fetchall(self) -> list[Row]:
        return self.cur.fetchall() if self.cur.description is not None else []

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


def _row_factory(cursor: Any) -> Any:
    names = [c.name for c in cursor.description or ()]

    def make(values: Sequence[Any]) -> Row:
        return Row(zip(names, values, strict=True))

    return make


class PostgresDB(StateDB):
    """One PostgreSQL database for the whole center (operators, CI runners)."""

    dialect = "postgresql"
    cross_machine = True

    def __init__(self, url: str):
        super().__init__()
        self.url = url
        self._lost: str | None = None
        self._checked = False

    @property
    def where(self) -> str:
        return redact_url(self.url)

    def check(self) -> None:
        if self._lost is not None:
            raise StateUnavailable(self._lost)

    def lost(self, e: Exception) -> StateUnavailable:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        self._lost = (
            f"lost the state database {self.where} ({first}); this command stops here — "
            "what it finished is recorded; run it again (or resume) when the database is back"
        )
        return StateUnavailable(self._lost)

    def raw_connect(self) -> Any:
        import psycopg

        self.check()
        app = f"cloudctl:{socket.gethostname()}:{os.getpid()}"[:63]
        try:
            return psycopg.connect(
                self.url,
                autocommit=True,
                row_factory=_row_factory,
                application_name=app,
                **PG_OPTIONS,
            )
        except psycopg.OperationalError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StateUnavailable(
                _("cannot reach the state database {where}: {first}").format(
                    where=self.where, first=first
                )
            ) from None

    def open_raw(self) -> PgConn:
        return PgConn(self.raw_connect(), self)

    def new_conn(self) -> PgConn:
        if self._checked:
            return self.open_raw()
        c = super().new_conn()
        self._checked = True
        return c

    def serialize(self, conn: Any, name: str) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (lock_key(name),))

    @contextlib.contextmanager
    def lock(self, name: str, *, timeout: float, what: str) -> Iterator[None]:
        """A session advisory lock on a connection of its own (held until we let go or our
        session ends), plus a row in ``state_locks`` saying who holds it."""
        import psycopg

        key = lock_key(name)
        if not self._checked:
            self.conn()  # the schema (state_locks) first
        conn = PgConn(self.raw_connect(), self)
        try:
            deadline = time.monotonic() + timeout
            while not conn.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    raise ConflictError(
                        _(
                            "{what} is locked by another cloudctl ({holder}); "
                            "try again when it has finished"
                        ).format(what=what, holder=self._holder(conn, name)),
                        Location(name),
                    )
                time.sleep(0.05)
            conn.execute(
                "INSERT INTO state_locks(name, holder, host, pid, since) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder=excluded.holder, host=excluded.host, "
                "pid=excluded.pid, since=excluded.since",
                (name, _me(), socket.gethostname(), os.getpid(), time.time()),
            )
            yield
        finally:
            with contextlib.suppress(psycopg.Error, StateUnavailable):
                conn.raw.execute(
                    "DELETE FROM state_locks WHERE name=%s AND host=%s AND pid=%s",
                    (name, socket.gethostname(), os.getpid()),
                )
                conn.raw.execute("SELECT pg_advisory_unlock(%s)", (key,))
            with contextlib.suppress(Exception):
                conn.close()  # the session ends: the server lets go of anything still held

    @staticmethod
    def _holder(conn: PgConn, name: str) -> str:
        row = conn.execute(
            "SELECT holder, host, pid, since FROM state_locks WHERE name=?", (name,)
        ).fetchone()
        if row is None:
            return "holder unknown"
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["since"]))
        return f"{row['holder']} on {row['host']} pid {row['pid']} since {since}"
