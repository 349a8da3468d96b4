"""Free space and first-fit allocation, including property tests (hypothesis)."""

from __future__ import annotations

import netaddr
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudctl.core.center import load_center
from cloudctl.core.errors import InputError
from cloudctl.ipam import service
from cloudctl.ipam.allocate import (
    AllocationRequest,
    Span,
    first_fit,
    free_blocks,
    free_space,
    plan_allocation,
    subnet_defaults,
)
from cloudctl.ipam.model import AddressPlan, Prefix, Vrf, Zone
from cloudctl.ipam.validate import validate_plan


def span(cidr: str) -> Span:
    n = netaddr.IPNetwork(cidr)
    return Span(cidr, n.version, int(n.first), int(n.last))


def test_free_blocks_are_merged_and_skip_nested_children():
    blocks = free_blocks(
        [span("10.0.0.0/24")], [(0x0A000000, 0x0A00003F), (0x0A000000, 0x0A00000F)]
    )
    assert [str(b) for b in blocks] == ["10.0.0.64/26", "10.0.0.128/25"]


def test_first_fit_is_lowest_aligned_block():
    blocks = [netaddr.IPNetwork(c) for c in ("10.0.0.16/28", "10.0.0.32/27", "10.0.0.128/25")]
    assert str(first_fit(blocks, 28)) == "10.0.0.16/28"
    assert str(first_fit(blocks, 27)) == "10.0.0.32/27"
    assert str(first_fit(blocks, 26)) == "10.0.0.128/26"
    assert first_fit(blocks, 24) is None


def test_subnet_defaults_follow_the_convention():
    assert subnet_defaults(netaddr.IPNetwork("10.20.61.0/24")) == (
        "10.20.61.1",
        ["10.20.61.10-10.20.61.254"],
    )
    assert subnet_defaults(netaddr.IPNetwork("10.20.61.64/26")) == (
        "10.20.61.65",
        ["10.20.61.74-10.20.61.126"],
    )
    assert subnet_defaults(netaddr.IPNetwork("10.20.61.0/28")) == (
        "10.20.61.1",
        ["10.20.61.2-10.20.61.14"],
    )
    assert subnet_defaults(netaddr.IPNetwork("10.20.61.0/30")) == (None, [])


def test_sample_core_zone_allocates_after_the_departments(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    req = AllocationRequest(zone="core", tenant="czj", prefixlen=24, name="czj-app2")
    alloc = plan_allocation(loaded.plan, req, loaded.tenants)
    assert alloc.created
    assert alloc.entry["prefix"] == "10.20.61.0/24"  # 10.20.16-60 are the 45 tenants' app subnets
    assert alloc.entry["gateway"] == "10.20.61.1"
    assert alloc.entry["vlan"] == 1500  # lowest VLAN of the zone's range still free


def test_within_a_container(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    space = free_space(loaded.plan, "core", "core-infra")
    assert [str(b) for b in space.blocks] == ["10.20.0.0/24", "10.20.3.0/24", "10.20.4.0/22"]
    req = AllocationRequest(
        zone="core", tenant=None, prefixlen=23, name="core-x", within="core-infra"
    )
    assert plan_allocation(loaded.plan, req, loaded.tenants).entry["prefix"] == "10.20.4.0/23"


def test_within_a_subnet_is_refused(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    with pytest.raises(InputError, match="only a container"):
        free_space(loaded.plan, "core", "czj-app")


def test_existing_name_is_returned_not_reallocated(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    req = AllocationRequest(zone="core", tenant="czj", prefixlen=24, name="czj-app")
    alloc = plan_allocation(loaded.plan, req, loaded.tenants)
    assert not alloc.created and alloc.entry["prefix"] == "10.20.18.0/24"


def test_existing_name_with_other_request_is_an_error(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    req = AllocationRequest(zone="core", tenant="czj", prefixlen=25, name="czj-app")
    with pytest.raises(InputError, match=r"already exists as 10\.20\.18\.0/24"):
        plan_allocation(loaded.plan, req, loaded.tenants)


def test_unknown_tenant_and_zone_and_bad_length(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    p, t = loaded.plan, loaded.tenants
    with pytest.raises(InputError, match="unknown tenant 'nobody'"):
        plan_allocation(p, AllocationRequest("core", "nobody", 24, "n-app"), t)
    with pytest.raises(InputError, match="unknown zone 'mars'"):
        plan_allocation(p, AllocationRequest("mars", "czj", 24, "n-app"), t)
    with pytest.raises(InputError, match="does not fit"):
        plan_allocation(p, AllocationRequest("core", "czj", 8, "n-app"), t)


def test_no_space_left(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    with pytest.raises(
        InputError, match=r"no free /22 left in zone extranet .*largest free block is a /23"
    ):
        plan_allocation(
            loaded.plan, AllocationRequest("extranet", "czj", 22, "czj-ext"), loaded.tenants
        )


# ---------------------------------------------------------------------------------------
# properties


def _plan(children: list[tuple[int, int]]) -> AddressPlan:
    """A /16 zone holding the given (offset, prefixlen) children where they are free."""
    plan = AddressPlan(root=__import__("pathlib").Path("."))
    plan.vrfs["gov"] = Vrf("gov")
    plan.zones["z"] = Zone("z", "", "", "gov", ("10.0.0.0/16",), None, "")
    return plan


def _add(plan: AddressPlan, cidr: str, name: str) -> None:
    n = netaddr.IPNetwork(cidr)
    p = Prefix(name, cidr, "z", None, "gov", None, "", "active", None, [], [], [], "", "t", 1)
    p.version, p.first, p.prefixlen, p.last = 4, int(n.first), n.prefixlen, int(n.last)
    plan.prefixes.append(p)
    plan.invalidate()


children_st = st.lists(
    st.tuples(st.integers(min_value=0, max_value=65535), st.integers(min_value=17, max_value=28)),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(children_st)
def test_free_space_equals_ipset_difference(children):
    """The sweep gives exactly IPSet(parent) - IPSet(children), merged."""
    parent = netaddr.IPNetwork("10.0.0.0/16")
    nets = [
        netaddr.IPNetwork(f"{netaddr.IPAddress(int(parent.first) + off)}/{pl}").cidr
        for off, pl in children
    ]
    intervals = sorted((int(n.first), int(n.last)) for n in nets)
    got = free_blocks([span("10.0.0.0/16")], intervals)
    want = (netaddr.IPSet([parent]) - netaddr.IPSet(nets)).iter_cidrs()
    assert got == want


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=18, max_value=30), min_size=1, max_size=30),
    children_st,
)
def test_allocations_never_overlap_and_stay_inside_the_parent(lengths, existing):
    plan = _plan([])
    taken = netaddr.IPSet()
    for i, (off, pl) in enumerate(existing):
        n = netaddr.IPNetwork(f"{netaddr.IPAddress(0x0A000000 + off)}/{pl}").cidr
        if not (taken & netaddr.IPSet([n])):
            _add(plan, str(n), f"pre{i}")
            taken.add(n)
    allocated = []
    for i, pl in enumerate(lengths):
        req = AllocationRequest(zone="z", tenant=None, prefixlen=pl, name=f"n{i}", vlan=None)
        try:
            alloc = plan_allocation(plan, req, None)
        except InputError as e:
            assert "no free" in str(e)
            free = free_space(plan, "z").blocks
            assert all(b.prefixlen > pl for b in free)  # honest "full"
            continue
        net = netaddr.IPNetwork(alloc.entry["prefix"])
        assert net.prefixlen == pl and net.cidr == net  # aligned
        assert net in netaddr.IPNetwork("10.0.0.0/16")  # inside the parent
        assert not (taken & netaddr.IPSet([net]))  # never over anything taken
        # lowest possible: nothing free and aligned below it
        below = [
            b for b in free_space(plan, "z").blocks if b.first < net.first and b.prefixlen <= pl
        ]
        assert below == []
        taken.add(net)
        allocated.append(net)
        _add(plan, str(net), f"n{i}")
    assert validate_plan(plan) == []


def test_an_explicit_vlan_is_checked(sample_center):
    loaded = service.load_valid(load_center(sample_center))
    p, t = loaded.plan, loaded.tenants
    with pytest.raises(InputError, match="already used in zone core by czj-app"):
        plan_allocation(p, AllocationRequest("core", "czj", 24, "czj-x", vlan=1522), t)
    with pytest.raises(InputError, match="outside zone core's range 1500-1999"):
        plan_allocation(p, AllocationRequest("core", "czj", 24, "czj-x", vlan=42), t)
    alloc = plan_allocation(p, AllocationRequest("core", "czj", 24, "czj-x", vlan=1999), t)
    assert alloc.entry["vlan"] == 1999
    alloc = plan_allocation(p, AllocationRequest("core", "czj", 24, "czj-x", vlan=None), t)
    assert "vlan" not in alloc.entry
