"""Loading: the parse cache gives exactly what a fresh parse gives; the read API contract."""

from __future__ import annotations

from cloudctl.core.center import load_center
from cloudctl.ipam import api, service
from cloudctl.ipam.allocate import AllocationRequest
from cloudctl.ipam.model import load_plan, parse_cidr, parse_ip


def _snapshot(plan):
    return [
        (p.as_dict(), p.source, p.first, p.last, p.prefixlen) for p in plan.prefixes
    ], plan.problems


def test_cache_matches_fresh_parse_also_after_an_allocation(sample_center):
    center = load_center(sample_center)
    cache = service.cache_dir(center)
    fresh = load_plan(center.address_plan)
    assert _snapshot(load_plan(center.address_plan, cache)) == _snapshot(fresh)  # cold, fills it
    assert _snapshot(load_plan(center.address_plan, cache)) == _snapshot(fresh)  # warm
    service.allocate(center, AllocationRequest("core", "czj", 24, "czj-app2", purpose="二期: a"))
    seeded = load_plan(center.address_plan, cache)  # the edited file comes from the seeded cache
    assert _snapshot(seeded) == _snapshot(load_plan(center.address_plan))
    assert seeded.prefix("czj-app2").location.line > seeded.prefix("cgj-app").location.line


def test_cache_follows_edits_by_hand(sample_center):
    center = load_center(sample_center)
    cache = service.cache_dir(center)
    load_plan(center.address_plan, cache)
    core = center.address_plan / "prefixes" / "core.yaml"
    core.write_text(
        core.read_text(encoding="utf-8").replace("czj-app", "czj-core"), encoding="utf-8"
    )
    plan = load_plan(center.address_plan, cache)
    assert plan.prefix("czj-core") is not None and plan.prefix("czj-app") is None


def test_strict_address_parsing():
    assert parse_cidr("10.20.0.0/16") == (4, 0x0A140000, 16)
    assert parse_cidr("2001:db8::/32")[0] == 6
    for bad in ("10.20.0.0", "10.20.0.0/", "10.020.0.0/16", "10.20/16", "10.20.0.0/016", "x/8"):
        try:
            parse_cidr(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")
    assert parse_ip("10.40.1.53") == (4, 0x0A280135)


def test_read_api_contract(project_root):
    center = load_center(project_root)
    deps = api.load_departments(center)
    assert len(deps) == 45
    assert sum(d.kind == "department" for d in deps) == 35
    assert {d.code for d in deps if d.kind == "county"} == {
        "xiaonan",
        "xiaochang",
        "dawu",
        "yunmeng",
        "yingcheng",
        "anlu",
        "hanchuan",
        "gxq",
        "lkq",
        "sfs",
    }
    plan = api.load_plan(center)
    for d in deps:  # every tenant has its app subnet in the core zone
        app = plan.prefix(f"{d.code}-app")
        assert app is not None and app.zone == "core" and app.tenant == d.code
        assert (
            app.gateway
            and app.allocation_pools
            and app.dns_nameservers == ["10.40.1.53", "10.40.1.54"]
        )
    czj = plan.prefix("czj-app")
    assert (czj.cidr, czj.vrf, czj.vlan, czj.role) == ("10.20.18.0/24", "gov", 1522, "app")
    assert czj.allocation_pools == [("10.20.18.10", "10.20.18.254")]
    assert str(czj.location) == "inventory/ipam/prefixes/core.yaml:41" or str(
        czj.location
    ).endswith("inventory/ipam/prefixes/core.yaml:41")
    assert {p.name for p in plan.prefixes_of("czj")} == {
        "czj-app",
        "czj-web",
        "czj-db",
        "czj-app-dr",
    }
    dr = plan.prefix("czj-app-dr")
    assert dr.cidr == czj.cidr and dr.vrf == "dr"  # the overlap on purpose, in another VRF
    core = plan.zone("core")
    assert core.supernets == ("10.20.0.0/16",) and core.vlans == (1500, 1999)
    assert plan.zone("nowhere") is None and plan.prefix("nowhere") is None
    assert sum(1 for p in plan.prefixes if p.name.endswith("-web")) >= 30
