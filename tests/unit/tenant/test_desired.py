"""Desired state: tenant files resolve against the address plan and SG templates; every
mistake is reported at file:line before anything talks to a cloud."""

from __future__ import annotations

import pytest

from cloudctl.core.errors import ValidationFailed
from cloudctl.tenant.desired import TenantSettings, build_desired, is_wide_open
from cloudctl.tenant.model import MANAGED_NOTE, RuleSpec

from .conftest import doc


def problems(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def test_subnet_takes_cidr_gateway_pools_and_dns_from_the_plan(plan_view, templates, czj_doc):
    d = build_desired({"czj": czj_doc}, plan_view, templates)
    t = d.tenants["czj"]
    app = t.networks[0].subnets[0]
    assert (app.name, app.cidr, app.gateway_ip) == ("czj-app", "10.20.18.0/24", "10.20.18.1")
    assert app.allocation_pools == (("10.20.18.10", "10.20.18.254"),)
    assert app.dns_nameservers == ("10.40.1.53", "10.40.1.54")
    assert t.router is not None and t.router.interfaces == ("czj-app", "czj-db")
    assert t.project == "czj" and t.name_zh == "市财政局"
    assert MANAGED_NOTE in t.description


def test_ssh_rule_comes_from_the_ops_zone_supernet(plan_view, templates, czj_doc):
    t = build_desired({"czj": czj_doc}, plan_view, templates).tenants["czj"]
    ssh = next(g for g in t.security_groups if g.template == "ops-ssh")
    ingress = [r for r in ssh.rules if r.direction == "ingress"]
    assert [(r.protocol, r.port_min, r.remote_ip_prefix) for r in ingress] == [
        ("tcp", 22, "10.40.0.0/20")
    ]
    # default egress kept (Neutron's allow-all), so no churn on the auto-created rules
    assert {r.ethertype for r in ssh.rules if r.direction == "egress"} == {"IPv4", "IPv6"}


def test_remote_group_and_egress_none(plan_view, templates, czj_doc):
    t = build_desired({"czj": czj_doc}, plan_view, templates).tenants["czj"]
    db = next(g for g in t.security_groups if g.template == "db")
    assert [r.remote_group for r in db.rules] == ["czj-app"]
    assert not [r for r in db.rules if r.direction == "egress"]


def test_name_prefix_applies_to_every_openstack_name(plan_view, templates, czj_doc):
    s = TenantSettings(name_prefix="t-", scope="test")
    t = build_desired({"czj": czj_doc}, plan_view, templates, s).tenants["czj"]
    assert t.project == "t-czj"
    assert t.networks[0].name == "t-czj-app"
    assert t.subnets[0].name == "t-czj-app"
    assert {u.name for u in t.users} == {"t-czj-ops", "t-czj-audit"}
    db = next(g for g in t.security_groups if g.template == "db")
    assert db.rules[0].remote_group == "t-czj-app"


def test_quota_class_and_override(plan_view, templates):
    defaults = doc(
        """\
        quotas: {class: std}
        quota_classes:
          std:
            network: {network: 10, port: 100}
            volume: {volumes: 5}
        """,
        "inventory/tenants/_defaults.yaml",
    )
    t_doc = doc(
        """\
        code: czj
        quotas:
          network: {port: 250}
        """,
        "inventory/tenants/czj.yaml",
    )
    t = build_desired({"czj": t_doc}, plan_view, templates, defaults_doc=defaults).tenants["czj"]
    assert t.quotas == {"network": {"network": 10, "port": 250}, "volume": {"volumes": 5}}


BAD = """\
    code: czj
    networks:
      - name: app
        subnets:
          - allocation: czj-nope
      - name: db
        subnets:
          - allocation: czj-db
            pools: [10.30.9.10-10.30.9.20]
      - name: other
        subnets: [rsj-app]
    security_groups:
      - template: ftp
    quotas:
      network: {port: -5, routers: 2}
      compute: {cores: lots}
    users:
      - {name: ops, roles: [admin], password: hunter2}
    colour: blue
    """


def test_every_mistake_reported_with_file_and_line(plan_view, templates):
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"czj": doc(BAD, "inventory/tenants/czj.yaml")}, plan_view, templates)
    msgs = problems(ei)
    f = "inventory/tenants/czj.yaml"
    expected = [
        (f"{f}:5:", "unknown allocation 'czj-nope'"),
        (f"{f}:9:", "outside allocation czj-db"),
        (f"{f}:11:", "belongs to tenant 'rsj'"),
        (f"{f}:13:", "unknown security-group template 'ftp'"),
        (f"{f}:15:", "negative quota -5"),
        (f"{f}:15:", "unknown quota 'routers'"),
        (f"{f}:16:", "quotas.compute.cores: expected a whole number"),
        (f"{f}:18:", "role 'admin' is not allowed"),
        (f"{f}:18:", "never put a password"),
        (f"{f}:19:", "unknown key 'colour'"),
    ]
    for where, what in expected:
        assert any(m.startswith(where) and what in m for m in msgs), (where, what, msgs)
    assert not any("hunter2" in m for m in msgs)


def test_file_name_must_match_code_and_department_must_exist(plan_view, templates):
    d1 = doc("code: xyz\n", "inventory/tenants/abc.yaml")
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"abc": d1}, plan_view, templates)
    msgs = problems(ei)
    assert any("must equal the file name" in m for m in msgs)
    assert any("no department 'xyz'" in m for m in msgs)


def test_container_allocation_and_double_use_are_refused(plan_view, templates):
    a = doc(
        """\
        code: czj
        networks:
          - {name: a, subnets: [czj-app]}
          - {name: b, subnets: [czj-app]}
        """,
        "inventory/tenants/czj.yaml",
    )
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"czj": a}, plan_view, templates)
    assert any(":4:" in m and "already used" in m for m in problems(ei))


def test_template_errors_point_into_the_template(plan_view, templates, czj_doc):
    templates = dict(templates)
    templates["ops-ssh"] = doc(
        """\
        name: ops-ssh
        rules:
          - {protocol: tcp, port: 22, remote_cidr: 0.0.0.0/0}
          - {protocol: tcp, port: 22, remote_zone: nowhere}
          - {protocol: tcp, port: 99999, remote_zone: ops}
        """,
        "policies/security-groups/ops-ssh.yaml",
    )
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"czj": czj_doc}, plan_view, templates)
    msgs = problems(ei)
    t = "policies/security-groups/ops-ssh.yaml"
    assert any(m.startswith(f"{t}:3:") and "wide-open" in m for m in msgs), msgs
    assert any(m.startswith(f"{t}:4:") and "unknown zone 'nowhere'" in m for m in msgs), msgs
    assert any(m.startswith(f"{t}:5:") and "outside 1-65535" in m for m in msgs), msgs


def test_router_interface_must_name_a_subnet_of_the_tenant(plan_view, templates):
    a = doc(
        """\
        code: czj
        networks:
          - {name: app, subnets: [czj-app]}
        router:
          interfaces: [czj-app, czj-db]
        """,
        "inventory/tenants/czj.yaml",
    )
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"czj": a}, plan_view, templates)
    assert any(":5:" in m and "czj-db" in m for m in problems(ei))


@pytest.mark.parametrize(
    ("rule", "wide"),
    [
        (RuleSpec(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="0.0.0.0/0"), True),
        (RuleSpec(protocol="tcp", port_min=22, port_max=22), True),  # no remote = anywhere
        (
            RuleSpec(
                protocol="tcp", port_min=1, port_max=1024, remote_ip_prefix="::/0", ethertype="IPv6"
            ),
            True,
        ),
        (RuleSpec(protocol=None, remote_ip_prefix="0.0.0.0/0"), True),
        (RuleSpec(protocol="tcp", port_min=443, port_max=443, remote_ip_prefix="0.0.0.0/0"), False),
        (
            RuleSpec(protocol="tcp", port_min=22, port_max=22, remote_ip_prefix="10.40.0.0/20"),
            False,
        ),
        (RuleSpec(direction="egress"), False),
        (RuleSpec(protocol="tcp", port_min=22, port_max=22, remote_group="x"), False),
    ],
)
def test_wide_open(rule, wide):
    assert is_wide_open(rule) is wide


def test_sample_center_is_valid(project_root):
    """The 45 shipped tenant files validate against the shipped plan and templates."""
    from cloudctl.core.center import load_center
    from cloudctl.tenant.service import load_desired

    d = load_desired(load_center(project_root))
    assert len(d.tenants) == 45
    assert all(t.subnets and t.router and t.users for t in d.tenants.values())


@pytest.mark.parametrize(
    "text, where, what",
    [
        ("security_groups:\n  - template: [app]\n", 3, "unknown security-group template ['app']"),
        ("security_groups:\n  - {template: {a: 1}}\n", 3, "unknown security-group template"),
        ("users:\n  - {name: ops, roles: [[member]]}\n", 3, "role ['member'] is not allowed"),
        ("quotas: {class: [standard]}\n", 2, "unknown quota class ['standard']"),
        ("name_zh: [x]\n", 2, "name_zh: expected text"),
        ('enabled: "false"\n', 2, "enabled: expected true or false"),
        ('users:\n  - {name: ops, roles: [member], enabled: "no"}\n', 3, "enabled: expected"),
    ],
)
def test_wrong_types_are_problems_not_crashes(plan_view, templates, text, where, what):
    f = "inventory/tenants/czj.yaml"
    with pytest.raises(ValidationFailed) as ei:
        build_desired({"czj": doc("code: czj\n" + text, f)}, plan_view, templates)
    msgs = problems(ei)
    assert any(m.startswith(f"{f}:{where}:") and what in m for m in msgs), msgs
