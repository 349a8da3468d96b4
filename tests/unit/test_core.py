"""Foundation: locations in YAML, atomic writes, locks, audit, center discovery, errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cloudctl.core import audit
from cloudctl.core.center import load_center
from cloudctl.core.errors import ConflictError, InputError, Location, Problem, ValidationFailed
from cloudctl.core.fileio import atomic_write, file_lock
from cloudctl.core.output import to_json, to_yaml
from cloudctl.core.yamlio import load_yaml, load_yaml_text


def test_yaml_keeps_lines_of_keys_and_items():
    doc = load_yaml_text("a: 1\nitems:\n  - name: x\n    v: 2\n  - name: y\n", "f.yaml")
    assert doc.loc("items") == Location("f.yaml", 2)
    assert doc["items"].loc(1) == Location("f.yaml", 5)
    assert doc["items"][0].loc("v") == Location("f.yaml", 4)


def test_malformed_yaml_names_file_and_line():
    with pytest.raises(InputError) as e:
        load_yaml_text("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert str(e.value).startswith("bad.yaml:")
    assert "malformed YAML" in str(e.value)


def test_duplicate_key_is_an_error_with_its_line():
    with pytest.raises(InputError) as e:
        load_yaml_text("a: 1\nb: 2\na: 3\n", "d.yaml")
    assert str(e.value) == "d.yaml:3: duplicate key 'a'"


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_yaml(tmp_path / "nope.yaml")


def test_validation_failed_sorts_problems():
    err = ValidationFailed([Problem(Location("b", 2), "y"), Problem(Location("a", 9), "x")])
    assert [str(p) for p in err.problems] == ["a:9: x", "b:2: y"]


def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path):
    p = tmp_path / "plan.yaml"
    p.write_text("old")
    os.chmod(p, 0o600)
    atomic_write(p, "new")
    assert p.read_text() == "new"
    assert (p.stat().st_mode & 0o777) == 0o600
    assert [x.name for x in tmp_path.iterdir()] == ["plan.yaml"]


def _hold_lock(path, seconds, ready):
    with file_lock(path):
        ready.set()
        time.sleep(seconds)


def test_file_lock_excludes_a_second_holder(tmp_path):
    target = tmp_path / "plan.yaml"
    ready = multiprocessing.Event()
    proc = multiprocessing.Process(target=_hold_lock, args=(target, 2, ready))
    proc.start()
    try:
        assert ready.wait(10)
        with (
            pytest.raises(ConflictError, match="locked by another cloudctl"),
            file_lock(target, timeout=0.3),
        ):
            pass
    finally:
        proc.join()
    with file_lock(target, timeout=1):  # free again once the holder is gone
        pass


def test_audit_record_masks_secrets(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["cloudctl", "tenant", "apply", "--password", "hunter2"])
    log = tmp_path / "audit.log"
    audit.record(log, "tenant.apply", {"user": "u1", "password": "hunter2"})
    text = log.read_text()
    assert "hunter2" not in text
    rec = json.loads(text)
    assert rec["action"] == "tenant.apply" and rec["user"] and rec["time"]
    assert rec["changes"]["password"] == "***"


def test_center_found_upwards_and_overridden(tmp_path, monkeypatch):
    (tmp_path / "cloudctl.yaml").write_text("name: c1\nstate: st\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("CLOUDCTL_CENTER", raising=False)
    c = load_center()
    assert c.root == tmp_path.resolve() and c.name == "c1"
    assert c.audit_log == tmp_path.resolve() / "st" / "audit.log"
    other = tmp_path / "other"
    other.mkdir()
    (other / "cloudctl.yaml").write_text("name: c2\n")
    monkeypatch.setenv("CLOUDCTL_CENTER", str(other))
    assert load_center().name == "c2"
    assert load_center(tmp_path).name == "c1"


def test_no_center_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLOUDCTL_CENTER", raising=False)
    with pytest.raises(InputError, match=r"no cloudctl\.yaml"):
        load_center()


def test_renderers_keep_chinese():
    data = [{"name": "市财政局", "n": 1}]
    assert "市财政局" in to_json(data)
    assert "市财政局" in to_yaml(data)


def test_cli_help_lists_areas(cli):
    r = cli("--help")
    assert r.exit_code == 0
    assert "audit" in r.output


def test_cli_version_as_subprocess():
    r = subprocess.run(
        [sys.executable, "-m", "cloudctl", "--version"], capture_output=True, text=True, check=False
    )
    assert r.returncode == 0 and r.stdout.startswith("cloudctl ")


def test_cli_error_without_center_is_exit_2_no_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CLOUDCTL_CENTER"}
    r = subprocess.run(
        [sys.executable, "-m", "cloudctl", "--lang", "en", "audit", "log"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "no cloudctl.yaml" in r.stderr


def test_audit_log_command_reads_records(cli, center: Path):
    audit.record(center / ".cloudctl" / "audit.log", "ipam.allocate", {"name": "x"})
    r = cli("--center", str(center), "audit", "log", "-o", "json")
    assert r.exit_code == 0
    assert json.loads(r.output)["items"][0]["action"] == "ipam.allocate"


def test_a_damaged_audit_log_is_reported_at_its_line(cli, center: Path):
    log = center / ".cloudctl" / "audit.log"
    audit.record(log, "ipam.allocate", {"name": "x"})
    for damage in (b'{"action": "ipam.rel', b"\xff\xfe{}"):
        before = log.read_bytes()
        log.write_bytes(before + damage + b"\n")
        r = cli("--center", str(center), "--lang", "en", "audit", "log")
        assert r.exit_code == 2, r.output
        assert f"{log}:2: damaged audit record" in r.output
        log.write_bytes(before)


def test_atomic_write_new_file_gets_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "new.csv", "x")
    finally:
        os.umask(old)
    assert ((tmp_path / "new.csv").stat().st_mode & 0o777) == 0o644


def test_atomic_write_private_mode_for_secrets(tmp_path):
    p = tmp_path / "secrets.yaml"
    p.write_text("old")
    os.chmod(p, 0o644)
    atomic_write(p, "new", mode=0o600)
    assert (p.stat().st_mode & 0o777) == 0o600


def test_areas_are_imported_only_when_named():
    """Start-up stays short: a baseline command never loads the tenant or ipam code."""
    code = (
        "import sys\n"
        "from cloudctl.cli.app import app\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(app, ['baseline', '--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "other = ('cloudctl.tenant', 'cloudctl.ipam')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(other))\n"
        "print(loaded)\n"
        "assert not loaded\n"
        "assert 'cloudctl.baseline' in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_audit_records_are_chained_and_read_returns_what_changed(tmp_path):
    log = tmp_path / "audit.log"
    a = audit.record(log, "ipam.allocate", {"name": "x"})
    trail = audit.Trail(audit.FileStore(log))
    run = trail.begin("ipam.release", {"name": "x"})
    b = trail.change("ipam.release", {"removed": "x"}, run=run)
    c = trail.end(run, "ok", 0)
    assert (a["seq"], a["prev"]) == (1, audit.GENESIS)
    got = [r for _loc, r in audit.records(log)]
    assert [r["seq"] for r in got] == [1, 2, 3, 4]
    assert [r["prev"] for r in got[1:]] == [r["hash"] for r in got[:-1]]
    assert got[1]["kind"] == "intent" and b["run"] == c["run"] == got[1]["run"] == run.id
    assert [r["action"] for r in audit.read(log)] == ["ipam.allocate", "ipam.release"]
    for _loc, r in audit.records(log):
        assert r["hash"] == audit.record_hash(r)
    assert audit.FileStore(log).head() == audit.Head(4, c["hash"])


def test_audit_link_after_and_last_line(tmp_path):
    assert audit.link_after(None) == (1, audit.GENESIS)
    legacy = b'{"action": "lab.up"}'
    assert audit.link_after(legacy)[0] == 1 and audit.link_after(legacy)[1] != audit.GENESIS
    assert audit.link_after(b'{"seq": 7, "hash": "h"}') == (8, "h")
    with pytest.raises(audit.AuditError, match="damaged"):
        audit.link_after(b'{"seq": 7, "ha')
    f = tmp_path / "f"
    f.write_bytes(b"one\n" + b"x" * 20000 + b"\n\n\n")
    fd = os.open(f, os.O_RDONLY)
    try:
        assert audit._last_line(fd) == b"x" * 20000
    finally:
        os.close(fd)


def test_audit_verify_is_pure_over_lines(tmp_path):
    log = tmp_path / "audit.log"
    for i in range(3):
        audit.record(log, "t.x", {"i": i})
    store = audit.FileStore(log)
    lines = list(store.lines())
    assert audit.verify(lines, store.head()).ok
    bad = [lines[0], audit.Line(lines[1].location, lines[1].raw.replace(b'"i":1', b'"i":9'))]
    v = audit.verify([*bad, lines[2]], None)
    assert not v.ok and v.broken.location == lines[1].location
    assert "seq 2 was changed" in v.broken.message


def test_audit_redact_scrubs_secret_text():
    assert audit.scrub("bad line: password: hunter2 here") == "bad line: password: *** here"
    assert audit.scrub("OS_PASSWORD=abc x") == "OS_PASSWORD=*** x"
    assert audit.redact({"note": "token=abc", "db_password": "x"}) == {
        "note": "token=***",
        "db_password": "***",
    }
    assert audit.command_line(["tenant", "--os-password", "s3", "--x=token=abc"]) == (
        "cloudctl tenant --os-password *** --x=***"
    )
