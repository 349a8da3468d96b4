"""The shipped web + database runbook (`rehost-web-with-db`) on the lab's real SSH hosts,
every step a batch (issue 17): two systems share legacy-web01 (apps and SQLite databases),
yun-web01 (their new home) and yun-db01 (their databases' new home), with their own units,
directories and ports. One wave moves both, each step one ansible-playbook run for the
two; `db-sync` moves each database through the controller into its own file; `migrate
rollback` of one system runs `db-cleanup` (as a batch of one) and leaves the other alone.
Checked independently over SSH with testinfra."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from labkit import make_migration_center

from cloudctl.lab.api import reset_host

ROOT = Path(__file__).resolve().parents[2]
CLOUDCTL = [sys.executable, "-m", "cloudctl"]
SOURCE, TARGET, DB = "legacy-web01", "yun-web01", "yun-db01"
SYSTEMS = {"dbapp1": 8101, "dbapp2": 8102}


def system(sid: str, port: int) -> str:
    return f"""  - id: {sid}
    name_zh: 数据库应用{sid[-1]}
    department: dzzwb
    classification: {{importance: general, complexity: low}}
    strategy: rehost
    source_hosts: [{SOURCE}]
    target: {{tenant: dzzwb, network: dzzwb-web, hosts: [{TARGET}]}}
    template: rehost-web-with-db
    params: {{unit: {sid}-web, app_dir: /opt/{sid}, data_dir: /srv/{sid}/data, port: {port},
             service_name: {sid}.xiaogan.gov.cn, db_source: {SOURCE}, db_target: {DB},
             db_path: /srv/{sid}/db/app.sqlite, min_free_mb: 10}}
"""


def sqlite_rows(host, path: str) -> list:
    out = host.check_output(
        'python3 -c "import sqlite3,sys,json; print(json.dumps(sqlite3.connect(sys.argv[1])'
        f".execute('select id, body from notes order by id').fetchall()))\" {path}"
    )
    return json.loads(out)


@pytest.fixture(scope="module")
def env(lab, lab_testinfra, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("migrate-db")
    c = make_migration_center(tmp, lab.inventory)
    (c / "migration_plans" / "dbwave.yaml").write_text(
        "version: 1\nname: dbwave\nsystems:\n"
        + "".join(system(s, p) for s, p in SYSTEMS.items())
        + f"waves:\n  - {{id: w, systems: [{', '.join(SYSTEMS)}]}}\n"
    )
    for h in (SOURCE, TARGET, DB):
        reset_host(h)
    hosts = {h: lab_testinfra(h, sudo=True) for h in (SOURCE, TARGET, DB)}
    for sid in SYSTEMS:  # the legacy apps, as an operator rehearses them
        seed = run(c, "lab-seed", "dbwave", "--system", sid)
        assert seed.returncode == 0, seed.stdout + seed.stderr
        hosts[SOURCE].check_output(
            f'mkdir -p /srv/{sid}/db && python3 -c "import sqlite3,sys; c=sqlite3.connect('
            "sys.argv[1]); c.execute('create table notes (id integer primary key, body text)'); "
            "c.executemany('insert into notes(body) values (?)', [(sys.argv[2] + ' ' + str(i),) "
            f"for i in range(50)]); c.commit()\" /srv/{sid}/db/app.sqlite '{sid} 公告'"
        )
    yield {"center": c, "journal": tmp / "journal.db", "hosts": hosts}
    for h in (SOURCE, TARGET, DB):
        reset_host(h)


def run(center: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [*CLOUDCTL, "-C", str(center), "--lang", "en", "migrate", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def steps_of(journal: Path, run_id: str) -> list[dict]:
    con = sqlite3.connect(journal)
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT * FROM migrate_steps WHERE run_id=? ORDER BY id", (run_id,))
    out = [dict(r) for r in rows]
    con.close()
    return out


def test_web_and_db_wave_runs_every_step_as_one_batch(env):
    src, db = env["hosts"][SOURCE], env["hosts"][DB]
    before = {s: sqlite_rows(src, f"/srv/{s}/db/app.sqlite") for s in SYSTEMS}
    proc = run(
        env["center"], "run", "dbwave", "-w", "w", "-p", "2", "--approve", "all",
        "--journal", str(env["journal"]), "-o", "json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert {r["system"]: r["status"] for r in result["systems"]} == dict.fromkeys(SYSTEMS, "done")
    for sid, port in SYSTEMS.items():
        # each database arrived whole, in its own file; the source's is untouched
        assert before[sid][0][1] == f"{sid} 公告 0" and len(before[sid]) == 50
        assert sqlite_rows(db, f"/srv/{sid}/db/app.sqlite") == before[sid]
        assert sqlite_rows(src, f"/srv/{sid}/db/app.sqlite") == before[sid]
        tgt = env["hosts"][TARGET]
        assert tgt.service(f"{sid}-web").is_running
        assert (
            tgt.socket(f"tcp://0.0.0.0:{port}").is_listening
            or tgt.socket(f"tcp://127.0.0.1:{port}").is_listening
        )
    rows = steps_of(env["journal"], result["run_id"])
    ok = [r for r in rows if r["status"] == "ok" and r["phase"] == "forward"]
    playbook_steps = {r["step_name"] for r in ok} - {"approve-cutover"}
    assert "sync-db" in playbook_steps and len(playbook_steps) == 8, playbook_steps
    for name in playbook_steps:  # every playbook step: one run for both systems
        arts = {r["artifact"] for r in ok if r["step_name"] == name}
        assert len(arts) == 1, (name, arts)
        art = Path(arts.pop())
        assert art.parent.name == "_batch", art
        out = (art / "stdout").read_text()
        assert all(f"migrate-system-{s}" in out for s in SYSTEMS), (name, out[-2000:])


def test_rollback_of_one_system_removes_its_database_only(env):
    proc = run(env["center"], "rollback", "dbapp1", "--yes", "--journal", str(env["journal"]))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db, tgt, src = env["hosts"][DB], env["hosts"][TARGET], env["hosts"][SOURCE]
    assert not db.file("/srv/dbapp1/db/app.sqlite").exists
    assert db.file("/srv/dbapp2/db/app.sqlite").exists  # the other system is not touched
    assert tgt.service("dbapp2-web").is_running and not tgt.file("/opt/dbapp1").exists
    assert src.service("dbapp1-web").is_running and src.service("dbapp1-web").is_enabled
    con = sqlite3.connect(env["journal"])
    rid = con.execute("SELECT run_id FROM migrate_runs ORDER BY started DESC LIMIT 1").fetchone()[0]
    con.close()
    rows = steps_of(env["journal"], rid)
    assert [r["step_name"] for r in rows] == [
        "rollback-cutover",
        "cleanup-target-data",
        "cleanup-db",
        "start-source",
        "cleanup-target",
    ]
    assert all(r["status"] == "ok" for r in rows), rows
    clean = next(r for r in rows if r["step_name"] == "cleanup-db")
    assert Path(clean["artifact"]).parent.name == "_batch", clean["artifact"]
