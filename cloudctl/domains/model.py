"""Security domains (安全域) as typed values: the zone design, services, flows, waivers, and
the rules and findings the evaluator works on. Pure: no I/O, nothing here reads a file.

The design says which zone may reach which zone on which services; everything else is
denied (GB/T 22239-2019 8.1.3.2 访问控制: 默认拒绝). Every value keeps the ``Location`` it
came from so a finding can name the design line that allows or denies a flow.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudctl.core.errors import Location

#: Protocols a port range applies to.
PORT_PROTOCOLS = ("tcp", "udp", "sctp")
#: Zone roles. ``external`` roles are outside the center (internet, e-gov extranet);
#: ``management`` roles carry administration and security management (运维、安全管理).
ROLES = {
    "internet": "external",
    "extranet": "external",
    "dmz": "service",
    "business": "service",
    "data": "service",
    "exchange": "service",
    "county": "service",
    "drill": "service",
    "management": "management",
    "security-management": "management",
}
#: Service categories the design enforces rules on.
CATEGORIES = ("admin", "database", "high_risk")

# Neutron accepts protocol numbers and a few aliases; the evaluator speaks names.
_PROTO_ALIASES = {
    "6": "tcp",
    "17": "udp",
    "132": "sctp",
    "1": "icmp",
    "58": "ipv6-icmp",
    "icmpv6": "ipv6-icmp",
    "ipv6-icmp": "ipv6-icmp",
    "any": None,
    "-1": None,
    "": None,
}


def normalize_protocol(proto: str | int | None) -> str | None:
    """``None`` means any protocol; numbers and aliases become names."""
    if proto is None:
        return None
    p = str(proto).strip().lower()
    if p in _PROTO_ALIASES:
        return _PROTO_ALIASES[p]
    return p


@dataclass(frozen=True, order=True)
class PortSpec:
    """One protocol with an optional port range (``None`` protocol = anything)."""

    protocol: str | None
    lo: int | None = None
    hi: int | None = None

    def label(self) -> str:
        if self.protocol is None:
            return "any"
        if self.lo is None:
            return self.protocol if self.protocol not in PORT_PROTOCOLS else f"{self.protocol}/*"
        if self.lo == self.hi:
            return f"{self.protocol}/{self.lo}"
        return f"{self.protocol}/{self.lo}-{self.hi}"

    def ports(self) -> tuple[int, int] | None:
        """The port interval this spec opens (all ports when none given)."""
        if self.protocol not in PORT_PROTOCOLS:
            return None
        return (self.lo or 1, self.hi or 65535) if self.lo is not None else (1, 65535)

    def covers(self, other: PortSpec) -> bool:
        """True when every packet ``other`` admits is admitted by this spec too."""
        if self.protocol is None:
            return True
        if other.protocol != self.protocol:
            return False
        mine, theirs = self.ports(), other.ports()
        if mine is None:
            return True
        return theirs is not None and mine[0] <= theirs[0] and theirs[1] <= mine[1]

    def overlaps(self, other: PortSpec) -> bool:
        if self.protocol is None or other.protocol is None:
            return True
        if self.protocol != other.protocol:
            return False
        a, b = self.ports(), other.ports()
        if a is None or b is None:
            return True
        return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class Service:
    name: str
    specs: tuple[PortSpec, ...]
    categories: frozenset[str] = frozenset()
    description: str = ""
    location: Location | None = None

    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class DesignZone:
    name: str
    role: str
    level: int | None  # protection level (等级); None = untrusted (outside the center)
    description: str = ""
    location: Location | None = None

    @property
    def external(self) -> bool:
        return ROLES.get(self.role) == "external"

    @property
    def management(self) -> bool:
        return ROLES.get(self.role) == "management"


@dataclass(frozen=True)
class Flow:
    """One allowed flow: ``src`` zone may reach ``dst`` zone on ``services``."""

    src: str
    dst: str
    services: tuple[Service, ...]
    reason: str
    location: Location | None = None

    @property
    def id(self) -> str:
        return f"{self.src}->{self.dst}"

    def allows(self, spec: PortSpec) -> bool:
        """The union of this flow's services covers ``spec`` (a range may span services)."""
        return covered_by(spec, [s for svc in self.services for s in svc.specs])

    def label(self) -> str:
        return f"{self.src}→{self.dst} ({', '.join(s.name for s in self.services)})"


def covered_by(spec: PortSpec, allowed: Iterable[PortSpec]) -> bool:
    """``spec`` is inside the union of ``allowed`` (adjacent ranges join: 80-81 + 82 = 80-82)."""
    allowed = list(allowed)
    if any(a.covers(spec) for a in allowed):
        return True
    rng = spec.ports()
    if rng is None or spec.protocol is None:
        return False
    parts = sorted(a.ports() or (1, 65535) for a in allowed if a.protocol == spec.protocol)
    lo, hi = rng
    for a, b in parts:
        if a > lo:
            break
        if b >= lo:
            lo = b + 1
        if lo > hi:
            return True
    return lo > hi


@dataclass(frozen=True)
class Waiver:
    """An approved exception (豁免), shaped like the baseline's waivers: who approved it,
    why, until when. ``tenants`` is a shell pattern of tenant codes or project names."""

    tenants: str
    src: str
    dst: str
    spec: PortSpec | None  # None: any service on this flow
    justification: str
    approver: str
    expires: dt.date
    location: Location | None = None

    @property
    def control(self) -> str:
        return f"flow:{self.src}->{self.dst}"

    def matches(self, tenant: str, src: str, dst: str, spec: PortSpec) -> bool:
        return (
            fnmatch.fnmatchcase(tenant, self.tenants)
            and self.src in (src, "*")
            and self.dst in (dst, "*")
            and (self.spec is None or self.spec.covers(spec))
        )

    def active(self, today: dt.date) -> bool:
        return today <= self.expires

    def as_dict(self, today: dt.date) -> dict:
        return {
            "hosts": self.tenants,
            "control": self.control,
            "service": self.spec.label() if self.spec else "any",
            "justification": self.justification,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
            "status": "active" if self.active(today) else "expired",
            "source": str(self.location) if self.location else "",
        }


@dataclass(frozen=True)
class Design:
    """The whole zone design (安全域设计)."""

    name: str
    platform_level: int
    vrf: str
    zones: dict[str, DesignZone]
    services: dict[str, Service]
    flows: tuple[Flow, ...]
    placement: dict[str, tuple[str, ...]]  # SG template -> zones its groups are used in
    shared_networks: tuple[str, ...] = ()  # network names allowed to be shared / RBAC'd
    border_zones: tuple[str, ...] = ()  # zones whose routers may have an external gateway
    waivers: tuple[Waiver, ...] = ()
    high_risk_ports: frozenset[int] = frozenset()
    default_location: Location | None = None  # the `default: deny` line
    location: Location | None = None

    def flow(self, src: str, dst: str) -> Flow | None:
        for f in self.flows:
            if f.src == src and f.dst == dst:
                return f
        return None

    @property
    def internet_zone(self) -> str | None:
        return next((z.name for z in self.zones.values() if z.role == "internet"), None)

    @property
    def management_zones(self) -> tuple[str, ...]:
        return tuple(z.name for z in self.zones.values() if z.management)

    def category_ports(self, category: str) -> list[PortSpec]:
        """Every port spec of the services in a category (admin, database, high_risk)."""
        out = [s for svc in self.services.values() if category in svc.categories for s in svc.specs]
        if category == "high_risk":
            out += [PortSpec(p, n, n) for n in sorted(self.high_risk_ports) for p in ("tcp",)]
        return out

    def admin_ports(self) -> set[int]:
        """TCP/UDP port numbers of admin, database and high-risk services: the list the
        tenant templates' wide-open check should refuse (one list, shared with baseline)."""
        out: set[int] = set(self.high_risk_ports)
        for cat in ("admin", "database"):
            for s in self.category_ports(cat):
                if s.lo is not None and s.hi is not None and s.hi - s.lo < 64:
                    out.update(range(s.lo, s.hi + 1))
        return out


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class RuleRef:
    """One ingress rule to judge, from a tenant file or the live cloud.

    ``dst_zones``: zones of the ports the rule protects. The source is one of:
    ``remote_cidr`` (classified by address coverage), ``remote_zones`` (already known, e.g.
    a template's ``remote_zone`` or the zones of a remote group's ports). ``remote_group``
    names the group for messages; ``same_tenant`` marks a remote group of the same tenant
    (its intra-zone traffic is the tenant's own VM-to-VM policy, 8.2.4.2).
    """

    id: str
    tenant: str
    dst_zones: tuple[str, ...]
    spec: PortSpec
    direction: str = "ingress"
    ethertype: str = "IPv4"
    remote_cidr: str | None = None
    remote_zones: tuple[str, ...] | None = None
    remote_group: str | None = None
    same_tenant: bool = True
    group: str = ""  # security group (name or id) the rule belongs to
    location: Location | None = None  # file:line of the rule (tenant files) if any
    context: str = ""  # e.g. "tenant czj (inventory/tenants/czj.yaml:22)"

    def remote_label(self) -> str:
        if self.remote_cidr is not None:
            return self.remote_cidr
        if self.remote_group is not None:
            return f"group {self.remote_group}"
        return "zone " + ",".join(self.remote_zones or ())

    def label(self) -> str:
        return f"{self.direction} {self.spec.label()} from {self.remote_label()}"


@dataclass(frozen=True)
class Denial:
    """Why one source zone may not reach the destination zone on the rule's service."""

    src: str
    dst: str
    flow: Flow | None  # the flow src->dst if the design has one (it lacks the service)
    design_line: Location | None

    def text(self, lang: str = "zh") -> str:
        where = f" ({self.design_line})" if self.design_line else ""
        if self.flow is not None:
            allowed = ", ".join(s.name for s in self.flow.services)
            if lang == "en":
                return f"flow {self.src}→{self.dst} allows only {allowed}{where}"
            return f"安全域流 {self.src}→{self.dst} 仅允许 {allowed}{where}"
        if lang == "en":
            return f"{self.src}→{self.dst} is not an allowed flow: default deny{where}"
        return f"{self.src}→{self.dst} 不在允许的流中：默认拒绝{where}"


@dataclass
class Finding:
    """Something the design or a clause does not allow, with the evidence an assessor reads."""

    control: str  # e.g. sd-flow, sd-any-port, sd-shared-network
    clause: str  # GB/T 22239-2019 clause, e.g. 8.1.3.2
    severity: str  # high | medium | low
    obj: str  # assessed object: "platform" or a tenant (code / project name)
    message: str
    message_en: str = ""
    location: Location | None = None
    evidence: dict = field(default_factory=dict)
    denials: tuple[Denial, ...] = ()
    waiver: dict | None = None

    @property
    def waived(self) -> bool:
        return self.waiver is not None and self.waiver.get("status") == "active"

    def text(self, lang: str = "zh") -> str:
        msg = self.message_en if lang == "en" and self.message_en else self.message
        if self.denials:
            msg += ": " + "; ".join(d.text(lang) for d in self.denials)
        return msg

    def as_dict(self) -> dict:
        return {
            "control": self.control,
            "clause": self.clause,
            "severity": self.severity,
            "object": self.obj,
            "message": self.message,
            "message_en": self.message_en or self.message,
            "location": str(self.location) if self.location else None,
            "evidence": self.evidence,
            "denied": [
                {
                    "from": d.src,
                    "to": d.dst,
                    "flow": d.flow.id if d.flow else None,
                    "allowed": [s.name for s in d.flow.services] if d.flow else [],
                    "design_line": str(d.design_line) if d.design_line else None,
                }
                for d in self.denials
            ],
            "waiver": self.waiver,
        }
