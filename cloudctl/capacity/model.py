"""Capacity of phase 1 and the month-by-month forecast that says when it runs out and
what phase 2 (二期机房) must hold. Pure: models in, models out; no files, no network.

The forecast of one resource, month ``m`` after the start month (month 0):

    used[0] = in use now + demand already due (systems of past waves not moved yet)
    used[m] = used[m-1] × (1 + g) + demand arriving in month m + steady additions

``g`` is the monthly organic growth (compounded: what is on the cloud keeps growing, the
newly moved systems too). A resource *runs out* in the first month where ``used`` is over
the schedulable capacity; the *plan-by* month is the first one over the planning threshold
(capacity × (1 − headroom)), the date by which phase 2 should be ready.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cloudctl.core.errors import Location
from cloudctl.core.i18n import _

# --------------------------------------------------------------------------- months


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month; arithmetic in whole months."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2016-06`` (or a date ``2016-06-15``: its month)."""
        parts = str(text).strip().split("-")
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
            raise ValueError(
                _("{text!r} is not a month (write YYYY-MM, e.g. 2016-06)").format(text=text)
            )
        y, m = int(parts[0]), int(parts[1])
        if not 1 <= m <= 12 or not 1990 <= y <= 2200:
            raise ValueError(
                _("{text!r} is not a month (write YYYY-MM, e.g. 2016-06)").format(text=text)
            )
        return cls(y, m)

    def plus(self, n: int) -> Month:
        i = self.year * 12 + (self.month - 1) + n
        return Month(i // 12, i % 12 + 1)

    def minus(self, other: Month) -> int:
        """Whole months from ``other`` to ``self``."""
        return (self.year - other.year) * 12 + (self.month - other.month)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


# --------------------------------------------------------------------------- hardware


@dataclass(frozen=True)
class ServerProfile:
    """One server model as bought: threads (what a hypervisor schedules), RAM, rack units,
    typical power draw, raw disk for storage nodes."""

    name: str
    model: str = ""
    threads: int = 0
    ram_gb: float = 0
    units: int = 2
    kw: float = 0.5
    disk_tb: float = 0.0


@dataclass(frozen=True)
class HostClass:
    """Hosts of one profile with their own overcommit (general compute 4:1, DB hosts 1:1)."""

    name: str
    profile: ServerProfile
    count: int
    cpu_ratio: float = 1.0
    ram_ratio: float = 1.0
    reserved_vcpu: int = 0
    reserved_ram_gb: float = 0
    name_zh: str = ""

    @property
    def vcpu_per_host(self) -> float:
        return max(0, self.profile.threads - self.reserved_vcpu) * self.cpu_ratio

    @property
    def ram_per_host(self) -> float:
        return max(0.0, self.profile.ram_gb - self.reserved_ram_gb) * self.ram_ratio

    @property
    def vcpu(self) -> float:
        return self.count * self.vcpu_per_host

    @property
    def ram_gb(self) -> float:
        return self.count * self.ram_per_host


@dataclass(frozen=True)
class StoragePool:
    """Replicated storage: usable = raw / replicas × max fill × thin-provisioning ratio."""

    name: str
    profile: ServerProfile
    count: int
    replicas: int = 3
    max_fill: float = 0.85
    overcommit: float = 1.0
    name_zh: str = ""

    @property
    def usable_gb_per_node(self) -> float:
        return self.profile.disk_tb * 1000 / self.replicas * self.max_fill * self.overcommit

    @property
    def usable_gb(self) -> float:
        return self.count * self.usable_gb_per_node


@dataclass(frozen=True)
class Rack:
    """A rack of the phase-2 room: its units and power budget, less what the switches,
    patch panels and PDUs take."""

    units: int = 42
    reserved_units: int = 4
    kw: float = 6.0
    overhead_kw: float = 0.5

    @property
    def server_units(self) -> int:
        return self.units - self.reserved_units

    @property
    def server_kw(self) -> float:
        return self.kw - self.overhead_kw


@dataclass(frozen=True)
class Phase2Spec:
    """What phase 2 buys and how it is run."""

    compute: HostClass  # count ignored: that is what the forecast decides
    storage: StoragePool
    rack: Rack
    headroom: float = 0.25  # keep this share free at the horizon
    spares: int = 1  # N+1: one more host per class, one more storage node


@dataclass(frozen=True)
class AddressGrowth:
    """New address blocks a zone hands out per month (new tenants, new subnets)."""

    prefixlen: int
    per_month: float

    @property
    def addresses_per_month(self) -> float:
        return self.per_month * (1 << (32 - self.prefixlen))


@dataclass
class CapacityConfig:
    """capacity.yaml, typed."""

    as_of: Month
    profiles: dict[str, ServerProfile]
    classes: list[HostClass]
    pools: list[StoragePool]
    phase2: Phase2Spec
    usage: dict[str, float]  # measured in-use on phase 1 (vcpu, ram_gb, storage_gb, public_ips)
    usage_as_of: Month | None = None
    growth_pct: dict[str, float] = field(default_factory=dict)  # monthly, per resource
    address_growth: dict[str, AddressGrowth] = field(default_factory=dict)
    wave_months: dict[str, Month] = field(default_factory=dict)
    unscheduled: Month | None = None  # systems in no wave arrive then (None: not counted)
    room: dict = field(default_factory=dict)  # phase-1 room, for the record
    path: str = ""
    locs: dict[str, Location] = field(default_factory=dict)

    @property
    def vcpu(self) -> float:
        return sum(c.vcpu for c in self.classes)

    @property
    def ram_gb(self) -> float:
        return sum(c.ram_gb for c in self.classes)

    @property
    def storage_gb(self) -> float:
        return sum(p.usable_gb for p in self.pools)


# --------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class SystemDemand:
    """One system still to move and what it brings (from the migration plan)."""

    id: str
    name_zh: str
    name_en: str
    wave: str | None
    month: Month | None  # None: it arrives at no known time and is not counted
    vcpu: float = 0
    ram_gb: float = 0
    disk_gb: float = 0
    public_ips: int = 0


@dataclass
class Resource:
    """One thing that can run out, with what it has, what it uses, and what is coming."""

    key: str
    name_zh: str
    name_en: str
    unit: str
    capacity: float
    used: float
    growth_pct: float = 0.0  # monthly, compounded
    steady_per_month: float = 0.0  # added every month (address blocks)
    arrivals: dict[int, float] = field(default_factory=dict)  # month index -> amount
    kind: str = "compute"  # compute | storage | address


@dataclass
class ResourceForecast:
    key: str
    name_zh: str
    name_en: str
    unit: str
    kind: str
    capacity: float
    threshold: float
    used_now: float
    series: list[float]
    plan_by: int | None  # first month index over the threshold
    runs_out: int | None  # first month index over capacity
    at_horizon: float
    required: float  # capacity needed at the horizon with the headroom kept free
    shortfall: float  # required - capacity, at least 0

    def util(self, i: int) -> float:
        return 100.0 * self.series[i] / self.capacity if self.capacity else math.inf


def forecast_resource(r: Resource, horizon: int, headroom: float) -> ResourceForecast:
    """Month 0 … ``horizon`` of one resource (see the module docstring)."""
    if horizon < 1:
        raise ValueError(_("horizon must be at least one month"))
    g = r.growth_pct / 100.0
    series = [r.used + sum(v for m, v in r.arrivals.items() if m <= 0)]
    for m in range(1, horizon + 1):
        series.append(series[-1] * (1 + g) + r.arrivals.get(m, 0.0) + r.steady_per_month)
    threshold = r.capacity * (1 - headroom)
    plan_by = next((i for i, v in enumerate(series) if v > threshold), None)
    runs_out = next((i for i, v in enumerate(series) if v > r.capacity), None)
    required = series[-1] / (1 - headroom) if headroom < 1 else math.inf
    return ResourceForecast(
        key=r.key,
        name_zh=r.name_zh,
        name_en=r.name_en,
        unit=r.unit,
        kind=r.kind,
        capacity=r.capacity,
        threshold=threshold,
        used_now=series[0],
        series=series,
        plan_by=plan_by,
        runs_out=runs_out,
        at_horizon=series[-1],
        required=required,
        shortfall=max(0.0, required - r.capacity),
    )


# --------------------------------------------------------------------------- phase 2


@dataclass
class RackPlan:
    racks: int
    units: int  # server units used
    server_kw: float
    total_kw: float  # servers + every rack's overhead
    per_rack: list[dict]  # [{units, kw, servers}]


def pack_racks(servers: list[ServerProfile], rack: Rack) -> RackPlan:
    """First-fit decreasing by power: each server goes into the first rack with both the
    units and the kW left. Power, not space, usually limits an older government room."""
    if any(s.units > rack.server_units or s.kw > rack.server_kw for s in servers):
        raise ValueError(_("a server does not fit an empty rack (units or kW)"))
    racks: list[dict] = []
    start, last = 0, None
    for s in sorted(servers, key=lambda s: (-s.kw, -s.units)):
        # an identical server cannot fit where the previous one did not: resume there
        # (keeps thousands of servers linear instead of quadratic)
        if s != last:
            start, last = 0, s
        for i in range(start, len(racks)):
            r = racks[i]
            if (
                r["units"] + s.units <= rack.server_units
                and r["kw"] + s.kw <= rack.server_kw + 1e-9
            ):
                start = i
                break
        else:
            r = {"units": 0, "kw": 0.0, "servers": 0}
            racks.append(r)
            start = len(racks) - 1
        r["units"] += s.units
        r["kw"] = round(r["kw"] + s.kw, 6)
        r["servers"] += 1
    server_kw = sum(s.kw for s in servers)
    return RackPlan(
        racks=len(racks),
        units=sum(s.units for s in servers),
        server_kw=round(server_kw, 3),
        total_kw=round(server_kw + len(racks) * rack.overhead_kw, 3),
        per_rack=racks,
    )


@dataclass
class Phase2Need:
    horizon: int
    horizon_month: Month
    compute_servers: int  # including spares
    compute_for_vcpu: int
    compute_for_ram: int
    storage_nodes: int  # including spares
    spares: int
    racks: RackPlan
    compute_profile: str
    storage_profile: str
    public_ips: int  # more public addresses to ask the carrier for
    public_block: int | None  # the smallest IPv4 prefix length that holds them
    addresses: dict[str, int]  # zone -> more private addresses needed


def servers_for(shortfall: float, per_server: float) -> int:
    """Whole servers covering a shortfall (0 when there is none)."""
    if shortfall <= 1e-9:
        return 0
    if per_server <= 0:
        raise ValueError(_("a server that adds nothing cannot cover a shortfall"))
    return math.ceil(shortfall / per_server - 1e-9)


def block_for(addresses: int) -> int | None:
    """Smallest IPv4 block (prefix length) with at least ``addresses`` addresses."""
    if addresses <= 0:
        return None
    return 32 - max(0, math.ceil(math.log2(addresses)))


def phase2_need(
    forecasts: dict[str, ResourceForecast], spec: Phase2Spec, horizon: int, start: Month
) -> Phase2Need:
    """Servers, storage nodes, racks and kW that close every shortfall at the horizon, with
    the headroom kept free and N+1 spares."""
    c = spec.compute
    vcpu_short = forecasts["vcpu"].shortfall if "vcpu" in forecasts else 0.0
    ram_short = forecasts["ram_gb"].shortfall if "ram_gb" in forecasts else 0.0
    for_vcpu = servers_for(vcpu_short, c.vcpu_per_host)
    for_ram = servers_for(ram_short, c.ram_per_host)
    compute = max(for_vcpu, for_ram)
    if compute:
        compute += spec.spares
    st = spec.storage
    st_short = forecasts["storage_gb"].shortfall if "storage_gb" in forecasts else 0.0
    nodes = servers_for(st_short, st.usable_gb_per_node)
    if nodes:
        # a new replicated pool needs at least one node per replica, then the spare
        nodes = max(nodes, st.replicas) + spec.spares
    servers = [c.profile] * compute + [st.profile] * nodes
    public = forecasts.get("public_ips")
    pub_more = math.ceil(public.shortfall - 1e-9) if public and public.shortfall > 0 else 0
    addrs = {
        f.key.removeprefix("addr:"): math.ceil(f.shortfall - 1e-9)
        for f in forecasts.values()
        if f.key.startswith("addr:") and f.shortfall > 0
    }
    return Phase2Need(
        horizon=horizon,
        horizon_month=start.plus(horizon),
        compute_servers=compute,
        compute_for_vcpu=for_vcpu,
        compute_for_ram=for_ram,
        storage_nodes=nodes,
        spares=spec.spares if compute or nodes else 0,
        racks=pack_racks(servers, spec.rack),
        compute_profile=c.profile.name,
        storage_profile=st.profile.name,
        public_ips=pub_more,
        public_block=block_for(pub_more),
        addresses=addrs,
    )


# --------------------------------------------------------------------------- the whole


@dataclass
class ZoneAddresses:
    """Private address space of a zone (from the address plan) or the public pool."""

    zone: str
    name_zh: str
    name_en: str
    size: int
    used: int


@dataclass
class CapacityInputs:
    config: CapacityConfig
    demands: list[SystemDemand]
    zones: list[ZoneAddresses]
    public: ZoneAddresses | None
    usage: dict[str, float]  # vcpu, ram_gb, storage_gb, public_ips in use now
    usage_source: str  # "file" | "cloud"
    notes: list[str] = field(default_factory=list)


@dataclass
class Forecast:
    start: Month
    horizon: int
    headroom: float
    resources: list[ResourceForecast]
    phase2: Phase2Need
    counted: list[SystemDemand]
    not_counted: list[SystemDemand]
    usage_source: str
    notes: list[str]

    def month(self, i: int) -> Month:
        return self.start.plus(i)

    @property
    def runs_out_within_horizon(self) -> list[ResourceForecast]:
        return [r for r in self.resources if r.runs_out is not None]


def _arrivals(demands: list[SystemDemand], start: Month, attr: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for d in demands:
        amount = float(getattr(d, attr))
        if d.month is None or not amount:
            continue
        i = max(0, d.month.minus(start))
        out[i] = out.get(i, 0.0) + amount
    return out


def build_resources(inp: CapacityInputs) -> list[Resource]:
    """The resources to forecast: vCPU, RAM, storage, public addresses, each zone's
    private space (zones without a growth assumption are left out: nothing to forecast)."""
    cfg = inp.config
    g = cfg.growth_pct
    coming = [d for d in inp.demands if d.month is not None]
    pools = (  # key, zh, en, unit, capacity, the demand field that adds to it, kind
        ("vcpu", "虚拟 CPU", "vCPU", "vCPU", cfg.vcpu, "vcpu", "compute"),
        ("ram_gb", "内存", "RAM", "GB", cfg.ram_gb, "ram_gb", "compute"),
        ("storage_gb", "存储", "storage", "GB", cfg.storage_gb, "disk_gb", "storage"),
    )
    res = [
        Resource(
            key,
            zh,
            en,
            unit,
            capacity,
            inp.usage.get(key, 0.0),
            g.get(key, 0.0),
            arrivals=_arrivals(coming, cfg.as_of, demand),
            kind=kind,
        )
        for key, zh, en, unit, capacity, demand, kind in pools
    ]
    if inp.public is not None:
        res.append(
            Resource(
                "public_ips",
                "公网地址",
                "public addresses",
                "IP",
                inp.public.size,
                inp.usage.get("public_ips", float(inp.public.used)),
                g.get("public_ips", 0.0),
                arrivals=_arrivals(coming, cfg.as_of, "public_ips"),
                kind="address",
            )
        )
    for z in inp.zones:
        ag = cfg.address_growth.get(z.zone)
        if ag is None:
            continue
        res.append(
            Resource(
                f"addr:{z.zone}",
                f"{z.name_zh or z.zone} 私网地址",
                f"{z.name_en or z.zone} private addresses",
                "IP",
                z.size,
                z.used,
                steady_per_month=ag.addresses_per_month,
                kind="address",
            )
        )
    return res


def forecast(inp: CapacityInputs, horizon: int, headroom: float | None = None) -> Forecast:
    """Every resource month by month, and phase 2's needs at the horizon."""
    cfg = inp.config
    hr = cfg.phase2.headroom if headroom is None else headroom
    fcs = [forecast_resource(r, horizon, hr) for r in build_resources(inp)]
    need = phase2_need({f.key: f for f in fcs}, cfg.phase2, horizon, cfg.as_of)
    return Forecast(
        start=cfg.as_of,
        horizon=horizon,
        headroom=hr,
        resources=fcs,
        phase2=need,
        counted=[d for d in inp.demands if d.month is not None],
        not_counted=[d for d in inp.demands if d.month is None],
        usage_source=inp.usage_source,
        notes=list(inp.notes),
    )


def forecast_dict(fc: Forecast, monthly: bool = True) -> dict:
    """Plain data for ``-o json|yaml`` and the report."""

    def m(i: int | None) -> str | None:
        return None if i is None else str(fc.month(i))

    out: dict = {
        "start": str(fc.start),
        "horizon_months": fc.horizon,
        "horizon_end": str(fc.month(fc.horizon)),
        "headroom_pct": round(fc.headroom * 100, 1),
        "usage_source": fc.usage_source,
        "resources": [],
        "phase2": {
            "compute_servers": fc.phase2.compute_servers,
            "compute_for_vcpu": fc.phase2.compute_for_vcpu,
            "compute_for_ram": fc.phase2.compute_for_ram,
            "compute_profile": fc.phase2.compute_profile,
            "storage_nodes": fc.phase2.storage_nodes,
            "storage_profile": fc.phase2.storage_profile,
            "spares_per_class": fc.phase2.spares,
            "racks": fc.phase2.racks.racks,
            "rack_units": fc.phase2.racks.units,
            "server_kw": fc.phase2.racks.server_kw,
            "total_kw": fc.phase2.racks.total_kw,
            "per_rack": fc.phase2.racks.per_rack,
            "public_ips": fc.phase2.public_ips,
            "public_block": (
                f"/{fc.phase2.public_block}" if fc.phase2.public_block is not None else None
            ),
            "private_addresses": fc.phase2.addresses,
        },
        "systems_counted": len(fc.counted),
        "systems_not_counted": [d.id for d in fc.not_counted],
        "notes": fc.notes,
    }
    for r in fc.resources:
        row = {
            "resource": r.key,
            "name_zh": r.name_zh,
            "name_en": r.name_en,
            "unit": r.unit,
            "capacity": round(r.capacity, 1),
            "used_now": round(r.used_now, 1),
            "util_now_pct": round(r.util(0), 1),
            "at_horizon": round(r.at_horizon, 1),
            "util_at_horizon_pct": round(r.util(fc.horizon), 1),
            "plan_by": m(r.plan_by),
            "runs_out": m(r.runs_out),
            "required_at_horizon": round(r.required, 1),
            "shortfall": round(r.shortfall, 1),
        }
        if monthly:
            row["monthly"] = [
                {"month": str(fc.month(i)), "used": round(v, 1)} for i, v in enumerate(r.series)
            ]
        out["resources"].append(row)
    return out
