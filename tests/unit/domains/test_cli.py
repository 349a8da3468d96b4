"""``cloudctl domains validate|check`` on files: a department's template with the issue's
rules is refused with file:line naming the flow and the design line (no cloud needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]

BAD_TEMPLATE = """\
version: 1
name: bad
description: what a department asked for
rules:
  - {protocol: tcp, port: 3389, remote_cidr: 0.0.0.0/1}
  - {protocol: tcp, port: 3389, remote_cidr: 128.0.0.0/1}
  - {protocol: tcp, port: 22, remote_cidr: "::/1"}
  - {protocol: tcp, port: 22, remote_cidr: "::ffff:0:0/96"}
  - {protocol: tcp, port: 21, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 873, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 2049, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 11211, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 5985-5986, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 6443, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 2379, remote_cidr: 0.0.0.0/0}
  - {protocol: udp, port: 161, remote_cidr: 0.0.0.0/0}
  - {protocol: sctp, port: 22, remote_cidr: 0.0.0.0/0}
  - {protocol: tcp, port: 3306, remote_zone: dmz}
  - {protocol: tcp, port: 22, remote_cidr: 203.0.113.0/24}
  - {protocol: tcp, port: 22, remote_zone: ops}
"""


def make_center(root: Path, template: str | None = BAD_TEMPLATE) -> Path:
    shutil.copytree(ROOT / "policies", root / "policies")
    (root / "tenants").mkdir(parents=True)
    for code in ("czj", "rsj", "_defaults"):
        shutil.copy(ROOT / "inventory" / "tenants" / f"{code}.yaml", root / "tenants")
    if template is not None:
        (root / "policies" / "security-groups" / "bad.yaml").write_text(template)
        f = root / "tenants" / "czj.yaml"
        f.write_text(
            f.read_text().replace("  - template: db\n", "  - template: db\n  - template: bad\n")
        )
    cfg = {
        "name": "t",
        "address_plan": str(ROOT / "inventory" / "ipam"),
        "departments": str(ROOT / "inventory" / "departments.yaml"),
        "tenants": "tenants",
        "policies": "policies",
        "state": "state",
    }
    (root / "cloudctl.yaml").write_text(yaml.safe_dump(cfg))
    return root


def run(cli, root: Path, *args: str):
    return cli("--center", str(root), "--lang", "en", "domains", *args)


def test_check_refuses_every_issue_rule_with_template_and_design_lines(cli, tmp_path):
    root = make_center(tmp_path / "c")
    res = run(cli, root, "check")
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if "security-groups/bad.yaml:" in ln]
    flagged = {int(ln.split("bad.yaml:")[1].split(":")[0]) for ln in lines}
    # every rule line of the template but the last (SSH from the ops zone is allowed)
    assert flagged == set(range(5, 20)), res.output
    ssh_split = next(ln for ln in lines if "bad.yaml:7:" in ln)
    assert "internet→core is not an allowed flow: default deny" in ssh_split
    assert "security-domains.yaml:" in ssh_split and "[tenants: czj]" in ssh_split
    dmz_db = next(ln for ln in lines if "bad.yaml:18:" in ln)
    assert "dmz→data" in dmz_db  # the template sits on every czj zone: data included
    assert "break the zone design" in res.output


def test_check_json_lists_findings_and_the_sample_is_clean(cli, tmp_path):
    res = run(cli, make_center(tmp_path / "c"), "check", "-o", "json")
    data = json.loads(res.output)
    assert res.exit_code == 1 and data["open"] >= 15
    assert all(f["location"] and f["denied"] for f in data["findings"] if f["control"] == "sd-flow")
    clean = run(cli, make_center(tmp_path / "ok", template=None), "check")
    assert clean.exit_code == 0, clean.output


def test_validate_ok_and_broken_design_is_file_line_exit_2(cli, tmp_path):
    root = make_center(tmp_path / "c", template=None)
    ok = run(cli, root, "validate")
    assert ok.exit_code == 0 and "design valid: 8 zones" in ok.output
    d = root / "policies" / "security-domains.yaml"
    text = d.read_text().replace("{from: core, to: data,", "{from: core, to: dta,", 1)
    d.write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "to: dta," in s)
    bad = run(cli, root, "validate")
    assert bad.exit_code == 2
    assert f"security-domains.yaml:{line}: flow to: unknown zone 'dta'" in bad.output


@pytest.mark.parametrize("verb", ["check", "matrix"])
def test_offline_matrix_and_check_agree_on_the_sample(cli, tmp_path, verb):
    res = run(cli, make_center(tmp_path / "c", template=None), verb)
    assert res.exit_code == 0, res.output


def test_offline_matrix_shows_the_bad_template_as_differences(cli, tmp_path):
    res = run(cli, make_center(tmp_path / "c"), "matrix", "-o", "json")
    assert res.exit_code == 1
    cells = {(c["from"], c["to"]): c for c in json.loads(res.output)["cells"]}
    assert "tcp/3389" in cells[("internet", "core")]["extra"]
    assert "tcp/443" not in cells[("internet", "dmz")]["extra"]


def test_design_problems_is_what_tenant_validate_can_raise(tmp_path):
    from cloudctl.core.center import load_center
    from cloudctl.domains.tenants import design_problems

    root = make_center(tmp_path / "c")
    probs = design_problems(load_center(root))
    assert len(probs) == 15
    assert all("security-groups/bad.yaml:" in str(p.location) for p in probs)
    assert all("security-domains.yaml:" in p.message for p in probs)
    (root / "policies" / "security-domains.yaml").unlink()
    assert design_problems(load_center(root)) == []  # a center without a design


def test_chinese_output(cli, tmp_path):
    res = cli("--center", str(make_center(tmp_path / "c")), "domains", "check")
    assert res.exit_code == 1
    assert "不在允许的流中：默认拒绝" in res.output and "项违反安全域设计" in res.output
