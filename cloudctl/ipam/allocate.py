"""Free space and first-fit allocation (pure: a plan in, a decision out).

Free space is ``parent − children`` as merged CIDR blocks. The children are taken from one
sorted sweep over integer intervals, and each gap is turned into CIDRs by netaddr
(``iprange_to_cidrs``), so the cost is O(n log n) in the children and never per address;
the result equals ``IPSet(parent) - IPSet(children)`` (a property test checks it).
The first free aligned block of the asked length is the lowest-addressed one: blocks from a
merged CIDR decomposition are maximal and aligned, so the first block long enough holds it.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field

import netaddr

from cloudctl.core.errors import InputError
from cloudctl.core.i18n import _
from cloudctl.ipam.model import AddressPlan, Prefix, ip_text, parse_cidr


@dataclass(frozen=True)
class Span:
    """A parent to carve from: a zone supernet or a container prefix."""

    label: str
    version: int
    first: int
    last: int

    @property
    def prefixlen(self) -> int:
        bits = 32 if self.version == 4 else 128
        return bits - (self.last - self.first + 1).bit_length() + 1


@dataclass
class FreeSpace:
    parents: list[Span]
    blocks: list[netaddr.IPNetwork] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.last - p.first + 1 for p in self.parents)

    @property
    def free(self) -> int:
        return sum(b.size for b in self.blocks)


@dataclass
class AllocationRequest:
    zone: str
    tenant: str | None
    prefixlen: int
    name: str
    purpose: str = ""
    within: str | None = None  # a container prefix (name or CIDR) to carve from
    vlan: int | str | None = "auto"  # an id, "auto" (lowest free in the zone) or None
    status: str = "active"


@dataclass(frozen=True)
class Held:
    """A block another clone reserved in the shared state and that is not in this plan
    (yet): it counts as taken, its VLAN too, and its name cannot be reused."""

    name: str
    cidr: str
    vrf: str
    zone: str
    vlan: int | None = None


def held_intervals(held: Sequence[Held]) -> dict[tuple[str, int], list[tuple[int, int]]]:
    out: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for h in held:
        v, first, pl = parse_cidr(h.cidr)
        last = first + (1 << ((32 if v == 4 else 128) - pl)) - 1
        out.setdefault((h.vrf, v), []).append((first, last))
    return out


@dataclass
class Allocation:
    prefix: Prefix | None  # the existing one when ``created`` is False
    created: bool
    entry: dict  # what is (or would be) written into the plan file
    parent: str


def _sorted_intervals(plan: AddressPlan, vrf: str, version: int) -> list[tuple[int, int]]:
    """Occupied spans of one routing domain, in address order (validation already sorted
    them; computed here only for a plan that was not validated)."""
    key = (vrf, version)
    if key not in plan.intervals:
        plan.intervals[key] = sorted(
            (p.first, p.last)
            for p in plan.prefixes
            if p.valid and p.vrf == vrf and p.version == version
        )
    return plan.intervals[key]


def free_blocks(
    parents: list[Span],
    intervals: list[tuple[int, int]],
    transparent: frozenset[tuple[int, int]] = frozenset(),
) -> list[netaddr.IPNetwork]:
    """Merged free CIDRs of ``parents`` minus the sorted ``intervals`` inside them (nested
    ones welcome). Intervals in ``transparent`` (the container being carved) do not count."""
    starts = [a for a, _ in intervals]
    out: list[netaddr.IPNetwork] = []
    n = len(intervals)
    for parent in sorted(parents, key=lambda s: (s.version, s.first)):
        cursor = parent.first
        i = bisect.bisect_left(starts, parent.first)
        while i < n and cursor <= parent.last:
            a, b = intervals[i]
            i += 1
            if a > parent.last:
                break
            if b > parent.last or (a, b) in transparent:
                continue  # an ancestor of the parent, or the parent itself
            if a > cursor:
                out.extend(_cidrs(parent.version, cursor, a - 1))
            if b + 1 > cursor:
                cursor = b + 1
        if cursor <= parent.last:
            out.extend(_cidrs(parent.version, cursor, parent.last))
    return out


def _cidrs(version: int, first: int, last: int) -> list[netaddr.IPNetwork]:
    return netaddr.iprange_to_cidrs(
        netaddr.IPAddress(first, version), netaddr.IPAddress(last, version)
    )


def zone_parents(plan: AddressPlan, zone_name: str) -> list[Span]:
    zone = plan.zones.get(zone_name)
    if zone is None:
        raise InputError(
            _("unknown zone '{zone}' (known: {known})").format(
                zone=zone_name, known=", ".join(sorted(plan.zones))
            )
        )
    spans = []
    for s in zone.supernets:
        v, f, pl = parse_cidr(s)
        spans.append(Span(s, v, f, f + (1 << ((32 if v == 4 else 128) - pl)) - 1))
    return spans


def find_prefix(plan: AddressPlan, ref: str, vrf: str | None = None) -> Prefix:
    """A prefix by name, or by CIDR (in ``vrf`` when given)."""
    p = plan.prefix(ref)
    if p is not None:
        return p
    for q in plan.prefixes:
        if q.cidr == ref and (vrf is None or q.vrf == vrf):
            return q
    raise InputError(_("no prefix named or numbered '{ref}' in the plan").format(ref=ref))


def free_space(
    plan: AddressPlan,
    zone: str | None = None,
    within: str | None = None,
    held: Sequence[Held] = (),
) -> FreeSpace:
    """Free blocks of a zone (its supernets in the zone's VRF) or inside one container;
    ``held`` blocks (reserved by other clones) count as taken."""
    extra = held_intervals(list(held))

    def occupied(vrf: str, version: int) -> list[tuple[int, int]]:
        base = _sorted_intervals(plan, vrf, version)
        more = extra.get((vrf, version))
        return sorted(base + more) if more else base

    if within is not None:
        vrf = plan.zones[zone].vrf if zone in plan.zones else None
        parent = find_prefix(plan, within, vrf)
        if parent.status != "container":
            raise InputError(
                _(
                    "{name} ({cidr}) has status {status}: only a container prefix can hold"
                    " other prefixes"
                ).format(name=parent.name, cidr=parent.cidr, status=parent.status),
                parent.location,
            )
        span = Span(parent.cidr, parent.version, parent.first, parent.last)
        intervals = occupied(parent.vrf, parent.version)
        own = frozenset({(parent.first, parent.last)})
        return FreeSpace([span], free_blocks([span], intervals, own))
    if zone is None:
        raise InputError(_("say where: --zone ZONE or --within PREFIX"))
    parents = zone_parents(plan, zone)
    vrf = plan.zones[zone].vrf
    # a container spanning a whole supernet is the zone itself, not an occupant
    open_containers = frozenset(
        (p.first, p.last)
        for p in plan.prefixes
        if p.status == "container" and p.vrf == vrf and p.cidr in plan.zones[zone].supernets
    )
    blocks: list[netaddr.IPNetwork] = []
    for version in sorted({s.version for s in parents}):
        intervals = occupied(vrf, version)
        same = [s for s in parents if s.version == version]
        blocks.extend(free_blocks(same, intervals, open_containers))
    return FreeSpace(parents, blocks)


def first_fit(blocks: list[netaddr.IPNetwork], prefixlen: int) -> netaddr.IPNetwork | None:
    """Lowest-addressed aligned block of ``/prefixlen`` (deterministic)."""
    best = None
    for b in blocks:
        if b.prefixlen <= prefixlen and (
            best is None or (b.version, b.first) < (best.version, best.first)
        ):
            best = b
            break  # blocks are in address order per version
    if best is None:
        return None
    return netaddr.IPNetwork(f"{best.network}/{prefixlen}")


def subnet_defaults(net: netaddr.IPNetwork) -> tuple[str | None, list[str]]:
    """Gateway = first host; pool leaves the first 9 hosts (/26 and larger) or the first
    one for infrastructure (VRRP, firewalls), and stops before the broadcast address."""
    bits = 32 if net.version == 4 else 128
    if net.version == 4 and net.prefixlen > 29:
        return None, []
    first = int(net.first)
    last = int(net.last) if net.version == 6 else int(net.last) - 1
    gateway = first + 1
    start = first + (10 if bits - net.prefixlen >= 6 else 2)
    return ip_text(net.version, gateway), [
        f"{ip_text(net.version, start)}-{ip_text(net.version, last)}"
    ]


def next_vlan(plan: AddressPlan, zone_name: str, held: Sequence[Held] = ()) -> int | None:
    zone = plan.zones[zone_name]
    if not zone.vlan_range:
        return None
    used = {p.vlan for p in plan.prefixes if p.zone == zone_name and p.vlan is not None}
    used |= {h.vlan for h in held if h.zone == zone_name and h.vlan is not None}
    lo, hi = zone.vlan_range
    for v in range(lo, hi + 1):
        if v not in used:
            return v
    return None


def _check_vlan(plan: AddressPlan, zone_name: str, vlan: int) -> None:
    zone = plan.zones[zone_name]
    if zone.vlan_range and not zone.vlan_range[0] <= vlan <= zone.vlan_range[1]:
        lo, hi = zone.vlan_range
        raise InputError(
            _("--vlan {vlan} is outside zone {zone}'s range {lo}-{hi}").format(
                vlan=vlan, zone=zone_name, lo=lo, hi=hi
            )
        )
    if not 1 <= vlan <= 4094:
        raise InputError(_("--vlan {vlan} is not in 1-4094").format(vlan=vlan))
    for p in plan.prefixes:
        if p.zone == zone_name and p.vlan == vlan:
            raise InputError(
                _("--vlan {vlan} is already used in zone {zone} by {name}").format(
                    vlan=vlan, zone=zone_name, name=p.name
                ),
                p.location,
            )


def plan_allocation(
    plan: AddressPlan,
    req: AllocationRequest,
    tenants: set[str] | None,
    held: Sequence[Held] = (),
) -> Allocation:
    """Decide the block (or find the existing allocation of that name). Raises InputError.
    ``held``: blocks other clones reserved that this plan does not have yet."""
    zone = plan.zones.get(req.zone)
    if zone is None:
        raise InputError(
            _("unknown zone '{zone}' (known: {known})").format(
                zone=req.zone, known=", ".join(sorted(plan.zones))
            )
        )
    if tenants is not None and req.tenant is not None and req.tenant not in tenants:
        raise InputError(
            _("unknown tenant '{tenant}' (not in departments.yaml)").format(tenant=req.tenant)
        )
    existing = plan.prefix(req.name)
    if existing is not None:
        same = (
            existing.zone == req.zone
            and existing.tenant == req.tenant
            and existing.prefixlen == req.prefixlen
        )
        if not same:
            raise InputError(
                _(
                    "{name} already exists as {cidr} (zone {zone}, tenant {tenant}):"
                    " a different request cannot reuse the name"
                ).format(
                    name=req.name,
                    cidr=existing.cidr,
                    zone=existing.zone,
                    tenant=existing.tenant or "-",
                ),
                existing.location,
            )
        return Allocation(existing, False, existing.as_dict(), existing.parent or req.zone)
    for h in held:
        if h.name == req.name:
            raise InputError(
                _(
                    "{name} is reserved by another clone as {cidr} (zone {zone}) and is not in"
                    " this plan yet: pull its change, or choose another name"
                ).format(name=req.name, cidr=h.cidr, zone=h.zone)
            )
    space = free_space(plan, req.zone, req.within, held)
    versions = {s.version for s in space.parents}
    max_len = max(32 if v == 4 else 128 for v in versions)
    shortest = min(s.prefixlen for s in space.parents)
    where = f"--within {req.within}" if req.within else _("zone {zone}").format(zone=req.zone)
    if not shortest <= req.prefixlen <= max_len:
        raise InputError(
            _(
                "--prefixlen {prefixlen} does not fit: {where} is /{shortest};"
                " ask for /{shortest} to /{max_len}"
            ).format(prefixlen=req.prefixlen, where=where, shortest=shortest, max_len=max_len)
        )
    block = first_fit(space.blocks, req.prefixlen)
    if block is None:
        where = (
            _("container {name}").format(name=req.within)
            if req.within
            else _("zone {zone} (VRF {vrf})").format(zone=req.zone, vrf=zone.vrf)
        )
        largest = min((b.prefixlen for b in space.blocks), default=None)
        hint = (
            _("; the largest free block is a /{prefixlen}").format(prefixlen=largest)
            if largest is not None
            else _("; it is full")
        )
        raise InputError(
            _("no free /{prefixlen} left in {where}{hint}").format(
                prefixlen=req.prefixlen, where=where, hint=hint
            )
        )
    entry: dict = {"name": req.name, "prefix": str(block)}
    if req.tenant:
        entry["tenant"] = req.tenant
    if req.status != "active":
        entry["status"] = req.status
    vlan = next_vlan(plan, req.zone, held) if req.vlan == "auto" else req.vlan
    if req.vlan == "auto" and vlan is None and zone.vlan_range:
        raise InputError(
            _("no free VLAN left in zone {zone}'s range; pass --vlan N or --vlan none").format(
                zone=req.zone
            )
        )
    if isinstance(vlan, int) and req.vlan != "auto":
        _check_vlan(plan, req.zone, vlan)
    if vlan is not None and req.status == "active":
        entry["vlan"] = int(vlan)
    if req.purpose:
        entry["purpose"] = req.purpose
    if req.status == "active":
        gateway, pools = subnet_defaults(block)
        if gateway:
            entry["gateway"] = gateway
            entry["pools"] = pools
    parent = req.within or req.zone
    return Allocation(None, True, entry, parent)
