"""Reading capacity.yaml into :class:`CapacityConfig`, every problem with its file:line,
and gathering the forecast's other inputs: the address plan (cloudctl.ipam), the systems
still to move (cloudctl.migrate plan + journal, read only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cloudctl.capacity.model import (
    AddressGrowth,
    CapacityConfig,
    HostClass,
    Month,
    Phase2Spec,
    Rack,
    ServerProfile,
    StoragePool,
    SystemDemand,
    ZoneAddresses,
)
from cloudctl.core.center import Center
from cloudctl.core.errors import InputError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _, join
from cloudctl.core.yamlio import display_path, load_yaml, loc_of

VERSION = 1
RESOURCES = ("vcpu", "ram_gb", "storage_gb", "public_ips")
_TOP = {
    "version",
    "as_of",
    "phase1_room",
    "server_profiles",
    "host_classes",
    "storage_pools",
    "current_usage",
    "growth",
    "migration",
    "phase2",
}


class _P:
    """Collects problems; typed getters that say what is wrong and where."""

    def __init__(self, fallback: Location) -> None:
        self.problems: list[Problem] = []
        self.fallback = fallback

    def add(self, where: Location | None, msg: str) -> None:
        self.problems.append(Problem(where or self.fallback, msg))

    def mapping(self, d: Any, key: str, what: str, required: bool = True) -> dict:
        val = d.get(key) if isinstance(d, dict) else None
        if val is None:
            if required:
                self.add(
                    loc_of(d, None, self.fallback),
                    _("{what}: missing `{key}`").format(what=what, key=key),
                )
            return {}
        if not isinstance(val, dict):
            self.add(
                loc_of(d, key), _("{what}.{key}: expected a mapping").format(what=what, key=key)
            )
            return {}
        return val

    def items(self, d: dict, key: str, what: str) -> list:
        val = d.get(key)
        if not isinstance(val, list) or not val:
            self.add(
                loc_of(d, key, loc_of(d)),
                _("{what}: `{key}` must be a non-empty list").format(what=what, key=key),
            )
            return []
        bad = [i for i, x in enumerate(val) if not isinstance(x, dict)]
        for i in bad:
            self.add(
                loc_of(val, i),
                _("{what}: each item of `{key}` must be a mapping").format(what=what, key=key),
            )
        return [x for x in val if isinstance(x, dict)]

    def number(
        self,
        d: dict,
        key: str,
        what: str,
        *,
        default: float | None = None,
        low: float = 0.0,
        strict: bool = True,
        high: float | None = None,
        whole: bool = False,
    ) -> float:
        """A number > low (>= low unless strict) and <= high; ``default`` when absent."""
        if key not in d or d[key] is None:
            if default is None:
                self.add(
                    loc_of(d, None, self.fallback),
                    _("{what}: missing `{key}`").format(what=what, key=key),
                )
                return 0.0
            return default
        v = d[key]
        where = loc_of(d, key)
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or (whole and not isinstance(v, int))
        ):
            kind = _("a whole number") if whole else _("a number")
            self.add(
                where,
                _("{what}.{key}: expected {kind}, not {v!r}").format(
                    what=what, key=key, kind=kind, v=v
                ),
            )
            return default if default is not None else 0.0
        if (v <= low if strict else v < low) or (high is not None and v > high):
            rng = f"{'>' if strict else '>='} {low:g}"
            if high:
                rng = _("{low} and <= {high}").format(low=rng, high=f"{high:g}")
            self.add(
                where,
                _("{what}.{key}: must be {rng}, not {v!r}").format(
                    what=what, key=key, rng=rng, v=v
                ),
            )
            return default if default is not None else 0.0
        return float(v)

    def text(self, d: dict, key: str, what: str, required: bool = False) -> str:
        v = d.get(key)
        if v is None:
            if required:
                self.add(
                    loc_of(d, None, self.fallback),
                    _("{what}: missing `{key}`").format(what=what, key=key),
                )
            return ""
        if not isinstance(v, str) or not v.strip():
            self.add(
                loc_of(d, key),
                _("{what}.{key}: expected text, not {v!r}").format(what=what, key=key, v=v),
            )
            return ""
        return v

    def month(self, d: dict, key: str, what: str, required: bool = True) -> Month | None:
        v = d.get(key) if isinstance(d, dict) else None
        if v is None:
            if required:
                self.add(
                    loc_of(d, None, self.fallback),
                    _("{what}: missing `{key}` (YYYY-MM)").format(what=what, key=key),
                )
            return None
        try:
            return Month.parse(str(v))
        except ValueError as e:
            self.add(loc_of(d, key), _("{what}.{key}: {error}").format(what=what, key=key, error=e))
            return None

    def unknown(self, d: dict, known: set[str], what: str) -> None:
        for k in sorted(set(d) - known, key=str):
            self.add(
                loc_of(d, k),
                _("{what}: unknown field `{k}` (known: {known})").format(
                    what=what, k=k, known=", ".join(sorted(known))
                ),
            )


def _profile(raw: dict, p: _P) -> ServerProfile:
    w = _("server profile {name}").format(name=raw.get("name", "?"))
    p.unknown(raw, {"name", "model", "threads", "ram_gb", "units", "kw", "disk_tb"}, w)
    return ServerProfile(
        name=p.text(raw, "name", "server profile", required=True),
        model=p.text(raw, "model", w),
        threads=int(p.number(raw, "threads", w, whole=True)),
        ram_gb=p.number(raw, "ram_gb", w),
        units=int(p.number(raw, "units", w, whole=True, high=42)),
        kw=p.number(raw, "kw", w, high=30),
        disk_tb=p.number(raw, "disk_tb", w, default=0.0, strict=False),
    )


def _ref(raw: dict, key: str, profiles: dict[str, ServerProfile], p: _P, w: str) -> ServerProfile:
    name = p.text(raw, key, w, required=True)
    if name and name not in profiles:
        p.add(
            loc_of(raw, key),
            _("{what}: unknown server profile {name!r} (known: {known})").format(
                what=w, name=name, known=", ".join(profiles) or "none"
            ),
        )
    return profiles.get(name) or ServerProfile(name=name or "?")


def _host_class(
    raw: dict, profiles: dict[str, ServerProfile], p: _P, *, count: bool = True, w: str = ""
) -> HostClass:
    w = w or _("host class {name}").format(name=raw.get("name", "?"))
    known = {"name", "name_zh", "profile", "count", "overcommit", "reserved"}
    p.unknown(raw, known if count else known - {"count", "name", "name_zh"}, w)
    oc = p.mapping(raw, "overcommit", w, required=False)
    p.unknown(oc, {"cpu", "ram"}, join([w, "overcommit"], "."))
    rs = p.mapping(raw, "reserved", w, required=False)
    p.unknown(rs, {"vcpu", "ram_gb"}, join([w, "reserved"], "."))
    prof = _ref(raw, "profile", profiles, p, w)
    hc = HostClass(
        name=p.text(raw, "name", w, required=count) or "phase2",
        name_zh=p.text(raw, "name_zh", w),
        profile=prof,
        count=int(p.number(raw, "count", w, whole=True)) if count else 0,
        cpu_ratio=p.number(oc, "cpu", join([w, "overcommit"], "."), default=1.0, high=32),
        ram_ratio=p.number(oc, "ram", join([w, "overcommit"], "."), default=1.0, high=4),
        reserved_vcpu=int(
            p.number(rs, "vcpu", join([w, "reserved"], "."), default=0, strict=False, whole=True)
        ),
        reserved_ram_gb=p.number(
            rs, "ram_gb", join([w, "reserved"], "."), default=0.0, strict=False
        ),
    )
    if prof.threads and hc.reserved_vcpu >= prof.threads:
        p.add(loc_of(rs, "vcpu"), _("{w}.reserved.vcpu: leaves no vCPU for guests").format(w=w))
    if prof.ram_gb and hc.reserved_ram_gb >= prof.ram_gb:
        p.add(loc_of(rs, "ram_gb"), _("{w}.reserved.ram_gb: leaves no RAM for guests").format(w=w))
    return hc


def _pool(
    raw: dict, profiles: dict[str, ServerProfile], p: _P, *, count: bool = True, w: str = ""
) -> StoragePool:
    w = w or _("storage pool {name}").format(name=raw.get("name", "?"))
    known = {"name", "name_zh", "profile", "count", "replicas", "max_fill", "overcommit"}
    p.unknown(raw, known if count else known - {"count", "name", "name_zh"}, w)
    prof = _ref(raw, "profile", profiles, p, w)
    if prof.threads and not prof.disk_tb:
        p.add(
            loc_of(raw, "profile"),
            _("{w}: profile {prof!r} has no `disk_tb`").format(w=w, prof=prof.name),
        )
    return StoragePool(
        name=p.text(raw, "name", w, required=count) or "phase2",
        name_zh=p.text(raw, "name_zh", w),
        profile=prof,
        count=int(p.number(raw, "count", w, whole=True)) if count else 0,
        replicas=int(p.number(raw, "replicas", w, default=3, whole=True, high=6)),
        max_fill=p.number(raw, "max_fill", w, default=0.85, high=1.0),
        overcommit=p.number(raw, "overcommit", w, default=1.0, high=10),
    )


def parse_config(raw: Any, path: str) -> CapacityConfig:
    """Typed capacity.yaml; raises ValidationFailed listing every problem (file:line)."""
    p = _P(Location(path, 1))
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem(Location(path, 1), _("capacity file must be a mapping"))])
    if raw.get("version") != VERSION:
        p.add(
            loc_of(raw, "version"),
            _("version is {version!r}; expected {expected}").format(
                version=raw.get("version"), expected=VERSION
            ),
        )
    p.unknown(raw, _TOP, "capacity")
    as_of = p.month(raw, "as_of", "capacity") or Month(2000, 1)
    profiles: dict[str, ServerProfile] = {}
    for item in p.items(raw, "server_profiles", "capacity"):
        prof = _profile(item, p)
        if prof.name in profiles:
            p.add(
                loc_of(item, "name"),
                _("server profile {prof!r} is defined twice").format(prof=prof.name),
            )
        profiles[prof.name] = prof
    classes = [_host_class(x, profiles, p) for x in p.items(raw, "host_classes", "capacity")]
    pools = [_pool(x, profiles, p) for x in p.items(raw, "storage_pools", "capacity")]
    seen: set[str] = set()
    for name in [c.name for c in classes] + [s.name for s in pools]:
        if name in seen:
            p.add(None, _("host class / storage pool {name!r} is defined twice").format(name=name))
        seen.add(name)
    cu = p.mapping(raw, "current_usage", "capacity")
    p.unknown(cu, {"as_of", *RESOURCES}, "current_usage")
    usage = {k: p.number(cu, k, "current_usage", default=0.0, strict=False) for k in RESOURCES}
    usage_as_of = p.month(cu, "as_of", "current_usage", required=False)
    gr = p.mapping(raw, "growth", "capacity", required=False)
    p.unknown(gr, {"monthly_pct", "address_blocks"}, "growth")
    mp = p.mapping(gr, "monthly_pct", "growth", required=False)
    p.unknown(mp, set(RESOURCES), "growth.monthly_pct")
    growth = {
        k: p.number(mp, k, "growth.monthly_pct", default=0.0, strict=False, high=50)
        for k in RESOURCES
    }
    blocks: dict[str, AddressGrowth] = {}
    ab = p.mapping(gr, "address_blocks", "growth", required=False)
    for zone, spec in ab.items():
        w = f"growth.address_blocks.{zone}"
        if not isinstance(spec, dict):
            p.add(loc_of(ab, zone), _("{w}: expected {{prefixlen, per_month}}").format(w=w))
            continue
        p.unknown(spec, {"prefixlen", "per_month"}, w)
        blocks[str(zone)] = AddressGrowth(
            prefixlen=int(p.number(spec, "prefixlen", w, whole=True, high=32, low=7)),
            per_month=p.number(spec, "per_month", w, strict=False),
        )
    mig = p.mapping(raw, "migration", "capacity", required=False)
    p.unknown(mig, {"waves", "unscheduled"}, "migration")
    waves: dict[str, Month] = {}
    wm = p.mapping(mig, "waves", "migration", required=False)
    for wid in wm:
        m = p.month(wm, wid, "migration.waves")
        if m is not None:
            waves[str(wid)] = m
    unscheduled = p.month(mig, "unscheduled", "migration", required=False)
    p2 = p.mapping(raw, "phase2", "capacity")
    p.unknown(
        p2, {"room_zh", "room_en", "headroom_pct", "spares", "compute", "storage", "rack"}, "phase2"
    )
    rk = p.mapping(p2, "rack", "phase2")
    p.unknown(rk, {"units", "reserved_units", "kw", "overhead_kw"}, "phase2.rack")
    rack = Rack(
        units=int(p.number(rk, "units", "phase2.rack", default=42, whole=True, high=60)),
        reserved_units=int(
            p.number(rk, "reserved_units", "phase2.rack", default=4, strict=False, whole=True)
        ),
        kw=p.number(rk, "kw", "phase2.rack", high=60),
        overhead_kw=p.number(rk, "overhead_kw", "phase2.rack", default=0.0, strict=False),
    )
    if rack.reserved_units >= rack.units:
        p.add(loc_of(rk, "reserved_units"), _("phase2.rack.reserved_units: leaves no room"))
    if rack.overhead_kw >= rack.kw > 0:
        p.add(loc_of(rk, "overhead_kw"), _("phase2.rack.overhead_kw: leaves no power for servers"))
    compute = _host_class(
        p.mapping(p2, "compute", "phase2"), profiles, p, count=False, w="phase2.compute"
    )
    storage = _pool(
        p.mapping(p2, "storage", "phase2"), profiles, p, count=False, w="phase2.storage"
    )
    for prof, key in ((compute.profile, "compute"), (storage.profile, "storage")):
        if prof.threads and (prof.units > rack.server_units or prof.kw > rack.server_kw):
            p.add(
                loc_of(p2, key),
                _("phase2.{key}: a {prof} does not fit an empty rack").format(
                    key=key, prof=prof.name
                ),
            )
    spec = Phase2Spec(
        compute=compute,
        storage=storage,
        rack=rack,
        headroom=p.number(p2, "headroom_pct", "phase2", default=25.0, strict=False, high=90) / 100,
        spares=int(p.number(p2, "spares", "phase2", default=1, strict=False, whole=True, high=10)),
    )
    if p.problems:
        raise ValidationFailed(
            p.problems, _("{n} problem(s) in {path}").format(n=len(p.problems), path=path)
        )
    return CapacityConfig(
        as_of=as_of,
        profiles=profiles,
        classes=classes,
        pools=pools,
        phase2=spec,
        usage=usage,
        usage_as_of=usage_as_of,
        growth_pct=growth,
        address_growth=blocks,
        wave_months=waves,
        unscheduled=unscheduled,
        room=dict(raw.get("phase1_room") or {}),
        path=path,
    )


def config_path(center: Center, explicit: str | Path | None = None) -> Path:
    """``--file`` wins, else cloudctl.yaml's ``capacity:`` key, else capacity.yaml."""
    if explicit:
        return Path(explicit)
    rel = center.settings.get("capacity", "capacity.yaml")
    if not isinstance(rel, str):
        raise InputError(
            _("capacity: expected a path"), Location(str(center.root / "cloudctl.yaml"))
        )
    return (center.root / rel).resolve()


def load_config(path: Path) -> CapacityConfig:
    if not path.is_file():
        raise InputError(
            _(
                "no capacity file (give --file or `capacity: FILE` in cloudctl.yaml; "
                "see docs/capacity.md)"
            ),
            Location(display_path(path)),
        )
    name = display_path(path)
    return parse_config(load_yaml(path), name)


# --------------------------------------------------------------------------- other areas


def address_inputs(center: Center) -> tuple[list[ZoneAddresses], ZoneAddresses | None]:
    """Private space per zone (size and allocated) and the public pool (addresses Neutron
    may hand out as floating IPs), from the validated address plan."""
    from cloudctl.ipam.api import load_plan
    from cloudctl.ipam.report import zone_rows

    plan = load_plan(center)
    zones = [
        ZoneAddresses(r["zone"], r["name_zh"], r["name_en"], r["size"], r["used"])
        for r in zone_rows(plan)
    ]
    pub_size = pub_used = 0
    for pfx in plan.prefixes:
        if pfx.status == "active" and pfx.valid and not is_private(pfx.cidr):
            pool = sum(_ip_int(b) - _ip_int(a) + 1 for a, b in pfx.allocation_pools)
            pub_size += pool
            pub_used += pfx.size - pool if not pfx.allocation_pools else 0
    public = (
        ZoneAddresses("public", "公网地址池", "public address pool", pub_size, pub_used)
        if pub_size
        else None
    )
    return zones, public


_PRIVATE = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")


def is_private(cidr: str) -> bool:
    """RFC 1918 / shared / ULA space. (Python's ``is_private`` also counts the documentation
    ranges, which the sample plan uses as its stand-in for carrier-assigned space.)"""
    import ipaddress

    net = ipaddress.ip_network(cidr, strict=False)
    return any(
        net.version == (n := ipaddress.ip_network(p)).version and net.subnet_of(n)  # type: ignore[arg-type]
        for p in _PRIVATE
    )


def _ip_int(text: str) -> int:
    import ipaddress

    return int(ipaddress.ip_address(text))


def wave_month(wave: Any, cfg: CapacityConfig) -> Month | None:
    """capacity.yaml's month for the wave, else a planned date the plan itself carries."""
    if wave.id in cfg.wave_months:
        return cfg.wave_months[wave.id]
    for attr in ("planned_start", "start", "planned", "date"):
        val = getattr(wave, attr, None)
        if val:
            try:
                return Month.parse(str(val))
            except ValueError:
                continue
    return None


def demands(plan: Any, done: set[str], cfg: CapacityConfig) -> list[SystemDemand]:
    """Systems still to move (not retired, retained or already done), with their month."""
    wave_of: dict[str, Any] = {}
    for w in plan.waves:
        for sid in w.systems:
            wave_of.setdefault(sid, w)
    out = []
    for s in plan.systems.values():
        if s.strategy in ("retire", "retain") or s.id in done:
            continue
        w = wave_of.get(s.id)
        month = wave_month(w, cfg) if w is not None else cfg.unscheduled
        r = s.resources
        out.append(
            SystemDemand(
                id=s.id,
                name_zh=s.name_zh,
                name_en=s.name_en,
                wave=w.id if w is not None else None,
                month=month if r else None,
                vcpu=r.get("vcpu", 0.0),
                ram_gb=r.get("ram_gb", 0.0),
                disk_gb=r.get("disk_gb", 0.0),
                public_ips=int(r.get("public_ips", 0)),
            )
        )
    return out


def migration_inputs(center: Center, plan_name: str | None) -> tuple[Any, set[str]]:
    """The validated plan and the systems the journal says are done (read only)."""
    from cloudctl.migrate import service
    from cloudctl.migrate.journal import Journal

    plan = service.load_checked(center, service.resolve_plan(center, plan_name))
    done: set[str] = set()
    db = service.default_journal(center)
    if db.exists():
        j = Journal(db)
        try:
            done = {
                sid
                for sid, st in j.latest_system_states(plan.name).items()
                if st["status"] == "done"
            }
        finally:
            j.close()
    return plan, done
