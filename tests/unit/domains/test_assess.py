"""The live check on hand-built snapshots: every clause has a pass and a fail case.

The snapshot is what ``openstack_reader.read_cloud`` returns; the design and the address
plan are the sample center's real files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from cloudctl.domains.assess import CLAUSES, assess, document
from cloudctl.domains.cloud import (
    CloudSnapshot,
    CNetwork,
    CPort,
    CProject,
    CRbac,
    CRouter,
    CRule,
    CSecurityGroup,
    CSubnet,
)
from cloudctl.domains.matrix import effective_matrix
from cloudctl.domains.render import junit, matrix_lines

TODAY = dt.date(2026, 11, 30)


def _rule(rid, sg, proj, proto="tcp", lo=None, hi=None, cidr=None, group=None, eth="IPv4"):
    return CRule(rid, sg, proj, "ingress", eth, proto, lo, hi if hi else lo, cidr, group)


def base() -> CloudSnapshot:
    """Two tenants, each with app (core), web (dmz) and db (data) subnets and bound ports,
    rules as the sample templates make them: everything compliant."""
    s = CloudSnapshot(
        projects=[CProject("pa", "dom-a"), CProject("pb", "dom-b"), CProject("adm", "admin")]
    )
    for pid, code, app, web, db in (
        ("pa", "czj", "10.20.18.0/24", "10.11.4.128/26", "10.30.4.128/26"),
        ("pb", "rsj", "10.20.19.0/24", None, None),
    ):
        for role, cidr in (("app", app), ("web", web), ("db", db)):
            if cidr is None:
                continue
            s.networks.append(CNetwork(f"n-{pid}-{role}", f"dom-{code}-{role}", pid))
            s.subnets.append(
                CSubnet(f"s-{pid}-{role}", f"dom-{code}-{role}", pid, f"n-{pid}-{role}", cidr)
            )
            s.security_groups.append(CSecurityGroup(f"g-{pid}-{role}", f"dom-{code}-{role}", pid))
            ip = cidr.rsplit(".", 1)[0] + ".140"
            s.ports.append(
                CPort(f"p-{pid}-{role}", "", pid, f"n-{pid}-{role}", "", "vm1",
                      ((f"s-{pid}-{role}", ip),), (f"g-{pid}-{role}", f"g-{pid}-ssh"))
            )  # fmt: skip
        s.security_groups.append(CSecurityGroup(f"g-{pid}-ssh", f"dom-{code}-ops-ssh", pid))
        s.rules += [
            _rule(f"{pid}-ssh", f"g-{pid}-ssh", pid, lo=22, cidr="10.40.0.0/20"),
            _rule(f"{pid}-ping", f"g-{pid}-ssh", pid, proto="icmp", cidr="10.40.0.0/20"),
            _rule(f"{pid}-app", f"g-{pid}-app", pid, lo=8080, hi=8081, cidr="10.11.0.0/16"),
        ]
    s.rules += [
        _rule("pa-web", "g-pa-web", "pa", lo=443, cidr="0.0.0.0/0"),
        _rule("pa-db", "g-pa-db", "pa", lo=3306, group="g-pa-app"),
    ]
    s.routers.append(CRouter("r-a", "dom-czj-router", "pa"))
    s.ports.append(
        CPort("ri-a", "", "pa", "n-pa-app", "network:router_interface", "r-a",
              (("s-pa-app", "10.20.18.1"),), ())
    )  # fmt: skip
    return s


def run(ctx, snap):
    a = assess(ctx.design, ctx.zones, ctx.plan, snap, today=TODAY)
    return a, document(a, ctx.design, today=TODAY)


def status(doc, clause, obj):
    item = next(i for i in doc["items"] if i["clause"] == clause)
    return item["per_host"][obj]


def test_the_compliant_cloud_passes_every_clause(ctx):
    a, doc = run(ctx, base())
    assert a.findings == []
    assert a.objects == ["platform", "dom-a", "dom-b"]
    assert {i["clause"]: i["status"] for i in doc["items"]} == dict.fromkeys(CLAUSES, "compliant")
    assert {i["label"]["zh"] for i in doc["items"]} == {"符合"}
    assert doc["summary"]["findings"] == 0


def _add_rule(snap, **kw):
    snap.rules.append(_rule(**kw))
    return snap


CASES = {
    "8.1.2.1": lambda s: s.subnets.append(
        CSubnet("s-x", "odd", "pa", "n-pa-app", "192.168.9.0/24")
    ),
    "8.1.3.1": lambda s: s.ports.append(
        CPort("p-open", "", "pa", "n-pa-app", "", "vm2", (("s-pa-app", "10.20.18.77"),), (), False)
    ),
    "8.1.3.2": lambda s: _add_rule(s, rid="x22", sg="g-pa-app", proj="pa", lo=22, cidr="0.0.0.0/1"),
    "8.2.2.1": lambda s: s.ports.append(
        CPort("ri-b", "", "pa", "n-pb-app", "network:router_interface", "r-a",
              (("s-pb-app", "10.20.19.1"),), ())
    ),
    "8.2.3.1": lambda s: _add_rule(s, rid="x8080", sg="g-pa-app", proj="pa", lo=8080,
                                   cidr="203.0.113.0/24"),
    "8.2.4.2": lambda s: s.ports.append(
        CPort("p-foreign", "", "pa", "n-pa-app", "", "vm3", (("s-pa-app", "10.20.18.78"),),
              ("g-pb-app",))
    ),
    "8.2.5.1": lambda s: _add_rule(s, rid="x3389", sg="g-pa-app", proj="pa", lo=3389,
                                   cidr="10.11.0.0/24"),
}  # fmt: skip


@pytest.mark.parametrize("clause", sorted(CASES))
def test_each_clause_fails_on_its_breach(ctx, clause):
    snap = base()
    CASES[clause](snap)
    a, doc = run(ctx, snap)
    assert status(doc, clause, "dom-a") == "non_compliant"
    assert status(doc, clause, "platform") == "non_compliant"
    assert status(doc, clause, "dom-b") in ("compliant", "non_compliant")
    # each breach lands on its own clause's controls, with evidence
    mine = [f for f in a.findings if f.clause == clause]
    assert mine and all(f.evidence for f in mine)
    results = [r for r in doc["results"] if r["clause"] == clause and r["verdict"] == "fail"]
    assert results and all(r["evidence"] for r in results)


def test_split_internet_ssh_rule_evidence_names_rule_cidr_and_port(ctx):
    snap = base()
    _add_rule(snap, rid="x1", sg="g-pa-app", proj="pa", lo=22, cidr="0.0.0.0/1")
    _add_rule(snap, rid="x2", sg="g-pa-app", proj="pa", lo=22, cidr="128.0.0.0/1")
    a, doc = run(ctx, snap)
    flows = [f for f in a.findings if f.control == "sd-flow"]
    assert sorted(f.evidence["rule"] for f in flows) == ["x1", "x2"]
    assert {f.evidence["remote"] for f in flows} == {"0.0.0.0/1", "128.0.0.0/1"}
    assert {f.evidence["ports"] for f in flows} == {"tcp/22"}
    assert all("internet" in f.evidence["source_zones"] for f in flows)
    assert {f.control for f in a.findings} >= {"sd-flow", "sd-level-boundary", "sd-mgmt-separation"}
    assert status(doc, "8.1.3.2", "dom-b") == "compliant"


def test_router_joining_two_tenants_is_found_on_both(ctx):
    snap = base()
    CASES["8.2.2.1"](snap)
    a, _doc = run(ctx, snap)
    joins = [f for f in a.findings if f.control == "sd-router-joins-tenants"]
    assert sorted(f.obj for f in joins) == ["dom-a", "dom-b"]


def test_shared_network_and_rbac_grant(ctx):
    snap = base()
    snap.networks[0] = replace(snap.networks[0], shared=True)
    snap.rbac.append(CRbac("rb1", "network", "n-pa-web", "pa", "pb", "access_as_shared"))
    a, _ = run(ctx, snap)
    assert {f.control for f in a.findings} == {"sd-shared-network", "sd-rbac-grant"}
    assert sorted(f.obj for f in a.findings if f.control == "sd-rbac-grant") == ["dom-a", "dom-b"]


def test_external_gateway_on_a_core_router_is_a_border_breach(ctx):
    snap = base()
    snap.routers[0] = replace(snap.routers[0], external_network_id="ext")
    a, _ = run(ctx, snap)
    assert [f.control for f in a.findings] == ["sd-border"]


def test_tenant_without_its_own_group(ctx):
    snap = base()
    snap.security_groups = [g for g in snap.security_groups if g.project_id != "pb"]
    snap.ports = [p for p in snap.ports if p.project_id != "pb"]
    a, _ = run(ctx, snap)
    assert [(f.control, f.obj) for f in a.findings] == [("sd-tenant-policy", "dom-b")]


def test_tenant_port_in_a_management_zone(ctx):
    snap = base()
    snap.subnets.append(CSubnet("s-ops", "dom-czj-ops", "pa", "n-pa-app", "10.40.2.0/24"))
    snap.ports.append(CPort("p-ops", "", "pa", "n-pa-app", "", "vm", (("s-ops", "10.40.2.9"),),
                            ("g-pa-app",)))  # fmt: skip
    a, _ = run(ctx, snap)
    assert "sd-mgmt-separation" in {f.control for f in a.findings}


def test_redundant_rule_alone_is_partially_compliant(ctx):
    snap = base()
    _add_rule(snap, rid="dup", sg="g-pa-ssh", proj="pa", lo=22, cidr="10.40.2.0/24")
    a, doc = run(ctx, snap)
    assert [f.control for f in a.findings] == ["sd-redundant"]
    assert status(doc, "8.1.3.2", "dom-a") == "partial"
    assert next(i for i in doc["items"] if i["clause"] == "8.1.3.2")["label"]["zh"] == "部分符合"


def test_unbound_template_group_is_judged_where_its_template_is_placed(ctx):
    snap = base()
    snap.ports = [p for p in snap.ports if "g-pa-web" not in p.security_groups]
    a, _ = run(ctx, snap)
    assert a.findings == []  # web's 443 from anywhere is judged in the DMZ only


def test_only_selected_projects_are_assessed(ctx):
    snap = base()
    CASES["8.1.3.2"](snap)
    a = assess(ctx.design, ctx.zones, ctx.plan, snap, only=["dom-b"], today=TODAY)
    assert a.objects == ["platform", "dom-b"] and a.findings == []


def test_matrix_shows_the_breach_as_a_difference_and_fits_80_columns(ctx):
    snap = base()
    CASES["8.1.3.2"](snap)
    a, _ = run(ctx, snap)
    m = effective_matrix(ctx.design, ctx.zones, a.rules)
    cell = m.cells[("internet", "core")]
    assert cell.state == "extra" and cell.extra == {"tcp/22"} and cell.rules == {"x22"}
    assert m.cells[("dmz", "core")].state == "extra"  # 0.0.0.0/1 covers the DMZ too
    assert m.cells[("ops", "core")].state == "ok"
    assert m.cells[("core", "data")].state == "ok"  # db from the app group
    lines = matrix_lines(m, "en")
    assert all(len(line) <= 80 for line in lines)
    assert any(line.startswith("! internet→core: open tcp/22") for line in lines)
    clean = effective_matrix(ctx.design, ctx.zones, run(ctx, base())[0].rules)
    assert clean.differences == []


def test_junit_has_a_failure_per_failing_object_and_control(ctx):
    snap = base()
    CASES["8.1.3.2"](snap)
    _a, doc = run(ctx, snap)
    xml = junit(doc)
    assert xml.count("<failure") == sum(1 for r in doc["results"] if r["verdict"] == "fail") > 0
    import xml.etree.ElementTree as ET

    ET.fromstring(xml)


def test_selecting_tenants_by_name_and_prefix():
    from cloudctl.core.errors import InputError
    from cloudctl.domains.service import select_tenants

    snap = base()
    assert select_tenants(snap, [], None) is None
    assert select_tenants(snap, [], "dom-") == ["dom-a", "dom-b"]
    assert select_tenants(snap, ["dom-b"], None) == ["dom-b"]
    with pytest.raises(InputError, match="no project named dom-x"):
        select_tenants(snap, ["dom-x"], None)
