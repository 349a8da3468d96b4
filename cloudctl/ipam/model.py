"""The address plan as typed objects: VRFs, security zones, prefixes, departments.

Loading never stops at the first mistake: every structural problem is collected as a
``Problem`` (file:line: message) on ``AddressPlan.problems`` so ``ipam validate`` can report
them all at once. Addresses are kept as integers next to their text, because the 100k-prefix
checks sort and sweep integers; netaddr is used where set algebra or CIDR math is needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import marshal
import os
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netaddr

from cloudctl.core.errors import CloudctlError, Location, Problem
from cloudctl.core.fileio import decode_input, read_input
from cloudctl.core.i18n import _, freeze, thaw
from cloudctl.core.yamlio import LDict, LList, display_path, load_yaml, load_yaml_text, loc_of
from cloudctl.ipam.stamps import Stamps

STATUSES = ("active", "container", "reserved", "deprecated")
PREFIX_KEYS = {
    "name",
    "prefix",
    "zone",
    "tenant",
    "vrf",
    "vlan",
    "purpose",
    "status",
    "gateway",
    "pools",
    "dns",
    "reserved",
    "description",
}
ZONE_KEYS = {"name", "name_zh", "name_en", "vrf", "supernets", "vlans", "purpose", "dns"}
VRF_KEYS = {"name", "rd", "name_zh", "description"}
DEPARTMENT_KINDS = ("department", "county")
DEPARTMENT_KEYS = {"code", "name_zh", "name_en", "kind", "contacts", "systems"}
CONTACT_KEYS = {"name", "role", "phone", "email"}


class AddressError(ValueError):
    """A text that is not a valid address or prefix; the message says why."""


def parse_ip(text: Any) -> tuple[int, int]:
    """``(version, int)`` of one address; strict (no leading zeros, no short forms)."""
    s = text.strip() if isinstance(text, str) else str(text).strip()
    try:
        packed = socket.inet_aton(s)
        if socket.inet_ntoa(packed) == s:  # canonical dotted quad only
            return 4, int.from_bytes(packed)
    except OSError:
        pass
    try:
        a = netaddr.IPAddress(s, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise AddressError(_("{text!r} is not an IP address").format(text=s)) from None
    return a.version, int(a)


def parse_cidr(text: Any) -> tuple[int, int, int]:
    """``(version, network int, prefixlen)``; refuses host bits and bad lengths."""
    s = str(text).strip()
    addr, sep, plen = s.partition("/")
    if not sep or not plen.isdigit() or (len(plen) > 1 and plen[0] == "0"):
        raise AddressError(
            _("{text!r} is not a prefix: expected ADDRESS/LENGTH, e.g. 10.20.0.0/24").format(text=s)
        )
    version, value = parse_ip(addr)
    length = int(plen)
    bits = 32 if version == 4 else 128
    if length > bits:
        raise AddressError(
            _("{text!r}: prefix length /{length} is longer than /{bits}").format(
                text=s, length=length, bits=bits
            )
        )
    host_mask = (1 << (bits - length)) - 1
    if value & host_mask:
        net = netaddr.IPNetwork(f"{addr}/{length}").cidr
        raise AddressError(
            _("{text!r} has host bits set: did you mean {net}?").format(text=s, net=net)
        )
    return version, value, length


def ip_text(version: int, value: int) -> str:
    if version == 4:
        return socket.inet_ntoa(value.to_bytes(4))
    return str(netaddr.IPAddress(value, 6))


def parse_range(text: Any) -> tuple[str, str]:
    """``"A-B"`` (or a 2-item list/mapping with start/end) → ``(A, B)`` as text."""
    if isinstance(text, dict) and "start" in text and "end" in text:
        return str(text["start"]).strip(), str(text["end"]).strip()
    if isinstance(text, (list, tuple)) and len(text) == 2:
        return str(text[0]).strip(), str(text[1]).strip()
    s = str(text)
    start, sep, end = s.partition("-")
    if not sep:
        raise AddressError(
            _("{text!r} is not a range: expected FIRST-LAST, e.g. 10.20.0.10-10.20.0.254").format(
                text=s
            )
        )
    return start.strip(), end.strip()


@dataclass(frozen=True)
class Vrf:
    name: str
    rd: str | None = None
    name_zh: str = ""
    description: str = ""
    location: Location | None = None


@dataclass(frozen=True)
class Zone:
    name: str
    name_zh: str
    name_en: str
    vrf: str
    supernets: tuple[str, ...]
    vlan_range: tuple[int, int] | None
    purpose: str
    dns_nameservers: tuple[str, ...] = ()
    location: Location | None = None

    @property
    def vlans(self) -> tuple[int, int] | None:
        return self.vlan_range


@dataclass(frozen=True)
class Reservation:
    """Addresses inside a subnet kept for infrastructure (VRRP, firewalls, DNS...)."""

    start: str
    end: str
    purpose: str = ""


@dataclass(slots=True, eq=False)
class Prefix:
    name: str
    cidr: str
    zone: str
    tenant: str | None
    vrf: str
    vlan: int | None
    purpose: str
    status: str
    gateway: str | None
    allocation_pools: list[tuple[str, str]]
    dns_nameservers: list[str]
    reserved: list[Reservation]
    description: str
    file: str  # as shown in messages (relative to the working directory when below it)
    line: int | None
    source: Path | None = None  # the file it lives in (absolute), for in-place edits
    version: int = 4
    first: int = 0
    prefixlen: int = 0
    last: int = 0
    parent: str | None = None  # filled by validation: the smallest enclosing prefix
    valid: bool = True  # False when the prefix text itself is broken

    @property
    def location(self) -> Location:
        return Location(self.file, self.line)

    @location.setter
    def location(self, loc: Location) -> None:
        self.file, self.line = loc.file, loc.line

    @property
    def bits(self) -> int:
        return 32 if self.version == 4 else 128

    @property
    def size(self) -> int:
        return 1 << (self.bits - self.prefixlen)

    @property
    def role(self) -> str | None:
        """``app`` for ``czj-app``: the part after ``<tenant>-`` by the naming convention."""
        if self.tenant and self.name.startswith(self.tenant + "-"):
            return self.name[len(self.tenant) + 1 :]
        return None

    def network(self) -> netaddr.IPNetwork:
        return netaddr.IPNetwork(self.cidr)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.cidr,
            "zone": self.zone,
            "vrf": self.vrf,
            "tenant": self.tenant,
            "vlan": self.vlan,
            "status": self.status,
            "purpose": self.purpose,
            "gateway": self.gateway,
            "pools": [f"{a}-{b}" for a, b in self.allocation_pools],
            "dns": list(self.dns_nameservers),
            "reserved": [
                {"range": f"{r.start}-{r.end}", "purpose": r.purpose} for r in self.reserved
            ],
            "parent": self.parent,
            "location": str(self.location),
        }


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    name_en: str
    kind: str
    contacts: tuple[dict, ...] = ()
    systems: tuple[str, ...] = ()
    location: Location | None = None


@dataclass
class AddressPlan:
    """Everything under the center's ``address_plan`` directory."""

    root: Path
    vrfs: dict[str, Vrf] = field(default_factory=dict)
    zones: dict[str, Zone] = field(default_factory=dict)
    prefixes: list[Prefix] = field(default_factory=list)
    dns_nameservers: tuple[str, ...] = ()
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    _by_name: dict[str, Prefix] | None = field(default=None, repr=False)
    # (vrf, version) -> sorted [(first, last)], kept from validation's sort for allocation
    intervals: dict[tuple[str, int], list[tuple[int, int]]] = field(
        default_factory=dict, repr=False
    )
    # file -> sha256 of the content read (the allocation index's signature needs them)
    digests: dict[str, bytes] = field(default_factory=dict, repr=False)

    # -- the read API other areas use -------------------------------------------------
    def prefix(self, name: str) -> Prefix | None:
        if self._by_name is None:
            self._by_name = {p.name: p for p in reversed(self.prefixes)}  # the first one wins
        return self._by_name.get(name)

    def prefixes_of(self, tenant: str) -> list[Prefix]:
        return [p for p in self.prefixes if p.tenant == tenant]

    def zone(self, name: str) -> Zone | None:
        return self.zones.get(name)

    def in_zone(self, zone: str, vrf: str | None = None) -> list[Prefix]:
        return [p for p in self.prefixes if p.zone == zone and (vrf is None or p.vrf == vrf)]

    def invalidate(self) -> None:
        self._by_name = None
        self.intervals = {}


# ---------------------------------------------------------------------------------------
# loading

CACHE_VERSION = 3  # 3: named by the file's sha256 (cloudctl/ipam/stamps.py)


@dataclass
class _FilePart:
    """What one file contributes; cached by content so a 100k-prefix plan reloads fast."""

    vrfs: list[Vrf] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    prefixes: list[Prefix] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dns: tuple[str, ...] | None = None


def plan_files(root: Path) -> list[Path]:
    """Every YAML file of the plan, in a stable order (vrfs, zones, then the rest)."""
    if not root.is_dir():
        return [root]  # a file, or something that is not one: the reader says which
    files = sorted(
        p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and not p.name.startswith(".")
    )
    first = {"vrfs.yaml": 0, "zones.yaml": 1}
    return sorted(files, key=lambda p: (first.get(p.name, 2) if p.parent == root else 2, str(p)))


def load_plan(
    path: str | Path, cache_dir: str | Path | None = None, texts: dict[Path, str] | None = None
) -> AddressPlan:
    """Read the plan; never raises for bad content (see ``AddressPlan.problems``).

    ``cache_dir``: keep each file's parsed form there, keyed by its content (YAML parsing
    is the slow part of a big plan). ``texts``: in-memory replacements of some files'
    content (an edit checked before it is written).
    """
    root = Path(path).resolve()
    plan = AddressPlan(root=root)
    if not root.exists():
        plan.problems.append(Problem(Location(display_path(root)), _("address plan not found")))
        return plan
    files = plan_files(root)
    for extra in texts or {}:
        if extra not in files:
            files.append(extra)
    cache = Path(cache_dir) if cache_dir is not None else None
    stamps = Stamps(cache) if cache is not None else None
    used: set[str] = set()
    done: dict[Path, tuple[_FilePart, bytes]] = {}
    workers = _Workers()
    if cache is not None and stamps is not None and not texts:
        done = _parse_in_parallel(files, cache, stamps, workers)
    for f in files:
        plan.files.append(f)
        text = (texts or {}).get(f)
        own = done.get(f)
        if own is None:
            workers.wait_for(f)  # a worker's file: taken from the cache once it is there
            part = _load_file(f, text, cache, used, stamps, plan.digests)
        else:
            part = own[0]
            used.add(_cache_file(cache, own[1], display_path(f)).name)  # type: ignore[arg-type]
            plan.digests[str(f)] = own[1]
        _merge(plan, part)
    workers.reap()
    if cache is not None:
        _prune(cache, used)
    if stamps is not None:
        stamps.save()
    return plan


PARALLEL_BYTES = 4 * 1024 * 1024  # below this, forking costs more than it saves
OWN_SHARE = 0.85  # this process parses less: it also loads the workers' files after


class _Workers:
    """The forked parse workers and the cache file each will write: this process loads a
    worker's file as soon as it is stored, while the worker goes on with the next one."""

    def __init__(self) -> None:
        self.pending: dict[Path, tuple[int, Path]] = {}  # file -> (worker pid, cache file)
        self.running: set[int] = set()

    def wait_for(self, f: Path) -> None:
        job = self.pending.pop(f, None)
        if job is None:
            return
        pid, cache_file = job
        while pid in self.running and not cache_file.exists():
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done == pid:
                self.running.discard(pid)  # ended: a file it did not store is parsed here
            else:
                time.sleep(0.002)

    def reap(self) -> None:
        for pid in list(self.running):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
            self.running.discard(pid)


def _parse_in_parallel(
    files: list[Path], cache: Path, stamps: Stamps, workers: _Workers
) -> dict[Path, tuple[_FilePart, bytes]]:
    """First read of a big plan (a fresh clone, a pull that changed many files): parse the
    files the cache does not hold in forked workers, one per CPU, each storing its files'
    parsed form in the cache (in plan order, so ``workers`` can hand them over one by one);
    this process parses its own, smaller share and returns it (with each file's digest).
    A worker that fails leaves its files to the normal path (a cache miss, parsed here).
    Files whose stamp is known are not read at all."""
    n_workers = min(os.cpu_count() or 1, 4)
    if n_workers < 2 or not hasattr(os, "fork") or threading.active_count() > 1:
        return {}  # forking a process that runs threads could copy a lock held by one
    misses: list[tuple[int, Path, bytes, bytes]] = []
    for f in files:
        name = display_path(f)
        d = stamps.known(f)
        if d is not None and _cache_file(cache, d, name).exists():
            continue
        try:
            raw, d = stamps.read(f, name)
        except CloudctlError:
            continue
        if not _cache_file(cache, d, name).exists():
            misses.append((len(raw), f, raw, d))
    if sum(m[0] for m in misses) < PARALLEL_BYTES or len(misses) < 2:
        return {}
    shares: list[list[tuple[Path, bytes, bytes]]] = [[] for _ in range(min(n_workers, len(misses)))]
    loads = [0.0] * len(shares)
    for n, f, raw, d in sorted(misses, key=lambda m: -m[0]):  # biggest first, lightest share
        i = loads.index(min(loads))
        shares[i].append((f, raw, d))
        loads[i] += n / OWN_SHARE if i == 0 else n
    order = {f: i for i, f in enumerate(files)}
    for share in shares:
        share.sort(key=lambda job: order[job[0]])
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
    for share in shares[1:]:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:  # the worker: parse, store, leave without running any exit hook
            code = 0
            try:
                for f, raw, d in share:
                    _parse_file(f, raw, d, cache)
            except BaseException:
                code = 1
            os._exit(code)
        workers.running.add(pid)
        for f, _raw, d in share:  # read and hashed here already: known by that digest
            stamps.known_now[str(f)] = d
            workers.pending[f] = (pid, _cache_file(cache, d, display_path(f)))
    return {f: (_parse_file(f, raw, d, cache), d) for f, raw, d in shares[0]}


def _prune(cache: Path, used: set[str], keep: int = 256, age: float = 3600.0) -> None:
    """Old versions of edited files pile up in the cache: drop unused ones past ``keep``."""
    with contextlib.suppress(OSError):
        entries = list(os.scandir(cache))
        if len(entries) <= keep:
            return
        now = time.time()
        for e in entries:
            if e.name.startswith(("index-", "stamps")):  # the allocation index, stamps.py
                continue
            if e.name not in used and now - e.stat().st_mtime > age:
                with contextlib.suppress(OSError):
                    os.unlink(e.path)


def _load_file(
    path: Path,
    text: str | None,
    cache: Path | None,
    used: set[str] | None = None,
    stamps: Stamps | None = None,
    digests: dict[str, bytes] | None = None,
) -> _FilePart:
    name = display_path(path)
    raw = None
    digest = None
    if text is None and stamps is not None and cache is not None:
        digest = stamps.known(path)  # unchanged since it was hashed: not even read
    if digest is None:
        try:
            if text is not None:
                raw = text.encode("utf-8")
            elif stamps is not None:
                raw, digest = stamps.read(path, name)
            else:
                raw = read_input(path, name=name)
        except CloudctlError as e:  # a directory, a device, a FIFO, too large, unreadable
            return _FilePart(problems=e.problems)
        digest = digest or hashlib.sha256(raw).digest()
    if digests is not None:
        digests[str(path)] = digest
    if cache is not None:
        cache_file = _cache_file(cache, digest, name)
        if used is not None:
            used.add(cache_file.name)
        try:
            return _part_from_rows(marshal.loads(cache_file.read_bytes()), path, name)
        except (OSError, ValueError, EOFError, TypeError, IndexError):
            pass
    if raw is None:  # known by its stamp but not in the cache (pruned): read it now
        assert stamps is not None
        try:
            raw, digest = stamps.read(path, name)
        except CloudctlError as e:
            return _FilePart(problems=e.problems)
        if digests is not None:
            digests[str(path)] = digest
    return _parse_file(path, raw, digest, cache)


def _parse_file(path: Path, raw: bytes, digest: bytes, cache: Path | None) -> _FilePart:
    """Parse one file's content (and keep the result in the cache under its digest)."""
    name = display_path(path)
    part = _FilePart()
    try:
        doc = load_yaml_text(decode_input(raw, name), name)
    except CloudctlError as e:
        part.problems.extend(e.problems)
        return part
    if doc is not None and not isinstance(doc, LDict):
        part.problems.append(
            Problem(Location(name, 1), _("expected a mapping (vrfs:, zones:, prefixes:)"))
        )
    elif doc is not None:
        _load_doc(part, path, doc)
    if cache is not None:
        _store(_cache_file(cache, digest, name), part)
    return part


def _cache_file(cache: Path, digest: bytes, name: str) -> Path:
    """The parsed form of a file with content sha256 ``digest`` shown as ``name``."""
    key = hashlib.sha256(digest + b"\0" + name.encode() + b"\0%d" % CACHE_VERSION).hexdigest()
    return cache / f"{key}.marshal"


def _store(cache_file: Path, part: _FilePart) -> None:
    with contextlib.suppress(OSError):
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps(_part_to_rows(part)))
        os.replace(tmp, cache_file)


def cache_appended(
    path: Path, old_text: str, new_text: str, block: str, line: int, cache: Path
) -> None:
    """Seed the parse cache for a file that got one entry appended (``block`` at ``line``),
    from the old content's cache entry plus the block alone, so the next command does not
    re-parse a big file after each allocation. Only for plain prefix files; anything
    unusual is left to a normal re-parse."""
    name = display_path(path)
    try:
        old = hashlib.sha256(old_text.encode("utf-8")).digest()
        rows = marshal.loads(_cache_file(cache, old, name).read_bytes())
        vrfs, zones, prefixes, problems, dns = rows
    except (OSError, ValueError, EOFError, TypeError, IndexError):
        return
    if vrfs or zones or problems or dns is not None or not isinstance(prefixes, list):
        return
    probs: list[Problem] = []
    try:
        doc = load_yaml_text("prefixes:\n" + block, name)
    except CloudctlError:
        return
    m = _FILE_ZONE.search(new_text)  # the first line starting with "zone:"
    file_zone = (m.group(1).split("#", 1)[0].strip() or None) if m else None
    items = doc.get("prefixes") if isinstance(doc, LDict) else None
    if not isinstance(items, LList) or len(items) != 1 or not isinstance(items[0], LDict):
        return
    p = _load_prefix(items[0], file_zone, probs)
    if p is None or probs:
        return
    p.location = Location(name, line)
    p.source = path
    # the old rows as they are, plus the new one (no need to build the file's prefixes)
    prefixes.append(_part_to_rows(_FilePart(prefixes=[p]))[2][0])
    new = _cache_file(cache, hashlib.sha256(new_text.encode("utf-8")).digest(), name)
    with contextlib.suppress(OSError):
        tmp = new.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(marshal.dumps((vrfs, zones, prefixes, problems, dns)))
        os.replace(tmp, new)


_FILE_ZONE = re.compile(r"^zone:(.*)$", re.M)


def _merge(plan: AddressPlan, part: _FilePart) -> None:
    plan.problems.extend(part.problems)
    if part.dns is not None:
        plan.dns_nameservers = part.dns
    for v in part.vrfs:
        if v.name in plan.vrfs:
            plan.problems.append(
                Problem(
                    v.location,
                    _("duplicate VRF {name!r} (first at {location})").format(
                        name=v.name, location=plan.vrfs[v.name].location
                    ),
                )
            )
        else:
            plan.vrfs[v.name] = v
    for z in part.zones:
        if z.name in plan.zones:
            plan.problems.append(
                Problem(
                    z.location,
                    _("duplicate zone {name!r} (first at {location})").format(
                        name=z.name, location=plan.zones[z.name].location
                    ),
                )
            )
        else:
            plan.zones[z.name] = z
    plan.prefixes.extend(part.prefixes)


def _loc_row(loc: Location | None) -> int:
    return (loc.line or 0) if loc else 0


def _part_to_rows(part: _FilePart) -> tuple:
    return (
        [(v.name, v.rd, v.name_zh, v.description, _loc_row(v.location)) for v in part.vrfs],
        [
            (
                z.name,
                z.name_zh,
                z.name_en,
                z.vrf,
                z.supernets,
                z.vlan_range,
                z.purpose,
                z.dns_nameservers,
                _loc_row(z.location),
            )
            for z in part.zones
        ],
        [
            (
                p.name,
                p.cidr,
                p.zone,
                p.tenant,
                p.vrf,
                p.vlan,
                p.purpose,
                p.status,
                p.gateway,
                tuple(p.allocation_pools),
                tuple(p.dns_nameservers),
                tuple((r.start, r.end, r.purpose) for r in p.reserved),
                p.description,
                p.location.line or 0,
                p.version,
                p.first,
                p.prefixlen,
                p.last,
                p.valid,
            )
            for p in part.prefixes
        ],
        [
            (pr.location.file if pr.location else None, _loc_row(pr.location), freeze(pr.message))
            for pr in part.problems
        ],
        part.dns,
    )


def _part_from_rows(rows: tuple, path: Path, name: str) -> _FilePart:
    vrfs, zones, prefixes, problems, dns = rows
    part = _FilePart(dns=dns)
    part.vrfs = [Vrf(n, rd, zh, d, Location(name, ln or None)) for n, rd, zh, d, ln in vrfs]
    part.zones = [
        Zone(
            n,
            zh,
            en,
            vrf,
            tuple(sup),
            tuple(vl) if vl else None,
            pur,
            tuple(dn),
            Location(name, ln or None),
        )
        for n, zh, en, vrf, sup, vl, pur, dn, ln in zones
    ]
    out = part.prefixes
    for r in prefixes:
        p = Prefix(
            r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
            list(r[9]),
            list(r[10]),
            [Reservation(*x) for x in r[11]] if r[11] else [],
            r[12], name, r[13] or None, path, r[14], r[15], r[16], r[17], None, r[18],
        )  # fmt: skip
        out.append(p)
    part.problems = [
        Problem(Location(f, ln or None) if f is not None else None, thaw(m))
        for f, ln, m in problems
    ]
    return part


def _load_doc(part: _FilePart, path: Path, doc: LDict) -> None:
    probs = part.problems
    for key in doc:
        if key not in ("vrfs", "zones", "prefixes", "dns", "zone"):
            probs.append(
                Problem(
                    doc.loc(key),
                    _("unknown key {key!r} (expected vrfs, zones, prefixes, dns, zone)").format(
                        key=key
                    ),
                )
            )
    if "dns" in doc:
        dns = _str_list(doc, "dns", probs)
        for i, d in enumerate(dns):
            _check_ip(d, doc["dns"], i, probs, "DNS server")
        part.dns = tuple(dns)
    for i, item in enumerate(_seq(doc, "vrfs", probs)):
        if not _is_map(item, doc["vrfs"], i, probs, "VRF"):
            continue
        _unknown_keys(item, VRF_KEYS, probs)
        name = _req_str(item, "name", probs)
        if name is None:
            continue
        part.vrfs.append(
            Vrf(
                name,
                _text(item, "rd", probs) or None,
                _text(item, "name_zh", probs),
                _text(item, "description", probs),
                item.loc(),
            )
        )
    for i, item in enumerate(_seq(doc, "zones", probs)):
        if not _is_map(item, doc["zones"], i, probs, "zone"):
            continue
        _unknown_keys(item, ZONE_KEYS, probs)
        zone = _load_zone(item, probs)
        if zone is not None:
            part.zones.append(zone)
    file_zone = doc.get("zone")
    if file_zone is not None and not isinstance(file_zone, str):
        probs.append(Problem(doc.loc("zone"), _("zone: expected a zone name")))
        file_zone = None
    for i, item in enumerate(_seq(doc, "prefixes", probs)):
        if not _is_map(item, doc["prefixes"], i, probs, "prefix"):
            continue
        p = _load_prefix(item, file_zone, probs)
        if p is not None:
            p.source = path
            part.prefixes.append(p)


def _load_zone(item: LDict, probs: list[Problem]) -> Zone | None:
    name = _req_str(item, "name", probs)
    if name is None:
        return None
    supernets = _str_list(item, "supernets", probs)
    if not supernets:
        probs.append(
            Problem(
                item.loc("supernets" if "supernets" in item else None),
                _("zone {name!r}: supernets: at least one prefix is required").format(name=name),
            )
        )
    good = []
    for i, s in enumerate(supernets):
        try:
            parse_cidr(s)
            good.append(s)
        except AddressError as e:
            probs.append(
                Problem(
                    _item_loc(item["supernets"], i, item),
                    _("zone {name!r}: {e}").format(name=name, e=e),
                )
            )
    vlan_range = None
    if item.get("vlans") is not None:
        raw = str(item["vlans"])
        lo, sep, hi = raw.partition("-")
        try:
            lo_i = int(lo)
            hi_i = int(hi) if sep else lo_i
            if not (1 <= lo_i <= hi_i <= 4094):
                raise ValueError
            vlan_range = (lo_i, hi_i)
        except ValueError:
            probs.append(
                Problem(
                    item.loc("vlans"),
                    _(
                        "zone {name!r}: vlans: {raw!r} is not a VLAN range like 1500-1999 (1-4094)"
                    ).format(name=name, raw=raw),
                )
            )
    dns = _str_list(item, "dns", probs)
    for i, d in enumerate(dns):
        _check_ip(d, item["dns"], i, probs, "DNS server")
    return Zone(
        name=name,
        name_zh=_text(item, "name_zh", probs),
        name_en=_text(item, "name_en", probs),
        vrf=_text(item, "vrf", probs) or "gov",
        supernets=tuple(good),
        vlan_range=vlan_range,
        purpose=_text(item, "purpose", probs),
        dns_nameservers=tuple(dns),
        location=item.loc(),
    )


def _load_prefix(item: LDict, file_zone: str | None, probs: list[Problem]) -> Prefix | None:
    for key in item:
        if key not in PREFIX_KEYS:
            probs.append(Problem(item.loc(key), _("unknown key {key!r} in prefix").format(key=key)))
    name = _req_str(item, "name", probs)
    raw = item.get("prefix")
    if raw is None:
        probs.append(
            Problem(item.loc(), _("prefix {name}: 'prefix' is required").format(name=name or "?"))
        )
        return None
    if name is None:
        name = f"<unnamed {raw}>"
    p = Prefix(
        name=name,
        cidr=str(raw).strip(),
        zone=_text(item, "zone", probs) or file_zone or "",
        tenant=_text(item, "tenant", probs) or None,
        vrf=_text(item, "vrf", probs),
        vlan=None,
        purpose=_text(item, "purpose", probs),
        status=_text(item, "status", probs) or "active",
        gateway=None if (gw := _text(item, "gateway", probs, None)) is None else gw.strip(),
        allocation_pools=[],
        dns_nameservers=[],
        reserved=[],
        description=_text(item, "description", probs),
        file=item.file,
        line=item.line,
    )
    try:
        p.version, p.first, p.prefixlen = parse_cidr(p.cidr)
        p.last = p.first + (1 << ((32 if p.version == 4 else 128) - p.prefixlen)) - 1
    except AddressError as e:
        probs.append(Problem(item.loc("prefix"), _("prefix {name}: {e}").format(name=name, e=e)))
        p.valid = False
    if not p.zone:
        probs.append(
            Problem(
                item.loc(),
                _("prefix {name}: no zone (set zone: here or at the top of the file)").format(
                    name=name
                ),
            )
        )
    if p.status not in STATUSES:
        probs.append(
            Problem(
                item.loc("status"),
                _("prefix {name}: status {status!r} is not one of {names}").format(
                    name=name, status=p.status, names=", ".join(STATUSES)
                ),
            )
        )
    vlan = item.get("vlan")
    if vlan is not None:
        if isinstance(vlan, bool) or not isinstance(vlan, int) or not 1 <= vlan <= 4094:
            probs.append(
                Problem(
                    item.loc("vlan"),
                    _("prefix {name}: VLAN {vlan!r} is not an integer in 1-4094").format(
                        name=name, vlan=vlan
                    ),
                )
            )
        else:
            p.vlan = vlan
    for i, r in enumerate(_seq(item, "pools", probs)):
        try:
            p.allocation_pools.append(parse_range(r))
        except AddressError as e:
            probs.append(
                Problem(
                    _item_loc(item["pools"], i, item),
                    _("prefix {name}: pool {e}").format(name=name, e=e),
                )
            )
    p.dns_nameservers = _str_list(item, "dns", probs)
    for i, r in enumerate(_seq(item, "reserved", probs)):
        try:
            if isinstance(r, dict):
                start, end = parse_range(r.get("range", r))
                p.reserved.append(Reservation(start, end, _text(r, "purpose", probs)))
            else:
                start, end = parse_range(r)
                p.reserved.append(Reservation(start, end))
        except AddressError as e:
            probs.append(
                Problem(
                    _item_loc(item["reserved"], i, item),
                    _("prefix {name}: reserved {e}").format(name=name, e=e),
                )
            )
    if p.valid and (p.gateway is not None or p.allocation_pools or p.reserved or p.dns_nameservers):
        check_addresses(p, probs)  # depends on the prefix alone: done once, then cached
    return p


def check_addresses(p: Prefix, probs: list[Problem]) -> None:
    loc = p.location
    v4_hosts = p.version == 4 and p.prefixlen < 31
    gw = None
    if p.gateway is not None:
        try:
            gv, gw = parse_ip(p.gateway)
        except AddressError as e:
            probs.append(Problem(loc, _("prefix {name}: gateway {e}").format(name=p.name, e=e)))
        else:
            if gv != p.version or not p.first <= gw <= p.last:
                probs.append(
                    Problem(
                        loc,
                        _("prefix {name}: gateway {gateway} is outside {cidr}").format(
                            name=p.name, gateway=p.gateway, cidr=p.cidr
                        ),
                    )
                )
                gw = None
            elif v4_hosts and gw == p.first:
                probs.append(
                    Problem(
                        loc,
                        _(
                            "prefix {name}: gateway {gateway} is the network address of {cidr}"
                        ).format(name=p.name, gateway=p.gateway, cidr=p.cidr),
                    )
                )
            elif v4_hosts and gw == p.last:
                probs.append(
                    Problem(
                        loc,
                        _(
                            "prefix {name}: gateway {gateway} is the broadcast address of {cidr}"
                        ).format(name=p.name, gateway=p.gateway, cidr=p.cidr),
                    )
                )
    pools: list[tuple[int, int, str]] = []
    for start, end in p.allocation_pools:
        text = f"{start}-{end}"
        span = _span(p, start, end, "pool", probs)
        if span is None:
            continue
        a, b = span
        if a < p.first or b > p.last:
            probs.append(
                Problem(
                    loc,
                    _("prefix {name}: pool {text} is outside {cidr}").format(
                        name=p.name, text=text, cidr=p.cidr
                    ),
                )
            )
            continue
        if v4_hosts and (a == p.first or b == p.last):
            probs.append(
                Problem(
                    loc,
                    _(
                        "prefix {name}: pool {text} includes the network or broadcast address"
                    ).format(name=p.name, text=text),
                )
            )
        if gw is not None and a <= gw <= b:
            probs.append(
                Problem(
                    loc,
                    _("prefix {name}: pool {text} contains the gateway {gateway}").format(
                        name=p.name, text=text, gateway=p.gateway
                    ),
                )
            )
        pools.append((a, b, text))
    pools.sort()
    for x, y in itertools.pairwise(pools):
        if y[0] <= x[1]:
            probs.append(
                Problem(
                    loc,
                    _("prefix {name}: pools {value} and {y} overlap").format(
                        name=p.name, value=x[2], y=y[2]
                    ),
                )
            )
    for r in p.reserved:
        text = f"{r.start}-{r.end}"
        span = _span(p, r.start, r.end, "reserved range", probs)
        if span is None:
            continue
        a, b = span
        if a < p.first or b > p.last:
            probs.append(
                Problem(
                    loc,
                    _("prefix {name}: reserved range {text} is outside {cidr}").format(
                        name=p.name, text=text, cidr=p.cidr
                    ),
                )
            )
            continue
        for pa, pb, ptext in pools:
            if a <= pb and pa <= b:
                probs.append(
                    Problem(
                        loc,
                        _("prefix {name}: reserved range {text} overlaps pool {ptext}").format(
                            name=p.name, text=text, ptext=ptext
                        ),
                    )
                )
    for d in p.dns_nameservers:
        try:
            parse_ip(d)
        except AddressError as e:
            probs.append(Problem(loc, _("prefix {name}: DNS server {e}").format(name=p.name, e=e)))


def _span(
    p: Prefix, start: str, end: str, what: str, probs: list[Problem]
) -> tuple[int, int] | None:
    try:
        va, a = parse_ip(start)
        vb, b = parse_ip(end)
    except AddressError as e:
        probs.append(
            Problem(p.location, _("prefix {name}: {what} {e}").format(name=p.name, what=what, e=e))
        )
        return None
    if va != p.version or vb != p.version:
        probs.append(
            Problem(
                p.location,
                _("prefix {name}: {what} {start}-{end} is outside {cidr}").format(
                    name=p.name, what=what, start=start, end=end, cidr=p.cidr
                ),
            )
        )
        return None
    if a > b:
        probs.append(
            Problem(
                p.location,
                _("prefix {name}: {what} {start}-{end} ends before it starts").format(
                    name=p.name, what=what, start=start, end=end
                ),
            )
        )
        return None
    return a, b


def _seq(obj: LDict, key: str, probs: list[Problem]) -> list:
    val = obj.get(key)
    if val is None:
        return []
    if not isinstance(val, list):
        probs.append(Problem(obj.loc(key), _("{key}: expected a list").format(key=key)))
        return []
    return val


def _str_list(obj: LDict, key: str, probs: list[Problem]) -> list[str]:
    val = obj.get(key)
    if val is None:
        return []
    if isinstance(val, str):
        return [val]
    if not isinstance(val, list):
        probs.append(Problem(obj.loc(key), _("{key}: expected a list").format(key=key)))
        return []
    out = []
    for i, v in enumerate(val):
        if isinstance(v, (dict, list)):
            probs.append(
                Problem(_item_loc(val, i, obj), _("{key}: each item must be text").format(key=key))
            )
        else:
            out.append(str(v).strip())
    return out


def _text(obj: Any, key: str, probs: list[Problem], default: Any = "") -> Any:
    """A text field: a number is fine (it reads as text), a list or mapping is a mistake
    that ``str()`` would silently turn into ``"['a', 'b']"``."""
    val = obj.get(key)
    if val is None:
        return default
    if type(val) is str:  # the usual case, first
        return val
    if isinstance(val, (dict, list)):
        what = "a list" if isinstance(val, list) else "a mapping"
        probs.append(
            Problem(
                loc_of(obj, key), _("{key}: expected text, not {what}").format(key=key, what=what)
            )
        )
        return default
    return str(val)


def _req_str(obj: LDict, key: str, probs: list[Problem]) -> str | None:
    val = obj.get(key)
    if val is None or (isinstance(val, str) and not val.strip()):
        probs.append(Problem(obj.loc(), _("'{key}' is required").format(key=key)))
        return None
    if not isinstance(val, (str, int)) or isinstance(val, bool):
        probs.append(Problem(obj.loc(key), _("{key}: expected text").format(key=key)))
        return None
    return str(val).strip()


def _is_map(item: Any, parent: LList, i: int, probs: list[Problem], what: str) -> bool:
    if isinstance(item, LDict):
        return True
    probs.append(
        Problem(
            parent.loc(i), _("each {what} must be a mapping (key: value lines)").format(what=what)
        )
    )
    return False


def _unknown_keys(item: LDict, allowed: set[str], probs: list[Problem]) -> None:
    for key in item:
        if key not in allowed:
            probs.append(Problem(item.loc(key), _("unknown key {key!r}").format(key=key)))


def _item_loc(seq: Any, i: int, owner: LDict) -> Location:
    if isinstance(seq, LList):
        return seq.loc(i)
    return owner.loc()


def _check_ip(text: str, seq: Any, i: int, probs: list[Problem], what: str) -> None:
    try:
        parse_ip(text)
    except AddressError as e:
        loc = seq.loc(i) if isinstance(seq, LList) else None
        probs.append(Problem(loc, _("{what}: {e}").format(what=what, e=e)))


# ---------------------------------------------------------------------------------------
# departments


def load_departments(path: str | Path) -> tuple[list[Department], list[Problem]]:
    """Departments and counties; problems are returned, not raised."""
    probs: list[Problem] = []
    try:
        doc = load_yaml(path)
    except CloudctlError as e:
        return [], e.problems
    items = doc.get("departments") if isinstance(doc, dict) else None
    if not isinstance(items, LList):
        where = doc.loc() if isinstance(doc, LDict) else Location(display_path(Path(path)), 1)
        return [], [Problem(where, _("expected 'departments:' with a list"))]
    for key in doc:
        if key != "departments":
            probs.append(
                Problem(
                    doc.loc(key), _("unknown key {key!r} (expected departments)").format(key=key)
                )
            )
    out: list[Department] = []
    seen: dict[str, Department] = {}
    for i, item in enumerate(items):
        if not _is_map(item, items, i, probs, "department"):
            continue
        _unknown_keys(item, DEPARTMENT_KEYS, probs)
        code = _req_str(item, "code", probs)
        if code is None:
            continue
        if not re.fullmatch(r"[a-z][a-z0-9]{1,15}", code):
            probs.append(
                Problem(
                    item.loc("code"),
                    _("code {code!r}: use 2-16 lowercase ASCII letters/digits").format(code=code),
                )
            )
        if code in seen:
            probs.append(
                Problem(
                    item.loc("code"),
                    _("duplicate code {code!r} (first at {location})").format(
                        code=code, location=seen[code].location
                    ),
                )
            )
            continue
        kind = _text(item, "kind", probs) or "department"
        if kind not in DEPARTMENT_KINDS:
            probs.append(
                Problem(
                    item.loc("kind"),
                    _("kind {kind!r}: expected department or county").format(kind=kind),
                )
            )
        contacts = []
        for j, c in enumerate(_seq(item, "contacts", probs)):
            if _is_map(c, item["contacts"], j, probs, "contact"):
                _unknown_keys(c, CONTACT_KEYS, probs)
                contacts.append({k: _text(c, k, probs) for k in c if k in CONTACT_KEYS})
        dep = Department(
            code=code,
            name_zh=_text(item, "name_zh", probs),
            name_en=_text(item, "name_en", probs),
            kind=kind,
            contacts=tuple(contacts),
            systems=tuple(_str_list(item, "systems", probs)),
            location=item.loc(),
        )
        seen[code] = dep
        out.append(dep)
    return out, probs


def sorted_problems(problems: Iterable[Problem]) -> list[Problem]:
    def key(p: Problem):
        loc = p.location or Location("")
        return (loc.file, loc.line or 0, p.message)

    return sorted(problems, key=key)
