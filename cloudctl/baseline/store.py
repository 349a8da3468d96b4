"""Run history in the center's state database (tables prefixed ``baseline_``; SQLite or
the shared PostgreSQL), and the diff between two runs."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cloudctl.core.errors import InputError
from cloudctl.core.i18n import _
from cloudctl.core.state import connect
from cloudctl.state.db import StateDB

SCHEMA = """
CREATE TABLE IF NOT EXISTS baseline_runs (
  run_id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  profile TEXT NOT NULL,
  source TEXT NOT NULL,
  hosts INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  compliance_rate REAL,
  conclusion TEXT,
  verdicts TEXT NOT NULL,
  doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baseline_results (
  run_id TEXT NOT NULL REFERENCES baseline_runs(run_id) ON DELETE CASCADE,
  host TEXT NOT NULL,
  control TEXT NOT NULL,
  verdict TEXT NOT NULL,
  observed TEXT,
  expected TEXT,
  PRIMARY KEY (run_id, host, control)
);
CREATE TABLE IF NOT EXISTS baseline_hosts (
  run_id TEXT NOT NULL REFERENCES baseline_runs(run_id) ON DELETE CASCADE,
  host TEXT NOT NULL,
  status TEXT NOT NULL,
  error TEXT,
  PRIMARY KEY (run_id, host)
);
"""
GOOD = {"pass", "waived", "not_applicable"}


@contextlib.contextmanager
def open_db(db: Path | StateDB) -> Iterator[Any]:
    """A connection to a SQLite file (closed afterwards) or to the center's state database
    (``cloudctl.state.open_state``; its connection stays with the thread)."""
    if isinstance(db, StateDB):
        yield db.conn()
        return
    conn = connect(db, SCHEMA)
    try:
        yield conn
    finally:
        conn.close()


def save_run(db: Path | StateDB, doc: dict, source: str) -> None:
    with open_db(db) as conn:
        s = doc["summary"]
        rid = doc["run_id"]
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO baseline_runs VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (run_id) DO "
                "UPDATE SET started_at=excluded.started_at, profile=excluded.profile, "
                "source=excluded.source, hosts=excluded.hosts, failed=excluded.failed, "
                "compliance_rate=excluded.compliance_rate, conclusion=excluded.conclusion, "
                "verdicts=excluded.verdicts, doc=excluded.doc",
                (
                    doc["run_id"],
                    doc["started_at"],
                    doc["profile"]["id"],
                    source,
                    s["hosts"],
                    int(s["failed"]),
                    s["compliance_rate"],
                    s["conclusion"],
                    json.dumps(s["verdicts"]),
                    json.dumps(doc, ensure_ascii=False),
                ),
            )
            conn.executemany(
                "INSERT INTO baseline_results VALUES (?,?,?,?,?,?) ON CONFLICT (run_id, host, "
                "control) DO UPDATE SET verdict=excluded.verdict, observed=excluded.observed, "
                "expected=excluded.expected",
                [
                    (rid, r["host"], r["control"], r["verdict"], r["observed"], r["expected"])
                    for r in doc["results"]
                ],
            )
            conn.executemany(
                "INSERT INTO baseline_hosts VALUES (?,?,?,?) ON CONFLICT (run_id, host) DO UPDATE "
                "SET status=excluded.status, error=excluded.error",
                [(rid, h["name"], h["status"], h.get("error") or "") for h in doc["hosts"]],
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


def list_runs(db: Path | StateDB, limit: int = 20) -> list[dict]:
    with open_db(db) as conn:
        rows = conn.execute(
            "SELECT run_id, started_at, profile, source, hosts, failed, compliance_rate, conclusion, verdicts "  # noqa: E501
            "FROM baseline_runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
    out = []
    for r in rows:
        d = dict(r)
        d["verdicts"] = json.loads(d["verdicts"])
        d["failed"] = bool(d["failed"])
        out.append(d)
    return out


def load_run(db: Path | StateDB, run_id: str) -> dict:
    with open_db(db) as conn:
        row = conn.execute(
            "SELECT doc FROM baseline_runs WHERE run_id = ? OR run_id LIKE ? ORDER BY started_at DESC",  # noqa: E501
            (run_id, run_id + "%"),
        ).fetchone()
    if row is None:
        raise InputError(
            _("no baseline run {run_id!r} (see `cloudctl baseline runs`)").format(run_id=run_id)
        )
    return json.loads(row["doc"])


def latest_two(db: Path | StateDB) -> tuple[str, str]:
    runs = list_runs(db, 2)
    if len(runs) < 2:
        raise InputError(_("need two stored runs to compare (run `cloudctl baseline check` twice)"))
    return runs[1]["run_id"], runs[0]["run_id"]


def diff_runs(a: dict, b: dict) -> dict:
    """What got better or worse from run ``a`` to run ``b`` (per host and control)."""
    va = {(r["host"], r["control"]): r for r in a["results"]}
    vb = {(r["host"], r["control"]): r for r in b["results"]}
    better, worse, changed = [], [], []
    for key in sorted(set(va) | set(vb)):
        ra, rb = va.get(key), vb.get(key)
        old = ra["verdict"] if ra else "absent"
        new = rb["verdict"] if rb else "absent"
        if old == new:
            continue
        row = {
            "host": key[0],
            "control": key[1],
            "before": old,
            "after": new,
            "observed": (rb or ra or {}).get("observed", ""),
        }
        if "not_evaluated" in (old, new):  # one run did not look: neither better nor worse
            changed.append(row)
        elif old not in GOOD and new in GOOD:
            better.append(row)
        elif old in GOOD and new not in GOOD:
            worse.append(row)
        else:
            changed.append(row)
    return {
        "run_a": a["run_id"],
        "run_b": b["run_id"],
        "rate_a": a["summary"]["compliance_rate"],
        "rate_b": b["summary"]["compliance_rate"],
        "conclusion_a": a["summary"]["conclusion"],
        "conclusion_b": b["summary"]["conclusion"],
        "better": better,
        "worse": worse,
        "changed": changed,
    }
