"""The design file is validated against the address plan, with file:line problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudctl.core.errors import ValidationFailed
from cloudctl.core.yamlio import load_yaml_text
from cloudctl.domains.load import load_design, parse_design, parse_port_spec

ROOT = Path(__file__).resolve().parents[3]
PLAN = {"internet": "gov", "dmz": "gov", "core": "gov", "ops": "gov"}
BASE = """\
version: 1
platform_level: 3
vrf: gov
default: deny
high_risk: {admin: [ssh], database: [mysql]}
services: {https: tcp/443, app: tcp/8080, ssh: tcp/22, mysql: tcp/3306}
zones:
  internet: {role: internet, level: null}
  dmz: {role: dmz, level: 3}
  core: {role: business, level: 3}
  ops: {role: management, level: 3}
flows:
  - {from: internet, to: dmz, services: [https], reason: portal}
  - {from: dmz, to: core, services: [app], reason: front end}
  - {from: ops, to: core, services: [ssh], reason: bastion}
"""


def problems(text: str, plan=PLAN, **kw) -> list[str]:
    design, probs = parse_design(load_yaml_text(text, "d.yaml"), plan, **kw)
    assert (design is None) == bool(probs)
    return [str(p) for p in probs]


def test_the_sample_design_validates_against_the_sample_plan(ctx):
    d = ctx.design
    assert set(d.zones) == {z.name for z in ctx.plan.zones.values()}
    assert d.internet_zone == "internet" and set(d.management_zones) == {"ops", "secmgmt"}
    # the baseline profile's high_risk_ports are part of the one high-risk list
    assert {21, 873, 2049, 11211, 3389} <= d.high_risk_ports
    assert {21, 22, 873, 2049, 11211, 5985, 5986, 6443, 2379, 161, 3306} <= d.admin_ports()


def test_small_valid_design():
    assert problems(BASE) == []


def test_unknown_zone_in_a_flow_names_its_line():
    text = BASE + "  - {from: dmz, to: dta, services: [app], reason: typo}\n"
    assert problems(text) == ["d.yaml:16: flow to: unknown zone 'dta'"]


def test_design_zone_missing_from_the_plan_and_plan_zone_missing_from_the_design():
    text = BASE.replace("  ops: {role", "  opz: {role").replace("from: ops", "from: opz")
    out = problems(text)
    assert any("d.yaml:11: unknown zone 'opz': not in the address plan" in p for p in out)
    assert any("address-plan zone 'ops' is missing from the design" in p for p in out)


def test_zone_with_no_flows():
    plan = {**PLAN, "data": "gov"}
    text = BASE.replace("zones:\n", "zones:\n  data: {role: data, level: 3}\n")
    assert problems(text, plan) == [
        "d.yaml:8: zone 'data' has no flow: every zone needs at least one"
    ]


def test_overlapping_definitions():
    dup = BASE + "  - {from: dmz, to: core, services: [https], reason: again}\n"
    assert "defined twice (also at d.yaml:14)" in problems(dup)[0]
    overlap = BASE.replace("[app], reason: front end", "[app, tcp/8000-8090], reason: fe")
    assert "services app and tcp/8000-8090 overlap" in problems(overlap)[0]
    same = BASE.replace("mysql: tcp/3306}", "mysql: tcp/3306, web: tcp/443}")
    assert "service web has the same ports as service https" in problems(same)[0]


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        ("{from: dmz, to: dmz, services: [ssh], reason: x}", "only from a management zone"),
        ("{from: internet, to: core, services: [mysql], reason: x}", "from outside the center"),
        ("{from: internet, to: ops, services: [https], reason: x}", "reach a management zone"),
        ("{from: dmz, to: dmz, services: [mysql], reason: x}", "database services only"),
        ("{from: dmz, to: ops, services: [any], reason: x}", "'any' protocol"),
        ("{from: internet, to: core, services: [tcp/873], reason: x}", "from outside the center"),
        ("{from: dmz, to: ops, services: [https], reason: ''}", "needs a reason"),
    ],
)
def test_policy_of_a_level3_design(flow, message):
    out = problems(BASE + f"  - {flow}\n", baseline_ports=[873])
    assert len(out) >= 1 and message in out[0] and out[0].startswith("d.yaml:16: ")


def test_zone_level_above_the_platform_and_unknown_role():
    text = BASE.replace("core: {role: business, level: 3}", "core: {role: business, level: 4}")
    assert "above the platform's level 3" in problems(text)[0]
    text = BASE.replace("core: {role: business", "core: {role: bizness")
    assert "role 'bizness' is not one of" in problems(text)[0]


def test_waivers_need_approver_reason_and_expiry():
    text = BASE + (
        "waivers:\n"
        "  - {tenants: czj, from: dmz, to: core, service: tcp/22, approver: 张工}\n"
        "  - {tenants: czj, from: dmz, to: core, approver: 张工, reason: r, expires: 2027-01-31}\n"
    )
    out = problems(text)
    assert out == ["d.yaml:17: waiver misses justification, expires"]


def test_unknown_placement_template_and_zone():
    text = BASE + "placement: {web: [dmz], nosuch: [core], app: [nowhere]}\n"
    out = problems(text, templates=["web", "app"])
    assert any("no security-group template 'nosuch'" in p for p in out)
    assert any("placement.app: unknown zone 'nowhere'" in p for p in out)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("tcp/22", True),
        ("udp/161", True),
        ("sctp/22", True),
        ("icmp", True),
        ("any", True),
        ("tcp", False),
        ("tcp/0", False),
        ("tcp/9-1", False),
        ("icmp/8", False),
        ("gre/1", False),
    ],
)
def test_service_syntax(text, ok):
    if ok:
        parse_port_spec(text)
    else:
        with pytest.raises(ValueError):
            parse_port_spec(text)


def test_load_design_reports_every_problem_with_its_file(tmp_path):
    (tmp_path / "security-domains.yaml").write_text(
        BASE.replace("to: core, services: [app]", "to: corr, services: [app]")
    )
    with pytest.raises(ValidationFailed) as e:
        load_design(tmp_path / "security-domains.yaml", PLAN)
    assert any("flow to: unknown zone 'corr'" in str(p) for p in e.value.problems)
