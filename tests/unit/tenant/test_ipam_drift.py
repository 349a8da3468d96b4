"""ipam drift: cloud subnets vs the address plan (pure part)."""

from __future__ import annotations

from cloudctl.tenant.ipam_drift import ipam_drift
from cloudctl.tenant.model import ActualState, Project, Subnet


def subnet(name, cidr, gw, pools, dns=("10.40.1.53", "10.40.1.54")):
    return Subnet(name, name, "P", "N", cidr, gw, list(pools), list(dns))


def test_unknown_mismatch_and_ok(plan_view):
    st = ActualState(projects=[Project("P", "czj")])
    st.subnets = [
        subnet("czj-app", "10.20.18.0/24", "10.20.18.1", [("10.20.18.10", "10.20.18.254")]),
        subnet("t-czj-db", "10.30.4.128/26", "10.30.4.190", [("10.30.4.138", "10.30.4.180")]),
        subnet("rogue", "192.168.50.0/24", "192.168.50.1", []),
        subnet("narrow", "10.20.19.0/25", "10.20.19.1", []),
        subnet(
            "dns", "10.20.19.0/24", "10.20.19.1", [("10.20.19.10", "10.20.19.254")], ["8.8.8.8"]
        ),
    ]
    by = {f.subnet: f for f in ipam_drift(plan_view, st)}
    assert by["czj-app"].status == "ok" and by["czj-app"].allocation == "czj-app"
    db = by["t-czj-db"]
    assert db.status == "mismatch" and db.allocation == "czj-db"
    assert set(db.differences) == {"gateway", "pools"}
    assert by["rogue"].status == "unknown"
    assert by["narrow"].status == "mismatch" and by["narrow"].allocation == "rsj-app"
    assert by["dns"].differences == {
        "dns": {"cloud": ["8.8.8.8"], "plan": ["10.40.1.53", "10.40.1.54"]}
    }


def test_container_prefix_is_not_an_allocation(plan_view):
    st = ActualState(projects=[Project("P", "x")])
    st.subnets = [subnet("infra", "10.20.0.0/20", None, [])]
    (f,) = ipam_drift(plan_view, st)
    assert f.status == "unknown"
