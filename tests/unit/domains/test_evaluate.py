"""Every rule of the issue's list is refused by the sample design; the flows it allows pass.

The design and the address plan are the sample center's real files (policies/, inventory/).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from cloudctl.domains.evaluate import check_rules, redundant_rules, rule_denials
from cloudctl.domains.model import Waiver


def flows_of(findings):
    return [f for f in findings if f.control == "sd-flow"]


@pytest.mark.parametrize(
    ("spec", "cidr", "dst"),
    [
        ("tcp/3389", "0.0.0.0/1", "core"),
        ("tcp/3389", "128.0.0.0/1", "core"),
        ("tcp/22", "::/1", "core"),
        ("tcp/22", "::ffff:0:0/96", "core"),
        ("tcp/21", "0.0.0.0/0", "dmz"),
        ("tcp/873", "0.0.0.0/0", "core"),
        ("tcp/2049", "0.0.0.0/0", "data"),
        ("tcp/11211", "0.0.0.0/0", "core"),
        ("udp/11211", "0.0.0.0/0", "core"),
        ("tcp/5985-5986", "0.0.0.0/0", "core"),
        ("tcp/6443", "0.0.0.0/0", "core"),
        ("tcp/2379", "0.0.0.0/0", "core"),
        ("udp/161", "0.0.0.0/0", "core"),
        ("sctp/22", "0.0.0.0/0", "core"),
        ("tcp/3306", "0.0.0.0/0", "data"),
        ("tcp/22", "203.0.113.0/24", "core"),
        ("tcp/443", "0.0.0.0/0", "core"),  # internet reaches the DMZ only
    ],
)
def test_issue_rules_from_the_internet_are_refused(ctx, rule, spec, cidr, dst):
    found = flows_of(check_rules(ctx.design, ctx.zones, [rule(spec, remote_cidr=cidr, dst=dst)]))
    assert len(found) == 1
    f = found[0]
    assert "internet" in {d.src for d in f.denials}
    assert f.severity == "high"
    # the finding names the flow or the default-deny line of the design file
    assert all(
        str(d.design_line).startswith("policies/security-domains.yaml:")
        or "security-domains.yaml:" in str(d.design_line)
        for d in f.denials
    )


def test_3306_from_the_dmz_zone_is_refused_by_default_deny(ctx, rule):
    (f,) = flows_of(
        check_rules(ctx.design, ctx.zones, [rule("tcp/3306", remote_zones=("dmz",), dst="data")])
    )
    (d,) = f.denials
    assert (d.src, d.dst, d.flow) == ("dmz", "data", None)
    assert d.design_line == ctx.design.default_location
    assert "default deny" in f.text("en")


def test_ssh_from_the_dmz_names_the_dmz_to_core_flow_and_its_line(ctx, rule):
    (f,) = flows_of(
        check_rules(ctx.design, ctx.zones, [rule("tcp/22", remote_cidr="10.11.3.0/24")])
    )
    (d,) = f.denials
    flow = ctx.design.flow("dmz", "core")
    assert d.flow is flow and d.design_line == flow.location
    assert "allows only app" in f.text("en") and str(flow.location) in f.text("en")


@pytest.mark.parametrize(
    ("spec", "kw", "dst"),
    [
        ("tcp/443", {"remote_cidr": "0.0.0.0/0"}, "dmz"),  # published: from anywhere
        ("tcp/80", {"remote_cidr": "::/0"}, "dmz"),
        ("tcp/22", {"remote_zones": ("ops",)}, "core"),
        ("tcp/3389", {"remote_cidr": "10.40.2.0/24"}, "data"),
        ("tcp/3306", {"remote_zones": ("core",)}, "data"),
        ("tcp/8080-8081", {"remote_zones": ("dmz",)}, "core"),
        ("tcp/8080", {"remote_cidr": "10.20.2.0/24"}, "core"),
        ("icmp", {"remote_zones": ("ops",)}, "dmz"),
        ("tcp/22", {"remote_cidr": "::ffff:10.40.2.0/120"}, "core"),
    ],
)
def test_flows_the_design_allows_pass(ctx, rule, spec, kw, dst):
    assert check_rules(ctx.design, ctx.zones, [rule(spec, dst=dst, **kw)]) == []


def test_a_port_range_spanning_two_allowed_services_passes_but_one_port_more_does_not(ctx, rule):
    ok = rule("tcp/8080-8081", remote_zones=("dmz",))
    bad = rule("tcp/8080-8082", remote_zones=("dmz",))
    assert check_rules(ctx.design, ctx.zones, [ok]) == []
    assert flows_of(check_rules(ctx.design, ctx.zones, [bad]))


def test_any_protocol_from_a_zone_is_refused_and_flagged_as_unchecked_port(ctx, rule):
    from cloudctl.domains.model import PortSpec

    r = replace(rule("tcp/22", remote_zones=("ops",)), spec=PortSpec(None))
    controls = {f.control for f in check_rules(ctx.design, ctx.zones, [r])}
    assert controls == {"sd-flow", "sd-any-port"}


def test_same_tenant_group_in_one_zone_is_the_tenants_own_policy(ctx, rule):
    from cloudctl.domains.model import PortSpec

    own = replace(
        rule("tcp/22", remote_zones=("core",), remote_group="default", dst="core"),
        spec=PortSpec(None),
    )
    assert check_rules(ctx.design, ctx.zones, [own]) == []
    other = replace(own, same_tenant=False)
    assert {f.control for f in check_rules(ctx.design, ctx.zones, [other])} == {
        "sd-flow",
        "sd-any-port",
    }


def test_remote_group_is_judged_by_the_zones_of_its_ports(ctx, rule):
    # db rule "3306 from group app": app ports in core pass, app ports in the DMZ do not
    core = rule("tcp/3306", remote_group="app", remote_zones=("core",), dst="data")
    dmz = rule("tcp/3306", remote_group="app", remote_zones=("dmz", "core"), dst="data")
    assert check_rules(ctx.design, ctx.zones, [core]) == []
    (f,) = check_rules(ctx.design, ctx.zones, [dmz])
    assert [d.src for d in f.denials] == ["dmz"]


def test_egress_rules_are_not_judged(ctx, rule):
    r = rule("tcp/22", remote_cidr="0.0.0.0/0", direction="egress")
    assert check_rules(ctx.design, ctx.zones, [r]) == []


def test_rule_from_unplanned_private_space_is_refused(ctx, rule):
    (f,) = flows_of(
        check_rules(ctx.design, ctx.zones, [rule("tcp/8080", remote_cidr="172.16.0.0/12")])
    )
    assert [d.src for d in f.denials] == ["(unplanned)"]


def test_waiver_with_approver_and_expiry_covers_the_finding_until_it_expires(ctx, rule):
    w = Waiver(
        "czj", "dmz", "core", None, "vendor needs SSH in 2026", "张工", dt.date(2026, 12, 31)
    )
    design = replace(ctx.design, waivers=(w,))
    r = rule("tcp/22", remote_zones=("dmz",))
    (f,) = check_rules(design, ctx.zones, [r], today=dt.date(2026, 12, 1))
    assert f.waived and f.waiver["approver"] == "张工"
    (late,) = check_rules(design, ctx.zones, [r], today=dt.date(2027, 1, 1))
    assert not late.waived and late.waiver["status"] == "expired"
    (other,) = check_rules(
        design, ctx.zones, [replace(r, tenant="rsj")], today=dt.date(2026, 12, 1)
    )
    assert other.waiver is None


def test_denials_list_every_source_zone_of_a_wide_rule(ctx, rule):
    denied = {
        d.src for d in rule_denials(ctx.design, ctx.zones, rule("tcp/22", remote_cidr="10.0.0.0/8"))
    }
    assert denied == {"internet", "dmz", "extranet", "core", "data", "(unplanned)"}
    # ops (bastion) and secmgmt (credentialed scans) may SSH into core: not denied


def test_redundant_and_duplicate_rules(ctx, rule):
    wide = rule("tcp/22", remote_cidr="10.40.0.0/20", id="a")
    narrow = rule("tcp/22", remote_cidr="10.40.2.0/24", id="b")
    dup = rule("tcp/22", remote_cidr="10.40.0.0/20", id="c")
    other = rule("tcp/22", remote_cidr="10.40.2.0/24", id="d", group="other")
    found = redundant_rules([wide, narrow, dup, other], ctx.zones)
    assert sorted(f.evidence["rule"] for f in found) == ["b", "c"]
