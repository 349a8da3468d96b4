"""Utilization and the hierarchy, computed from the validated plan in one pass.

Zone supernets and containers: used = the addresses covered by their direct children.
A subnet: free = its allocation pool addresses (what Neutron may still hand out), used =
the other usable addresses (gateway, infrastructure reservations); an IPv4 subnet's network
and broadcast addresses are neither, so util = used / (used + free) is the figure NetBox
shows for the exported subnet (ipam/models/ip.py Prefix.get_utilization). A reserved or
deprecated prefix counts as fully used. Nothing iterates single addresses.
"""

from __future__ import annotations

from collections import defaultdict

from cloudctl.ipam.model import AddressPlan, Prefix, parse_cidr, parse_ip


def _pool_size(p: Prefix) -> int:
    total = 0
    for a, b in p.allocation_pools:
        try:
            total += parse_ip(b)[1] - parse_ip(a)[1] + 1
        except ValueError:
            continue
    return max(0, min(total, p.size))


def _children(plan: AddressPlan) -> dict[str | None, list[Prefix]]:
    kids: dict[str | None, list[Prefix]] = defaultdict(list)
    for p in plan.prefixes:
        if p.valid:
            kids[p.parent].append(p)
    for v in kids.values():
        v.sort(key=lambda q: (q.vrf, q.version, q.first))
    return kids


def _usage(p: Prefix, kids: dict[str | None, list[Prefix]]) -> tuple[int, int]:
    """(used, free)."""
    size = p.size
    if p.status == "container":
        used = sum(c.size for c in kids.get(p.name, ()))
    elif p.status == "active" and p.allocation_pools:
        usable = size - 2 if p.version == 4 and p.prefixlen < 31 else size
        free = _pool_size(p)
        return max(usable - free, 0), free
    else:
        used = size
    return used, size - used


def _pct(used: int, size: int) -> float:
    return round(100.0 * used / size, 1) if size else 0.0


def prefix_row(p: Prefix, kids: dict[str | None, list[Prefix]]) -> dict:
    used, free = _usage(p, kids)
    return {
        "name": p.name,
        "prefix": p.cidr,
        "zone": p.zone,
        "vrf": p.vrf,
        "tenant": p.tenant,
        "vlan": p.vlan,
        "status": p.status,
        "gateway": p.gateway,
        "size": p.size,
        "used": used,
        "free": free,
        "util": _pct(used, used + free),
        "parent": p.parent,
        "purpose": p.purpose,
        "location": str(p.location),
    }


def prefix_rows(
    plan: AddressPlan, zone: str | None = None, tenant: str | None = None
) -> list[dict]:
    kids = _children(plan)
    rows = [
        prefix_row(p, kids)
        for p in plan.prefixes
        if p.valid and (zone is None or p.zone == zone) and (tenant is None or p.tenant == tenant)
    ]
    rows.sort(key=lambda r: (r["zone"], r["vrf"], _sort_addr(r["prefix"])))
    return rows


def _sort_addr(cidr: str) -> tuple[int, int, int]:
    return parse_cidr(cidr)


def _top_level(plan: AddressPlan, zone: str) -> list[Prefix]:
    return [p for p in plan.prefixes if p.valid and p.zone == zone and p.parent is None]


def vlan_range(r: tuple[int, int] | None) -> dict | None:
    """A zone's VLAN range as typed data (``{"first": 100, "last": 149}``), not text."""
    return {"first": r[0], "last": r[1]} if r else None


def zone_rows(plan: AddressPlan) -> list[dict]:
    counts: dict[str, int] = defaultdict(int)
    for p in plan.prefixes:
        counts[p.zone] += 1
    tops: dict[str, int] = defaultdict(int)
    for p in plan.prefixes:
        if p.valid and p.parent is None:
            tops[p.zone] += p.size
    rows = []
    for z in plan.zones.values():
        size = 0
        for s in z.supernets:
            v, _f, pl = parse_cidr(s)
            size += 1 << ((32 if v == 4 else 128) - pl)
        used = min(tops.get(z.name, 0), size)
        rows.append(
            {
                "zone": z.name,
                "name_zh": z.name_zh,
                "name_en": z.name_en,
                "vrf": z.vrf,
                "supernets": list(z.supernets),
                "vlans": vlan_range(z.vlan_range),
                "prefixes": counts.get(z.name, 0),
                "size": size,
                "used": used,
                "free": size - used,
                "util": _pct(used, size),
                "purpose": z.purpose,
            }
        )
    return rows


def tree(plan: AddressPlan, zone: str | None = None, tenant: str | None = None) -> list[dict]:
    """zones → supernets → prefixes → children, each with size/used/free/util."""
    kids = _children(plan)

    def node(p: Prefix) -> dict | None:
        children = [n for c in kids.get(p.name, ()) if (n := node(c)) is not None]
        if tenant is not None and p.tenant != tenant and not children:
            return None
        row = prefix_row(p, kids)
        row["children"] = children
        return row

    out = []
    for z in plan.zones.values():
        if zone is not None and z.name != zone:
            continue
        tops = _top_level(plan, z.name)
        sup_nodes = []
        for s in z.supernets:
            v, f, pl = parse_cidr(s)
            last = f + (1 << ((32 if v == 4 else 128) - pl)) - 1
            inside = sorted(
                (p for p in tops if p.version == v and f <= p.first and p.last <= last),
                key=lambda q: q.first,
            )
            children = [n for p in inside if (n := node(p)) is not None]
            size = last - f + 1
            used = sum(p.size for p in inside)
            sup_nodes.append(
                {
                    "name": s,
                    "prefix": s,
                    "size": size,
                    "used": used,
                    "free": size - used,
                    "util": _pct(used, size),
                    "children": children,
                }
            )
        if tenant is not None and not any(n["children"] for n in sup_nodes):
            continue
        out.append(
            {
                "zone": z.name,
                "name_zh": z.name_zh,
                "name_en": z.name_en,
                "vrf": z.vrf,
                "vlans": vlan_range(z.vlan_range),
                "supernets": sup_nodes,
            }
        )
    return out
