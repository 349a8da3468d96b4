"""Which cloud resources cloudctl itself created: the ownership record behind ``--prune``.

A tag or a description marker can be set by anyone who can edit a resource, so it only
*claims* ownership. cloudctl deletes (prune, destroy) and changes only what it recorded
here when it created it. The record is a table of the center's state database (SQLite, or
the shared PostgreSQL of several controllers); everything goes through
:class:`OwnershipStore`, so the diff does not know which.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _
from cloudctl.state.db import SqliteDB, StateDB

#: The kinds whose ids are recorded. Rules, router interfaces and role assignments belong to
#: their (recorded) group, router or user; quotas belong to the project.
RECORDED_KINDS = ("project", "network", "subnet", "router", "security_group", "user")

SCHEMA = """
CREATE TABLE IF NOT EXISTS created_resources (
    cloud TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (cloud, kind, id)
);
"""


def cloud_key(auth_url: str | None, region: str | None) -> str:
    """A cloud is known by its Keystone endpoint and region (names in clouds.yaml vary)."""
    return f"{(auth_url or '?').rstrip('/')}|{region or ''}"


class OwnershipStore(Protocol):
    """What the tenant code needs of an ownership record (SQLite now, PostgreSQL later)."""

    def ids(self, cloud: str) -> set[str]: ...

    def record(self, cloud: str, kind: str, rid: str, name: str, tenant: str) -> None: ...

    def forget(self, cloud: str, rid: str) -> None: ...


class StateOwnershipStore:
    """``created_resources`` in the center's state database: SQLite
    (``.cloudctl/cloudctl.db``) or the shared PostgreSQL (every controller sees one record).

    Connections are per thread (apply runs tenants in threads). Every write commits at
    once, so a killed apply loses no record of what it created before it died.
    """

    def __init__(self, db: StateDB | Path):
        self.db = db if isinstance(db, StateDB) else SqliteDB(Path(db))
        self.db_path = Path(db) if not isinstance(db, StateDB) else None

    def _run(self, sql: str, args: tuple = ()) -> list:
        try:
            return self.db.conn().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise InputError(
                _("cannot use the ownership record: {e}").format(e=e), Location(self.db.where)
            ) from None

    def ids(self, cloud: str) -> set[str]:
        return {
            r["id"] for r in self._run("SELECT id FROM created_resources WHERE cloud=?", (cloud,))
        }

    def rows(self, cloud: str) -> list[dict]:
        sql = "SELECT * FROM created_resources WHERE cloud=? ORDER BY tenant, kind, name"
        return [dict(r) for r in self._run(sql, (cloud,))]

    def rows_all(self) -> list[dict]:
        return [dict(r) for r in self._run("SELECT * FROM created_resources")]

    def record(self, cloud: str, kind: str, rid: str, name: str, tenant: str) -> None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self._run(_UPSERT, (cloud, kind, rid, name, tenant, now))

    def record_many(self, cloud: str, items: Iterable[tuple[str, str, str, str]]) -> int:
        """(kind, id, name, tenant) of each resource; one transaction (adoption)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        rows = [(cloud, k, i, n, t, now) for k, i, n, t in items]
        try:
            with self.db.transaction() as c:
                c.executemany(_UPSERT, rows)
        except sqlite3.DatabaseError as e:
            raise InputError(
                _("cannot use the ownership record: {e}").format(e=e), Location(self.db.where)
            ) from None
        return len(rows)

    def forget(self, cloud: str, rid: str) -> None:
        self._run("DELETE FROM created_resources WHERE cloud=? AND id=?", (cloud, rid))


_UPSERT = (
    "INSERT INTO created_resources(cloud, kind, id, name, tenant, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (cloud, kind, id) DO UPDATE SET "
    "name=excluded.name, tenant=excluded.tenant, created_at=excluded.created_at"
)

#: The name it had when the record could only be SQLite (a path still works).
SqliteOwnershipStore = StateOwnershipStore


class MemoryOwnershipStore:
    """The same interface in memory (unit tests of apply; no disk)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], tuple[str, str, str]] = {}

    def ids(self, cloud: str) -> set[str]:
        return {i for c, i in self.items if c == cloud}

    def record(self, cloud: str, kind: str, rid: str, name: str, tenant: str) -> None:
        self.items[(cloud, rid)] = (kind, name, tenant)

    def record_many(self, cloud: str, items: Iterable[tuple[str, str, str, str]]) -> int:
        n = 0
        for k, i, name, t in items:
            self.record(cloud, k, i, name, t)
            n += 1
        return n

    def forget(self, cloud: str, rid: str) -> None:
        self.items.pop((cloud, rid), None)
