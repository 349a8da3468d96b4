"""The state interface on both backends: schema versions, SQL dialect, locks (released when
the holder is killed), the audit chain and the ownership record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from cloudctl.core import audit
from cloudctl.core.errors import ConflictError, InputError
from cloudctl.state import schema
from cloudctl.state.audit_store import DbAuditStore
from cloudctl.tenant.ownership import StateOwnershipStore


def child(backend, code: str, *args: str) -> subprocess.Popen:
    """A separate cloudctl process on the same state (``db`` is its StateDB)."""
    prelude = textwrap.dedent(
        """
        import os, sys, time
        from pathlib import Path
        from cloudctl.state import SqliteDB, open_url
        v = os.environ["CLOUDCTL_STATE_URL"]
        db = open_url(v) if "://" in v else SqliteDB(Path(v) / "cloudctl.db", Path(v) / "locks")
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        env={**os.environ, **backend.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


# ------------------------------------------------------------------------------ schema


def test_a_new_database_is_at_the_current_version_with_every_table(backend):
    db = backend.db()
    assert db.version() == schema.CURRENT
    counts = db.counts(["migrate_runs", "baseline_runs", "created_resources", "audit_records"])
    assert counts == dict.fromkeys(counts, 0)
    assert db.upgrade() == []  # nothing left to do, and no error the second time


def test_an_older_schema_is_upgraded_in_place_keeping_its_rows(backend):
    db = backend.db()
    c = db.new_conn()  # first connection: at the current version; go back to version 1
    c.execute("DROP TABLE audit_records")
    c.execute("DELETE FROM cloudctl_schema WHERE version >= 2")
    c.execute(
        "INSERT INTO created_resources VALUES (?, ?, ?, ?, ?, ?)",
        ("c", "network", "n1", "net", "czj", "2026-01-01"),
    )
    c.close()
    raw = db.open_raw()
    assert db.version(raw) == 1
    applied = db.upgrade(raw)
    raw.close()
    assert [m.version for m in applied] == [2]
    assert db.version() == schema.CURRENT
    assert db.counts(["created_resources", "audit_records"]) == {
        "created_resources": 1,
        "audit_records": 0,
    }


def test_a_newer_schema_is_refused_with_a_clear_message(backend):
    db = backend.db()
    c = db.conn()
    c.execute(
        "INSERT INTO cloudctl_schema(version, name, applied_at, applied_by) VALUES (?,?,?,?)",
        (schema.CURRENT + 1, "from the future", time.time(), "someone"),
    )
    db.close()
    fresh = type(db)(*((db.path, db.lock_dir) if backend.kind == "sqlite" else (db.url,)))
    with pytest.raises(InputError) as e:
        fresh.conn()
    msg = str(e.value)
    assert f"schema version {schema.CURRENT + 1}" in msg
    assert f"knows up to version {schema.CURRENT}" in msg and "upgrade cloudctl" in msg


# ------------------------------------------------------------------------------ SQL


def test_placeholders_literals_and_rows_read_alike(backend):
    c = backend.db().conn()
    c.execute(
        "INSERT INTO created_resources VALUES (?, ?, ?, ?, ?, ?)",
        ("c", "subnet", "id-1", "a?b%c", "t", "now"),
    )
    row = c.execute(
        "SELECT id, name, 'lit?%' AS lit FROM created_resources WHERE name LIKE ? AND kind=?",
        ("a?b%", "subnet"),
    ).fetchone()
    assert row["id"] == row[0] == "id-1"
    assert row["name"] == "a?b%c" and row["lit"] == "lit?%"
    assert dict(row) == {"id": "id-1", "name": "a?b%c", "lit": "lit?%"}
    rid = c.execute(
        "INSERT INTO migrate_runs(run_id, kind, plan_name, wave, snapshot, options, status, "
        "operator, host, pid, started) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING run_id",
        ("r1", "run", "p", "w", "[]", "{}", "running", "me", "h", 1, time.time()),
    ).fetchone()[0]
    assert rid == "r1"
    # times keep sub-second precision (PostgreSQL's REAL would not)
    t = 1767225600.123456
    c.execute("UPDATE migrate_runs SET started=? WHERE run_id=?", (t, "r1"))
    assert c.execute("SELECT started FROM migrate_runs").fetchone()[0] == pytest.approx(t, abs=1e-6)


def test_a_failed_transaction_leaves_nothing(backend):
    db = backend.db()
    with pytest.raises(RuntimeError), db.transaction() as c:
        c.execute(
            "INSERT INTO created_resources VALUES (?, ?, ?, ?, ?, ?)",
            ("c", "router", "r", "r", "t", "now"),
        )
        raise RuntimeError("boom")
    assert db.counts(["created_resources"])["created_resources"] == 0


# ------------------------------------------------------------------------------ locks

HOLD = """
with db.lock(sys.argv[1], timeout=5, what="the test lock"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_lock_is_exclusive_names_its_holder_and_dies_with_it(backend):
    db = backend.db()
    db.conn()  # schema in place before the child races for it
    p = child(backend, HOLD, "wave-pilot")
    try:
        assert p.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with pytest.raises(ConflictError) as e, db.lock("wave-pilot", timeout=0.5, what="wave x"):
            pass
        assert time.monotonic() - t0 >= 0.45
        assert "wave x is locked by another cloudctl" in str(e.value)
        if backend.kind == "postgresql":
            assert f"pid {p.pid}" in str(e.value)
        with db.lock("another-name", timeout=0.5, what="other"):
            pass  # other names are free
        os.kill(p.pid, signal.SIGKILL)  # the holder dies without letting go
        p.wait(10)
        t0 = time.monotonic()
        with db.lock("wave-pilot", timeout=10, what="wave x"):
            waited = time.monotonic() - t0
        assert waited < 3, f"the lock of a killed holder took {waited:.1f} s to come free"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_a_waiting_process_gets_the_lock_when_the_holder_lets_go(backend):
    db = backend.db()
    db.conn()
    code = """
with db.lock("tenant-x", timeout=5, what="t"):
    print("held", flush=True)
    time.sleep(0.8)
"""
    p = child(backend, code)
    try:
        assert p.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with db.lock("tenant-x", timeout=10, what="t"):
            assert 0.3 < time.monotonic() - t0 < 5
    finally:
        p.wait(10)


# ------------------------------------------------------------------------------ audit

APPEND = """
from cloudctl.core import audit
from cloudctl.state.audit_store import DbAuditStore
trail = audit.Trail(DbAuditStore(db))
for i in range(int(sys.argv[1])):
    trail.change("test.append", {"i": i, "pid": os.getpid()})
"""


def test_concurrent_processes_append_to_one_valid_chain(backend):
    db = backend.db()
    db.conn()
    procs = [child(backend, APPEND, "15") for _ in range(6)]
    for p in procs:
        _out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = DbAuditStore(db)
    v = audit.verify(store.lines(), store.head(), store.end())
    assert v.ok, v.broken
    assert v.chained == 90 and v.head is not None and v.head.seq == 90
    pids = {json.loads(ln.raw)["changes"]["pid"] for ln in store.lines()}
    assert pids == {p.pid for p in procs}


def test_tampering_with_the_rows_is_found(backend):
    db = backend.db()
    store = DbAuditStore(db)
    trail = audit.Trail(store)
    for i in range(4):
        trail.change("test", {"i": i})
    c = db.conn()
    row = c.execute("SELECT pos, line FROM audit_records WHERE seq=2").fetchone()
    c.execute(
        "UPDATE audit_records SET line=? WHERE pos=?",
        (row["line"].replace('"i":1', '"i":7'), row["pos"]),
    )
    v = audit.verify(store.lines(), store.head(), store.end())
    assert v.broken is not None and v.broken.location.line == row["pos"]
    assert "seq 2 was changed" in v.broken.message
    c.execute("UPDATE audit_records SET line=? WHERE pos=?", (row["line"], row["pos"]))
    c.execute("DELETE FROM audit_records WHERE seq=4")
    v = audit.verify(store.lines(), store.head(), store.end())
    assert v.broken is not None and "head says seq 4" in v.broken.message
    with pytest.raises(audit.AuditError, match="nothing was changed"):
        trail.change("test", {"i": 9})  # no append onto a chain whose end was cut


def test_file_records_copied_to_the_database_still_verify(backend, tmp_path):
    log = tmp_path / "audit.log"
    file_trail = audit.Trail(audit.FileStore(log))
    for i in range(3):
        file_trail.change("file", {"i": i})
    store = DbAuditStore(backend.db())
    from cloudctl.state.copy import copy_audit

    assert copy_audit(audit.FileStore(log), store) == 3
    v = audit.verify(store.lines(), store.head(), store.end())
    assert v.ok and v.chained == 3
    audit.Trail(store).change("db", {"after": True})
    assert audit.verify(store.lines(), store.head(), store.end()).chained == 4


# ------------------------------------------------------------------------------ ownership


def test_the_ownership_record_on_the_state_database(backend):
    store = StateOwnershipStore(backend.db())
    store.record("cloud", "network", "n1", "net-a", "czj")
    store.record("cloud", "network", "n1", "net-b", "czj")  # recorded again: replaced
    assert store.record_many("cloud", [("subnet", "s1", "sub", "czj"), ("user", "u", "u", "rsj")])
    assert store.ids("cloud") == {"n1", "s1", "u"}
    assert [r["name"] for r in store.rows("cloud") if r["id"] == "n1"] == ["net-b"]
    store.forget("cloud", "s1")
    assert store.ids("cloud") == {"n1", "u"} and store.ids("other") == set()


# ------------------------------------------------------------------------------ areas


def test_the_migration_journal_on_both_backends(backend):
    from cloudctl.migrate.journal import Journal

    j = Journal(backend.db())
    snap = [{"id": "s1", "steps": []}, {"id": "s2", "steps": []}]
    ids = []
    for wave in ("w1", "w2"):
        ids.append(
            j.create_run(
                kind="run",
                plan_name="p",
                plan_path=None,
                plan_sha=None,
                wave=wave,
                snapshot=snap,
                options={"parallel": 2},
            )
        )
    assert [r.run_id for r in j.runs("p")] == ids[::-1]  # newest first (started, rowid)
    row1, a1 = j.step_start(ids[0], "s1", "forward", 0, "a", "playbook")
    row2, a2 = j.step_start(ids[0], "s1", "forward", 0, "a", "playbook")
    assert row2 > row1 and (a1, a2) == (1, 2)
    j.step_end(row1, "failed", rc=2, message="x" * 5000)
    j.step_end(row2, "ok", rc=0)
    assert j.completed_steps(ids[0], "s1", "forward") == {0}
    j.set_system(ids[0], "s1", "done")
    assert j.latest_system_states("p")["s1"]["status"] == "done"
    run = j.run(ids[0][:-2])  # a unique prefix, like git
    assert run is not None and run.run_id == ids[0] and run.snapshot == snap
    j.step_start(ids[1], "s2", "forward", 0, "a", "playbook")
    run = j.run(ids[1])
    run.pid = 1 << 22  # a runner that is gone
    j.conn.execute("UPDATE migrate_runs SET pid=? WHERE run_id=?", (run.pid, run.run_id))
    assert j.reap(run)
    assert [s["status"] for s in j.steps(ids[1])] == ["interrupted"]
    assert len(j.steps(ids[0])[0]["message"]) == 4000


def test_baseline_runs_on_both_backends(backend):
    from cloudctl.baseline import store

    def doc(run_id: str, started: str, verdict: str) -> dict:
        return {
            "run_id": run_id,
            "started_at": started,
            "profile": {"id": "mlps-l3"},
            "summary": {
                "hosts": 1,
                "failed": verdict != "pass",
                "compliance_rate": 1.0 if verdict == "pass" else 0.5,
                "conclusion": "符合" if verdict == "pass" else "不符合",
                "verdicts": {verdict: 1},
            },
            "results": [
                {"host": "h", "control": "c1", "verdict": verdict, "observed": "o", "expected": "e"}
            ],
            "hosts": [{"name": "h", "status": "ok"}],
        }

    db = backend.db()
    store.save_run(db, doc("r1", "2026-01-01T00:00:00", "fail"), source="check")
    store.save_run(db, doc("r2", "2026-01-02T00:00:00", "fail"), source="check")
    store.save_run(db, doc("r2", "2026-01-02T00:00:00", "pass"), source="check")  # again
    assert [r["run_id"] for r in store.list_runs(db)] == ["r2", "r1"]
    a, b = store.latest_two(db)
    d = store.diff_runs(store.load_run(db, a), store.load_run(db, b))
    assert [(r["before"], r["after"]) for r in d["better"]] == [("fail", "pass")]
    assert db.counts(["baseline_results"])["baseline_results"] == 2
