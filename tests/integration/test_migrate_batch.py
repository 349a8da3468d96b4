"""A `batch: true` step: one ansible-playbook run for the systems that reach it together,
each system a host of `migrate_batch`; a system that fails rolls back alone.

Runs Ansible for real, on the controller only (connection local), so it needs no lab host.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cloudctl.core.center import load_center
from cloudctl.migrate import service
from cloudctl.migrate.batch import BatchGate
from cloudctl.migrate.journal import Journal

ROOT = Path(__file__).resolve().parents[2]

STEP = """---
- name: Mark every system of the batch
  hosts: "{{ migrate_batch | default('localhost') }}"
  gather_facts: false
  tasks:
    - name: Refuse the system told to fail
      ansible.builtin.fail:
        msg: "{{ migrate_system }} was told to fail"
      when: fail | default(false) | bool
    - name: Write the system's marker
      ansible.builtin.copy:
        dest: "{{ out }}/{{ migrate_system }}.done"
        content: "{{ migrate_system }} {{ label }}\\n"
        mode: "0644"
"""


def make_center(tmp: Path, controller_center) -> Path:
    c = controller_center(tmp / "center", {"t/mark.yml": STEP})
    out = tmp / "out"
    out.mkdir()

    def system(sid: str, fail: bool) -> str:
        return (
            f"  - {{id: {sid}, name_zh: 系统{sid}, department: dzzwb, strategy: retire, steps: ["
            f"{{name: mark, kind: playbook, batch: true, playbook: t/mark.yml, "
            f"vars: {{out: '{out}', label: L-{sid}, fail: {str(fail).lower()}}}, "
            f"rollback: {{name: undo, kind: command, command: 'touch {out}/{sid}.undone'}}}}]}}"
        )

    (c / "migration_plans" / "p.yaml").write_text(
        "version: 1\nname: p\nsystems:\n"
        + "\n".join(system(s, s == "sysb") for s in ("sysa", "sysb", "sysc"))
        + "\nwaves:\n  - {id: w, systems: [sysa, sysb, sysc]}\n"
    )
    # a plan is data: the center itself allows the rollback commands, one by one
    allowed = "".join(f"    - touch {out}/{s}.undone\n" for s in ("sysa", "sysb", "sysc"))
    with (c / "cloudctl.yaml").open("a") as f:
        f.write("trust:\n  allow_commands:\n" + allowed)
    return c


def test_batch_step_runs_once_and_a_failing_system_rolls_back_alone(tmp_path, controller_center):
    c = make_center(tmp_path, controller_center)
    center = load_center(c)
    j = Journal(tmp_path / "j.db")
    runner = service.step_runner_for(center, None)
    runner.gate = BatchGate(window=1.0, quiet=1.0)  # a loaded CI machine may start threads late
    res = service.start_run(
        center, c / "migration_plans" / "p.yaml", "w", journal=j, parallel=3, step_runner=runner
    )
    assert res.systems == {"sysa": "done", "sysb": "rolled_back", "sysc": "done"}
    out = tmp_path / "out"
    assert (out / "sysa.done").read_text() == "sysa L-sysa\n"  # each its own host vars
    assert (out / "sysc.done").read_text() == "sysc L-sysc\n"
    assert not (out / "sysb.done").exists() and (out / "sysb.undone").exists()
    # one ansible-playbook run for the three systems
    batch_runs = [
        p
        for p in (center.artifacts / "migrate" / res.run_id / "_batch").iterdir()
        if p.is_dir() and p.name != "pdd"  # pdd: ansible-runner's own
    ]
    assert len(batch_runs) == 1, batch_runs
    rows = {r["system_id"]: r for r in j.steps(res.run_id) if r["phase"] == "forward"}
    assert rows["sysa"]["status"] == "ok" and rows["sysb"]["status"] == "failed"
    assert "sysb was told to fail" in rows["sysb"]["message"]
    assert rows["sysa"]["artifact"] == rows["sysb"]["artifact"] == str(batch_runs[0])


DELEGATED = """---
- name: Each system of the batch acts on its own real host
  hosts: "{{ migrate_batch }}"
  gather_facts: false
  tasks:
    - name: Leave a mark on the system's source host
      ansible.builtin.copy:
        dest: "/tmp/cloudctl-batch-{{ migrate_run_id }}"
        content: "{{ migrate_system }}\\n"
        mode: "0644"
      delegate_to: "{{ source }}"
      become: true
"""


def test_batch_step_reaches_real_hosts_with_delegate_to(
    tmp_path, lab, lab_testinfra, controller_center
):
    c = make_center(tmp_path, controller_center)
    (c / "playbooks" / "t" / "delegated.yml").write_text(DELEGATED)
    pairs = {"webs": "legacy-web01", "dbs": "yun-db01"}
    systems = "\n".join(
        f"  - {{id: {sid}, name_zh: 系统{sid}, department: dzzwb, strategy: retire, "
        f"steps: [{{name: mark, kind: playbook, batch: true, playbook: t/delegated.yml, "
        f"vars: {{source: {host}}}, rollback: none}}]}}"
        for sid, host in pairs.items()
    )
    plan = c / "migration_plans" / "real.yaml"
    plan.write_text(
        f"version: 1\nname: real\nsystems:\n{systems}\n"
        "waves:\n  - {id: w, systems: [webs, dbs]}\n"
    )
    center = load_center(c)
    j = Journal(tmp_path / "j2.db")
    res = service.start_run(center, plan, "w", journal=j, parallel=2, inventory=[lab.inventory])
    assert res.systems == {"webs": "done", "dbs": "done"}, [dict(r) for r in j.steps(res.run_id)]
    for sid, host in pairs.items():
        h = lab_testinfra(host, sudo=True)
        f = h.file(f"/tmp/cloudctl-batch-{res.run_id}")
        assert f.exists and f.content_string == f"{sid}\n" and f.user == "root"
        h.run(f"rm -f /tmp/cloudctl-batch-{res.run_id}")


def _precheck_vars(unit: str) -> dict:
    # read-only checks on two real lab hosts; /etc is there on every host and port 1 is free
    return {
        "source": "legacy-web01",
        "target": "yun-web01",
        "unit": unit,
        "data_dir": "/etc",
        "port": 1,
        "min_free_mb": 1,
    }


def test_shipped_precheck_gives_the_same_verdicts_alone_and_as_a_batch(
    tmp_path, lab, controller_center
):
    """playbooks/migration/precheck.yml serves one system (play on its source) and a batch
    (play on migrate_batch): same checks, same hosts, each system judged on its own vars."""
    from cloudctl.ansible.runner import run_playbook
    from cloudctl.migrate.runbook import failure_message

    pb = ROOT / "playbooks" / "migration" / "precheck.yml"
    alone = {}
    for unit in ("systemd-journald.service", "no-such-app.service"):
        r = run_playbook(
            pb, lab.inventory, artifacts_root=tmp_path / "art", extravars=_precheck_vars(unit)
        )
        alone[unit] = (r.ok, failure_message(r.events))
    assert alone["systemd-journald.service"] == (True, None)
    assert alone["no-such-app.service"] == (
        False,
        "legacy-web01: Judge what was seen: "
        "no-such-app.service is inactive on legacy-web01, not active",
    )
    r = run_playbook(
        pb,
        lab.inventory,
        artifacts_root=tmp_path / "art",
        extravars={**_precheck_vars("systemd-journald.service"), "data_dir": "/srv/nothing-here"},
    )
    assert failure_message(r.events) == (
        "legacy-web01: Judge what was seen: "
        "/srv/nothing-here is missing or unreadable on legacy-web01"
    )

    c = make_center(tmp_path, controller_center)
    shutil.copytree(ROOT / "playbooks" / "migration", c / "playbooks" / "migration")
    systems = "\n".join(
        f"  - {{id: {sid}, name_zh: 系统{sid}, department: dzzwb, strategy: retire, "
        f"steps: [{{name: precheck, kind: check, batch: true, "
        f"playbook: migration/precheck.yml, vars: {json.dumps(_precheck_vars(unit))}}}]}}"
        for sid, unit in (("good", "systemd-journald.service"), ("bad", "no-such-app.service"))
    )
    plan = c / "migration_plans" / "pre.yaml"
    plan.write_text(
        f"version: 1\nname: pre\nsystems:\n{systems}\nwaves:\n  - {{id: w, systems: [good, bad]}}\n"
    )
    center = load_center(c)
    j = Journal(tmp_path / "j3.db")
    runner = service.step_runner_for(center, [lab.inventory])
    runner.gate = BatchGate(window=1.0, quiet=1.0)  # a loaded CI machine may start threads late
    res = service.start_run(
        center, plan, "w", journal=j, parallel=2, step_runner=runner, inventory=[lab.inventory]
    )
    rows = {r["system_id"]: r for r in j.steps(res.run_id) if r["phase"] == "forward"}
    # a failed pre-check leaves nothing to undo: the system ends rolled_back, the other done
    assert res.systems == {"good": "done", "bad": "rolled_back"}, [dict(r) for r in rows.values()]
    assert rows["good"]["artifact"] == rows["bad"]["artifact"]  # one run for both
    assert rows["bad"]["message"] == (
        "migrate-system-bad: Judge what was seen: "
        "no-such-app.service is inactive on legacy-web01, not active"
    )
