"""The local state store: one SQLite file under the center's state directory, shared by
baseline run history, the migration journal and the ownership record (each area owns its
own tables). The shared backends (SQLite or PostgreSQL) live in :mod:`cloudctl.state`;
this is the SQLite connection every area has used so far, now with the schema version
checked and upgraded (an older cloudctl refuses a newer database)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cloudctl.core.errors import InputError, Location


def connect(db_path: str | Path, schema: str | None = None) -> sqlite3.Connection:
    """Open (creating if needed) with WAL and a busy timeout, so two cloudctl processes
    can read while one writes; bring the schema to this cloudctl's version, then apply
    ``schema`` (idempotent CREATE ... IF NOT EXISTS)."""
    from cloudctl.state.db import SqliteDB

    path = Path(db_path)
    conn = SqliteDB(path).new_conn()
    try:
        if schema:
            conn.executescript(schema)
    except sqlite3.DatabaseError as e:
        conn.close()
        raise InputError(f"not a usable SQLite state database: {e}", Location(str(path))) from None
    return conn
