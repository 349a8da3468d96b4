"""The ipam commands through CliRunner: exit codes, output, files, audit."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from cloudctl.core import audit

CORE = Path("inventory/ipam/prefixes/core.yaml")


def run(cli, center: Path, *args: str):
    return cli("--center", str(center), "--lang", "en", "ipam", *args)


def snapshot(center: Path) -> dict[str, bytes]:
    root = center / "inventory" / "ipam"
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*.yaml"))}


def test_validate_ok_prints_one_line(cli, sample_center):
    r = run(cli, sample_center, "validate")
    assert r.exit_code == 0
    assert len(r.output.strip().splitlines()) == 1 and "146 prefixes" in r.output


def test_validate_reports_every_problem_and_exits_2(cli, sample_center, monkeypatch):
    monkeypatch.chdir(sample_center)  # paths in messages are relative to the working dir
    core = sample_center / CORE
    text = core.read_text(encoding="utf-8")
    text = text.replace("prefix: 10.20.19.0/24", "prefix: 10.20.18.0/24")  # rsj-app onto czj-app
    text = text.replace("gateway: 10.20.20.1", "gateway: 10.20.21.1")  # wjw-app gateway outside
    core.write_text(text, encoding="utf-8")
    r = run(cli, sample_center, "validate")
    assert r.exit_code == 2
    core_yaml = "inventory/ipam/prefixes/core.yaml"
    lines = [ln for ln in r.stderr.splitlines() if "core.yaml:" in ln]
    assert lines == [
        f"{core_yaml}:48: prefix rsj-app: 10.20.18.0/24 is listed twice in VRF gov "
        f"(also czj-app at {core_yaml}:41)",
        f"{core_yaml}:48: prefix rsj-app: gateway 10.20.19.1 is outside 10.20.18.0/24",
        f"{core_yaml}:48: prefix rsj-app: pool 10.20.19.10-10.20.19.254 is outside 10.20.18.0/24",
        f"{core_yaml}:55: prefix wjw-app: gateway 10.20.21.1 is outside 10.20.20.0/24",
    ]
    assert r.stderr.splitlines()[-1] == "cloudctl: 4 problem(s) in the address plan"
    assert "Traceback" not in r.output


def test_validate_json(cli, sample_center):
    r = run(cli, sample_center, "validate", "-o", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["ok"] is True


def test_show_zones_tenant_and_tree(cli, sample_center):
    r = run(cli, sample_center, "show", "-o", "json")
    zones = {z["zone"]: z for z in json.loads(r.stdout)["items"]}
    assert set(zones) == {"internet", "dmz", "extranet", "core", "data", "ops", "secmgmt", "drill"}
    assert zones["ops"]["used"] == 3072 and zones["ops"]["util"] == 75.0
    r = run(cli, sample_center, "show", "--tenant", "czj", "-o", "yaml")
    rows = yaml.safe_load(r.stdout)["items"]
    assert {x["name"] for x in rows} == {"czj-app", "czj-web", "czj-db", "czj-app-dr"}
    r = run(cli, sample_center, "show", "--tree", "--zone", "ops")
    assert r.exit_code == 0 and "ops-svc" in r.stdout and "75.0%" in r.stdout
    r = run(cli, sample_center, "show", "--zone", "mars")
    assert r.exit_code == 2 and "unknown zone 'mars'" in r.stderr


def test_free_is_merged(cli, sample_center):
    r = run(cli, sample_center, "free", "--zone", "core", "--prefixlen", "24", "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cloudctl.ipam.free/1"
    rows = doc["items"]
    assert [x["block"] for x in rows] == [
        "10.20.61.0/24",
        "10.20.62.0/23",
        "10.20.64.0/18",
        "10.20.128.0/17",
    ]
    assert rows[1]["fits"] == 2 and rows[1]["fits_prefixlen"] == 24


def test_allocate_writes_in_place_keeping_comments_and_is_idempotent(cli, sample_center):
    core = sample_center / CORE
    before = core.read_text(encoding="utf-8")
    r = run(
        cli,
        sample_center,
        "allocate",
        "--zone",
        "core",
        "--tenant",
        "czj",
        "--prefixlen",
        "24",
        "--name",
        "czj-app2",
        "--purpose",
        "财政二期",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["created"] is True and out["prefix"] == "10.20.61.0/24"
    after = core.read_text(encoding="utf-8")
    assert after.startswith(before)  # every old byte, comments included, unchanged
    added = yaml.safe_load(after[len(before) :])
    assert added == [
        {
            "name": "czj-app2",
            "prefix": "10.20.61.0/24",
            "tenant": "czj",
            "vlan": 1500,
            "purpose": "财政二期",
            "gateway": "10.20.61.1",
            "pools": ["10.20.61.10-10.20.61.254"],
        }
    ]
    recs = audit.read(sample_center / ".cloudctl" / "audit.log")
    assert (
        recs[-1]["action"] == "ipam.allocate" and recs[-1]["changes"]["added"]["name"] == "czj-app2"
    )
    # again: same answer, nothing written, no new audit record
    r = run(
        cli,
        sample_center,
        "allocate",
        "--zone",
        "core",
        "--tenant",
        "czj",
        "--prefixlen",
        "24",
        "--name",
        "czj-app2",
        "-o",
        "json",
    )
    assert r.exit_code == 0 and json.loads(r.stdout)["created"] is False
    assert core.read_text(encoding="utf-8") == after
    assert len(audit.read(sample_center / ".cloudctl" / "audit.log")) == len(recs)
    assert run(cli, sample_center, "validate").exit_code == 0


def test_allocate_dry_run_changes_nothing(cli, sample_center):
    before = snapshot(sample_center)
    r = run(
        cli,
        sample_center,
        "allocate",
        "-z",
        "data",
        "-t",
        "rsj",
        "-l",
        "26",
        "-n",
        "rsj-db2",
        "--dry-run",
    )
    assert r.exit_code == 0 and "dry run" in r.stdout
    assert snapshot(sample_center) == before
    assert not (sample_center / ".cloudctl" / "audit.log").exists()


def test_failed_allocate_leaves_files_byte_for_byte(cli, sample_center):
    before = snapshot(sample_center)
    r = run(
        cli, sample_center, "allocate", "-z", "extranet", "-t", "czj", "-l", "22", "-n", "czj-ext"
    )
    assert r.exit_code == 2
    assert "no free /22 left in zone extranet" in r.stderr
    assert snapshot(sample_center) == before


def test_allocate_refuses_on_a_broken_plan(cli, sample_center):
    core = sample_center / CORE
    core.write_text(
        core.read_text(encoding="utf-8").replace("tenant: czj", "tenant: nobody"), encoding="utf-8"
    )
    before = snapshot(sample_center)
    r = run(cli, sample_center, "allocate", "-z", "core", "-t", "rsj", "-l", "24", "-n", "rsj-app2")
    assert r.exit_code == 2 and "unknown tenant 'nobody'" in r.stderr
    assert snapshot(sample_center) == before


def test_allocate_into_a_new_zone_file(cli, mini):
    r = cli(
        "--center",
        str(mini.root),
        "ipam",
        "allocate",
        "-z",
        "data",
        "-t",
        "czj",
        "-l",
        "26",
        "-n",
        "czj-db",
    )
    assert r.exit_code == 0, r.output
    doc = yaml.safe_load((mini.plan / "prefixes" / "data.yaml").read_text(encoding="utf-8"))
    assert doc["zone"] == "data" and doc["prefixes"][0]["prefix"] == "10.30.0.0/26"


def test_release_refuses_with_children_unless_recursive(cli, sample_center):
    before = snapshot(sample_center)
    r = run(cli, sample_center, "release", "core-infra")
    assert r.exit_code == 2 and "still holds 3 prefix(es)" in r.stderr and "--recursive" in r.stderr
    assert snapshot(sample_center) == before
    r = run(cli, sample_center, "release", "core-infra", "--recursive", "-o", "json")
    assert r.exit_code == 0
    gone = {x["name"] for x in json.loads(r.stdout)["released"]}
    assert gone == {"core-infra", "core-exchange", "core-lb", "core-spare"}
    text = (sample_center / CORE).read_text(encoding="utf-8")
    assert "core-lb" not in text and "# 部门应用网段" in text
    assert run(cli, sample_center, "validate").exit_code == 0
    assert audit.read(sample_center / ".cloudctl" / "audit.log")[-1]["action"] == "ipam.release"


def test_release_then_allocate_gives_the_block_back(cli, sample_center):
    assert run(cli, sample_center, "release", "czj-app").exit_code == 0
    r = run(
        cli,
        sample_center,
        "allocate",
        "-z",
        "core",
        "-t",
        "czj",
        "-l",
        "24",
        "-n",
        "czj-app",
        "-o",
        "json",
    )
    assert json.loads(r.stdout)["prefix"] == "10.20.18.0/24"


def test_release_unknown(cli, sample_center):
    r = run(cli, sample_center, "release", "nope")
    assert r.exit_code == 2 and "no prefix named 'nope'" in r.stderr


def test_export_csv_json_netbox(cli, sample_center, tmp_path):
    r = run(cli, sample_center, "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 146 and {"prefix", "name", "zone", "vrf", "tenant", "vlan"} <= set(rows[0])
    r = run(cli, sample_center, "export", "--format", "json")
    doc = json.loads(r.stdout)
    assert len(doc["prefixes"]) == 146 and len(doc["zones"]) == 8
    out = tmp_path / "nb"
    r = run(cli, sample_center, "export", "--format", "netbox", "--out", str(out))
    assert r.exit_code == 0
    # the files' contents: tests/unit/ipam/test_netbox_export.py
    assert sorted(p.name for p in out.iterdir())[0] == "01-tags.csv"
    assert len(list(out.iterdir())) == 12


IMPORT_CSV = """\
网段,名称,租户,安全域,VLAN,用途
10.20.61.0/24,rsj-app2,市人社局,核心业务区,1990,社保二期
10.30.200.0/26,rsj-db2,rsj,data,,社保二期数据库
"""


def test_import_with_chinese_headers(cli, sample_center, tmp_path):
    src = tmp_path / "sheet.csv"
    src.write_text(IMPORT_CSV, encoding="utf-8")
    core_before = (sample_center / CORE).read_text(encoding="utf-8")
    r = run(cli, sample_center, "import", "--from-csv", str(src), "-o", "json")
    assert r.exit_code == 0, r.output
    assert [a["name"] for a in json.loads(r.stdout)["added"]] == ["rsj-app2", "rsj-db2"]
    core_after = (sample_center / CORE).read_text(encoding="utf-8")
    assert core_after.startswith(core_before)
    added = yaml.safe_load(core_after[len(core_before) :])[0]
    assert added["tenant"] == "rsj" and added["vlan"] == 1990 and added["gateway"] == "10.20.61.1"
    assert run(cli, sample_center, "validate").exit_code == 0
    # again: nothing new
    r = run(cli, sample_center, "import", "--from-csv", str(src), "-o", "json")
    assert json.loads(r.stdout)["added"] == [] and len(json.loads(r.stdout)["unchanged"]) == 2


def test_import_gbk_and_bad_rows_write_nothing(cli, sample_center, tmp_path):
    src = tmp_path / "sheet.csv"
    src.write_bytes(
        (
            "网段,名称,租户,安全域,VLAN,用途\n"
            "10.20.61.0/24,ok-row,czj,core,,好的\n"
            "10.20.62.1/24,bad-host-bits,czj,core,,\n"
            "10.20.18.0/24,on-czj-app,czj,core,,\n"
            "10.20.63.0/24,who,无此单位,core,,\n"
        ).encode("gb18030")
    )
    before = snapshot(sample_center)
    r = run(cli, sample_center, "import", "--from-csv", str(src))
    assert r.exit_code == 2
    err = [ln for ln in r.stderr.splitlines() if "sheet.csv:" in ln]
    assert len(err) == 3
    assert "sheet.csv:3: prefix bad-host-bits: '10.20.62.1/24' has host bits set" in err[0]
    assert "sheet.csv:4: " in err[1] and "listed twice" in err[1]
    assert "sheet.csv:5: " in err[2] and "unknown tenant '无此单位'" in err[2]
    assert snapshot(sample_center) == before


def test_import_missing_columns(cli, sample_center, tmp_path):
    src = tmp_path / "sheet.csv"
    src.write_text("foo,bar\n1,2\n", encoding="utf-8")
    r = run(cli, sample_center, "import", "--from-csv", str(src))
    assert r.exit_code == 2 and "no prefix column" in r.stderr


def test_show_tree_json_has_utilization_at_every_level(cli, sample_center):
    r = run(cli, sample_center, "show", "--tree", "--zone", "core", "-o", "json")
    (core,) = json.loads(r.stdout)["items"]
    (supernet,) = core["supernets"]
    assert supernet["prefix"] == "10.20.0.0/16" and supernet["used"] == 4096 + 45 * 256
    infra = next(n for n in supernet["children"] if n["name"] == "core-infra")
    assert infra["used"] == 256 + 256 + 2048 and infra["util"] == 62.5
    assert {c["name"] for c in infra["children"]} == {"core-exchange", "core-lb", "core-spare"}
    r = run(cli, sample_center, "show", "--tree", "--tenant", "czj", "-o", "json")
    zones = [z["zone"] for z in json.loads(r.stdout)["items"]]
    assert zones == ["dmz", "core", "data", "drill"]
