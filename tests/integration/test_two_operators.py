"""Two operators, two clones of the center, one PostgreSQL (the lab's): what issue 16 is
for. A starts a wave and is killed, B sees it and resumes it; A and B allocate at the same
moment and get different blocks; A's tenant change lock holds B's; the audit chain is one
chain with both operators' records."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cloudctl.lab import postgres
from cloudctl.lab.paths import LabPaths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLOUDCTL = [sys.executable, "-m", "cloudctl"]

GATE_PLAY = """---
- name: Block until the gate file exists (the first operator is killed meanwhile)
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Is the gate open
      ansible.builtin.stat:
        path: "{{ gate }}"
      register: g
    - name: Mark that the step runs
      ansible.builtin.file:
        path: "{{ marker }}"
        state: touch
      when: not g.stat.exists
    - name: Wait
      ansible.builtin.command: sleep 300
      when: not g.stat.exists
      changed_when: true
"""


def items(doc):
    """A list printed by a command: bare, or under ``items`` of a versioned document."""
    return doc["items"] if isinstance(doc, dict) else doc


@pytest.fixture
def shared(lab, tmp_path, controller_center):
    """Clones A and B (same center name, own copies of the address plan and plans) and
    the environment that puts both on one fresh PostgreSQL database."""
    paths = LabPaths.from_env()
    gate, marker = tmp_path / "gate", tmp_path / "marker"
    step = (
        f"{{name: work, playbook: t/gate.yml, vars: {{gate: '{gate}', marker: '{marker}'}}, "
        "rollback: none}"
    )
    clones = []
    for name in ("a", "b"):
        c = controller_center(tmp_path / name, {"t/gate.yml": GATE_PLAY})
        shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", c / "inventory" / "ipam")
        shutil.copy(PROJECT_ROOT / "inventory" / "departments.yaml", c / "inventory")
        (c / "cloudctl.yaml").write_text(
            "name: t\naddress_plan: inventory/ipam\ndepartments: inventory/departments.yaml\n"
        )
        (c / "migration_plans" / "t.yaml").write_text(
            "version: 1\nname: t\ntitle_zh: 测试计划\nsystems:\n"
            "  - id: sys1\n    name_zh: 系统一\n    department: dzzwb\n"
            "    source_hosts: [localhost]\n"
            "    target: {tenant: dzzwb, network: dzzwb-app, hosts: [localhost]}\n"
            f"    steps:\n      - {step}\n"
            "waves:\n  - {id: w1, name_zh: 第一批, systems: [sys1]}\n"
        )
        clones.append(c)
    with postgres.fresh_database(paths) as url:
        env = {
            **os.environ,
            "CLOUDCTL_STATE_URL": url,
            "PGPASSFILE": str(postgres.pgpass_file(paths)),
        }
        yield clones[0], clones[1], env, gate, marker


def cloudctl(center: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLOUDCTL, "--center", str(center), "--lang", "en", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


def start(center: Path, *args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLOUDCTL, "--center", str(center), "--lang", "en", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # so the kill takes its Ansible children too
    )


def test_b_sees_and_resumes_the_wave_a_started_before_a_was_killed(shared):
    a, b, env, gate, marker = shared
    proc = start(a, "migrate", "run", "--wave", "w1", "t", env=env)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step did not start"
        time.sleep(0.1)
    # B cannot start the same wave while A runs it (the wave lock is a shared one)
    r = cloudctl(b, "migrate", "run", "--wave", "w1", "t", env=env)
    assert r.returncode == 2 and "wave w1" in r.stderr, r.stderr
    runs = items(json.loads(cloudctl(b, "migrate", "history", "-o", "json", env=env).stdout))
    assert len(runs) == 1 and runs[0]["status"] == "running"
    run_id = runs[0]["run_id"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    gate.touch()
    st = json.loads(cloudctl(b, "migrate", "status", run_id, "-o", "json", env=env).stdout)
    assert st["status"] == "interrupted" and st["pid"] == proc.pid
    r = cloudctl(b, "migrate", "resume", run_id, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(
        cloudctl(a, "migrate", "status", run_id, "--steps", "-o", "json", env=env).stdout
    )
    assert st["status"] == "done" and st["systems"][0]["status"] == "done"
    tries = [(s["attempt"], s["status"], s["pid"]) for s in st["steps"]]
    assert tries[0] == (1, "interrupted", proc.pid)
    assert tries[1][:2] == (2, "ok") and tries[1][2] != proc.pid


def test_b_resumes_a_run_of_another_host_without_force(shared):
    """A's host cannot be asked whether A's runner lives; on the shared state the wave lock
    answers: B holds it, so no runner of that wave is alive anywhere."""
    a, b, env, gate, marker = shared
    proc = start(a, "migrate", "run", "--wave", "w1", "t", env=env)
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the step did not start"
        time.sleep(0.1)
    run_id = items(json.loads(cloudctl(b, "migrate", "history", "-o", "json", env=env).stdout))
    run_id = run_id[0]["run_id"]
    # while A lives, B is refused even with --force (A holds the wave lock)
    r = cloudctl(b, "migrate", "resume", run_id, "--force", env=env)
    assert r.returncode == 2 and "w1" in r.stderr, r.stderr
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    import psycopg

    url, passfile = env["CLOUDCTL_STATE_URL"], env["PGPASSFILE"]
    with psycopg.connect(url, passfile=passfile, autocommit=True) as conn:  # A on ws-07
        conn.execute("UPDATE migrate_runs SET host='ws-07.elsewhere' WHERE run_id=%s", (run_id,))
    st = json.loads(cloudctl(b, "migrate", "status", run_id, "-o", "json", env=env).stdout)
    assert st["status"] == "running"  # from here nobody can tell by the pid
    gate.touch()
    r = cloudctl(b, "migrate", "resume", run_id, env=env)  # no --force needed
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(
        cloudctl(b, "migrate", "status", run_id, "--steps", "-o", "json", env=env).stdout
    )
    assert st["status"] == "done"
    assert [s["status"] for s in st["steps"]] == ["interrupted", "ok"]


def test_a_and_b_allocate_at_the_same_moment_and_get_different_blocks(shared):
    a, b, env, _gate, _marker = shared
    cloudctl(a, "state", "upgrade", env=env)  # both start on a ready schema
    args = ("ipam", "allocate", "-z", "core", "-l", "24", "-o", "json")
    pa = start(a, *args, "-t", "czj", "-n", "czj-par", env=env)
    pb = start(b, *args, "-t", "rsj", "-n", "rsj-par", env=env)
    outs = [p.communicate(timeout=300) for p in (pa, pb)]
    assert [p.returncode for p in (pa, pb)] == [0, 0], outs
    got = [json.loads(o[0]) for o in outs]
    assert got[0]["prefix"] != got[1]["prefix"] and got[0]["vlan"] != got[1]["vlan"]
    # each clone's plan file has only its own; B's validate warns about A's pending one
    r = cloudctl(b, "ipam", "validate", env=env)
    assert r.returncode == 0 and f"reservation czj-par {got[0]['prefix']}" in r.stderr


HOLD = """
import sys, time
from cloudctl.core.center import load_center
from cloudctl.tenant import service
c = load_center(sys.argv[1])
cloud = service.Cloud(None, None, key="http://127.0.0.1:5000/v3|RegionOne")
try:
    with service.change_lock(c, cloud, ["czj"], whole_cloud=False, wait=float(sys.argv[2])):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
except Exception as e:
    print(f"refused: {e}", flush=True)
    sys.exit(2)
"""


def test_a_tenant_change_in_clone_a_holds_clone_b(shared):
    a, b, env, _gate, _marker = shared
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD), str(a), "5", "60"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(HOLD), str(b), "1", "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 2
        assert "tenant czj is locked by another cloudctl" in r.stdout
        assert f"pid {holder.pid}" in r.stdout
        holder.kill()  # A dies: B gets the lock at once
        holder.wait(10)
        r = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(HOLD), str(b), "5", "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 0 and r.stdout.strip() == "held"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_audit_log_and_verify_show_both_operators_in_one_chain(shared):
    a, b, env, _gate, _marker = shared
    for clone, name, tenant in (
        (a, "czj-aud", "czj"),
        (b, "rsj-aud", "rsj"),
        (a, "czj-aud2", "czj"),
    ):
        r = cloudctl(
            clone, "ipam", "allocate", "-z", "core", "-t", tenant, "-l", "26", "-n", name, env=env
        )
        assert r.returncode == 0, r.stderr
    for clone in (a, b):
        v = cloudctl(clone, "audit", "verify", "-o", "json", env=env)
        assert v.returncode == 0, v.stdout
        doc = json.loads(v.stdout)
        assert doc["ok"] and doc["chained"] == 9 and doc["interrupted"] == []
    heads = {
        json.loads(cloudctl(c, "audit", "verify", "-o", "json", env=env).stdout)["head"]["hash"]
        for c in (a, b)
    }
    assert len(heads) == 1
    recs = items(
        json.loads(
            cloudctl(b, "audit", "log", "--records", "-n", "50", "-o", "json", env=env).stdout
        )
    )
    centers = [r.get("center") for r in recs if r["kind"] == "intent"]
    assert centers == [str(a), str(b), str(a)]
    rows = items(json.loads(cloudctl(a, "audit", "log", "-o", "json", env=env).stdout))
    assert [(r["action"], r["result"]) for r in rows] == [("ipam.allocate", "ok")] * 3
    # and the local copies: each clone keeps the records it wrote itself
    assert len((a / ".cloudctl" / "audit-copy.jsonl").read_text().splitlines()) == 6
    assert len((b / ".cloudctl" / "audit-copy.jsonl").read_text().splitlines()) == 3
