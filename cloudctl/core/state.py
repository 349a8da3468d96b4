"""The local state store: one SQLite file under the center's state directory, shared by
baseline run history and the migration journal (each area owns its own tables)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cloudctl.core.errors import InputError, Location


def connect(db_path: str | Path, schema: str | None = None) -> sqlite3.Connection:
    """Open (creating if needed) with WAL and a busy timeout, so two cloudctl processes
    can read while one writes; apply ``schema`` (idempotent CREATE ... IF NOT EXISTS)."""
    path = Path(db_path)
    if path.is_dir():
        raise InputError("is a directory, not a state database", Location(str(path)))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA busy_timeout=30000")
        conn.execute("PRAGMA foreign_keys=ON")
        if schema:
            conn.executescript(schema)
    except sqlite3.DatabaseError as e:  # not SQLite, truncated, or not writable
        raise InputError(f"not a usable SQLite state database: {e}", Location(str(path))) from None
    except OSError as e:
        raise InputError(
            f"cannot open the state database: {e.strerror}", Location(str(path))
        ) from None
    return conn
