"""Start-up of a command (issue 17): cloudctl.yaml's schema check is remembered, and the
ipam commands do not import what only other commands need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cloudctl.core import center as center_mod
from cloudctl.core.center import load_center
from cloudctl.core.errors import ValidationFailed

GOOD = "name: t\nlab:\n  hosts:\n    - {name: a, groups: [x]}\n"


def _marks(root: Path) -> list[str]:
    return sorted(p.name for p in (root / ".cloudctl" / "cache").glob("center-ok-*"))


@pytest.fixture(autouse=True)
def _state_dir(tmp_path):
    (tmp_path / ".cloudctl").mkdir()  # marks are kept only in an existing state directory


def test_a_passed_check_is_remembered_and_not_run_again(tmp_path, monkeypatch):
    (tmp_path / "cloudctl.yaml").write_text(GOOD)
    load_center(tmp_path)
    assert len(_marks(tmp_path)) == 1

    import cloudctl.core.schema as schema

    def no_check(*_a, **_k):
        raise AssertionError("the schema check ran again for an unchanged cloudctl.yaml")

    monkeypatch.setattr(schema, "check", no_check)
    c = load_center(tmp_path)
    assert c.name == "t" and c.lab_hosts[0].groups == ("x",)


def test_a_bad_file_after_a_good_one_is_still_reported_at_its_line(tmp_path):
    cfg = tmp_path / "cloudctl.yaml"
    cfg.write_text(GOOD)
    load_center(tmp_path)
    before = _marks(tmp_path)
    cfg.write_text("name: t\nlab:\n  hosts:\n    - {name: a, group: [x]}\ntenants_dir: x\n")
    with pytest.raises(ValidationFailed) as e:
        load_center(tmp_path)
    got = sorted(str(p).split("cloudctl.yaml", 1)[1] for p in e.value.problems)
    assert got[0] == ":4: lab host: unknown key 'group' (known: groups, name)"
    assert got[1].startswith(":5: unknown key 'tenants_dir'")
    assert _marks(tmp_path) == before  # a failed check is not remembered
    cfg.write_text(GOOD)  # back to the good text: the old mark still holds
    load_center(tmp_path)
    assert _marks(tmp_path) == before


def test_the_mark_depends_on_the_version_and_the_schema(tmp_path, monkeypatch):
    import cloudctl

    (tmp_path / "cloudctl.yaml").write_text(GOOD)
    load_center(tmp_path)
    first = _marks(tmp_path)
    monkeypatch.setattr(cloudctl, "__version__", "99.0")
    calls = []
    import cloudctl.core.schema as schema

    real = schema.check
    monkeypatch.setattr(schema, "check", lambda *a: calls.append(1) or real(*a))
    load_center(tmp_path)
    assert calls == [1] and _marks(tmp_path) != first and len(_marks(tmp_path)) == 1
    key = center_mod._check_key(GOOD)
    monkeypatch.setattr(center_mod, "_SCHEMA_SOURCES", ("schemas/center.py",))
    assert center_mod._check_key(GOOD) != key


def test_a_read_only_center_is_checked_each_time(tmp_path):
    (tmp_path / "cloudctl.yaml").write_text(GOOD)
    (tmp_path / ".cloudctl").rmdir()
    (tmp_path / ".cloudctl").write_text("not a directory")  # the cache cannot be written
    assert load_center(tmp_path).name == "t"
    assert load_center(tmp_path).name == "t"


def test_reading_a_center_creates_no_state_directory(tmp_path):
    (tmp_path / "cloudctl.yaml").write_text(GOOD)
    (tmp_path / ".cloudctl").rmdir()
    load_center(tmp_path)
    assert not (tmp_path / ".cloudctl").exists()


# ------------------------------------------------------------------ what is imported

PROBE = """
import json, sys
from cloudctl.cli.app import app
sys.argv = ["cloudctl", *sys.argv[1:]]
try:
    app(prog_name="cloudctl")  # not main(): that may leave with os._exit
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules)), file=sys.stderr)
"""


def _modules(args: list[str]) -> set[str]:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    return set(json.loads(r.stderr.strip().splitlines()[-1]))


@pytest.fixture
def center(tmp_path):
    plan = tmp_path / "inventory" / "ipam"
    (plan / "prefixes").mkdir(parents=True)
    (plan / "vrfs.yaml").write_text("vrfs:\n  - {name: gov}\n")
    (plan / "zones.yaml").write_text(
        "zones:\n  - {name: core, vrf: gov, supernets: [10.20.0.0/16], vlans: 1500-1999}\n"
    )
    (plan / "prefixes" / "core.yaml").write_text(
        "zone: core\nprefixes:\n  - {name: czj-block, prefix: 10.20.0.0/20, tenant: czj,"
        " status: container}\n"
    )
    (tmp_path / "inventory" / "departments.yaml").write_text(
        "departments:\n  - {code: czj, kind: department}\n"
    )
    (tmp_path / "cloudctl.yaml").write_text("name: t\n")
    return tmp_path


HEAVY = {"pydantic", "cloudctl.cli.tenant", "cloudctl.tenant.model", "cloudctl.ipam.netbox",
         "cloudctl.ipam.exchange", "rich.tree"}  # fmt: skip


def test_ipam_commands_do_not_import_what_they_do_not_need(center):
    base = ["--center", str(center), "--lang", "en"]
    _modules([*base, "ipam", "validate"])  # the first run checks cloudctl.yaml (pydantic)
    validate = _modules([*base, "ipam", "validate"])
    assert "cloudctl.ipam.model" in validate  # the probe saw the command run
    assert not validate & (HEAVY | {"ruamel.yaml", "cloudctl.core.audit"})
    alloc = _modules(
        [*base, "ipam", "allocate", "-z", "core", "-l", "26", "-t", "czj", "-n", "czj-x",
         "--within", "czj-block"]
    )  # fmt: skip
    assert "cloudctl.core.audit" in alloc  # a changing command writes its audit trail
    assert not alloc & (HEAVY | {"ruamel.yaml"})  # a plain entry is written without it


# ------------------------------------------------------------------ leaving quickly


def test_a_read_only_command_leaves_with_os_exit_only_when_safe(monkeypatch):
    import atexit
    import threading

    from cloudctl.cli import app, common

    calls: list[int] = []
    monkeypatch.setattr(app.os, "_exit", calls.append)
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    monkeypatch.setattr(common, "_QUICK_EXIT", [False])
    app._leave_quickly(0)
    assert calls == []  # not asked for: a normal exit
    common.quick_exit_ok()
    app._leave_quickly(2)
    app._leave_quickly(None)
    app._leave_quickly("a message")  # SystemExit("text") prints it: the normal path
    assert calls == [2, 0]
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 1)  # e.g. a temporary directory
    app._leave_quickly(0)
    monkeypatch.setattr(atexit, "_ncallbacks", lambda: 0)
    monkeypatch.setattr(threading, "active_count", lambda: 2)  # a thread still running
    app._leave_quickly(0)
    assert calls == [2, 0]


def test_quick_exit_keeps_all_output_and_the_exit_code(center):
    """Through the real entry point, stdout to a pipe: the whole document and the codes."""
    exe = Path(sys.executable).parent / "cloudctl"
    base = [str(exe), "--center", str(center), "--lang", "en"]
    r = subprocess.run([*base, "ipam", "show", "-o", "json"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["schema"].startswith("cloudctl.ipam.show")
    bad = center / "inventory" / "ipam" / "prefixes" / "core.yaml"
    bad.write_text(bad.read_text() + "  - {name: x, prefix: 10.20.0.1/24}\n")
    r = subprocess.run([*base, "ipam", "validate"], capture_output=True, text=True)
    assert r.returncode == 2 and "core.yaml:4:" in r.stderr and "10.20.0.0/24" in r.stderr


def test_only_the_invoked_area_command_is_built_and_nothing_partial_is_kept():
    import click
    import typer

    from cloudctl.cli.app import app

    root = typer.main.get_command(app)
    ctx = click.Context(root)
    ctx.meta["cloudctl.rest"] = ["allocate", "-z", "core"]
    one = root.get_command(ctx, "ipam")
    assert set(one.commands) == {"allocate"}
    assert any(p.name == "prefixlen" for p in one.commands["allocate"].params)
    every = root.get_command(click.Context(root), "ipam")  # help, listings: all of them
    assert {"validate", "allocate", "drift", "export", "import"} <= set(every.commands)
    ctx.meta["cloudctl.rest"] = ["--help"]
    assert len(root.get_command(ctx, "ipam").commands) == len(every.commands)


@pytest.mark.parametrize(
    "args", [["ipam", "export", "-f", "json"], ["ipam", "show"]], ids=["plain", "rich"]
)
def test_a_reader_that_goes_away_ends_the_command_quietly(args):
    """`cloudctl ipam export -f json | head`: no 'internal error' when the pipe closes
    early, whether plain or rich text was being written; the exit status is a pipe
    writer's (128 + SIGPIPE), not rich's 1 (= findings)."""
    import os

    root = Path(__file__).resolve().parents[2]
    p = subprocess.Popen(
        [sys.executable, "-m", "cloudctl", "--center", str(root), "--lang", "en", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "CLOUDCTL_LANG": "en"},
    )  # fmt: skip
    assert p.stdout is not None and p.stderr is not None
    p.stdout.close()  # the reader is gone before the first byte is written
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141, err
    assert err == ""
