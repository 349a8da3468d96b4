"""The shared state on the lab's PostgreSQL, end to end through real ``cloudctl``
processes: the server shows in ``lab status``; passwords never reach output or the audit
chain; a wave whose database restarts under it stops cleanly and ``resume`` finishes it
without running a finished step again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudctl.lab import postgres, procs
from cloudctl.lab.paths import LabPaths

CLOUDCTL = [sys.executable, "-m", "cloudctl"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def items(doc):
    """A list printed by a command: bare, or under ``items`` of a versioned document."""
    return doc["items"] if isinstance(doc, dict) else doc


@pytest.fixture
def pg(lab):
    """A throwaway database on the lab's PostgreSQL; the environment that points at it."""
    paths = LabPaths.from_env()
    with postgres.fresh_database(paths) as url:
        yield (
            url,
            {
                **os.environ,
                "CLOUDCTL_STATE_URL": url,
                "PGPASSFILE": str(postgres.pgpass_file(paths)),
            },
        )


def cloudctl(center: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLOUDCTL, "--center", str(center), "--lang", "en", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def test_lab_status_shows_postgresql_healthy(lab):
    r = subprocess.run(
        [*CLOUDCTL, "--lang", "en", "lab", "status", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    row = next(s for s in json.loads(r.stdout)["services"] if s["name"] == "postgresql")
    assert row["healthy"] and row["port"] == 5433 and row["pid"], row
    assert "PostgreSQL" in row["detail"] and row["url"] == postgres.url()
    assert postgres.password(LabPaths.from_env()) not in r.stdout
    assert oct(postgres.pgpass_file(LabPaths.from_env()).stat().st_mode & 0o777) == "0o600"


def test_postgresql_comes_back_after_kill_9_with_its_data(pg):
    import signal

    import psycopg

    from cloudctl.lab.api import ensure_lab
    from cloudctl.lab.manager import find_stale

    url, _env = pg
    paths = LabPaths.from_env()
    passfile = str(postgres.pgpass_file(paths))
    with psycopg.connect(url, passfile=passfile, autocommit=True) as c:
        c.execute("CREATE TABLE kept (v TEXT)")
        c.execute("INSERT INTO kept VALUES ('before the kill')")
    rec = postgres.record(paths)
    os.kill(rec.pid, signal.SIGKILL)  # the postmaster, as a crash or a CI runner would
    deadline = time.monotonic() + 10
    while procs.is_running(rec) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("svc-postgresql.json" in s for s in find_stale(paths))
    assert not postgres.answers(paths, timeout=2)
    t0 = time.monotonic()
    ensure_lab(center=Path(__file__).resolve().parents[2])
    assert time.monotonic() - t0 < 60
    assert postgres.record(paths).pid != rec.pid
    ok, detail = postgres.probe(paths)
    assert ok, detail
    with psycopg.connect(url, passfile=passfile) as c:
        assert c.execute("SELECT v FROM kept").fetchall() == [("before the kill",)]


def test_a_password_never_reaches_output_or_the_audit_chain(pg, tmp_path, controller_center):
    url, env = pg
    secret = postgres.password(LabPaths.from_env())
    with_pw = url.replace("cloudctl@", f"cloudctl:{secret}@")
    env = {k: v for k, v in env.items() if k != "PGPASSFILE"} | {"CLOUDCTL_STATE_URL": with_pw}
    c = controller_center(tmp_path / "c", {})
    fresh = cloudctl(c, "state", "status", "-o", "json", env=env)
    doc = json.loads(fresh.stdout)
    assert fresh.returncode == 1 and doc.get("db_schema", doc.get("schema")) == 0  # upgrade!
    outs = [
        fresh,
        cloudctl(c, "state", "upgrade", env=env),
        cloudctl(c, "state", "status", "-o", "json", env=env),
        cloudctl(c, "audit", "log", "--records", "-o", "json", env=env),
        cloudctl(c, "audit", "verify", env=env),
    ]
    assert [o.returncode for o in outs] == [1, 0, 0, 0, 0], [o.stderr for o in outs]
    assert "applied 2: audit chain" in outs[1].stdout
    assert json.loads(outs[2].stdout)["where"] == url
    # a database that is not there: the error names the URL without the password
    bad = with_pw.replace(":5433/", ":1/")
    r = cloudctl(c, "state", "status", env=env | {"CLOUDCTL_STATE_URL": bad})
    assert (
        r.returncode == 2 and "cannot reach the state database postgresql://cloudctl@" in r.stderr
    )
    for o in [*outs, r]:
        assert secret not in o.stdout + o.stderr
    import psycopg

    with psycopg.connect(url, passfile=str(postgres.pgpass_file(LabPaths.from_env()))) as conn:
        lines = [row[0] for row in conn.execute("SELECT line FROM audit_records")]
    assert lines and not any(secret in ln for ln in lines)


STEP_PLAY = """---
- name: Record start and end of a step; the slow one gives the test time to restart
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Start
      ansible.builtin.shell: "echo start {{ sys }} {{ step }} >> {{ log }}"
      changed_when: true
    - name: Work
      ansible.builtin.command: "sleep {{ seconds | default(0) }}"
      changed_when: true
    - name: End
      ansible.builtin.shell: "echo end {{ sys }} {{ step }} >> {{ log }}"
      changed_when: true
"""


def _plan(c: Path, log: Path) -> None:
    def step(sys_id: str, name: str, seconds: int = 0) -> str:
        return (
            f"      - {{name: {name}, playbook: t/step.yml, vars: {{sys: {sys_id}, step: {name}, "
            f"log: '{log}', seconds: {seconds}}}, rollback: none}}\n"
        )

    systems = ""
    for sid in ("s1", "s2"):
        systems += (
            f"  - id: {sid}\n    name_zh: 系统{sid}\n    department: dzzwb\n"
            "    source_hosts: [localhost]\n"
            "    target: {tenant: dzzwb, network: dzzwb-app, hosts: [localhost]}\n"
            "    steps:\n" + step(sid, "a") + step(sid, "b", 4 if sid == "s1" else 0)
        )
    (c / "migration_plans" / "t.yaml").write_text(
        "version: 1\nname: t\ntitle_zh: 测试计划\nsystems:\n"
        + systems
        + "waves:\n  - {id: w1, name_zh: 第一批, systems: [s1, s2]}\n"
    )


def _steps(url: str) -> list[dict]:
    import psycopg
    from psycopg.rows import dict_row

    passfile = str(postgres.pgpass_file(LabPaths.from_env()))
    with psycopg.connect(url, passfile=passfile, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT system_id, step_name, attempt, status, pid FROM migrate_steps ORDER BY id"
        ).fetchall()


def test_a_wave_stops_cleanly_when_postgresql_restarts_and_resume_finishes_it(
    pg, tmp_path, controller_center
):
    url, env = pg
    c = controller_center(tmp_path / "c", {"t/step.yml": STEP_PLAY})
    log = tmp_path / "steps.log"
    _plan(c, log)
    proc = subprocess.Popen(
        [*CLOUDCTL, "--center", str(c), "--lang", "en", "migrate", "run", "--wave", "w1", "t"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 300
    while "start s1 b" not in (log.read_text() if log.exists() else ""):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "step s1/b did not start"
        time.sleep(0.1)
    paths = LabPaths.from_env()
    from cloudctl.core.fileio import file_lock
    from cloudctl.lab.manager import _port_check

    with file_lock(paths.lock, timeout=600, what="the lab"):  # no `lab up` meanwhile
        assert postgres.stop(paths)  # a real restart under the running wave
        postgres.ensure(paths, _port_check)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, (out, err)
    assert "lost the state database postgresql://cloudctl@127.0.0.1:5433/" in err
    before = _steps(url)
    finished = {
        (e.split()[1], e.split()[2]) for e in log.read_text().splitlines() if e[:3] == "end"
    }
    ok_before = {(r["system_id"], r["step_name"]) for r in before if r["status"] == "ok"}
    assert ("s1", "a") in ok_before
    assert ("s1", "b") not in ok_before  # it ended on the host, its end was never recorded
    assert ok_before <= finished  # nothing marked done that did not finish
    history = cloudctl(c, "migrate", "history", "-o", "json", env=env)
    run_id = items(json.loads(history.stdout))[0]["run_id"]
    status = cloudctl(c, "migrate", "status", run_id, "-o", "json", env=env)
    assert '"interrupted"' in status.stdout, status.stdout
    r = cloudctl(c, "migrate", "resume", run_id, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    starts = [tuple(e.split()[1:3]) for e in log.read_text().splitlines() if e[:5] == "start"]
    for done in ok_before:
        assert starts.count(done) == 1, done  # a finished step is not run again
    assert starts.count(("s1", "b")) == 2  # the one in flight was retried
    after = _steps(url)
    assert {(r["system_id"], r["step_name"]) for r in after if r["status"] == "ok"} == {
        ("s1", "a"),
        ("s1", "b"),
        ("s2", "a"),
        ("s2", "b"),
    }
    assert [r["status"] for r in after if (r["system_id"], r["step_name"]) == ("s1", "b")] == [
        "interrupted",
        "ok",
    ]


def test_state_migrate_copies_a_sqlite_center_to_postgresql_and_checks_counts(
    pg, tmp_path, controller_center, monkeypatch
):
    url, env = pg
    monkeypatch.setenv("PGPASSFILE", env["PGPASSFILE"])
    sqlite_env = {k: v for k, v in env.items() if k != "CLOUDCTL_STATE_URL"}
    c = controller_center(tmp_path / "c", {})
    shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", c / "inventory" / "ipam")
    (c / "cloudctl.yaml").write_text(
        f"name: t\naddress_plan: inventory/ipam\n"
        f"departments: {PROJECT_ROOT / 'inventory' / 'departments.yaml'}\n"
    )
    for name in ("czj-m1", "czj-m2"):
        r = cloudctl(
            c, "ipam", "allocate", "-z", "core", "-t", "czj", "-l", "26", "-n", name, env=sqlite_env
        )
        assert r.returncode == 0, r.stderr
    from cloudctl.migrate.journal import Journal
    from cloudctl.tenant.ownership import StateOwnershipStore

    db = c / ".cloudctl" / "cloudctl.db"
    j = Journal(db)
    rid = j.create_run(
        kind="run",
        plan_name="t",
        plan_path=None,
        plan_sha=None,
        wave="w1",
        snapshot=[{"id": "s1", "steps": []}],
        options={},
    )
    row, _ = j.step_start(rid, "s1", "forward", 0, "a", "playbook")
    j.step_end(row, "ok")
    j.finish_run(rid, "done")
    j.close()
    StateOwnershipStore(db).record("cloud", "network", "n1", "net", "czj")

    r = cloudctl(
        c, "state", "migrate", "--to", url.replace("cloudctl@", "cloudctl:pw@"), env=sqlite_env
    )
    assert r.returncode == 2 and "--to: a password in the command line is refused" in r.stderr
    r = cloudctl(c, "state", "migrate", "--to", url, "-o", "json", env=sqlite_env)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] and doc["audit"]["verified"]
    got = {t: (v["source"], v["copied"]) for t, v in doc["tables"].items()}
    assert got["migrate_runs"] == (1, 1) and got["migrate_steps"] == (1, 1)
    assert got["created_resources"] == (1, 1) and got["ipam_reservations"] == (2, 2)
    # 2 allocations x 3 records, the refused migrate (intent, outcome), this one's intent
    assert doc["audit"]["source"] == doc["audit"]["copied"] == 9
    again = cloudctl(c, "state", "migrate", "--to", url, env=sqlite_env)
    assert again.returncode == 2 and "already holds state" in again.stderr
    # the center on PostgreSQL: the same history, a chain that verifies, ids that go on
    h = items(json.loads(cloudctl(c, "migrate", "history", "-o", "json", env=env).stdout))
    assert [x["run_id"] for x in h] == [rid]
    v = cloudctl(c, "audit", "verify", "-o", "json", env=env)
    assert v.returncode == 0 and json.loads(v.stdout)["chained"] == 9
    from cloudctl.state import open_url

    j = Journal(open_url(url))
    row2, _ = j.step_start(rid, "s1", "forward", 1, "b", "playbook")
    assert row2 > row
