"""The address plan as the CSV files of NetBox's bulk import, for one NetBox version.

Imported in file order through NetBox's own import views, every row resolves its references
(tag, RIR, role, tenant group, tenant, VRF, VLAN group, VLAN) to an object of an earlier file.
The columns of each file are those of the version's import form (``netbox/<app>/forms/
bulk_import.py``; the extracted lists live in tests/unit/ipam/data/netbox_import_forms.json).

Utilisation. NetBox computes a subnet's utilisation itself (``Prefix.get_utilization`` in
``netbox/ipam/models/ip.py``): the child IP addresses and IP ranges over the usable size
(an IPv4 subnet shorter than /31 without ``is_pool``: size - 2). Which ranges count depends
on the version:

- up to 4.2: *every* child IP range counts as used. An allocation pool exported as a range
  would read as 100 % used, so pools are not exported as ranges there (they are listed in
  the prefix's ``comments``);
- 4.3 and later: only ranges with ``mark_utilized`` count; ``mark_populated`` makes NetBox
  refuse any IP address inside the range. Pools are exported with both flags false (Neutron
  hands their addresses out: NetBox must accept IP addresses there, and they are free).

cloudctl counts a subnet's pool addresses as free and every other usable address as used.
So the usable addresses outside the pools become: the gateway as an IP address; the
reservations and the remaining gaps as ranges with ``mark_utilized`` (a single address as an
IP address with status ``reserved``, since before 4.6.1 a range must span two addresses).
NetBox's count then equals cloudctl's for every subnet. A prefix that cloudctl counts as
fully used (reserved, deprecated, or active without pools) gets ``mark_utilized``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudctl.core.errors import Location, Problem
from cloudctl.core.i18n import _
from cloudctl.ipam.model import AddressPlan, Department, Prefix, Zone, ip_text, parse_cidr, parse_ip

TAG = "cloudctl"
TAG_COLOR = "2196f3"
GROUPS = {  # departments.yaml ``kind`` → NetBox tenant group (name, slug, description)
    "department": ("市直部门", "department", "Municipal departments"),
    "county": ("县市区", "county", "Counties, county-level cities and districts"),
}
# (network, RIR name, slug, is_private) — the first that holds a supernet is its RIR
RIRS = (
    ("10.0.0.0/8", "RFC 1918", "rfc-1918", True),
    ("172.16.0.0/12", "RFC 1918", "rfc-1918", True),
    ("192.168.0.0/16", "RFC 1918", "rfc-1918", True),
    ("100.64.0.0/10", "RFC 6598", "rfc-6598", True),
    ("192.0.2.0/24", "RFC 5737", "rfc-5737", True),
    ("198.51.100.0/24", "RFC 5737", "rfc-5737", True),
    ("203.0.113.0/24", "RFC 5737", "rfc-5737", True),
    ("fc00::/7", "RFC 4193", "rfc-4193", True),
    ("2001:db8::/32", "RFC 3849", "rfc-3849", True),
)
PUBLIC_RIR = ("APNIC", "apnic", False)  # public space in China is allocated by APNIC (CNNIC)
MAX_RANGE = 2**32 - 1  # IPRange.clean: "Defined range exceeds maximum supported size"
MAX_LEN = {"description": 200, "vlan name": 64, "tenant name": 100}


@dataclass(frozen=True)
class Profile:
    """What differs between the NetBox versions cloudctl writes for."""

    version: str
    checked: str  # the tag whose import forms the columns were compared with
    vid_ranges: bool  # VLAN group ``vid_ranges`` (4.2+) instead of ``min_vid``/``max_vid``
    range_flags: bool  # IP range ``mark_populated``; only ``mark_utilized`` ranges count (4.3+)
    tag_weight: bool  # tags have a ``weight`` (4.3+; required from 4.5)


PROFILES = {
    "3.7": Profile("3.7", "v3.7.8", vid_ranges=False, range_flags=False, tag_weight=False),
    "4.0": Profile("4.0", "v4.0.11", vid_ranges=False, range_flags=False, tag_weight=False),
    "4.1": Profile("4.1", "v4.1.11", vid_ranges=True, range_flags=False, tag_weight=False),
    "4.2": Profile("4.2", "v4.2.9", vid_ranges=True, range_flags=False, tag_weight=False),
    "4.3": Profile("4.3", "v4.3.7", vid_ranges=True, range_flags=True, tag_weight=True),
    "4.4": Profile("4.4", "v4.4.10", vid_ranges=True, range_flags=True, tag_weight=True),
    "4.5": Profile("4.5", "v4.5.10", vid_ranges=True, range_flags=True, tag_weight=True),
    "4.6": Profile("4.6", "v4.6.8", vid_ranges=True, range_flags=True, tag_weight=True),
}
LATEST = "4.6"


def columns(profile: Profile) -> dict[str, list[str]]:
    """File name → CSV header, in import order."""
    vids = ["vid_ranges"] if profile.vid_ranges else ["min_vid", "max_vid"]
    flags = ["mark_populated", "mark_utilized"] if profile.range_flags else ["mark_utilized"]
    return {
        "01-tags.csv": ["name", "slug", "color"]
        + (["weight"] if profile.tag_weight else [])
        + ["description"],
        "02-rirs.csv": ["name", "slug", "is_private", "description", "tags"],
        "03-aggregates.csv": ["prefix", "rir", "description", "tags"],
        "04-roles.csv": ["name", "slug", "weight", "description", "tags"],
        "05-tenant-groups.csv": ["name", "slug", "description", "tags"],
        "06-tenants.csv": ["name", "slug", "group", "description", "tags"],
        "07-vrfs.csv": ["name", "rd", "enforce_unique", "description", "comments", "tags"],
        "08-vlan-groups.csv": ["name", "slug", *vids, "description", "tags"],
        "09-vlans.csv": ["group", "vid", "name", "tenant", "status", "role", "description", "tags"],
        "10-prefixes.csv": [
            "prefix",
            "vrf",
            "tenant",
            "vlan_group",
            "vlan",
            "status",
            "role",
            "is_pool",
            "mark_utilized",
            "description",
            "comments",
            "tags",
        ],
        "11-ip-ranges.csv": [
            "start_address",
            "end_address",
            "vrf",
            "tenant",
            "status",
            "role",
            *flags,
            "description",
            "tags",
        ],
        "12-ip-addresses.csv": ["address", "vrf", "tenant", "status", "description", "tags"],
    }


# NetBox model each file feeds (the keys of netbox_import_forms.json)
FILE_MODELS = {
    "01-tags.csv": "tag",
    "02-rirs.csv": "rir",
    "03-aggregates.csv": "aggregate",
    "04-roles.csv": "role",
    "05-tenant-groups.csv": "tenant_group",
    "06-tenants.csv": "tenant",
    "07-vrfs.csv": "vrf",
    "08-vlan-groups.csv": "vlan_group",
    "09-vlans.csv": "vlan",
    "10-prefixes.csv": "prefix",
    "11-ip-ranges.csv": "ip_range",
    "12-ip-addresses.csv": "ip_address",
}


@dataclass
class NetboxExport:
    profile: Profile
    tables: dict[str, list[dict]]  # file name → rows (values as NetBox reads them)
    columns: dict[str, list[str]]
    warnings: list[Problem] = field(default_factory=list)


# ---------------------------------------------------------------------------------------
# a subnet's addresses, cut into what NetBox needs


@dataclass(frozen=True)
class Piece:
    """A run of addresses of one subnet: ``pool``, ``reserved``, ``gap`` (usable, outside
    every pool and reservation) or ``gateway``."""

    first: int
    last: int
    kind: str
    purpose: str = ""

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def usable_bounds(p: Prefix) -> tuple[int, int]:
    """NetBox's ``usable_ip_bounds``: an IPv4 subnet shorter than /31 loses its network and
    broadcast addresses."""
    if p.version == 4 and p.prefixlen < 31:
        return p.first + 1, p.last - 1
    return p.first, p.last


def _subtract(span: tuple[int, int], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``span`` minus the sorted, disjoint intervals ``taken``."""
    a, b = span
    out = []
    for x, y in taken:
        if y < a or x > b:
            continue
        if x > a:
            out.append((a, x - 1))
        a = max(a, y + 1)
        if a > b:
            break
    if a <= b:
        out.append((a, b))
    return out


def _insert(taken: list[tuple[int, int]], spans: Iterable[tuple[int, int]]) -> None:
    taken.extend(spans)
    taken.sort()


def subnet_pieces(p: Prefix, warnings: list[Problem]) -> list[Piece]:
    """Pools, reservations (clipped to the usable addresses, overlaps removed), the gateway,
    and — for an active subnet with pools — the gaps, so that pools + the rest = usable."""
    lo, hi = usable_bounds(p)
    pieces: list[Piece] = []
    taken: list[tuple[int, int]] = []
    for a_text, b_text in p.allocation_pools:
        a, b = parse_ip(a_text)[1], parse_ip(b_text)[1]
        pieces.append(Piece(a, b, "pool"))
        _insert(taken, [(a, b)])
    for r in p.reserved:
        a, b = parse_ip(r.start)[1], parse_ip(r.end)[1]
        if a < lo or b > hi:
            warnings.append(
                Problem(
                    p.location,
                    _(
                        "prefix {name}: reserved range {start}-{end} "
                        "includes the network or broadcast address; NetBox "
                        "gets only its usable part"
                    ).format(name=p.name, start=r.start, end=r.end),
                )
            )
            a, b = max(a, lo), min(b, hi)
        if a > b:
            continue
        parts = _subtract((a, b), taken)
        if parts != [(a, b)]:
            warnings.append(
                Problem(
                    p.location,
                    _(
                        "prefix {name}: reserved range {start}-{end} "
                        "overlaps another reservation; NetBox gets the "
                        "addresses once"
                    ).format(name=p.name, start=r.start, end=r.end),
                )
            )
        pieces.extend(Piece(x, y, "reserved", r.purpose) for x, y in parts)
        _insert(taken, parts)
    gw = parse_ip(p.gateway)[1] if p.gateway else None
    if gw is not None:
        pieces.append(Piece(gw, gw, "gateway"))
    if p.status == "active" and p.allocation_pools:
        fill_taken = sorted(taken + ([(gw, gw)] if gw is not None else []))
        pieces.extend(Piece(x, y, "gap") for x, y in _subtract((lo, hi), fill_taken))
    pieces.sort(key=lambda x: (x.first, x.kind))
    return pieces


# ---------------------------------------------------------------------------------------
# the export


def _rir_of(cidr: str) -> tuple[str, str, bool]:
    v, f, pl = parse_cidr(cidr)
    last = f + (1 << ((32 if v == 4 else 128) - pl)) - 1
    for net, name, slug, private in RIRS:
        nv, nf, npl = parse_cidr(net)
        nlast = nf + (1 << ((32 if nv == 4 else 128) - npl)) - 1
        if nv == v and nf <= f and last <= nlast:
            return name, slug, private
    return PUBLIC_RIR


def _bool(v: bool) -> str:
    return "true" if v else "false"


def _supernets(plan: AddressPlan) -> list[tuple[Zone, str, int, int, int]]:
    """(zone, cidr, version, first, last) of every zone supernet."""
    out = []
    for z in plan.zones.values():
        for s in z.supernets:
            v, f, pl = parse_cidr(s)
            out.append((z, s, v, f, f + (1 << ((32 if v == 4 else 128) - pl)) - 1))
    return out


def build(plan: AddressPlan, departments: list[Department], version: str = LATEST) -> NetboxExport:
    """The plan as NetBox import tables for ``version`` (one of ``PROFILES``)."""
    profile = PROFILES[version]
    cols = columns(profile)
    warnings: list[Problem] = []
    dep = {d.code: d for d in departments}
    tags = TAG

    def tenant_name(code: str | None) -> str:
        if not code:
            return ""
        d = dep.get(code)
        return d.name_zh if d and d.name_zh else code

    def check_len(what: str, value: str, loc: Location | None) -> None:
        if len(value) > MAX_LEN[what]:
            warnings.append(
                Problem(
                    loc,
                    _(
                        "{what} {value!r}… is {len} characters; NetBox takes "
                        "at most {MAX_LEN} and will refuse the row"
                    ).format(what=what, value=value[:40], len=len(value), MAX_LEN=MAX_LEN[what]),
                )
            )

    exported: list[Prefix] = []
    for p in plan.prefixes:
        if not p.valid:
            warnings.append(
                Problem(
                    p.location,
                    _("prefix {name}: {cidr!r} is not a valid prefix; not exported").format(
                        name=p.name, cidr=p.cidr
                    ),
                )
            )
            continue
        exported.append(p)

    # tags, RIRs, aggregates -----------------------------------------------------------
    tag_row = {
        "name": TAG,
        "slug": TAG,
        "color": TAG_COLOR,
        "description": "managed by cloudctl (地址规划 address plan)",
    }
    if profile.tag_weight:
        tag_row["weight"] = 1000
    supernets = _supernets(plan)
    outer: list[tuple[str, int, int, int, list[str]]] = []  # aggregates: global, no overlap
    for z, s, v, f, last in sorted(supernets, key=lambda x: (x[2], x[3], -x[4])):
        if outer and outer[-1][1] == v and outer[-1][2] <= f and last <= outer[-1][3]:
            if z.name not in outer[-1][4]:
                outer[-1][4].append(z.name)
            continue
        outer.append((s, v, f, last, [z.name]))
    rirs: dict[str, dict] = {}
    aggregates = []
    for s, _v, _f, _l, zones in outer:
        name, slug, private = _rir_of(s)
        rirs.setdefault(
            name,
            {
                "name": name,
                "slug": slug,
                "is_private": _bool(private),
                "description": "private/special-use address space" if private else "",
                "tags": tags,
            },
        )
        aggregates.append(
            {"prefix": s, "rir": name, "description": "zones " + ", ".join(zones), "tags": tags}
        )

    # roles, tenant groups, tenants, VRFs, VLAN groups ----------------------------------
    roles = [
        {
            "name": z.name,
            "slug": z.name,
            "weight": (i + 1) * 100,
            "description": f"{z.name_zh} {z.name_en}".strip(),
            "tags": tags,
        }
        for i, z in enumerate(plan.zones.values())
    ]
    used_tenants = sorted({p.tenant for p in exported if p.tenant})
    kinds = [k for k in GROUPS if any(dep[c].kind == k for c in used_tenants if c in dep)]
    groups = [
        {"name": GROUPS[k][0], "slug": GROUPS[k][1], "description": GROUPS[k][2], "tags": tags}
        for k in kinds
    ]
    tenants = []
    for c in used_tenants:
        d = dep.get(c)
        check_len("tenant name", tenant_name(c), d.location if d else None)
        tenants.append(
            {
                "name": tenant_name(c),
                "slug": c,
                "group": GROUPS[d.kind][0] if d and d.kind in GROUPS else "",
                "description": d.name_en if d else "",
                "tags": tags,
            }
        )
    vrfs = [
        {
            "name": v.name,
            "rd": v.rd or "",
            "enforce_unique": "true",
            "description": v.name_zh or v.description,
            "comments": v.description if v.name_zh else "",
            "tags": tags,
        }
        for v in plan.vrfs.values()
    ]
    vlan_groups = []
    for z in plan.zones.values():
        row = {"name": z.name, "slug": z.name, "description": z.name_zh, "tags": tags}
        if profile.vid_ranges:
            row["vid_ranges"] = f"{z.vlan_range[0]}-{z.vlan_range[1]}" if z.vlan_range else ""
        else:
            row["min_vid"] = z.vlan_range[0] if z.vlan_range else ""
            row["max_vid"] = z.vlan_range[1] if z.vlan_range else ""
        vlan_groups.append(row)

    # VLANs, prefixes, ranges, addresses ---------------------------------------------
    vlans: list[dict] = []
    prefixes: list[dict] = []
    ranges: list[dict] = []
    addresses: dict[tuple[str, str], dict] = {}  # (vrf, ip) → row: one object per address

    plan_blocks = {(p.vrf, p.cidr) for p in exported}
    for z, s, _v, _f, _l in supernets:
        if (z.vrf, s) in plan_blocks:  # the plan names this block itself
            continue
        prefixes.append(
            {
                "prefix": s,
                "vrf": z.vrf,
                "tenant": "",
                "vlan_group": "",
                "vlan": "",
                "status": "container",
                "role": z.name,
                "is_pool": "false",
                "mark_utilized": "false",
                "description": f"zone {z.name}",
                "comments": " ".join(x for x in (z.name_zh, z.name_en, z.purpose) if x),
                "tags": tags,
            }
        )

    for p in exported:
        tenant = tenant_name(p.tenant)
        check_len("description", p.name, p.location)
        if p.vlan is not None:
            check_len("vlan name", p.name, p.location)
            vlans.append(
                {
                    "group": p.zone,
                    "vid": p.vlan,
                    "name": p.name,
                    "tenant": tenant,
                    "status": "active" if p.status == "container" else p.status,
                    "role": p.zone,
                    "description": p.purpose[:200],
                    "tags": tags,
                }
            )
        pools_text = ", ".join(f"{a}-{b}" for a, b in p.allocation_pools)
        comments = p.purpose
        if pools_text and not profile.range_flags:
            comments = f"{comments}; allocation pools: {pools_text}" if comments else pools_text
        fully_used = p.status in ("reserved", "deprecated") or (
            p.status == "active" and not p.allocation_pools
        )
        prefixes.append(
            {
                "prefix": p.cidr,
                "vrf": p.vrf,
                "tenant": tenant,
                "vlan_group": p.zone if p.vlan is not None else "",
                "vlan": "" if p.vlan is None else p.vlan,
                "status": p.status,
                "role": p.zone,
                "is_pool": "false",
                "mark_utilized": _bool(fully_used),
                "description": p.name,
                "comments": comments,
                "tags": tags,
            }
        )
        if p.status == "container":
            continue
        status = "active" if p.status == "active" else p.status
        for piece in subnet_pieces(p, warnings):
            a, b = ip_text(p.version, piece.first), ip_text(p.version, piece.last)
            if piece.kind == "gateway":
                _address(addresses, p, a, tenant, status, f"{p.name} gateway")
                continue
            if piece.kind == "pool":
                if not profile.range_flags:
                    continue  # ≤4.2 would count the whole pool as used: listed in comments
                what = f"{p.name} allocation pool"
            elif piece.kind == "reserved":
                what = f"{p.name}: {piece.purpose}" if piece.purpose else f"{p.name} reserved"
            else:
                what = f"{p.name}: outside the allocation pools"
            if piece.kind != "pool" and piece.size == 1:
                _address(addresses, p, a, tenant, "reserved", what)
                continue
            if piece.size > MAX_RANGE:
                warnings.append(
                    Problem(
                        p.location,
                        _(
                            "prefix {name}: {a}-{b} is larger than a NetBox IP "
                            "range may be ({MAX_RANGE:,} addresses); not "
                            "exported, NetBox's utilisation of {cidr} will "
                            "differ from cloudctl's"
                        ).format(name=p.name, a=a, b=b, MAX_RANGE=MAX_RANGE, cidr=p.cidr),
                    )
                )
                continue
            row = {
                "start_address": f"{a}/{p.prefixlen}",
                "end_address": f"{b}/{p.prefixlen}",
                "vrf": p.vrf,
                "tenant": tenant,
                "status": status if piece.kind == "pool" else "reserved",
                "role": p.zone,
                "mark_utilized": _bool(piece.kind != "pool"),
                "description": what[:200],
                "tags": tags,
            }
            if profile.range_flags:
                row["mark_populated"] = "false"
            ranges.append(row)

    _dns_addresses(plan, exported, addresses, warnings, tenant_name)

    tables = {
        "01-tags.csv": [tag_row],
        "02-rirs.csv": list(rirs.values()),
        "03-aggregates.csv": aggregates,
        "04-roles.csv": roles,
        "05-tenant-groups.csv": groups,
        "06-tenants.csv": tenants,
        "07-vrfs.csv": vrfs,
        "08-vlan-groups.csv": vlan_groups,
        "09-vlans.csv": vlans,
        "10-prefixes.csv": prefixes,
        "11-ip-ranges.csv": ranges,
        "12-ip-addresses.csv": list(addresses.values()),
    }
    return NetboxExport(profile, tables, cols, warnings)


def _address(
    addresses: dict[tuple[str, str], dict],
    p: Prefix,
    ip: str,
    tenant: str,
    status: str,
    what: str,
) -> None:
    key = (p.vrf, ip)
    if key in addresses:
        row = addresses[key]
        row["description"] = f"{row['description']}; {what}"[:200]
        return
    addresses[key] = {
        "address": f"{ip}/{p.prefixlen}",
        "vrf": p.vrf,
        "tenant": tenant,
        "status": status,
        "description": what[:200],
        "tags": TAG,
    }


def _dns_addresses(
    plan: AddressPlan,
    exported: list[Prefix],
    addresses: dict[tuple[str, str], dict],
    warnings: list[Problem],
    tenant_name,
) -> None:
    """One IP address per DNS server and VRF, in the most specific subnet that holds it
    (none: the global table, /32 or /128)."""
    subnets = [p for p in exported if p.status != "container"]
    seen: set[str] = set()
    for ref in exported:
        for text in ref.dns_nameservers:
            if text in seen:
                continue
            seen.add(text)
            v, ip = parse_ip(text)
            holders: dict[str, Prefix] = {}
            for p in subnets:
                if p.version == v and p.first <= ip <= p.last:
                    best = holders.get(p.vrf)
                    if best is None or p.prefixlen > best.prefixlen:
                        holders[p.vrf] = p
            if not holders:
                key = ("", text)
                addresses.setdefault(
                    key,
                    {
                        "address": f"{text}/{32 if v == 4 else 128}",
                        "vrf": "",
                        "tenant": "",
                        "status": "active",
                        "description": "DNS server",
                        "tags": TAG,
                    },
                )
                continue
            for p in holders.values():
                for a, b in p.allocation_pools:
                    if parse_ip(a)[1] <= ip <= parse_ip(b)[1]:
                        warnings.append(
                            Problem(
                                p.location,
                                _(
                                    "prefix {name}: DNS server {text} is inside "
                                    "allocation pool {a}-{b}; NetBox will count it as "
                                    "used, cloudctl as free"
                                ).format(name=p.name, text=text, a=a, b=b),
                            )
                        )
                _address(addresses, p, text, tenant_name(p.tenant), "active", "DNS server")


def encode_files(export: NetboxExport, encoding: str = "utf-8") -> dict[str, bytes]:
    """File name → bytes. NetBox decodes an uploaded file as ``utf-8-sig``
    (utilities/forms/bulk_import.py), so UTF-8 with or without a BOM, nothing else."""
    from cloudctl.core.errors import InputError
    from cloudctl.ipam.exchange import encode_table

    if encoding not in ("utf-8", "utf-8-sig"):
        raise InputError(
            _(
                "NetBox reads an uploaded CSV as UTF-8; --encoding "
                "{encoding} would not import (use utf-8, or "
                "utf-8-sig to open the files in Excel first)"
            ).format(encoding=encoding)
        )
    crlf = encoding == "utf-8-sig"
    return {
        name: encode_table(rows, export.columns[name], encoding, crlf=crlf)
        for name, rows in export.tables.items()
    }
