"""Every state test runs on both backends: SQLite in a temp dir, and a throwaway database
on the lab's PostgreSQL (that parameter is marked ``integration``: it needs the lab)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Backend:
    """A state location for one test: ``value`` goes into CLOUDCTL_STATE_URL (a shared
    directory for SQLite, a URL for PostgreSQL); ``env`` is what a child process needs."""

    kind: str
    value: str
    env: dict[str, str]

    def db(self):
        from cloudctl.state import SqliteDB, open_url

        if self.kind == "sqlite":
            return SqliteDB(Path(self.value) / "cloudctl.db", Path(self.value) / "locks")
        return open_url(self.value)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def backend(request, tmp_path, monkeypatch) -> Iterator[Backend]:
    if request.param == "sqlite":
        shared = tmp_path / "shared-state"
        yield Backend("sqlite", str(shared), {"CLOUDCTL_STATE_URL": str(shared)})
        return
    from cloudctl.lab import postgres
    from cloudctl.lab.api import ensure_lab
    from cloudctl.lab.paths import LabPaths

    ensure_lab(center=PROJECT_ROOT)
    paths = LabPaths.from_env()
    with postgres.fresh_database(paths) as url:
        env = {"CLOUDCTL_STATE_URL": url, "PGPASSFILE": str(postgres.pgpass_file(paths))}
        monkeypatch.setenv("PGPASSFILE", env["PGPASSFILE"])
        yield Backend("postgresql", url, env)
        from cloudctl.state import _OPEN

        db = _OPEN.pop(("pg", url), None)
        if db is not None:
            db.close()
