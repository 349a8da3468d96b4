"""Diff: desired vs a fake actual state → ordered changes; ownership is respected."""

from __future__ import annotations

import pytest

from cloudctl.tenant.desired import TenantSettings, build_desired
from cloudctl.tenant.diff import compute_plan, destroy_changes, drift_items
from cloudctl.tenant.model import (
    MANAGED_TAG,
    ActualState,
    Network,
    Project,
    Router,
    RouterInterface,
    Rule,
    SecurityGroup,
    Subnet,
    User,
)

SCOPE = "main"
PTAGS = [MANAGED_TAG, f"cloudctl-scope={SCOPE}"]


@pytest.fixture
def desired(plan_view, templates, czj_doc):
    return build_desired({"czj": czj_doc}, plan_view, templates, TenantSettings(scope=SCOPE))


def converged(desired) -> ActualState:
    """An actual state built from the desired one: what a perfect apply leaves behind."""
    t = desired.tenants["czj"]
    st = ActualState(services={"network": True, "compute": True, "volume": False})
    st.projects = [Project("P", t.project, t.description, list(PTAGS))]
    st.roles = {"R1": "member", "R2": "reader", "R3": "admin"}
    for i, n in enumerate(t.networks):
        st.networks.append(Network(f"N{i}", n.name, "P", n.description, [MANAGED_TAG]))
        for j, s in enumerate(n.subnets):
            st.subnets.append(
                Subnet(
                    f"S{i}{j}",
                    s.name,
                    "P",
                    f"N{i}",
                    s.cidr,
                    s.gateway_ip,
                    list(s.allocation_pools),
                    list(s.dns_nameservers),
                    s.enable_dhcp,
                    4,
                    s.description,
                    [MANAGED_TAG],
                )
            )
    st.routers = [Router("RT", t.router.name, "P", t.router.description, [MANAGED_TAG])]
    st.router_interfaces = [RouterInterface("RT", s.id, f"port-{s.id}") for s in st.subnets]
    st.security_groups.append(SecurityGroup("DEF", "default", "P", "Default security group"))
    for g in t.security_groups:
        st.security_groups.append(
            SecurityGroup(f"G-{g.name}", g.name, "P", g.description, [MANAGED_TAG])
        )
    for g in t.security_groups:
        for k, r in enumerate(g.rules):
            st.rules.append(
                Rule(
                    f"{g.name}-r{k}",
                    f"G-{g.name}",
                    "P",
                    r.direction,
                    r.ethertype,
                    r.protocol,
                    r.port_min,
                    r.port_max,
                    r.remote_ip_prefix,
                    f"G-{r.remote_group}" if r.remote_group else None,
                )
            )
    st.quotas = {
        "network": {"P": dict(t.quotas["network"])},
        "compute": {"P": dict(t.quotas["compute"])},
    }
    for u in t.users:
        st.users.append(User(f"U-{u.name}", u.name, u.description, None, True, "P"))
        for role in u.roles:
            rid = {"member": "R1", "reader": "R2"}[role]
            st.role_assignments.add((f"U-{u.name}", "P", rid))
    # cloudctl created all of it: every id is in the ownership record
    st.recorded = {
        x.id
        for x in (*st.projects, *st.networks, *st.subnets, *st.routers, *st.users)
    }
    st.recorded |= {g.id for g in st.security_groups if g.name != "default"}
    return st


def test_empty_cloud_creates_everything_in_dependency_order(desired):
    plan = compute_plan(desired, ActualState(services={"network": True, "compute": True}))
    kinds = [c.kind for c in plan.by_tenant()["czj"]]
    order = [
        "project",
        "quota",
        "network",
        "subnet",
        "router",
        "router_interface",
        "security_group",
        "security_group_rule",
        "user",
        "role_assignment",
    ]
    assert [k for k in order if k in kinds] == order
    assert kinds == sorted(kinds, key=order.index)
    assert all(c.action == "create" for c in plan.changes)
    n = plan.counts()["create"]
    # project, 2 nets, 2 subnets, router, 2 ifaces, 3 SGs, rules, 2 quotas, 2 users, 2 roles
    assert n == 1 + 2 + 2 + 1 + 2 + 3 + (3 + 1 + 3) + 2 + 2 + 2
    proj = plan.changes[0]
    assert MANAGED_TAG in proj.params["body"]["tags"]


def test_converged_cloud_has_no_changes(desired):
    plan = compute_plan(desired, converged(desired))
    assert plan.empty, [(c.action, c.kind, c.name, c.attrs) for c in plan.changes]
    assert not plan.problems and not plan.pruneable


def test_missing_compute_service_is_skipped_with_a_note(desired):
    st = converged(desired)
    st.services["compute"] = False
    plan = compute_plan(desired, st)
    assert plan.empty
    assert any("compute quotas skipped" in n for n in plan.notes)


def test_attribute_changes_show_old_and_new(desired):
    st = converged(desired)
    st.subnets[0].dns_nameservers = ["8.8.8.8"]
    st.quotas["network"]["P"]["port"] = 5
    plan = compute_plan(desired, st)
    by = {(c.kind, c.name): c for c in plan.changes}
    sub = by[("subnet", "czj-app")]
    assert sub.action == "update"
    assert sub.attrs == {"dns_nameservers": (["8.8.8.8"], ["10.40.1.53", "10.40.1.54"])}
    assert sub.params["body"] == {"dns_nameservers": ["10.40.1.53", "10.40.1.54"]}
    q = by[("quota", "czj/network")]
    assert q.attrs == {"port": (5, 100)}


def test_hand_made_wide_open_rule_is_deleted_and_flagged(desired):
    st = converged(desired)
    st.rules.append(
        Rule("evil", "G-czj-ops-ssh", "P", "ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", None)
    )
    plan = compute_plan(desired, st)
    (c,) = plan.changes
    assert (c.action, c.kind, c.id) == ("delete", "security_group_rule", "evil")
    assert c.warning.startswith("WIDE OPEN")
    items = drift_items(plan, st, desired)
    assert [(i.what, i.warning[:9]) for i in items] == [("unexpected", "WIDE OPEN")]


def test_wide_open_rule_in_unmanaged_group_is_only_warned(desired):
    st = converged(desired)
    st.rules.append(Rule("x", "DEF", "P", "ingress", "IPv4", "tcp", 3389, 3389, None, None))
    plan = compute_plan(desired, st)
    assert plan.empty
    assert [w.id for w in plan.warnings] == ["x"]


def test_unmanaged_resource_with_a_desired_name_is_a_conflict(desired):
    st = converged(desired)
    st.networks[0].tags = []
    st.networks[0].description = "made by hand"
    plan = compute_plan(desired, st)
    assert plan.problems and "network czj-app" in str(plan.problems[0])
    assert not plan.changes


def test_lost_tag_call_is_repaired_not_a_conflict(desired):
    st = converged(desired)
    st.networks[0].tags = []  # the description still carries the marker
    plan = compute_plan(desired, st)
    (c,) = plan.changes
    assert (c.action, c.kind, c.params) == (
        "update",
        "network",
        {"body": {}, "tags": [MANAGED_TAG]},
    )


def test_unmanaged_project_is_never_touched(desired):
    st = ActualState()
    st.projects = [Project("P", "czj", "hand made", [])]
    plan = compute_plan(desired, st)
    assert plan.problems and not plan.changes


def test_cidr_change_replaces_subnet_and_its_interface(desired):
    st = converged(desired)
    st.subnets[0].cidr = "10.20.99.0/24"
    plan = compute_plan(desired, st)
    seq = [(c.action, c.kind) for c in plan.by_tenant()["czj"]]
    assert seq == [
        ("delete", "router_interface"),
        ("delete", "subnet"),
        ("create", "subnet"),
        ("create", "router_interface"),
    ]


def test_extra_role_is_revoked_but_other_users_are_left_alone(desired):
    st = converged(desired)
    st.role_assignments.add(("U-czj-ops", "P", "R3"))  # admin granted by hand
    st.role_assignments.add(("someone-else", "P", "R3"))
    plan = compute_plan(desired, st)
    (c,) = plan.changes
    assert (c.action, c.kind, c.id) == ("delete", "role_assignment", "R3")
    assert c.warning == "extra privilege"


def test_prune_only_managed_undesired(desired):
    st = converged(desired)
    st.networks.append(Network("NX", "czj-old", "P", "", [MANAGED_TAG]))
    st.networks.append(Network("NH", "czj-handmade", "P", "", []))
    st.recorded.add("NX")  # cloudctl created czj-old
    plan = compute_plan(desired, st)
    assert plan.empty and [c.name for c in plan.pruneable] == ["czj-old"]
    pruned = compute_plan(desired, st, prune=True)
    assert [(c.action, c.name) for c in pruned.changes] == [("delete", "czj-old")]


def test_prune_removes_tenant_without_file_only_in_own_scope(desired):
    st = converged(desired)
    st.projects.append(Project("Q", "gone", "", [MANAGED_TAG, f"cloudctl-scope={SCOPE}"]))
    st.projects.append(Project("O", "other", "", [MANAGED_TAG, "cloudctl-scope=test"]))
    st.recorded |= {"Q", "O"}
    plan = compute_plan(desired, st, prune=True)
    got = [(c.kind, c.name) for c in sorted(plan.changes, key=lambda c: c.order)]
    assert got == [("quota", "gone/network"), ("quota", "gone/compute"), ("project", "gone")]
    # with NAME arguments, other tenants are never pruned
    assert compute_plan(desired, st, only=["czj"], prune=True).empty


def test_destroy_includes_default_group_and_quotas_and_keeps_foreign_things(desired):
    st = converged(desired)
    proj = st.projects[0]
    changes, kept = destroy_changes("czj", proj, st)
    kinds = [(c.kind, c.name) for c in sorted(changes, key=lambda c: c.order)]
    assert ("security_group", "default") in kinds
    assert ("quota", "czj/network") in kinds and ("quota", "czj/compute") in kinds
    assert kinds[-1] == ("project", "czj") and not kept
    # order: users/roles first … networks, project last
    order = [k for k, _ in kinds]
    assert order.index("router_interface") < order.index("router") < order.index("subnet")
    st.networks.append(Network("NH", "handmade", "P", "", []))
    changes, kept = destroy_changes("czj", proj, st)
    assert kept == ["network handmade"]
    assert all(c.kind != "project" for c in changes)
    assert all(c.id != "NH" for c in changes)


def test_drift_of_a_never_applied_tenant_is_one_line(desired):
    plan = compute_plan(desired, ActualState())
    items = drift_items(plan, ActualState(), desired)
    assert [(i.kind, i.what) for i in items] == [("project", "missing")]


def test_new_rules_of_a_group_go_in_one_bulk_request(desired):
    from cloudctl.tenant.apply import _batches

    plan = compute_plan(desired, ActualState(services={"network": True}))
    batches = _batches(plan.by_tenant()["czj"])
    rule_batches = [b for b in batches if b[0].kind == "security_group_rule"]
    # one request per security group (Neutron's bulk create takes one group at a time)
    assert [len(b) for b in rule_batches] == [3, 1, 3]
    assert all(len({c.params["security_group_ref"] for c in b}) == 1 for b in rule_batches)
    assert all(len(b) == 1 for b in batches if b[0].kind != "security_group_rule")


def test_router_with_lost_tag_and_edited_description_gets_both_fixed(desired):
    st = converged(desired)
    want = st.routers[0].description
    st.routers[0].tags = []
    st.routers[0].description = want + " (edited by hand)"  # still carries the marker
    plan = compute_plan(desired, st)
    (c,) = plan.changes
    assert (c.action, c.kind) == ("update", "router")
    assert c.params == {"body": {"description": want}, "tags": [MANAGED_TAG]}
