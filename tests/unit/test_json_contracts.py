"""The data contract of every JSON/YAML document a read command prints (docs/conventions.md):
a ``schema`` name, ISO-8601 times with a time zone, typed values, and the same document
from two identical runs once the timing fields (``TIMING_KEYS``) are taken out.

Every read-only command of ``cloudctl.cli.app.READ_ONLY`` is listed below, with the
arguments it is run with on a copy of the sample center or the reason it cannot run here
(a new read command fails ``test_every_read_command_is_covered`` until it is listed)."""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from baseline.fixtures import good_evidence, mutated
from baseline.test_controls import BREAK

from cloudctl.cli.app import READ_ONLY
from cloudctl.core.output import TIMING_KEYS

ROOT = Path(__file__).resolve().parents[2]
EV1, EV2 = "ev1.json", "ev2.json"  # in the center dir (placeholders below)

# command -> list of argument lists (after the command words), or why it is not run here
COMMANDS: dict[str, list[list[str]] | str] = {
    "ipam validate": [[]],
    "ipam show": [[], ["--tenant", "czj"], ["--zone", "core"], ["--tree", "--zone", "ops"]],
    "ipam free": [["--zone", "core"], ["--zone", "core", "--prefixlen", "24"]],
    "ipam export": [["-f", "json"]],
    "ipam drift": "reads the cloud (lab: tests/integration/test_tenant.py)",
    "tenant validate": [[]],
    "tenant plan": "reads the cloud (lab: tests/integration/test_tenant_saved_plan.py)",
    "tenant drift": "reads the cloud (lab: tests/integration/test_tenant.py)",
    "baseline check": "logs into hosts (lab: tests/integration/test_baseline.py)",
    "baseline report": [[EV1]],
    "baseline runs": [[]],
    "baseline diff": [[]],
    "baseline controls": [[]],
    "migrate validate": "prints text only (no --output yet: issue 14 §1)",
    "migrate plan": [[], ["--auto-waves", "--max-per-wave", "8"]],
    "migrate status": [[], ["--steps"]],
    "migrate history": [[]],
    "migrate report": [["-f", "json"]],
    "lab status": "a live readout of the lab's processes (pids, memory, latency)",
    "domains validate": [[]],
    "domains check": [[]],
    "domains matrix": [[]],
    "capacity": [["--usage", "file"]],
    "report": [["--usage", "file", "--out", "center.html"]],
    "audit log": [[], ["--records"]],
    "audit verify": [[]],
    "state status": [[]],
    "schema export": [["tenant", "--out", "@schemas-out"]],
    "schema validate": [["tenant", "@inventory/tenants/czj.yaml", "@inventory/tenants/fgw.yaml"]],
}

# "2026-11-30 09:05" or "2026-11-30T09:05:31+08:00": a time of day must carry its zone
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_SCHEMA = re.compile(r"^cloudctl\.[a-z0-9-]+(\.[a-z0-9-]+)*/[1-9][0-9]*$")


@pytest.fixture(scope="module")
def center(tmp_path_factory) -> Path:
    """A copy of the sample center with history: an allocation in the audit log, two
    stored baseline runs, a finished migration run with steps in the journal."""
    from typer.testing import CliRunner

    from cloudctl.cli.app import app
    from cloudctl.core.center import load_center
    from cloudctl.migrate.journal import Journal
    from cloudctl.migrate.service import default_journal

    root = tmp_path_factory.mktemp("center")
    shutil.copy(ROOT / "cloudctl.yaml", root / "cloudctl.yaml")
    shutil.copy(ROOT / "capacity.yaml", root / "capacity.yaml")
    for d in ("inventory", "policies", "playbooks", "migration_plans"):
        shutil.copytree(ROOT / d, root / d)
    for name, ev in ((EV1, good_evidence()), (EV2, mutated(BREAK["shell-tmout"]))):
        doc = {
            "schema": "cloudctl.baseline.evidence/1",
            "generated_at": "2026-11-30T09:00:00+08:00",
            "hosts": {"yun-db01": {"status": "ok", "evidence": ev}},
        }
        (root / name).write_text(json.dumps(doc))
    runner = CliRunner()

    def run(*args: str) -> None:
        r = runner.invoke(app, ["--center", str(root), *args], catch_exceptions=False)
        assert r.exit_code in (0, 1), r.output

    run("ipam", "allocate", "--zone", "core", "--tenant", "czj", "--prefixlen", "24",
        "--name", "czj-app9")  # fmt: skip
    run("baseline", "report", str(root / EV1), "--store")
    run("baseline", "report", str(root / EV2), "--store")
    j = Journal(default_journal(load_center(root)))
    run_id = j.create_run(
        kind="run", plan_name="xiaogan-2016", plan_path=None, plan_sha=None, wave="pilot",
        snapshot=[], options={},
    )  # fmt: skip
    row, _attempt = j.step_start(run_id, "xxgk", "forward", 0, "preflight", "check")
    j.step_end(row, "ok", rc=0)
    j.finish_run(run_id, "done")
    j.close()
    return root


def _argv(center: Path, command: str, args: list[str]) -> list[str]:
    # EV1, EV2, center.html and "@path": files of the center copy
    args = [
        str(center / a.removeprefix("@"))
        if a in (EV1, EV2, "center.html") or a.startswith("@")
        else a
        for a in args
    ]
    fmt = [] if "-f" in args else ["-o", "json"]
    return ["--center", str(center), "--lang", "en", *command.split(), *args, *fmt]


def _invoke(argv: list[str]):
    from typer.testing import CliRunner

    from cloudctl.cli.app import app

    return CliRunner().invoke(app, argv, catch_exceptions=False)


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _walk(value, path=""):
    """(path, key, value) of every value in a document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield f"{path}[{i}]", None, v
            yield from _walk(v, f"{path}[{i}]")


def test_every_read_command_is_covered():
    assert set(COMMANDS) == set(READ_ONLY)


CASES = [
    pytest.param(cmd, args, id=" ".join([cmd, *args]))
    for cmd, runs in COMMANDS.items()
    if not isinstance(runs, str)
    for args in runs
]


@pytest.mark.parametrize(("command", "args"), CASES)
def test_document_contract(center, command, args):
    first = _invoke(_argv(center, command, args))
    assert first.exit_code in (0, 1), first.output
    doc = json.loads(first.stdout)
    assert isinstance(doc, dict) and _SCHEMA.match(doc.get("schema", "")), doc.get("schema")
    assert next(iter(doc)) == "schema"
    times = 0
    for where, key, value in _walk(doc):
        if isinstance(value, str) and _TIMESTAMP.match(value):
            parsed = datetime.fromisoformat(value)  # ISO-8601, or this raises
            assert parsed.tzinfo is not None, f"{where}: {value!r} has no time zone"
            times += 1
        if key is not None:  # keys are names, never data such as "fits_/24"
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", str(key)), f"{where}: key {key!r}"
    if command in ("migrate status", "migrate history", "audit log", "baseline runs"):
        assert times, "these documents carry times"
    second = _invoke(_argv(center, command, args))
    assert _without_timing(json.loads(second.stdout)) == _without_timing(doc)


def test_yaml_is_the_same_document(center):
    as_json = json.loads(_invoke(_argv(center, "tenant validate", [])).stdout)
    argv = _argv(center, "tenant validate", [])
    as_yaml = yaml.safe_load(_invoke([*argv[:-2], "-o", "yaml"]).stdout)
    assert as_yaml == as_json and as_yaml["schema"] == "cloudctl.tenant.validate/1"


def test_values_are_typed_not_joined_text(center):
    t = json.loads(_invoke(_argv(center, "tenant validate", [])).stdout)
    czj = next(x for x in t["tenants"] if x["tenant"] == "czj")
    assert czj["subnets"] == ["czj-app", "czj-web", "czj-db"]
    assert isinstance(czj["security_groups"], list)
    z = json.loads(_invoke(_argv(center, "ipam show", [])).stdout)["items"]
    inet = next(x for x in z if x["zone"] == "internet")
    assert inet["supernets"] == ["10.10.0.0/22", "203.0.113.0/26"]
    assert inet["vlans"] == {"first": 100, "last": 149}
    free = json.loads(_invoke(_argv(center, "ipam free", ["--zone", "core", "-l", "26"])).stdout)
    assert {tuple(sorted(r)) for r in free["items"]} == {
        ("block", "first", "fits", "fits_prefixlen", "last", "size")
    }
    h = json.loads(_invoke(_argv(center, "migrate history", [])).stdout)["items"]
    assert h[0]["systems"] == {} and h[0]["started"].endswith(h[0]["started"][-6:])


def test_migrate_times_are_iso_with_zone(center):
    st = json.loads(_invoke(_argv(center, "migrate status", ["--steps"])).stdout)
    for value in (st["started"], st["ended"], st["steps"][0]["started"]):
        assert datetime.fromisoformat(value).tzinfo is not None
    rep = json.loads(_invoke(_argv(center, "migrate report", ["-f", "json"])).stdout)
    assert "generated" not in rep and datetime.fromisoformat(rep["generated_at"]).tzinfo
