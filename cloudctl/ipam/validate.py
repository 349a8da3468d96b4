"""Every rule of the address plan, checked in one pass, all problems reported together.

Overlap and nesting are found with one sort by ``(vrf, version, first address, prefix
length)`` and a sweep that keeps the chain of enclosing prefixes on a stack: O(n log n),
never pairwise. CIDR blocks either nest or are disjoint, so "overlap" means a prefix that is
not a container holds another one (or the same block is listed twice).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

from cloudctl.core.errors import Location, Problem
from cloudctl.core.i18n import _
from cloudctl.ipam.model import (
    AddressPlan,
    Prefix,
    parse_cidr,
    sorted_problems,
)


def validate_plan(plan: AddressPlan, tenants: Iterable[str] | None = None) -> list[Problem]:
    """All problems of ``plan`` (loading problems included), sorted by file and line.

    ``tenants``: the known tenant codes (departments.yaml); ``None`` skips that check.
    Side effect: fills ``Prefix.vrf`` defaults and ``Prefix.parent`` (the hierarchy).
    """
    probs: list[Problem] = list(plan.problems)
    known_tenants = None if tenants is None else set(tenants)
    _check_zones(plan, probs)
    _check_prefixes(plan, known_tenants, probs)
    plan.invalidate()
    _sweep(plan, probs)
    return sorted_problems(probs)


def _check_zones(plan: AddressPlan, probs: list[Problem]) -> None:
    spans = []
    for z in plan.zones.values():
        if z.vrf not in plan.vrfs:
            probs.append(
                Problem(
                    z.location,
                    _("zone {zone}: unknown VRF '{vrf}'{known}").format(
                        zone=z.name, vrf=z.vrf, known=_known(plan.vrfs)
                    ),
                )
            )
        for s in z.supernets:
            version, first, plen = parse_cidr(s)
            last = first + (1 << ((32 if version == 4 else 128) - plen)) - 1
            spans.append((z.vrf, version, first, last, z, s))
    spans.sort(key=lambda t: (t[0], t[1], t[2]))
    for a, b in itertools.pairwise(spans):
        if a[0] == b[0] and a[1] == b[1] and b[2] <= a[3] and a[4] is not b[4]:
            probs.append(
                Problem(
                    b[4].location,
                    _(
                        "zone {zone}: supernet {supernet} overlaps {other} of zone {other_zone}"
                        " in VRF {vrf} (zones may share space only across VRFs)"
                    ).format(
                        zone=b[4].name, supernet=b[5], other=a[5], other_zone=a[4].name, vrf=a[0]
                    ),
                )
            )


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    if not names:
        return ""
    shown = ", ".join(names[:12]) + (" …" if len(names) > 12 else "")
    return _(" (known: {names})").format(names=shown)


def _check_prefixes(plan: AddressPlan, tenants: set[str] | None, probs: list[Problem]) -> None:
    zone_spans: dict[str, list[tuple[int, int, int]]] = {}
    for z in plan.zones.values():
        spans = []
        for s in z.supernets:
            v, f, pl = parse_cidr(s)
            spans.append((v, f, f + (1 << ((32 if v == 4 else 128) - pl)) - 1))
        zone_spans[z.name] = spans
    first_by_name: dict[str, Prefix] = {}
    vlan_owner: dict[tuple[str, str, int], Prefix] = {}
    zones, vrfs = plan.zones, plan.vrfs
    for p in plan.prefixes:
        other = first_by_name.get(p.name)
        if other is None:
            first_by_name[p.name] = p
        else:
            probs.append(
                Problem(
                    p.location,
                    _("duplicate name '{name}' (first at {where})").format(
                        name=p.name, where=other.location
                    ),
                )
            )
        zone = zones.get(p.zone)
        if zone is None:
            if p.zone:
                probs.append(
                    Problem(
                        p.location,
                        _("prefix {name}: unknown zone '{zone}'{known}").format(
                            name=p.name, zone=p.zone, known=_known(zones)
                        ),
                    )
                )
            if not p.vrf:
                p.vrf = "?"
        else:
            if not p.vrf:
                p.vrf = zone.vrf
            elif p.vrf not in vrfs:
                probs.append(
                    Problem(
                        p.location,
                        _("prefix {name}: unknown VRF '{vrf}'{known}").format(
                            name=p.name, vrf=p.vrf, known=_known(vrfs)
                        ),
                    )
                )
        if tenants is not None and p.tenant is not None and p.tenant not in tenants:
            probs.append(
                Problem(
                    p.location,
                    _("prefix {name}: unknown tenant '{tenant}' (not in departments.yaml)").format(
                        name=p.name, tenant=p.tenant
                    ),
                )
            )
        if p.vlan is not None and zone is not None:
            if zone.vlan_range and not zone.vlan_range[0] <= p.vlan <= zone.vlan_range[1]:
                lo, hi = zone.vlan_range
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: VLAN {vlan} is outside zone {zone}'s range {lo}-{hi}"
                        ).format(name=p.name, vlan=p.vlan, zone=zone.name, lo=lo, hi=hi),
                    )
                )
            key = (zone.name, p.vrf, p.vlan)
            owner = vlan_owner.get(key)
            if owner is None:
                vlan_owner[key] = p
            else:
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: VLAN {vlan} is already used in zone {zone}"
                            " by {owner} ({where})"
                        ).format(
                            name=p.name,
                            vlan=p.vlan,
                            zone=zone.name,
                            owner=owner.name,
                            where=owner.location,
                        ),
                    )
                )
        if not p.valid:
            continue
        if zone is not None and zone_spans.get(zone.name):
            for v, f, last in zone_spans[zone.name]:
                if v == p.version and f <= p.first and p.last <= last:
                    break
            else:
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: {cidr} is outside its zone {zone}"
                            " (supernets {supernets})"
                        ).format(
                            name=p.name,
                            cidr=p.cidr,
                            zone=zone.name,
                            supernets=", ".join(zone.supernets),
                        ),
                    )
                )


def _sweep(plan: AddressPlan, probs: list[Problem]) -> None:
    """Nesting and overlap per VRF in O(n log n); sets ``parent`` on every prefix."""
    prefixes = plan.prefixes
    # plain tuples sort fastest; the index keeps file order among exact duplicates
    rows = [(p.vrf, p.version, p.first, p.prefixlen, i) for i, p in enumerate(prefixes) if p.valid]
    rows.sort()
    stack: list[tuple[int, int, int, Prefix]] = []  # (last, first, prefixlen, prefix)
    domain = None
    spans: list[tuple[int, int]] = []
    for vrf, version, first, plen, i in rows:
        p = prefixes[i]
        last = p.last
        p.parent = None
        if (vrf, version) != domain:
            domain = (vrf, version)
            stack = []
            spans = plan.intervals.setdefault(domain, [])
        spans.append((first, last))
        while stack and stack[-1][0] < first:
            stack.pop()
        if stack:
            top = stack[-1]
            q = top[3]
            if top[1] == first and top[2] == plen:
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: {cidr} is listed twice in VRF {vrf}"
                            " (also {other} at {where})"
                        ).format(name=p.name, cidr=p.cidr, vrf=vrf, other=q.name, where=q.location),
                    )
                )
                continue
            if q.status != "container":
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: {cidr} overlaps {other} {other_cidr} ({where}) in"
                            " VRF {vrf}; only a prefix with status container may hold others"
                        ).format(
                            name=p.name,
                            cidr=p.cidr,
                            other=q.name,
                            other_cidr=q.cidr,
                            where=q.location,
                            vrf=vrf,
                        ),
                    )
                )
            elif q.zone != p.zone and q.zone and p.zone:
                probs.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: {cidr} of zone {zone} sits inside {other}"
                            " of zone {other_zone} ({where})"
                        ).format(
                            name=p.name,
                            cidr=p.cidr,
                            zone=p.zone,
                            other=q.name,
                            other_zone=q.zone,
                            where=q.location,
                        ),
                    )
                )
            p.parent = q.name
        stack.append((last, first, plen, p))


def summary(plan: AddressPlan, tenants: int | None = None) -> str:
    t = f", {tenants} tenants" if tenants is not None else ""
    return (
        f"{len(plan.zones)} zones, {len(plan.vrfs)} VRFs, {len(plan.prefixes)} prefixes{t}"
        f" in {len(plan.files)} files"
    )


__all__ = ["Location", "summary", "validate_plan"]
