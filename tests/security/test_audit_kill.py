"""Issue 11 §5: kill -9 during a changing command. Real ``cloudctl`` processes are killed
while they work; afterwards ``audit verify`` finds the chain intact (exit 0) and
``audit log`` shows the command as interrupted (an intent without an outcome)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from labkit import make_center, run_cloudctl, start_cloudctl, wipe_projects

from cloudctl.core import audit

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def cloudctl(center: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cloudctl("--center", str(center), "--lang", "en", *args, env=env)


def start(center: Path, *args: str, env: dict | None = None) -> subprocess.Popen:
    return start_cloudctl("--center", str(center), "--lang", "en", *args, env=env)


def wait_for(cond: Callable[[], bool], proc: subprocess.Popen, what: str, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"cloudctl ended (rc {proc.returncode}) before {what}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                kids = [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                continue
            out += kids
            todo += kids
    return out


def kill9(proc: subprocess.Popen) -> None:
    """kill -9 the cloudctl process, then its leftovers (an Ansible run in its own session)."""
    kids = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    for k in kids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(k, signal.SIGKILL)


def intent_of(center: Path, pid: int, log: Path | None = None) -> bool:
    log = log or center / ".cloudctl" / "audit.log"
    if not log.exists():
        return False
    return any(r.get("kind") == "intent" and r.get("pid") == pid for _l, r in audit.records(log))


def assert_interrupted(center: Path, action: str, pid: int) -> None:
    v = cloudctl(center, "audit", "verify", "-o", "json")
    assert v.returncode == 0, v.stdout + v.stderr
    doc = json.loads(v.stdout)
    assert doc["ok"] and [(r["action"], r["pid"]) for r in doc["interrupted"]] == [(action, pid)]
    t = cloudctl(center, "audit", "verify")
    assert t.returncode == 0 and "audit chain intact" in t.stdout
    assert f"interrupted run (no outcome): {action}" in t.stdout
    rows = json.loads(cloudctl(center, "audit", "log", "-o", "json").stdout)["items"]
    mine = [r for r in rows if r["intent"] and r["intent"]["pid"] == pid]
    assert [(r["action"], r["result"]) for r in mine] == [(action, "interrupted")]


# ---------------------------------------------------------------------------------------
# migrate run: a controller-only center, a step that sleeps

SLEEP_PLAY = """---
- name: Mark, then work for a long time
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Mark that the step runs
      ansible.builtin.file:
        path: "{{ marker }}"
        state: touch
    - name: Work
      ansible.builtin.command: sleep 300
      when: not (undo | default(false) | bool)
      changed_when: true
"""


def test_kill_during_migrate_run(tmp_path, controller_center):
    c = controller_center(tmp_path / "c", {"t/sleep.yml": SLEEP_PLAY})
    marker = tmp_path / "step-started"
    step = f"{{name: work, playbook: t/sleep.yml, vars: {{marker: '{marker}'}}}}"
    undo = f"{{name: undo-work, playbook: t/sleep.yml, vars: {{marker: '{marker}', undo: true}}}}"
    (c / "migration_plans" / "t.yaml").write_text(
        "version: 1\nname: t\ntitle_zh: 测试计划\nsystems:\n"
        "  - id: sys1\n    name_zh: 系统一\n    department: dzzwb\n"
        "    source_hosts: [localhost]\n"
        "    target: {tenant: dzzwb, network: dzzwb-app, hosts: [localhost]}\n"
        f"    steps:\n      - {step[:-1]}, rollback: {undo}}}\n"
        "waves:\n  - {id: w1, name_zh: 第一批, systems: [sys1]}\n"
    )
    proc = start(c, "migrate", "run", "--wave", "w1", "t")
    wait_for(marker.exists, proc, "the step to start")
    assert intent_of(c, proc.pid)
    kill9(proc)
    assert_interrupted(c, "migrate.run", proc.pid)


# ---------------------------------------------------------------------------------------
# ipam allocate: killed while it waits for the address-plan lock the test holds


def test_kill_during_ipam_allocate(tmp_path):
    from cloudctl.core.center import load_center
    from cloudctl.ipam.service import plan_lock, plan_root

    c = tmp_path / "c"
    (c / "inventory").mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", c / "inventory" / "ipam")
    shutil.copy(PROJECT_ROOT / "inventory" / "departments.yaml", c / "inventory")
    (c / "cloudctl.yaml").write_text(
        "name: k\naddress_plan: inventory/ipam\ndepartments: inventory/departments.yaml\n"
    )
    plan = c / "inventory" / "ipam"
    before = {p: p.read_bytes() for p in plan.rglob("*") if p.is_file()}
    center = load_center(c)
    args = ("ipam", "allocate", "-z", "core", "-t", "czj", "-l", "24", "-n", "czj-app9")
    with plan_lock(center, plan_root(center)):
        proc = start(c, *args)
        wait_for(lambda: intent_of(c, proc.pid), proc, "the intent record")
        time.sleep(0.5)  # it is waiting for the lock now
        assert proc.poll() is None
        kill9(proc)
    assert {p: p.read_bytes() for p in plan.rglob("*") if p.is_file()} == before
    assert_interrupted(c, "ipam.allocate", proc.pid)
    # the chain goes on after the killed run
    assert cloudctl(c, *args).returncode == 0
    assert cloudctl(c, "audit", "verify").returncode == 0
    rows = json.loads(cloudctl(c, "audit", "log", "-o", "json").stdout)["items"]
    assert [r["result"] for r in rows] == ["interrupted", "ok"]


# ---------------------------------------------------------------------------------------
# tenant apply on the lab's real OpenStack: killed after its first cloud writes

PREFIX = "audit-"


def _lab():
    from cloudctl.lab.api import lab_info

    info = lab_info()
    if info is None:
        pytest.skip("the lab is not up (cloudctl lab up)")
    return info


@pytest.mark.integration
def test_kill_during_tenant_apply(tmp_path):
    info = _lab()
    sdk = info.admin_connection()
    env = {**os.environ, **info.env()}
    c = make_center(tmp_path / "c", prefix=PREFIX, scope="audit")
    log = c / "state" / "audit.log"
    wipe_projects(sdk, PREFIX)
    try:
        proc = start(c, "tenant", "apply", "--auto-approve", "--parallel", "1", env=env)

        def some_written() -> bool:
            p = sdk.identity.find_project(f"{PREFIX}czj")
            return p is not None and any(True for _ in sdk.network.networks(project_id=p.id))

        wait_for(some_written, proc, "the first cloud writes", timeout=180)
        assert intent_of(c, proc.pid, log)
        kill9(proc)
        assert sdk.identity.find_project(f"{PREFIX}czj") is not None  # half-applied
        assert_interrupted(c, "tenant.apply", proc.pid)
        # the cloud writes made before the kill are on the record, one by one
        recs = json.loads(cloudctl(c, "audit", "log", "--records", "-o", "json").stdout)
        writes = [
            r["changes"]["change"]
            for r in recs["items"]
            if r.get("action") == "tenant.apply.write" and r.get("pid") == proc.pid
        ]
        # (the network that triggered the kill may be a write whose record was cut short)
        assert any(w.startswith("create project") for w in writes), writes
    finally:
        # clean up the way an operator would; whatever destroy leaves, the wipe takes
        cloudctl(c, "tenant", "destroy", "czj", "--yes", env=env)
        wipe_projects(sdk, PREFIX)
        left = [p.name for p in sdk.identity.projects() if p.name.startswith(PREFIX)]
        sdk.close()
    assert not left
    # the destroy after the kill is chained on and ended (whatever it found to do)
    v = cloudctl(c, "audit", "verify", "-o", "json")
    assert v.returncode == 0 and json.loads(v.stdout)["ok"], v.stdout
    rows = json.loads(cloudctl(c, "audit", "log", "-o", "json").stdout)["items"]
    assert [r["action"] for r in rows] == ["tenant.apply", "tenant.destroy"]
    assert rows[0]["result"] == "interrupted" and rows[1]["result"] != "interrupted"
