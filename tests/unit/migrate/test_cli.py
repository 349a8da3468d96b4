"""`cloudctl migrate` through Typer's CliRunner, on a copy of the sample center and on a
tiny center whose steps run real Ansible on localhost (connection local): no lab needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudctl.migrate.journal import Journal
from cloudctl.migrate.service import wave_lock

LOCAL_PLAYBOOK = """---
- name: Touch or remove a marker on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Marker
      ansible.builtin.file:
        path: "{{ marker }}"
        state: "{{ state }}"
    - name: Fail when asked
      ansible.builtin.fail:
        msg: "asked to fail"
      when: fail | default(false) | bool
"""


@pytest.fixture
def local_center(tmp_path: Path, controller_center) -> Path:
    c = controller_center(tmp_path / "local", {"t/marker.yml": LOCAL_PLAYBOOK})
    m = tmp_path / "markers"
    m.mkdir()

    def step(sid, name, fail=False):  # data is never templated: the plan names its files
        return (
            f"      - {{name: {name}, playbook: t/marker.yml, vars: {{marker: '{m}/"
            f"{sid}-{name}', state: touch, fail: {str(fail).lower()}}},\n"
            f"         rollback: {{name: undo-{name}, playbook: t/marker.yml, vars: {{marker: "
            f"'{m}/{sid}-{name}', state: absent}}}}}}\n"
        )

    systems = ""
    for sid, deps, fail in (("base", [], False), ("app", ["base"], False), ("bad", [], True)):
        systems += (
            f"  - id: {sid}\n    name_zh: 系统{sid}\n    department: dzzwb\n    source_hosts: "
            "[localhost]\n"
            f"    target: {{tenant: dzzwb, network: dzzwb-app, hosts: [localhost]}}\n"
            f"    depends_on: [{', '.join(deps)}]\n    steps:\n"
            + step(sid, "one")
            + step(sid, "two", fail)
        )
    (c / "migration_plans" / "t.yaml").write_text(
        "version: 1\nname: t\ntitle_zh: 测试计划\nsystems:\n"
        + systems
        + "waves:\n  - {id: w1, name_zh: 第一批, systems: [base, app]}\n"
        + "  - {id: w2, systems: [bad]}\n"
    )
    return c


def test_validate_sample_ok(cli, sample_center):
    r = cli("-C", str(sample_center), "--lang", "en", "migrate", "validate")
    assert r.exit_code == 0, r.output
    assert "ok (32 systems, 4 waves)" in r.output


def test_validate_reports_every_problem_with_file_line(cli, sample_center):
    plan = sample_center / "migration_plans" / "xiaogan-2016.yaml"
    text = plan.read_text()
    text = text.replace(
        "depends_on: [rkxx, frdw, sjjh]", "depends_on: [rkxx, frdw, sjjh, tzxm]", 1
    )  # cycle
    text = text.replace(
        "network: dzzwb-web, hosts: [yun-web01]", "network: dzzwb-nope, hosts: [yun-web99]", 1
    )
    text = text.replace("systems: [xxgk]", "systems: [xxgk, rkxx]", 1)  # before its own wave
    plan.write_text(text)
    r = cli("-C", str(sample_center), "--lang", "en", "migrate", "validate")
    assert r.exit_code == 2
    err = r.stderr if hasattr(r, "stderr") else r.output
    lines = [
        x for x in err.splitlines() if x.startswith("migration_plans/") or "xiaogan-2016.yaml:" in x
    ]
    joined = "\n".join(lines)
    assert (
        "dependency cycle: tzxm → xzsp → tzxm" in joined
        or "dependency cycle: xzsp → tzxm → xzsp" in joined
    ), err
    assert "unknown network 'dzzwb-nope'" in joined
    assert "unknown host 'yun-web99'" in joined
    assert "system rkxx is already in wave pilot" in joined
    assert all(":" in x.split(" ")[0] for x in lines)
    assert "Traceback" not in err


def test_plan_auto_waves_json(cli, sample_center):
    r = cli(
        "-C",
        str(sample_center),
        "migrate",
        "plan",
        "--auto-waves",
        "--max-per-wave",
        "8",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    waves = data["waves"]
    assert all(w["count"] <= 8 for w in waves)
    where = {s["id"]: i for i, w in enumerate(waves) for s in w["systems"]}
    assert where["xzsp"] >= where["rkxx"] and where["xzsp"] >= where["frdw"]
    assert waves[0]["importance"]["core"] == 0 and waves[-1]["importance"]["core"] > 0
    assert "sqjz" not in where  # retained


def test_dry_run_lists_steps_and_changes_nothing(cli, sample_center):
    r = cli(
        "-C",
        str(sample_center),
        "--lang",
        "en",
        "migrate",
        "run",
        "xiaogan-2016",
        "--wave",
        "pilot",
        "--dry-run",
    )
    assert r.exit_code == 0, r.output
    assert "precheck" in r.stdout and "cutover" in r.stdout and "rollback-cutover" in r.stdout
    precheck = next(line for line in r.stdout.splitlines() if "precheck" in line)
    assert precheck.rstrip().endswith("migration/precheck.yml ⇉ batch"), precheck
    assert not (sample_center / ".cloudctl" / "cloudctl.db").exists()


@pytest.mark.slow
def test_real_local_run_status_history_report_rollback(cli, local_center, tmp_path):
    j = str(tmp_path / "j.db")
    r = cli(
        "-C",
        str(local_center),
        "--lang",
        "en",
        "migrate",
        "run",
        "t",
        "--wave",
        "w1",
        "--journal",
        j,
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)
    assert {s["system"]: s["status"] for s in res["systems"]} == {"base": "done", "app": "done"}
    markers = tmp_path / "markers"
    assert sorted(p.name for p in markers.iterdir()) == [
        "app-one",
        "app-two",
        "base-one",
        "base-two",
    ]
    # artifacts: each step's Ansible events are kept
    events = list(
        (local_center / ".cloudctl" / "artifacts" / "migrate" / res["run_id"] / "app").glob(
            "*/job_events/*.json"
        )
    )
    assert events
    # a failing system rolls back (its own undo steps, newest first)
    r = cli(
        "-C",
        str(local_center),
        "--lang",
        "en",
        "migrate",
        "run",
        "t",
        "--wave",
        "w2",
        "--journal",
        j,
        "-o",
        "json",
    )
    assert r.exit_code == 1
    assert json.loads(r.stdout)["systems"] == [{"system": "bad", "status": "rolled_back"}]
    assert not (markers / "bad-one").exists() and not (markers / "bad-two").exists()
    st = cli("-C", str(local_center), "migrate", "status", "--journal", j, "-o", "json")
    rows = json.loads(st.stdout)["steps"]
    assert [(x["phase"], x["step_name"], x["status"]) for x in rows] == [
        ("forward", "one", "ok"),
        ("forward", "two", "failed"),
        ("rollback", "undo-two", "ok"),
        ("rollback", "undo-one", "ok"),
    ]
    assert "asked to fail" in rows[1]["message"]
    hist = json.loads(
        cli("-C", str(local_center), "migrate", "history", "--journal", j, "-o", "json").stdout
    )
    assert hist["schema"] == "cloudctl.migrate.history/1"
    assert [h["wave"] for h in hist["items"]] == ["w2", "w1"]
    # manual rollback of one system that is done
    r = cli(
        "-C",
        str(local_center),
        "--lang",
        "en",
        "migrate",
        "rollback",
        "app",
        "--yes",
        "--journal",
        j,
    )
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in markers.iterdir()) == ["base-one", "base-two"]
    rep = cli("-C", str(local_center), "--lang", "en", "migrate", "report", "t", "--journal", j)
    assert "| 系统base (`base`) |" not in rep.stdout  # English names fall back to the id
    assert "done" in rep.stdout and "rolled back" in rep.stdout
    html = tmp_path / "r.html"
    cli(
        "-C",
        str(local_center),
        "migrate",
        "report",
        "t",
        "--journal",
        j,
        "--format",
        "html",
        "--out",
        str(html),
    )
    assert "<table>" in html.read_text() and "已回退" in html.read_text()
    audit = [
        json.loads(x) for x in (local_center / ".cloudctl" / "audit.log").read_text().splitlines()
    ]
    audit = [a for a in audit if a.get("kind") == "change"]  # not the runs' intent/outcome
    assert [a["action"] for a in audit] == ["migrate.run", "migrate.run", "migrate.rollback"]
    assert audit[0]["user"] and audit[1]["result"] == "failed"


def test_second_operator_on_the_same_wave_is_refused(cli, local_center, tmp_path):
    j = Journal(tmp_path / "j.db")
    with wave_lock(j, "t", "w1"):
        r = cli(
            "-C", str(local_center), "--lang", "en", "migrate", "run", "t", "--wave", "w1",
            "--journal", str(j.path),
        )  # fmt: skip
    assert r.exit_code == 2
    assert "is being run by another cloudctl" in r.stderr


def test_interrupted_run_must_be_resumed_or_abandoned(cli, local_center, tmp_path):
    j = Journal(tmp_path / "j.db")
    snap = [{"id": "base", "name_zh": "b", "depends_on": [], "steps": []}]
    rid = j.create_run(
        kind="run",
        plan_name="t",
        plan_path=None,
        plan_sha=None,
        wave="w1",
        snapshot=snap,
        options={"parallel": 1},
    )
    j.conn.execute("UPDATE migrate_runs SET pid=999999999 WHERE run_id=?", (rid,))  # runner died
    r = cli(
        "-C", str(local_center), "--lang", "en", "migrate", "run", "t", "--wave", "w1",
        "--journal", str(j.path),
    )  # fmt: skip
    assert r.exit_code == 2
    assert f"run {rid} of wave w1 is interrupted" in r.stderr
    assert f"cloudctl migrate resume {rid}" in r.stderr
    r = cli(
        "-C", str(local_center), "--lang", "en", "migrate", "abandon", rid, "--journal", str(j.path)
    )
    assert r.exit_code == 0, r.output
    assert j.run(rid).status == "abandoned"
    r = cli("-C", str(local_center), "migrate", "abandon", rid, "--journal", str(j.path))
    assert r.exit_code == 2 and "只有中断或暂停的运行才能放弃" in r.stderr  # zh by default


def test_plan_table_shows_markup_in_plan_data_as_text(cli, sample_center):
    """Plans come from departments: a wave name with rich markup is printed as it is."""
    plan = sample_center / "migration_plans" / "xiaogan-2016.yaml"
    plan.write_text(
        plan.read_text(encoding="utf-8").replace(
            'name_en: "wave 1: pilot"', 'name_en: "wave 1 [bold red]pilot[/] :100:"'
        ),
        encoding="utf-8",
    )
    r = cli(
        "--center", str(sample_center), "--lang", "en", "migrate", "plan", env={"COLUMNS": "200"}
    )
    assert r.exit_code == 0, r.output
    assert "wave 1 [bold red]pilot[/] :100:" in r.output
    assert "💯" not in r.output
