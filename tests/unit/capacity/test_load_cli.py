"""capacity.yaml errors at file:line, the plan's `resources` field, phase 2 on the sample
center, and the CLI's exit codes (0 nothing runs out, 1 something does, 2 bad input)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cloudctl.capacity.load import load_config, parse_config
from cloudctl.capacity.model import (
    CapacityInputs,
    SystemDemand,
    ZoneAddresses,
    forecast,
)
from cloudctl.cli.app import app
from cloudctl.core.errors import ValidationFailed
from cloudctl.core.yamlio import load_yaml_text
from cloudctl.migrate.model import load_plan

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = (ROOT / "capacity.yaml").read_text()


def problems_of(text: str) -> list[str]:
    with pytest.raises(ValidationFailed) as e:
        parse_config(load_yaml_text(text, "cap.yaml"), "cap.yaml")
    return [str(p) for p in e.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_sample_loads():
    cfg = load_config(ROOT / "capacity.yaml")
    assert cfg.vcpu == 16 * 36 * 3.0 + 4 * 44 * 1.0
    assert cfg.ram_gb == 16 * 240 + 4 * 480
    assert str(cfg.as_of) == "2016-06"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("    count: 16", "    count: -3", "count: must be > 0"),
        ("    count: 16", "    count: 2.5", "expected a whole number"),
        (
            "overcommit: {cpu: 3.0, ram: 1.0}\n    reserved: {vcpu: 4, ram_gb: 16}     #",
            "overcommit: {cpu: lots, ram: 1.0}\n    reserved: {vcpu: 4, ram_gb: 16}     #",
            "overcommit.cpu: expected a number",
        ),
        ("    profile: x86-2u-db", "    profile: x86-4u-db", "unknown server profile 'x86-4u-db'"),
        ("as_of: 2016-06 ", "as_of: 2016-13 ", "not a month"),
        ("    pilot: 2016-07", "    pilot: soon", "not a month"),
        ("    max_fill: 0.85              #", "    max_fill: 1.5              #", "max_fill"),
        # the profile that no longer fits is named where phase 2 chooses it
        ("    kw: 6.0 ", "    kw: 0.3 ", "phase2.compute: a x86-2u-compute does not fit"),
        ("  vcpu: 760", "  vcpus: 760", "unknown field `vcpus`"),
    ],
)
def test_input_errors_at_file_line(old, new, message):
    assert old in SAMPLE, old
    text = SAMPLE.replace(old, new, 1)
    probs = problems_of(text)
    hit = [p for p in probs if message in p]
    assert hit, probs
    m = re.match(r"cap\.yaml:(\d+): ", hit[0])
    assert m, hit[0]
    needle = "  compute:" if "phase2.compute" in message else new.split("\n")[0].strip()[:20]
    assert int(m.group(1)) == line_of(text, needle)


def test_plan_resources_must_be_positive_numbers(tmp_path):
    src = (ROOT / "migration_plans" / "xiaogan-2016.yaml").read_text()
    (tmp_path / "templates").mkdir()
    for t in (ROOT / "migration_plans" / "templates").iterdir():
        shutil.copy(t, tmp_path / "templates" / t.name)
    bad = src.replace("resources: {vcpu: 4, ram_gb: 8,", "resources: {vcpu: -4, ram_gb: lots,", 1)
    bad = bad.replace("public_ips: 0}", "public_ips: 0, gpus: 2}", 1)
    f = tmp_path / "p.yaml"
    f.write_text(bad)
    probs = [str(p) for p in load_plan(f).problems]
    line = line_of(bad, "vcpu: -4")
    assert any(
        p.endswith(f"p.yaml:{line}: resources.vcpu: expected a positive number, not -4")
        for p in probs
    ), probs
    assert any("resources.ram_gb: expected a positive number" in p for p in probs)
    assert any("resources: unknown field `gpus`" in p for p in probs)
    good = load_plan(ROOT / "migration_plans" / "xiaogan-2016.yaml")
    assert good.systems["shbx"].resources == {
        "vcpu": 48,
        "ram_gb": 192,
        "disk_gb": 7000,
        "public_ips": 1,
    }


def _inputs(demands, usage=None) -> CapacityInputs:
    cfg = load_config(ROOT / "capacity.yaml")
    return CapacityInputs(
        config=cfg,
        demands=demands,
        zones=[ZoneAddresses("core", "核心业务区", "core", 65536, 1000)],
        public=ZoneAddresses("public", "", "", 55, 0),
        usage=usage or dict(cfg.usage),
        usage_source="file",
    )


def test_a_wave_of_demand_moves_the_run_out_earlier():
    big = SystemDemand(
        "x",
        "",
        "",
        "w",
        load_config(ROOT / "capacity.yaml").as_of.plus(3),
        vcpu=800,
        ram_gb=100,
        disk_gb=10,
    )
    base = {r.key: r for r in forecast(_inputs([]), 36).resources}
    more = {r.key: r for r in forecast(_inputs([big]), 36).resources}
    assert more["vcpu"].runs_out is not None
    assert base["vcpu"].runs_out is None or more["vcpu"].runs_out < base["vcpu"].runs_out
    assert more["vcpu"].series[3] - more["vcpu"].series[2] > 800  # it arrives in month 3


def test_phase2_covers_the_shortfall_with_a_spare():
    fc = forecast(_inputs([], {"vcpu": 3000, "ram_gb": 100, "storage_gb": 0, "public_ips": 0}), 1)
    cfg = load_config(ROOT / "capacity.yaml")
    need = fc.phase2
    per = cfg.phase2.compute.vcpu_per_host
    vcpu = next(r for r in fc.resources if r.key == "vcpu")
    assert need.compute_for_vcpu == -(-vcpu.shortfall // per)
    assert need.compute_servers == need.compute_for_vcpu + 1
    assert need.storage_nodes == 0
    assert need.racks.racks >= 1
    # nothing short: nothing to buy, no rack
    none = forecast(_inputs([], {"vcpu": 0, "ram_gb": 0, "storage_gb": 0, "public_ips": 0}), 1)
    assert none.phase2.compute_servers == 0 and none.phase2.racks.racks == 0


# ----------------------------------------------------------------------------- CLI


def _center(tmp_path: Path, capacity_text: str) -> Path:
    c = tmp_path / "c"
    c.mkdir()
    (c / "cloudctl.yaml").write_text(
        "name: t\n"
        f"address_plan: {ROOT / 'inventory/ipam'}\n"
        f"departments: {ROOT / 'inventory/departments.yaml'}\n"
        f"tenants: {ROOT / 'inventory/tenants'}\n"
        f"hosts_inventory: {ROOT / 'inventory/hosts'}\n"
        f"playbooks: {ROOT / 'playbooks'}\n"
        f"migration_plans: {ROOT / 'migration_plans'}\n"
        f"policies: {ROOT / 'policies'}\n"
        "capacity: cap.yaml\n"
    )
    (c / "cap.yaml").write_text(capacity_text)
    return c


def run(center: Path, *args: str):
    return CliRunner().invoke(app, ["--center", str(center), *args], env={"OS_CLOUD": ""})


def test_cli_exit_1_when_something_runs_out(tmp_path):
    c = _center(tmp_path, SAMPLE)
    r = run(c, "capacity", "-o", "json", "--usage", "file")
    assert r.exit_code == 1, r.output
    data = json.loads(r.stdout)
    assert {x["resource"] for x in data["resources"]} >= {"vcpu", "ram_gb", "storage_gb"}
    storage = next(x for x in data["resources"] if x["resource"] == "storage_gb")
    assert storage["runs_out"] is not None
    assert len(storage["monthly"]) == 37
    assert data["phase2"]["racks"] >= 1


def test_cli_exit_0_when_nothing_runs_out_within_a_short_horizon(tmp_path):
    c = _center(tmp_path, SAMPLE)
    r = run(c, "--lang", "en", "capacity", "--horizon", "3", "--usage", "file")
    assert r.exit_code == 0, r.output
    assert "phase 2 needs" in r.stdout


def test_cli_bad_file_is_exit_2_with_file_line(tmp_path):
    c = _center(tmp_path, SAMPLE.replace("    count: 16", "    count: zero", 1))
    r = run(c, "--lang", "en", "capacity", "--usage", "file")
    assert r.exit_code == 2
    line = line_of(SAMPLE.replace("    count: 16", "    count: zero", 1), "count: zero")
    assert f"cap.yaml:{line}: host class general.count: expected a whole number" in r.stderr
    assert "Traceback" not in r.output


def test_cli_bad_horizon_is_exit_2(tmp_path):
    c = _center(tmp_path, SAMPLE)
    assert run(c, "capacity", "--horizon", "0", "--usage", "file").exit_code == 2


def test_cli_writes_the_chart(tmp_path):
    c = _center(tmp_path, SAMPLE)
    out = tmp_path / "f.svg"
    r = run(c, "--lang", "en", "capacity", "--usage", "file", "--chart", str(out))
    assert r.exit_code == 1
    assert out.read_text().startswith("<svg")
