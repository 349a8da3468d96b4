"""The state journal: every run, every system's state and every step attempt (start,
end, result, who, where) in tables prefixed ``migrate_`` of the center's state database
(SQLite, or the shared PostgreSQL: operator B sees and resumes operator A's run).

It is what ``resume`` trusts: a step is done only if the journal has an ``ok`` row for
it. A row left ``running`` by a runner that is no longer alive is marked ``interrupted``
(and the step is retried) — never left running forever.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudctl.core.audit import operator
from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _
from cloudctl.state.db import SqliteDB, StateDB

# The tables (as created by cloudctl.state.schema, migration 1, for both dialects):
SCHEMA = """
CREATE TABLE IF NOT EXISTS migrate_runs (
    run_id     TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,          -- run | rollback
    plan_name  TEXT NOT NULL,
    plan_path  TEXT,
    plan_sha   TEXT,
    wave       TEXT NOT NULL,
    snapshot   TEXT NOT NULL,          -- the resolved systems and steps, as run
    options    TEXT NOT NULL,
    status     TEXT NOT NULL,          -- running | done | failed | paused | interrupted
    operator   TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    pid_start  TEXT,
    started    REAL NOT NULL,
    ended      REAL
);
CREATE INDEX IF NOT EXISTS migrate_runs_wave ON migrate_runs(plan_name, wave, status);
CREATE TABLE IF NOT EXISTS migrate_systems (
    run_id      TEXT NOT NULL REFERENCES migrate_runs(run_id),
    system_id   TEXT NOT NULL,
    status      TEXT NOT NULL,
    failed_step INTEGER,
    message     TEXT,
    started     REAL,
    ended       REAL,
    PRIMARY KEY (run_id, system_id)
);
CREATE TABLE IF NOT EXISTS migrate_steps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT NOT NULL REFERENCES migrate_runs(run_id),
    system_id  TEXT NOT NULL,
    phase      TEXT NOT NULL,          -- forward | rollback
    step_index INTEGER NOT NULL,
    step_name  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    status     TEXT NOT NULL,          -- running | ok | failed | interrupted | waiting
    rc         INTEGER,
    message    TEXT,
    artifact   TEXT,
    operator   TEXT NOT NULL,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    started    REAL NOT NULL,
    ended      REAL
);
CREATE INDEX IF NOT EXISTS migrate_steps_run ON migrate_steps(run_id, system_id, phase, step_index);
"""

TERMINAL_SYSTEM = frozenset(
    {"done", "rolled_back", "rollback_failed", "blocked", "cancelled", "skipped"}
)


def process_start(pid: int) -> str | None:
    """Start time of a process (clock ticks since boot), so a reused pid is not mistaken
    for the runner that died."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def runner_alive(host: str, pid: int, pid_start: str | None) -> bool | None:
    """True/False on this host; None when the runner is on another host (cannot tell)."""
    if host != socket.gethostname():
        return None
    start = process_start(pid)
    return start is not None and (pid_start is None or start == pid_start)


@dataclass
class RunRecord:
    run_id: str
    kind: str
    plan_name: str
    plan_path: str | None
    wave: str
    snapshot: list[dict]
    options: dict
    status: str
    operator: str
    host: str
    pid: int
    pid_start: str | None
    started: float
    ended: float | None

    @property
    def alive(self) -> bool | None:
        return runner_alive(self.host, self.pid, self.pid_start)


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


class Journal:
    """Thread-safe: each thread gets its own connection (SQLite: WAL, busy timeout).

    ``target``: a SQLite file (``--journal PATH``) or the center's state database."""

    def __init__(self, target: str | Path | StateDB):
        self.db = target if isinstance(target, StateDB) else SqliteDB(Path(target))
        self.path = getattr(self.db, "path", None)
        self.where = self.db.where
        if self.path is not None and self.path.is_file() and self.path.stat().st_size == 0:
            # SQLite would take it as a new, empty database: a truncated journal must not
            # look like "no history" (and be re-run from scratch)
            raise InputError(
                _(
                    "the journal is empty (0 bytes): truncated? Restore it from a backup, "
                    "or remove the file to start a new journal"
                ),
                Location(str(self.path)),
            )
        self.me = operator()
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.conn  # create the schema now, in the caller's thread  # noqa: B018

    @property
    def conn(self) -> Any:
        return self.db.conn()

    def close(self) -> None:
        """Let go of this thread's connection (the next use opens a new one)."""
        self.db.close()

    @contextlib.contextmanager
    def tx(self) -> Iterator[Any]:
        with self.db.transaction(self.conn) as c:
            yield c

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        *,
        kind: str,
        plan_name: str,
        plan_path: str | None,
        plan_sha: str | None,
        wave: str,
        snapshot: list[dict],
        options: dict,
    ) -> str:
        run_id = new_run_id()
        now = time.time()
        with self.tx() as c:
            c.execute(
                "INSERT INTO migrate_runs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    kind,
                    plan_name,
                    plan_path,
                    plan_sha,
                    wave,
                    json.dumps(snapshot, ensure_ascii=False),
                    json.dumps(options, ensure_ascii=False),
                    "running",
                    self.me,
                    self.host,
                    self.pid,
                    process_start(self.pid),
                    now,
                    None,
                ),
            )
            c.executemany(
                "INSERT INTO migrate_systems(run_id, system_id, status) VALUES (?,?,?)",
                [(run_id, s["id"], "pending") for s in snapshot],
            )
        return run_id

    def take_over(self, run_id: str) -> None:
        """This process now owns the run (resume)."""
        with self.tx() as c:
            c.execute(
                "UPDATE migrate_runs SET status='running', operator=?, host=?, pid=?, pid_start=?, "
                "ended=NULL WHERE run_id=?",
                (self.me, self.host, self.pid, process_start(self.pid), run_id),
            )

    def finish_run(self, run_id: str, status: str) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE migrate_runs SET status=?, ended=? WHERE run_id=?",
                (status, time.time(), run_id),
            )

    def _run(self, row: sqlite3.Row) -> RunRecord:
        return RunRecord(
            run_id=row["run_id"],
            kind=row["kind"],
            plan_name=row["plan_name"],
            plan_path=row["plan_path"],
            wave=row["wave"],
            snapshot=json.loads(row["snapshot"]),
            options=json.loads(row["options"]),
            status=row["status"],
            operator=row["operator"],
            host=row["host"],
            pid=row["pid"],
            pid_start=row["pid_start"],
            started=row["started"],
            ended=row["ended"],
        )

    def run(self, run_id: str) -> RunRecord | None:
        row = self.conn.execute("SELECT * FROM migrate_runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:  # allow a unique prefix, like git
            rows = self.conn.execute(
                "SELECT * FROM migrate_runs WHERE run_id LIKE ?", (run_id + "%",)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return self._run(row) if row else None

    def runs(self, plan_name: str | None = None, limit: int = 50) -> list[RunRecord]:
        q = "SELECT * FROM migrate_runs"
        args: list[Any] = []
        if plan_name:
            q += " WHERE plan_name=?"
            args.append(plan_name)
        q += " ORDER BY started DESC, rowid DESC LIMIT ?"
        args.append(limit)
        return [self._run(r) for r in self.conn.execute(q, args)]

    def active_runs(self, plan_name: str, wave: str) -> list[RunRecord]:
        rows = self.conn.execute(
            "SELECT * FROM migrate_runs WHERE plan_name=? AND wave=? AND status IN "
            "('running','paused','interrupted')",
            (plan_name, wave),
        ).fetchall()
        return [self._run(r) for r in rows]

    def reap(self, run: RunRecord, gone: bool = False) -> bool:
        """If the run's runner is dead (``gone``: known to be, e.g. on another host), mark
        the run and its running steps ``interrupted``."""
        if run.status != "running" or (run.alive is not False and not gone):
            return False
        now = time.time()
        with self.tx() as c:
            c.execute(
                "UPDATE migrate_runs SET status='interrupted' WHERE run_id=? AND status='running'",
                (run.run_id,),
            )
            c.execute(
                "UPDATE migrate_steps SET status='interrupted', ended=?, message='runner died (pid "
                "' || pid || ' on ' || host || ')' "
                "WHERE run_id=? AND status='running'",
                (now, run.run_id),
            )
        run.status = "interrupted"
        return True

    # --------------------------------------------------------------- systems
    def system_states(self, run_id: str) -> dict[str, sqlite3.Row]:
        return {
            r["system_id"]: r
            for r in self.conn.execute("SELECT * FROM migrate_systems WHERE run_id=?", (run_id,))
        }

    def set_system(
        self,
        run_id: str,
        system_id: str,
        status: str,
        *,
        message: str | None = None,
        failed_step: int | None = None,
    ) -> None:
        now = time.time()
        with self.tx() as c:
            c.execute(
                "UPDATE migrate_systems SET status=?, message=COALESCE(?, message), "
                "failed_step=COALESCE(?, failed_step), started=COALESCE(started, ?), "
                "ended=CASE WHEN ? IN "
                "('done','rolled_back','rollback_failed','blocked','cancelled','failed',"
                "'waiting_approval') THEN ? ELSE NULL END "
                "WHERE run_id=? AND system_id=?",
                (status, message, failed_step, now, status, now, run_id, system_id),
            )

    def latest_system_states(self, plan_name: str) -> dict[str, dict]:
        """Each system's state in the most recent run (or rollback) that touched it."""
        rows = self.conn.execute(
            "SELECT s.*, r.wave, r.kind, r.started AS run_started FROM migrate_systems s "
            "JOIN migrate_runs r USING(run_id) WHERE r.plan_name=? ORDER BY r.started, r.rowid",
            (plan_name,),
        ).fetchall()
        out: dict[str, dict] = {}
        for r in rows:
            if r["status"] == "pending" and r["system_id"] in out:
                continue  # a later run that has not reached it yet says nothing new
            out[r["system_id"]] = dict(r)
        return out

    # ----------------------------------------------------------------- steps
    def step_start(
        self, run_id: str, system_id: str, phase: str, index: int, name: str, kind: str
    ) -> tuple[int, int]:
        with self.tx() as c:
            row = c.execute(
                "SELECT COALESCE(MAX(attempt),0) FROM migrate_steps WHERE run_id=? AND system_id=? "
                "AND phase=? AND step_index=?",
                (run_id, system_id, phase, index),
            ).fetchone()
            attempt = row[0] + 1
            cur = c.execute(
                "INSERT INTO migrate_steps(run_id, system_id, phase, step_index, step_name, kind, "
                "attempt, status, operator, host, pid, started) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
                (
                    run_id,
                    system_id,
                    phase,
                    index,
                    name,
                    kind,
                    attempt,
                    "running",
                    self.me,
                    self.host,
                    self.pid,
                    time.time(),
                ),
            )
            row_id = int(cur.fetchone()[0])
        return row_id, attempt

    def step_end(
        self,
        row_id: int,
        status: str,
        *,
        rc: int | None = None,
        message: str | None = None,
        artifact: str | None = None,
    ) -> None:
        with self.tx() as c:
            c.execute(
                "UPDATE migrate_steps SET status=?, rc=?, message=?, artifact=?, ended=? WHERE "
                "id=?",
                (status, rc, (message or "")[:4000] or None, artifact, time.time(), row_id),
            )

    def completed_steps(self, run_id: str, system_id: str, phase: str) -> set[int]:
        rows = self.conn.execute(
            "SELECT DISTINCT step_index FROM migrate_steps WHERE run_id=? AND system_id=? AND "
            "phase=? AND status='ok'",
            (run_id, system_id, phase),
        )
        return {r[0] for r in rows}

    def steps(self, run_id: str, system_id: str | None = None) -> list[sqlite3.Row]:
        q = "SELECT * FROM migrate_steps WHERE run_id=?"
        args: list[Any] = [run_id]
        if system_id:
            q += " AND system_id=?"
            args.append(system_id)
        return list(self.conn.execute(q + " ORDER BY id", args))
