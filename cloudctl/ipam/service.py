"""The edge of the ipam area: reads the center's files, takes the plan lock, writes files
atomically. The decisions themselves live in the pure modules (validate, allocate, edit)."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cloudctl.core.center import Center
from cloudctl.core.errors import CloudctlError, InputError, Location, Problem, ValidationFailed
from cloudctl.core.fileio import atomic_write, read_input_text
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import display_path
from cloudctl.ipam import index
from cloudctl.ipam.allocate import AllocationRequest, Held, plan_allocation, subnet_defaults
from cloudctl.ipam.api import resolve_dns
from cloudctl.ipam.model import (
    AddressPlan,
    Department,
    Prefix,
    cache_appended,
    load_departments,
    load_plan,
    parse_cidr,
    plan_files,
)
from cloudctl.ipam.stamps import Stamps
from cloudctl.ipam.validate import validate_plan
from cloudctl.state import SqliteDB, open_state
from cloudctl.state.reservations import (
    Reservation,
    ReservationStore,
    clone_id,
    committed_in_head,
    plan_key,
)

if TYPE_CHECKING:
    from cloudctl.ipam.exchange import ImportedRow

# Start-up counts (issue 17): the editing (ruamel.yaml), spreadsheet and audit modules are
# imported by the functions that use them, not by every command that loads the plan.


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Loading 100k prefixes creates ~1M objects and no cycles: skip the cyclic GC meanwhile,
    and freeze what exists when it ends. Without the freeze the first collection after
    ``gc.enable()`` walks every one of those objects (~0.2 s at 100k prefixes, paid by every
    command that loads the plan); frozen, they are still freed by reference counting."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.freeze()
            gc.enable()


@dataclass
class Loaded:
    plan: AddressPlan
    departments: list[Department]
    problems: list[Problem]

    @property
    def tenants(self) -> set[str]:
        return {d.code for d in self.departments}


def plan_root(center: Center, plan: str | Path | None = None) -> Path:
    return Path(plan).resolve() if plan else center.address_plan


def cache_dir(center: Center) -> Path:
    return center.state / "cache" / "ipam"


def load(
    center: Center,
    plan: str | Path | None = None,
    texts: dict | None = None,
    dns: bool = True,
    index_aside: bool = False,
) -> Loaded:
    """Plan + departments + every problem (not raised: callers choose). ``index_aside``:
    a read-only command that does not need the allocation index itself lets a forked
    process write it (a big plan's index is ~0.15 s of a cold validate)."""
    with quiet_gc():
        p = load_plan(plan_root(center, plan), cache_dir(center), texts)
        deps: list[Department] = []
        tenants = None
        dep_problems: list[Problem] = []
        if center.departments.exists():
            deps, dep_problems = load_departments(center.departments)
            tenants = [d.code for d in deps]
        elif any(x.tenant for x in p.prefixes):  # else every tenant: would pass unchecked
            dep_problems.append(
                Problem(
                    Location(display_path(center.departments)),
                    _("departments file not found: the plan's tenants cannot be checked"),
                )
            )
        p.problems.extend(dep_problems)
        problems = validate_plan(p, tenants)
        if not problems and texts is None:
            _write_index(center, p, aside=index_aside)
        if dns:
            resolve_dns(p)
    return Loaded(p, deps, problems)


INDEX_ASIDE_MIN = 20_000  # prefixes; below, building the index costs less than a fork


def _write_index(center: Center, p: AddressPlan, aside: bool = False) -> None:
    """Keep the allocation index of a plan that validated clean (once per plan version);
    ``aside``: in a forked process this one does not wait for (a command that needs the
    index before it is there takes the full path, as without one)."""
    cache = cache_dir(center)
    if len(p.digests) == len(p.files) and all(str(f) in p.digests for f in p.files):
        # the contents just read (a file changed since then shows at the next command)
        sums = index.digests([], center.departments, Stamps(cache))
        if sums is None:
            return
        sums = {**{str(f): p.digests[str(f)] for f in p.files}, **sums}
    else:
        sums = index.digests(p.files, center.departments, Stamps(cache))
    if sums is None:
        return
    sig = index.signature(sums)
    if index.usable(cache, sig):
        return
    if aside and len(p.prefixes) >= INDEX_ASIDE_MIN:
        pid = _fork()
        if pid == 0:  # the child: build, write, leave without any exit hook
            code = 0
            try:
                _detach()  # whoever waits for the command's output must not wait for this
                ix = index.Index.build(p)
                if ix is not None:
                    index.write(cache, sig, ix)
            except BaseException:
                code = 1
            os._exit(code)
        if pid is not None:
            return
    ix = index.Index.build(p)
    if ix is not None:
        index.write(cache, sig, ix)


def _detach() -> None:
    """Point stdin, stdout and stderr at /dev/null (a pipe stays open while any process
    holds it)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _fork() -> int | None:
    """``os.fork()``, or None where it is not possible or not safe (threads running)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    try:
        return os.fork()
    except OSError:
        return None


def load_valid(center: Center, plan: str | Path | None = None, dns: bool = True) -> Loaded:
    loaded = load(center, plan, dns=dns)
    if loaded.problems:
        raise ValidationFailed(
            loaded.problems,
            _(
                "{len} problem(s) in the address plan: fix them first (cloudctl ipam validate)"
            ).format(len=len(loaded.problems)),
        )
    return loaded


@contextlib.contextmanager
def plan_lock(center: Center, root: Path) -> Iterator[None]:
    """One lock for the whole plan: two operators never write it at once. It lives in the
    center's state (a file under <state>/locks, or a PostgreSQL advisory lock shared by
    every clone), not next to the YAML people edit."""
    tag = hashlib.sha1(reservation_key(center, root).encode()).hexdigest()[:12]
    with open_state(center).lock(f"ipam-plan-{tag}", timeout=30, what="the address plan"):
        yield


# ---------------------------------------------------------------------------------------
# reservations across clones (docs/state.md)


def reservation_key(center: Center, root: Path) -> str:
    return plan_key(center.name, center.root, root)


def reservation_store(center: Center, create: bool = True) -> ReservationStore | None:
    """The shared reservations; None for a SQLite state that does not exist yet and
    ``create`` is False (a read-only command does not create the database)."""
    db = open_state(center)
    if not create and isinstance(db, SqliteDB) and not db.path.exists():
        return None
    return ReservationStore(db)


def _in_plan(plan: AddressPlan, r: Reservation) -> Prefix | None:
    p = plan.prefix(r.name)
    return p if p is not None and p.cidr == r.prefix else None


def held_elsewhere(center: Center, plan: AddressPlan, held: list[Reservation]) -> list[Held]:
    """Reservations this plan does not hold yet, other than this clone's own (which it
    replaces when it allocates the name again)."""
    me = clone_id(center.root)
    return [
        Held(r.name, r.prefix, r.vrf, r.zone, r.vlan)
        for r in held
        if _in_plan(plan, r) is None and r.clone != me
    ]


def reservation_warnings(center: Center, plan: AddressPlan, root: Path) -> list[dict]:
    """Reservations that never landed (not committed by their clone), with their age; this
    clone's own committed ones are marked as such on the way."""
    store = reservation_store(center, create=False)
    if store is None:
        return []
    key = reservation_key(center, root)
    me = clone_id(center.root)
    out = []
    for r in store.for_plan(key):
        if r.committed_at is not None:
            continue
        here = _in_plan(plan, r)
        mine_here = r.clone == me and here is not None and here.source is not None
        if mine_here and committed_in_head(center.root, here.source, r.name, r.prefix):
            store.mark_committed(key, r.name)
            continue
        where = "this clone" if r.clone == me else f"clone {r.clone}"
        state = (
            "written to the plan here but not committed"
            if r.clone == me and here is not None
            else "not in this plan and not committed by its clone"
        )
        out.append(
            {
                "name": r.name,
                "prefix": r.prefix,
                "zone": r.zone,
                "by": r.operator,
                "clone": r.clone,
                "age": r.age(),
                "message": f"reservation {r.name} {r.prefix} by {r.operator} ({where}), "
                f"{r.age()} ago, has not landed: {state}",
            }
        )
    return out


# ---------------------------------------------------------------------------------------
# allocate


@dataclass
class AllocateResult:
    created: bool
    entry: dict
    file: str
    parent: str
    dry_run: bool


def target_file(plan: AddressPlan, zone: str, vrf: str, within: Prefix | None) -> Path:
    """Where a new prefix of ``zone`` is written: next to its parent container, else after
    the zone's last prefix, else a new ``prefixes/<zone>.yaml``."""
    if within is not None and within.source is not None:
        return within.source
    last = None
    for p in plan.prefixes:
        if p.zone == zone and p.vrf == vrf and p.source is not None:
            last = p.source
    if last is not None:
        return last
    root = plan.root if plan.root.is_dir() else plan.root.parent
    return root / "prefixes" / f"{zone}.yaml"


def _file_zone(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("zone:"):
            return line.split(":", 1)[1].split("#", 1)[0].strip() or None
    return None


def _entry_for_file(entry: dict, zone: str, text: str) -> dict:
    """Omit ``zone:`` when the file's own ``zone:`` already says it."""
    if _file_zone(text) == zone:
        return entry
    out = {"name": entry["name"], "prefix": entry["prefix"], "zone": zone}
    out.update({k: v for k, v in entry.items() if k not in out})
    return out


# a name is a key other files refer to (tenant subnets): plain, one token, no YAML syntax
ALLOCATION_NAME = re.compile(r"[^\W_][\w.-]{0,63}")


def allocate(
    center: Center, req: AllocationRequest, *, dry_run: bool = False, plan: str | Path | None = None
) -> AllocateResult:
    if not ALLOCATION_NAME.fullmatch(req.name or ""):
        raise InputError(
            _(
                "bad allocation name {name!r}: letters, digits, '.', "
                "'_' and '-' only, starting with a letter or digit, "
                "at most 64 characters (e.g. rsj-app)"
            ).format(name=req.name),
            Location("--name"),
        )
    root = plan_root(center, plan)
    with quiet_gc(), plan_lock(center, root):
        fast = _allocate_indexed(center, req, root, dry_run)
        if fast is not None:
            return fast
        loaded = load_valid(center, plan, dns=False)
        # the plan validated clean, so it has its index now: allocating through it also
        # leaves the index of the plan after the allocation (else every later allocation
        # would read the whole plan again, until the next validate)
        fast = _allocate_indexed(center, req, root, dry_run)
        if fast is not None:
            return fast
        p = loaded.plan
        store = reservation_store(center, create=not dry_run)
        key = reservation_key(center, root)
        held = held_elsewhere(center, p, store.for_plan(key)) if store else []
        tenants = loaded.tenants if loaded.departments else None
        decision = plan_allocation(p, req, tenants, held)
        if not decision.created:
            existing = decision.prefix
            assert existing is not None
            resolve_dns(p)
            decision.entry = existing.as_dict()
            return AllocateResult(
                False, decision.entry, str(existing.location), decision.parent, dry_run
            )
        zone = p.zones[req.zone]
        within = None
        if req.within:
            from cloudctl.ipam.allocate import find_prefix

            within = find_prefix(p, req.within, zone.vrf)
        path = target_file(p, req.zone, zone.vrf, within)
        old, splice = _write_entry(center, store, key, req, zone, decision, path, dry_run)
        if not dry_run and splice.line is not None:
            cache_appended(path, old, splice.text, splice.block, splice.line, cache_dir(center))
        return AllocateResult(True, decision.entry, display_path(path), decision.parent, dry_run)


def _write_entry(center, store, key, req, zone, decision, path: Path, dry_run: bool):
    """The new prefix spliced into its zone file (comments kept): first the reservation in
    the shared store, then the file. Returns the file's old text and the splice; writes
    nothing on a dry run. One place for the full and the indexed allocation path."""
    from cloudctl.core.audit import operator
    from cloudctl.ipam.edit import append_entry

    old = read_input_text(path) if path.exists() else ""
    header = f"# {zone.name_zh or zone.name} ({zone.name})\nzone: {zone.name}\n"
    entry = _entry_for_file(decision.entry, req.zone, old or header)
    splice = append_entry(old, entry, header=header)
    if dry_run:
        return old, splice
    if store is not None:
        store.add(
            Reservation(
                plan_key=key,
                name=req.name,
                prefix=decision.entry["prefix"],
                vrf=zone.vrf,
                zone=req.zone,
                tenant=req.tenant,
                vlan=decision.entry.get("vlan"),
                clone=clone_id(center.root),
                host=socket.gethostname(),
                operator=operator(),
                created_at=time.time(),
            )
        )
    atomic_write(path, splice.text)
    return old, splice


def _allocate_indexed(
    center: Center, req: AllocationRequest, root: Path, dry_run: bool
) -> AllocateResult | None:
    """``allocate`` on the index of a plan already validated clean (cloudctl/ipam/index.py):
    the same decision on the prefixes that matter to the request. None: no index for the
    plan as it is now, or a case the full path answers (an existing name, an unknown zone or
    container, departments.yaml with problems)."""
    files = plan_files(root)
    cache = cache_dir(center)
    sums = index.digests(files, center.departments, Stamps(cache))
    if sums is None:
        return None
    ix = index.read(cache, index.signature(sums))
    if ix is None or ix.find(req.name) is not None:
        return None
    zone_row = next((z for z in ix.zones if z[0] == req.zone), None)
    if zone_row is None:
        return None
    zone_vrf = zone_row[3]
    ids: set[int] = set()
    if req.within:
        w = ix.find(req.within)
        if w is None:
            w = ix.find_cidr(req.within, zone_vrf)
        if w is None:
            return None
        wp = ix.prefix(w)
        ids.add(w)
        ids.update(ix.within(wp.vrf, wp.version, wp.first, wp.last))
    else:
        for sup in zone_row[4]:
            v, first, plen = parse_cidr(sup)
            last = first + (1 << ((32 if v == 4 else 128) - plen)) - 1
            ids.update(ix.within(zone_vrf, v, first, last))
    store = reservation_store(center, create=not dry_run)
    key = reservation_key(center, root)
    reservations = store.for_plan(key) if store else []
    me = clone_id(center.root)
    others = {r.name for r in reservations if r.clone != me}
    if others:  # held_elsewhere looks them up (this clone's own never count as held)
        ids.update(ix.find_all(others))
    if isinstance(req.vlan, int):  # its holder, for the "already used by" message
        ids.update(ix.holders_of(req.zone, req.vlan))
    p = ix.plan(root, ids)
    tenants = None
    if center.departments.exists():
        deps, dep_problems = load_departments(center.departments)
        if dep_problems:
            return None
        tenants = {d.code for d in deps} if deps else None
    held = held_elsewhere(center, p, reservations) if store else []
    if req.vlan == "auto":
        # the zone's VLAN holders are not in the small plan: the index knows their VLANs
        vlan = _lowest_free_vlan(zone_row[5], ix.vlans_used(req.zone), held, req.zone)
        if vlan is None and zone_row[5]:
            return None  # the full path says that the range is full
        req = dataclasses.replace(req, vlan=vlan)
    decision = plan_allocation(p, req, tenants, held)
    if not decision.created:
        return None
    zone = p.zones[req.zone]
    within = None
    if req.within:
        from cloudctl.ipam.allocate import find_prefix

        within = find_prefix(p, req.within, zone.vrf)
    if within is not None and within.source is not None:
        path = within.source
    elif (req.zone, zone.vrf) in ix.last_file:
        path = Path(ix.files[ix.last_file[(req.zone, zone.vrf)]])
    else:
        path = (root if root.is_dir() else root.parent) / "prefixes" / f"{req.zone}.yaml"
    old, splice = _write_entry(center, store, key, req, zone, decision, path, dry_run)
    if not dry_run and splice.line is not None:
        cache_appended(path, old, splice.text, splice.block, splice.line, cache)
        _index_after(center, ix, p, tenants, sums, path, splice, req, zone)
    return AllocateResult(True, decision.entry, display_path(path), decision.parent, dry_run)


def _lowest_free_vlan(
    vlan_range: list[int] | None, used: set[int], held: list[Held], zone: str
) -> int | None:
    """What ``allocate.next_vlan`` picks, from the index's VLANs of the zone."""
    if not vlan_range:
        return None
    used = used | {h.vlan for h in held if h.zone == zone and h.vlan is not None}
    return next((v for v in range(vlan_range[0], vlan_range[1] + 1) if v not in used), None)


def _index_after(
    center: Center,
    ix: index.Index,
    small: AddressPlan,
    tenants: set[str] | None,
    sums: dict[str, bytes],
    path: Path,
    splice,
    req: AllocationRequest,
    zone,
) -> None:
    """The index of the plan with the new prefix, if the prefix passes every rule among
    the prefixes around it (else the next command validates the whole plan)."""
    from cloudctl.core.yamlio import load_yaml_text

    if str(path) not in sums:
        return
    try:
        doc = load_yaml_text("prefixes:\n" + splice.block, display_path(path))
        (written,) = doc["prefixes"]
        cidr = str(written["prefix"])
        version, first, plen = parse_cidr(cidr)
    except (CloudctlError, KeyError, TypeError, ValueError):
        return
    vlan = written.get("vlan")
    new = Prefix(
        req.name, cidr, req.zone, req.tenant, zone.vrf,
        vlan if isinstance(vlan, int) and not isinstance(vlan, bool) else None,
        req.purpose or "", req.status, None, [], [], [], "", display_path(path), splice.line,
        path, version, first, plen, first + (1 << ((32 if version == 4 else 128) - plen)) - 1,
    )  # fmt: skip
    small.prefixes.append(new)
    small.invalidate()
    if validate_plan(small, tenants) or not ix.add(new):
        return
    sums = dict(sums)
    sums[str(path)] = hashlib.sha256(splice.text.encode("utf-8")).digest()
    index.write(cache_dir(center), index.signature(sums), ix)


# ---------------------------------------------------------------------------------------
# release


@dataclass
class ReleaseResult:
    released: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dry_run: bool = False


def descendants(plan: AddressPlan, name: str) -> list[Prefix]:
    children: dict[str, list[Prefix]] = {}
    for p in plan.prefixes:
        if p.parent:
            children.setdefault(p.parent, []).append(p)
    out: list[Prefix] = []
    stack = list(children.get(name, ()))
    while stack:
        c = stack.pop()
        out.append(c)
        stack.extend(children.get(c.name, ()))
    return out


def release(
    center: Center,
    name: str,
    *,
    recursive: bool = False,
    dry_run: bool = False,
    plan: str | Path | None = None,
) -> ReleaseResult:
    root = plan_root(center, plan)
    with quiet_gc(), plan_lock(center, root):
        loaded = load(center, plan)
        p = loaded.plan
        target = p.prefix(name)
        if target is None:
            raise InputError(
                _("no prefix named {name!r} in the plan (nothing to release)").format(name=name)
            )
        # refuse on a broken plan only when the problems touch what we would remove
        kids = descendants(p, name)
        if kids and not recursive:
            shown = ", ".join(f"{k.name} {k.cidr}" for k in kids[:8]) + (
                " …" if len(kids) > 8 else ""
            )
            raise InputError(
                _(
                    "{name} ({cidr}) still holds {len} prefix(es): "
                    "{shown}; release them first or pass --recursive"
                ).format(name=name, cidr=target.cidr, len=len(kids), shown=shown),
                target.location,
            )
        victims = [target, *kids]
        by_file: dict[Path, list[str]] = {}
        for v in victims:
            if v.source is None:
                raise InputError(
                    _("{name}: cannot tell which file holds it").format(name=v.name), v.location
                )
            by_file.setdefault(v.source, []).append(v.name)
        from cloudctl.ipam.edit import remove_entries

        new_texts = {}
        for path, names in by_file.items():
            new_texts[path] = remove_entries(read_input_text(path), names, display_path(path))
        if not dry_run:
            for path, text in new_texts.items():
                atomic_write(path, text)
            store = reservation_store(center, create=False)
            if store is not None:
                store.drop(reservation_key(center, root), [v.name for v in victims])
        return ReleaseResult(
            released=[
                {"name": v.name, "prefix": v.cidr, "zone": v.zone, "tenant": v.tenant, "vrf": v.vrf}
                for v in victims
            ],
            files=[display_path(f) for f in by_file],
            dry_run=dry_run,
        )


# ---------------------------------------------------------------------------------------
# import


@dataclass
class ImportResult:
    added: list[dict] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    dry_run: bool = False


def import_csv(
    center: Center, csv_path: str | Path, *, dry_run: bool = False, plan: str | Path | None = None
) -> ImportResult:
    """Merge a spreadsheet export into the plan; everything is validated before any write."""
    from cloudctl.ipam.edit import insert_entry
    from cloudctl.ipam.exchange import parse_row_prefix, read_csv, row_prefix

    name = display_path(csv_path)
    # Excel in China saves CSV as GBK by default
    text = read_input_text(csv_path, name=name, encodings=("utf-8-sig", "gb18030"))
    root = plan_root(center, plan)
    with quiet_gc(), plan_lock(center, root):
        loaded = load_valid(center, plan)
        p = loaded.plan
        parsed = read_csv(text, name, p, loaded.departments)
        problems = list(parsed.problems)
        result = ImportResult(dry_run=dry_run)
        new: list[tuple[ImportedRow, Prefix]] = []
        for row in parsed.rows:
            existing = p.prefix(row.entry["name"])
            if existing is not None and existing.source is not None:
                if existing.cidr == row.entry["prefix"] and existing.zone == row.zone:
                    result.unchanged.append(existing.name)
                    continue
                problems.append(
                    Problem(
                        row.location,
                        _(
                            "{name} is already in the plan as {cidr} zone {zone} "
                            "({location}); rename the row or release it"
                        ).format(
                            name=existing.name,
                            cidr=existing.cidr,
                            zone=existing.zone,
                            location=existing.location,
                        ),
                    )
                )
                continue
            _fill_subnet_defaults(row)
            prefix = row_prefix(row)
            parse_row_prefix(prefix, problems)
            new.append((row, prefix))
        p.prefixes.extend(pr for _row, pr in new)
        p.invalidate()
        problems.extend(validate_plan(p, loaded.tenants if loaded.departments else None))
        if problems:
            raise ValidationFailed(
                problems, _("{len} problem(s): nothing was imported").format(len=len(problems))
            )
        texts: dict[Path, str] = {}
        for row, prefix in new:
            zone = p.zones[row.zone]
            path = target_file(p, row.zone, prefix.vrf, None)
            prefix.source = path
            old = texts.get(path)
            if old is None:
                old = read_input_text(path) if path.exists() else ""
            header = f"# {zone.name_zh or zone.name} ({zone.name})\nzone: {zone.name}\n"
            entry = _entry_for_file(row.entry, row.zone, old or header)
            texts[path] = insert_entry(old, entry, header=header)
            result.added.append({**row.entry, "zone": row.zone, "file": display_path(path)})
        if not dry_run:
            for path, content in texts.items():
                atomic_write(path, content)
        result.files = [display_path(f) for f in texts]
        return result


def _fill_subnet_defaults(row: ImportedRow) -> None:
    """An active subnet without a gateway gets the plan's convention (gateway + pool)."""
    import netaddr

    e = row.entry
    if e.get("status", "active") != "active":
        return
    try:
        net = netaddr.IPNetwork(e["prefix"])
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return
    gateway, pools = subnet_defaults(net)
    if gateway is None:
        return
    if "gateway" not in e:
        e["gateway"] = gateway
    if e["gateway"] == gateway:
        e["pools"] = pools
