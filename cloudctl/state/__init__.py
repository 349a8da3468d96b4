"""The center's shared state: migration journal, baseline runs, audit chain, ownership
record, address reservations and every lock — in SQLite (the default, one machine) or in
PostgreSQL (``state: postgresql://...``: every operator and CI runner of the center).

``open_state(center)`` is the one way in; see docs/state.md.
"""

from __future__ import annotations

import threading
from typing import Any

from cloudctl.state import schema
from cloudctl.state.db import PostgresDB, SqliteDB, StateDB, StateUnavailable

__all__ = [
    "PostgresDB",
    "SqliteDB",
    "StateDB",
    "StateUnavailable",
    "open_state",
    "open_url",
    "schema",
]

_OPEN: dict[tuple[str, str], StateDB] = {}
_GUARD = threading.Lock()


def open_url(url: str) -> PostgresDB:
    with _GUARD:
        db = _OPEN.get(("pg", url))
        if db is None:
            db = _OPEN[("pg", url)] = PostgresDB(url)
        return db  # type: ignore[return-value]


def open_state(center: Any) -> StateDB:
    """The center's state database (one object per process, connections per thread)."""
    if getattr(center, "state_url", None):
        return open_url(center.state_url)
    key = ("sqlite", str(center.state_db))
    with _GUARD:
        db = _OPEN.get(key)
        if db is None:
            db = _OPEN[key] = SqliteDB(center.state_db, center.state / "locks")
        return db
