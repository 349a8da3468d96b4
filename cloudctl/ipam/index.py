"""A validated plan's allocation index: what ``ipam allocate`` needs from a plan of 100k
prefixes without reading and re-validating all of them (issue 17: ≤ 200 ms end to end).

Written only after the whole plan (and departments.yaml) validated with no problem, and
keyed by a signature over every file's path and sha256: any edit, by hand or by another
clone, gives another signature, so the index is simply not found and the full path runs.
It holds columns (name, CIDR, zone, VRF, status, VLAN, file, line per prefix) and, per
routing domain, the prefixes sorted by first address. An allocation builds a small
``AddressPlan`` of the prefixes that matter to the request (those inside the container or
zone it carves, the zone's VLAN holders, the names it mentions) and runs the same
``plan_allocation`` on it; the plan after the allocation gets its index by appending the
new prefix, after the new prefix passed validation within that small plan.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import hashlib
import marshal
import os
from dataclasses import dataclass
from pathlib import Path

from cloudctl.core.errors import CloudctlError, Location
from cloudctl.core.fileio import read_input
from cloudctl.core.yamlio import display_path
from cloudctl.ipam.model import STATUSES, AddressPlan, Prefix, Vrf, Zone, parse_cidr

INDEX_VERSION = 1
_SEP = "\n"


def digests(files: list[Path], departments: Path | None) -> dict[str, bytes] | None:
    """sha256 of each file (departments.yaml too when it exists); None: one is unreadable."""
    extra = [departments] if departments is not None and departments.exists() else []
    try:
        return {str(f): hashlib.sha256(read_input(f)).digest() for f in [*files, *extra]}
    except (CloudctlError, OSError):
        return None


def signature(digests: dict[str, bytes]) -> str:
    """One key for the plan as it is: every file's absolute path and content."""
    h = hashlib.sha256(b"cloudctl ipam index %d\0" % INDEX_VERSION)
    for name, d in digests.items():
        h.update(os.fsencode(name) + b"\0" + d)
    return h.hexdigest()


def index_path(cache: Path, sig: str) -> Path:
    return cache / f"index-{sig}.marshal"


@dataclass
class Index:
    files: list[str]
    vrfs: list[tuple]
    zones: list[tuple]
    dns: tuple
    names: list[str]
    cidrs: list[str]
    zone_of: array.array  # index into zone_names
    zone_names: list[str]
    vrf_of: array.array  # index into vrf_names
    vrf_names: list[str]
    status_of: array.array  # index into STATUSES
    vlan: array.array  # 0 = none
    file_of: array.array
    line: array.array
    domains: dict[tuple[str, int], tuple[list[int], list[int]]]  # -> (starts, ids) by first
    vlan_holders: dict[str, list[int]]  # zone -> ids with a VLAN
    last_file: dict[tuple[str, str], int]  # (zone, vrf) -> file of its last prefix

    # ---------------------------------------------------------------- (de)serialising
    def dumps(self) -> bytes:
        return marshal.dumps(
            (
                INDEX_VERSION,
                self.files,
                self.vrfs,
                self.zones,
                self.dns,
                _SEP.join(self.names),
                _SEP.join(self.cidrs),
                self.zone_of.tobytes(),
                self.zone_names,
                self.vrf_of.tobytes(),
                self.vrf_names,
                self.status_of.tobytes(),
                self.vlan.tobytes(),
                self.file_of.tobytes(),
                self.line.tobytes(),
                {k: (list(s), array.array("I", i).tobytes()) for k, (s, i) in self.domains.items()},
                {z: array.array("I", ids).tobytes() for z, ids in self.vlan_holders.items()},
                self.last_file,
            )
        )

    @classmethod
    def loads(cls, data: bytes) -> Index:
        t = marshal.loads(data)
        if t[0] != INDEX_VERSION:
            raise ValueError("index version")

        def arr(code: str, raw: bytes) -> array.array:
            a = array.array(code)
            a.frombytes(raw)
            return a

        return cls(
            files=t[1],
            vrfs=t[2],
            zones=t[3],
            dns=t[4],
            names=t[5].split(_SEP) if t[5] else [],
            cidrs=t[6].split(_SEP) if t[6] else [],
            zone_of=arr("H", t[7]),
            zone_names=t[8],
            vrf_of=arr("H", t[9]),
            vrf_names=t[10],
            status_of=arr("B", t[11]),
            vlan=arr("H", t[12]),
            file_of=arr("H", t[13]),
            line=arr("I", t[14]),
            domains={k: (s, list(arr("I", i))) for k, (s, i) in t[15].items()},
            vlan_holders={z: list(arr("I", raw)) for z, raw in t[16].items()},
            last_file=t[17],
        )

    # ------------------------------------------------------------------- building
    @classmethod
    def build(cls, plan: AddressPlan) -> Index | None:
        """From a plan that validated with no problem (None if it cannot be indexed)."""
        files = [str(f) for f in plan.files]
        fidx = {f: i for i, f in enumerate(files)}
        zone_names = sorted(plan.zones)
        vrf_names = sorted({*plan.vrfs, *(p.vrf for p in plan.prefixes)})
        zi = {z: i for i, z in enumerate(zone_names)}
        vi = {v: i for i, v in enumerate(vrf_names)}
        si = {s: i for i, s in enumerate(STATUSES)}
        ix = cls(
            files=files,
            vrfs=[
                (v.name, v.rd, v.name_zh, v.description, _ln(v.location), _fl(v.location))
                for v in plan.vrfs.values()
            ],
            zones=[
                (
                    z.name,
                    z.name_zh,
                    z.name_en,
                    z.vrf,
                    list(z.supernets),
                    list(z.vlan_range) if z.vlan_range else None,
                    z.purpose,
                    list(z.dns_nameservers),
                    _ln(z.location),
                    _fl(z.location),
                )
                for z in plan.zones.values()
            ],
            dns=tuple(plan.dns_nameservers),
            names=[],
            cidrs=[],
            zone_of=array.array("H"),
            zone_names=zone_names,
            vrf_of=array.array("H"),
            vrf_names=vrf_names,
            status_of=array.array("B"),
            vlan=array.array("H"),
            file_of=array.array("H"),
            line=array.array("I"),
            domains={},
            vlan_holders={},
            last_file={},
        )
        rows: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
        for i, p in enumerate(plan.prefixes):
            if (
                not p.valid
                or p.source is None
                or str(p.source) not in fidx
                or p.zone not in zi
                or _SEP in p.name
                or _SEP in p.cidr
            ):
                return None
            ix._append(p, fidx[str(p.source)], zi[p.zone], vi[p.vrf], si[p.status])
            rows.setdefault((p.vrf, p.version), []).append((p.first, p.prefixlen, i))
        for key, r in rows.items():
            r.sort()
            ix.domains[key] = ([a for a, _, _ in r], [i for _, _, i in r])
        return ix

    def _append(self, p: Prefix, file: int, zone: int, vrf: int, status: int) -> None:
        i = len(self.names)
        self.names.append(p.name)
        self.cidrs.append(p.cidr)
        self.zone_of.append(zone)
        self.vrf_of.append(vrf)
        self.status_of.append(status)
        self.vlan.append(p.vlan or 0)
        self.file_of.append(file)
        self.line.append(p.line or 0)
        if p.vlan:
            self.vlan_holders.setdefault(p.zone, []).append(i)
        key = (p.zone, p.vrf)
        self.last_file[key] = max(self.last_file.get(key, file), file)

    def add(self, p: Prefix) -> bool:
        """Append a prefix just written into the plan (False: cannot, drop the index)."""
        src = str(p.source)
        if src not in self.files or p.zone not in self.zone_names or p.vrf not in self.vrf_names:
            return False
        i = len(self.names)
        self._append(
            p,
            self.files.index(src),
            self.zone_names.index(p.zone),
            self.vrf_names.index(p.vrf),
            STATUSES.index(p.status),
        )
        starts, ids = self.domains.setdefault((p.vrf, p.version), ([], []))
        at = bisect.bisect_right(starts, p.first)
        starts.insert(at, p.first)
        ids.insert(at, i)
        return True

    # -------------------------------------------------------------------- reading
    def find(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None

    def find_cidr(self, cidr: str, vrf: str | None) -> int | None:
        start = 0
        while True:
            try:
                i = self.cidrs.index(cidr, start)
            except ValueError:
                return None
            if vrf is None or self.vrf_names[self.vrf_of[i]] == vrf:
                return i
            start = i + 1

    def within(self, vrf: str, version: int, first: int, last: int) -> list[int]:
        """Prefixes of the domain whose first address lies in [first, last]."""
        starts, ids = self.domains.get((vrf, version), ([], []))
        lo = bisect.bisect_left(starts, first)
        hi = bisect.bisect_right(starts, last)
        return ids[lo:hi]

    def prefix(self, i: int, shown: dict[int, tuple[str, Path]] | None = None) -> Prefix:
        """A prefix with what allocation looks at (no gateway, pools, tenant)."""
        fi = self.file_of[i]
        if shown is None:
            shown = {}
        if fi not in shown:
            shown[fi] = (display_path(self.files[fi]), Path(self.files[fi]))
        name, path = shown[fi]
        version, first, plen = parse_cidr(self.cidrs[i])
        return Prefix(
            self.names[i], self.cidrs[i], self.zone_names[self.zone_of[i]], None,
            self.vrf_names[self.vrf_of[i]], self.vlan[i] or None, "",
            STATUSES[self.status_of[i]], None, [], [], [], "", name,
            self.line[i] or None, path, version, first, plen,
            first + (1 << ((32 if version == 4 else 128) - plen)) - 1,
        )  # fmt: skip

    def plan(self, root: Path, ids: set[int]) -> AddressPlan:
        """A small AddressPlan: every VRF and zone, and the prefixes ``ids`` (plan order)."""
        plan = AddressPlan(root=root)
        for name, rd, zh, desc, ln, fl in self.vrfs:
            plan.vrfs[name] = Vrf(name, rd, zh, desc, _loc(fl, ln))
        for n, zh, en, vrf, sup, vl, pur, dn, ln, fl in self.zones:
            plan.zones[n] = Zone(
                n, zh, en, vrf, tuple(sup), tuple(vl) if vl else None, pur, tuple(dn), _loc(fl, ln)
            )
        plan.dns_nameservers = tuple(self.dns)
        plan.files = [Path(f) for f in self.files]
        shown: dict[int, tuple[str, Path]] = {}
        plan.prefixes = [self.prefix(i, shown) for i in sorted(ids)]
        return plan


def _ln(loc: Location | None) -> int:
    return (loc.line or 0) if loc else 0


def _fl(loc: Location | None) -> str | None:
    return loc.file if loc else None


def _loc(file: str | None, line: int) -> Location | None:
    return Location(file, line or None) if file is not None else None


def read(cache: Path, sig: str) -> Index | None:
    try:
        return Index.loads(index_path(cache, sig).read_bytes())
    except (OSError, ValueError, EOFError, TypeError, IndexError, KeyError):
        return None


def write(cache: Path, sig: str, ix: Index) -> None:
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        path = index_path(cache, sig)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(ix.dumps())
        os.replace(tmp, path)
        for old in cache.glob("index-*.marshal"):  # one generation is enough
            if old != path:
                with contextlib.suppress(OSError):
                    old.unlink()
