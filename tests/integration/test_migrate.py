"""The pilot wave on the lab's real SSH hosts (legacy-web01 → yun-web01), checked
independently with testinfra over SSH: the move itself, rollback on an injected failure,
kill -9 + resume, and a refused second operator.

To stay lean the tests share one rehearsal, in file order: both hosts are reset and the
legacy app installed on legacy-web01 once; the pilot moves it; `migrate rollback` brings it
back (the next test's starting point); an injected failure rolls back by itself; kill -9
and resume move it again. The real `cloudctl` runs as a subprocess against a temp copy of
the sample center (its own state dir and journal)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra

from cloudctl.lab.api import reset_host

ROOT = Path(__file__).resolve().parents[2]
CLOUDCTL = [sys.executable, "-m", "cloudctl"]
SOURCE, TARGET = "legacy-web01", "yun-web01"

# The pilot with a smoke test that fails after the data moved (source stopped, target
# prepared and filled): everything done so far must be undone, newest first.
FAILING_PILOT = """version: 1
name: pilot-fail
systems:
  - id: xxgk
    name_zh: 政府信息公开平台
    department: dzzwb
    strategy: rehost
    source_hosts: [legacy-web01]
    target: {tenant: dzzwb, network: dzzwb-web, hosts: [yun-web01]}
    steps:
      - name: prepare-target
        playbook: migration/prepare-target.yml
        vars: &app {source: legacy-web01, target: yun-web01, unit: xxgk-web, app_dir: /opt/xxgk,
                    data_dir: /srv/xxgk/data, port: 8080, service_name: xxgk.xiaogan.gov.cn}
        rollback: {name: cleanup-target, playbook: migration/cleanup-target.yml, vars: *app}
      - name: stop-source
        playbook: migration/stop-source.yml
        vars: *app
        rollback: {name: start-source, playbook: migration/start-source.yml, vars: *app}
      - name: sync-data
        playbook: migration/sync-data.yml
        vars: *app
        rollback: {name: cleanup-target-data, playbook: migration/cleanup-target.yml, vars: *app}
      - {name: smoke-test, kind: check, command: 'echo injected failure; exit 3', retries: 1,
         retry_delay: 1s}
waves:
  - {id: pilot, systems: [xxgk]}
"""


@pytest.fixture(scope="module")
def env(lab, tmp_path_factory):
    """A temp center: the sample's plans, playbooks and inventory (+ the lab's lab.yml);
    both hosts pristine, the legacy app installed and serving on legacy-web01."""
    tmp_path = tmp_path_factory.mktemp("migrate")
    c = tmp_path / "center"
    (c / "inventory" / "hosts").mkdir(parents=True)
    cfg = (ROOT / "cloudctl.yaml").read_text()
    assert "  allow_commands: []" in cfg
    # the injected failure below is a command step: the center allows exactly that one
    cfg = cfg.replace("  allow_commands: []", '  allow_commands: ["echo injected failure; exit 3"]')
    (c / "cloudctl.yaml").write_text(cfg)
    shutil.copytree(ROOT / "migration_plans", c / "migration_plans")
    shutil.copytree(ROOT / "inventory" / "ipam", c / "inventory" / "ipam")
    shutil.copy(ROOT / "inventory" / "departments.yaml", c / "inventory" / "departments.yaml")
    shutil.copytree(
        ROOT / "inventory" / "hosts" / "group_vars", c / "inventory" / "hosts" / "group_vars"
    )
    shutil.copy(
        ROOT / "inventory" / "hosts" / "center.yml", c / "inventory" / "hosts" / "center.yml"
    )
    shutil.copy(lab.inventory, c / "inventory" / "hosts" / "lab.yml")
    (c / "playbooks").symlink_to(ROOT / "playbooks")
    for h in (SOURCE, TARGET):
        reset_host(h)
    names = c / ".cloudctl" / "migrate" / "service-names.hosts"
    seed = subprocess.run(
        [
            *CLOUDCTL,
            "-C",
            str(c),
            "--lang",
            "en",
            "migrate",
            "lab-seed",
            "xiaogan-2016",
            "--system",
            "xxgk",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert seed.returncode == 0, seed.stdout + seed.stderr
    hosts = {
        name: testinfra.get_host(
            f"ssh://{info.user}@127.0.0.1:{info.port}",
            ssh_identity_file=str(info.key_file),
            sudo=True,
            ssh_extra_args=f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile="
            f"{lab.dir / 'known_hosts'} -o LogLevel=ERROR",
        )
        for name, info in lab.hosts.items()
        if name in (SOURCE, TARGET)
    }
    return {"center": c, "journal": tmp_path / "journal.db", "names": names, "hosts": hosts}


def cloudctl(env, *args, check=None, **kw):
    cmd = [*CLOUDCTL, "-C", str(env["center"]), "--lang", "en", "migrate", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    if check is not None:
        assert proc.returncode == check, f"{cmd}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def health(host) -> dict:
    """GET /healthz from the host itself (as the verify step does, but independently)."""
    out = host.check_output(
        'python3 -c "import urllib.request,sys; '
        "print(urllib.request.urlopen('http://127.0.0.1:8080/healthz', "
        'timeout=5).read().decode())"'
    )
    return json.loads(out)


def digest(host) -> dict:
    script = (ROOT / "playbooks" / "migration" / "files" / "datadigest.py").read_text()
    return json.loads(host.check_output(f"python3 -c {_q(script)} /srv/xxgk/data"))


def _q(s: str) -> str:
    return "'" + s.replace("'", "'\"'\"'") + "'"


def journal_rows(path: Path, run_id: str) -> list[dict]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    rows = [
        dict(r)
        for r in con.execute("SELECT * FROM migrate_steps WHERE run_id=? ORDER BY id", (run_id,))
    ]
    con.close()
    return rows


def last_run(path: Path) -> dict:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    row = dict(con.execute("SELECT * FROM migrate_runs ORDER BY started DESC LIMIT 1").fetchone())
    con.close()
    return row


def assert_served_by(env, host_name: str, data: dict) -> None:
    h = env["hosts"][host_name]
    assert h.service("xxgk-web").is_running
    assert h.service("xxgk-web").is_enabled
    got = health(h)
    assert got["host"] == host_name
    assert (got["files"], got["data_sha256"]) == (data["files"], data["data_sha256"])
    record = env["names"].read_text().strip().splitlines()
    assert next(line for line in record if "xxgk.xiaogan.gov.cn" in line).endswith(f"# {host_name}")


def test_pilot_wave_moves_the_service_and_its_data(env):
    src, tgt = env["hosts"][SOURCE], env["hosts"][TARGET]
    before = digest(src)
    assert before["files"] == 21
    assert not tgt.file("/opt/xxgk").exists
    proc = cloudctl(
        env,
        "run",
        "xiaogan-2016",
        "--wave",
        "pilot",
        "--journal",
        str(env["journal"]),
        "-o",
        "json",
        check=0,
    )
    result = json.loads(proc.stdout)
    assert result["status"] == "done" and result["systems"] == [
        {"system": "xxgk", "status": "done"}
    ]
    assert_served_by(env, TARGET, before)

    assert not src.service("xxgk-web").is_running
    assert not src.service("xxgk-web").is_enabled
    assert src.file("/var/backups/cloudctl-migrate/xxgk").is_directory  # the backup stays
    assert (
        tgt.file("/srv/xxgk/data/notices/0007.html").content
        == src.file("/srv/xxgk/data/notices/0007.html").content
    )
    # 192.168.x / 10.x only as data: the record carries the target's planned address
    assert "10.11.12." in env["names"].read_text()
    rows = journal_rows(env["journal"], result["run_id"])
    steps = [
        "precheck",
        "backup",
        "prepare-target",
        "stop-source",
        "sync-data",
        "cutover",
        "verify",
    ]
    assert [
        r["step_name"] for r in rows if r["status"] == "ok"
    ] == steps  # each done once, in order
    # a failed attempt (the shared lab's hosts can be restarted under us) is only ever
    # followed by a retry of the same step, never by the next step
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            assert rows[i + 1]["step_name"] == r["step_name"], rows
    for r in rows:  # each step's Ansible events are kept
        assert list((Path(r["artifact"]) / "job_events").glob("*.json")), r
    # the templates mark the pre-check `batch: true`: it ran on the pseudo-host of xxgk
    pre = next(r for r in rows if r["step_name"] == "precheck" and r["status"] == "ok")
    assert Path(pre["artifact"]).parent.name == "_batch", pre["artifact"]
    assert "migrate-system-xxgk" in (Path(pre["artifact"]) / "stdout").read_text()
    for name in ("backup", "prepare-target", "stop-source", "sync-data", "cutover", "verify"):
        row = next(r for r in rows if r["step_name"] == name and r["status"] == "ok")
        assert Path(row["artifact"]).parent.name == "_batch", row["artifact"]
    status = cloudctl(
        env, "status", result["run_id"], "--journal", str(env["journal"]), "-o", "json", check=0
    )
    assert json.loads(status.stdout)["systems"][0]["steps_done"] == 7
    # converges: running the finished wave again moves nothing and says so
    again = cloudctl(
        env, "run", "xiaogan-2016", "--wave", "pilot", "--journal", str(env["journal"]), check=0
    )
    assert f"already migrated by run {result['run_id']}" in again.stdout
    assert last_run(env["journal"])["run_id"] == result["run_id"]
    assert_served_by(env, TARGET, before)


def test_rollback_command_brings_the_source_back(env):
    before = digest(env["hosts"][SOURCE])
    cloudctl(env, "rollback", "xxgk", "--yes", "--journal", str(env["journal"]), check=0)
    assert_served_by(env, SOURCE, before)
    tgt = env["hosts"][TARGET]
    assert not tgt.file("/opt/xxgk").exists and not tgt.socket("tcp://127.0.0.1:8080").is_listening
    rb = last_run(env["journal"])
    assert rb["kind"] == "rollback" and rb["status"] == "done"
    assert [r["step_name"] for r in journal_rows(env["journal"], rb["run_id"])] == [
        "rollback-cutover",
        "cleanup-target-data",
        "start-source",
        "cleanup-target",
    ]


def test_failing_step_rolls_back_and_the_source_keeps_serving(env):
    plan = env["center"] / "migration_plans" / "pilot-fail.yaml"
    plan.write_text(FAILING_PILOT)
    before = digest(env["hosts"][SOURCE])
    proc = cloudctl(
        env,
        "run",
        "pilot-fail",
        "--wave",
        "pilot",
        "--journal",
        str(env["journal"]),
        "-o",
        "json",
        check=1,
    )
    result = json.loads(proc.stdout)
    assert result["systems"] == [{"system": "xxgk", "status": "rolled_back"}]
    assert_served_by(env, SOURCE, before)
    tgt = env["hosts"][TARGET]
    assert not tgt.file("/etc/systemd/system/xxgk-web.service").exists
    assert not tgt.file("/opt/xxgk").exists and not tgt.file("/srv/xxgk/data").exists
    assert not tgt.socket("tcp://127.0.0.1:8080").is_listening
    rows = journal_rows(env["journal"], result["run_id"])
    smoke = [r for r in rows if r["step_name"] == "smoke-test"]
    assert [(r["attempt"], r["status"]) for r in smoke] == [(1, "failed"), (2, "failed")]
    assert "exit 3: injected failure" in smoke[-1]["message"]
    assert [r["step_name"] for r in rows if r["phase"] == "rollback"] == [
        "cleanup-target-data",
        "start-source",
        "cleanup-target",
    ]
    assert all(r["status"] == "ok" for r in rows if r["phase"] == "rollback")


def test_kill_9_then_resume_and_a_second_operator_is_refused(env):
    journal = env["journal"].with_name("journal-kill.db")
    cmd = [
        *CLOUDCTL,
        "-C",
        str(env["center"]),
        "--lang",
        "en",
        "migrate",
        "run",
        "xiaogan-2016",
        "--wave",
        "pilot",
        "--journal",
        str(journal),
    ]
    runner = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        run_id = None
        while time.monotonic() < deadline:
            if journal.exists():
                try:
                    run_id = last_run(journal)["run_id"]
                    running = [r for r in journal_rows(journal, run_id) if r["status"] == "running"]
                except (sqlite3.OperationalError, TypeError):
                    running = []
                if running and running[0]["step_name"] == "sync-data":
                    break
            assert runner.poll() is None, "the runner ended before sync-data"
            time.sleep(0.1)
        else:
            pytest.fail("sync-data never started")
        # a second operator, same wave, while the first one runs: refused, clearly
        second = cloudctl(
            env, "run", "xiaogan-2016", "--wave", "pilot", "--journal", str(journal), check=2
        )
        assert "is being run by" in second.stderr and run_id in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
        os.killpg(runner.pid, signal.SIGKILL)  # the runner and its ansible-playbook die at once
        runner.wait(timeout=10)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
    before_resume = journal_rows(journal, run_id)
    assert [r["status"] for r in before_resume][-1] == "running"  # nobody ended it: it died
    status = json.loads(
        cloudctl(env, "status", run_id, "--journal", str(journal), "-o", "json", check=0).stdout
    )
    assert status["status"] == "interrupted"  # the dead runner is detected, not left running
    cloudctl(env, "resume", run_id, "--journal", str(journal), check=0)
    rows = journal_rows(journal, run_id)
    done_before = [r["step_name"] for r in before_resume if r["status"] == "ok"]
    assert done_before == ["precheck", "backup", "prepare-target", "stop-source"]
    for name in done_before:  # never run again: no row for it after the resume
        assert [r for r in rows if r["step_name"] == name] == [
            r for r in before_resume if r["step_name"] == name
        ], name
    sync = [r["status"] for r in rows if r["step_name"] == "sync-data"]
    assert sync[0] == "interrupted" and sync[-1] == "ok" and sync.count("ok") == 1, sync
    assert [r["step_name"] for r in rows if r["status"] == "ok"][-3:] == [
        "sync-data",
        "cutover",
        "verify",
    ]
    assert_served_by(env, TARGET, digest(env["hosts"][SOURCE]))
    assert last_run(journal)["status"] == "done"


def test_testinfra_fixture_checks_host_keys(lab, lab_testinfra):
    """The lab_testinfra fixture checks host keys against the lab's known_hosts."""
    h = lab_testinfra("legacy-web01")
    assert h.run("true").rc == 0
    import testinfra

    info = lab.hosts["legacy-web01"]
    bad = testinfra.get_host(
        f"ssh://{info.user}@127.0.0.1:{info.port}",
        ssh_identity_file=str(info.key_file),
        ssh_extra_args="-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/dev/null "
        "-o ControlPath=none",
    )
    with pytest.raises(RuntimeError, match="Host key verification failed"):
        bad.run("true")  # an unknown key: refused (the fixture's options, no known key)
