"""The state schema: one numbered list of migrations, written once for both dialects.

Why not Alembic: the schema is a dozen tables that only grow; a list of ``CREATE``
statements with ``{placeholders}`` for the few dialect differences, applied in order and
recorded in ``cloudctl_schema``, is all it takes, adds no dependency and reads in one
screen. Every migration is idempotent (``IF NOT EXISTS``), so a SQLite file written
before versions existed is adopted as version 1. A database at a higher version than
this cloudctl knows is refused (an older cloudctl must not write a newer schema).

Dialect notes: PostgreSQL's REAL is 4 bytes (times would lose seconds): DOUBLE PRECISION.
Tables the areas order by SQLite's implicit ``rowid`` get a real ``rowid`` column on
PostgreSQL, last, so the areas' queries (and positional INSERTs) stay the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudctl.core.i18n import _

DIALECT = {
    "sqlite": {
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "real": "REAL",
        "rowid": "",
    },
    "postgresql": {
        "serial": "BIGSERIAL PRIMARY KEY",
        "real": "DOUBLE PRECISION",
        "rowid": ",\n    rowid BIGSERIAL",
    },
}

VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS cloudctl_schema (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at {real} NOT NULL,
    applied_by TEXT NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    def sql(self, dialect: str) -> list[str]:
        return [s.format(**DIALECT[dialect]) for s in self.statements]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "journal, baseline runs, ownership record",
        (
            """CREATE TABLE IF NOT EXISTS migrate_runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, plan_name TEXT NOT NULL, plan_path TEXT,
    plan_sha TEXT, wave TEXT NOT NULL, snapshot TEXT NOT NULL, options TEXT NOT NULL,
    status TEXT NOT NULL, operator TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    pid_start TEXT, started {real} NOT NULL, ended {real}{rowid}
)""",
            "CREATE INDEX IF NOT EXISTS migrate_runs_wave ON migrate_runs(plan_name, wave, status)",
            """CREATE TABLE IF NOT EXISTS migrate_systems (
    run_id TEXT NOT NULL REFERENCES migrate_runs(run_id), system_id TEXT NOT NULL,
    status TEXT NOT NULL, failed_step INTEGER, message TEXT, started {real}, ended {real},
    PRIMARY KEY (run_id, system_id)
)""",
            """CREATE TABLE IF NOT EXISTS migrate_steps (
    id {serial}, run_id TEXT NOT NULL REFERENCES migrate_runs(run_id),
    system_id TEXT NOT NULL, phase TEXT NOT NULL, step_index INTEGER NOT NULL,
    step_name TEXT NOT NULL, kind TEXT NOT NULL, attempt INTEGER NOT NULL,
    status TEXT NOT NULL, rc INTEGER, message TEXT, artifact TEXT, operator TEXT NOT NULL,
    host TEXT NOT NULL, pid INTEGER NOT NULL, started {real} NOT NULL, ended {real}
)""",
            "CREATE INDEX IF NOT EXISTS migrate_steps_run "
            "ON migrate_steps(run_id, system_id, phase, step_index)",
            """CREATE TABLE IF NOT EXISTS baseline_runs (
    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, profile TEXT NOT NULL,
    source TEXT NOT NULL, hosts INTEGER NOT NULL, failed INTEGER NOT NULL,
    compliance_rate {real}, conclusion TEXT, verdicts TEXT NOT NULL, doc TEXT NOT NULL{rowid}
)""",
            """CREATE TABLE IF NOT EXISTS baseline_results (
    run_id TEXT NOT NULL REFERENCES baseline_runs(run_id) ON DELETE CASCADE,
    host TEXT NOT NULL, control TEXT NOT NULL, verdict TEXT NOT NULL, observed TEXT,
    expected TEXT, PRIMARY KEY (run_id, host, control)
)""",
            """CREATE TABLE IF NOT EXISTS baseline_hosts (
    run_id TEXT NOT NULL REFERENCES baseline_runs(run_id) ON DELETE CASCADE,
    host TEXT NOT NULL, status TEXT NOT NULL, error TEXT, PRIMARY KEY (run_id, host)
)""",
            """CREATE TABLE IF NOT EXISTS created_resources (
    cloud TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    tenant TEXT NOT NULL, created_at TEXT NOT NULL, PRIMARY KEY (cloud, kind, id)
)""",
        ),
    ),
    Migration(
        2,
        "audit chain, address reservations, lock holders",
        (
            """CREATE TABLE IF NOT EXISTS audit_records (
    pos {serial}, seq BIGINT UNIQUE, hash TEXT, line TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS audit_head (
    id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL
)""",
            """CREATE TABLE IF NOT EXISTS ipam_reservations (
    plan_key TEXT NOT NULL, name TEXT NOT NULL, prefix TEXT NOT NULL, vrf TEXT NOT NULL,
    zone TEXT NOT NULL, tenant TEXT, vlan INTEGER, clone TEXT NOT NULL, host TEXT NOT NULL,
    operator TEXT NOT NULL, created_at {real} NOT NULL, committed_at {real},
    PRIMARY KEY (plan_key, name)
)""",
            """CREATE TABLE IF NOT EXISTS state_locks (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    since {real} NOT NULL
)""",
        ),
    ),
)

CURRENT = MIGRATIONS[-1].version


def pending(at: int) -> list[Migration]:
    """The migrations a database at version ``at`` still needs, in order."""
    return [m for m in MIGRATIONS if m.version > at]


def too_new_message(found: int, where: str) -> str:
    return _(
        "the state database {where} has schema version {found}; this cloudctl knows up to "
        "version {current}: upgrade cloudctl (an older one must not write a newer schema)"
    ).format(where=where, found=found, current=CURRENT)
