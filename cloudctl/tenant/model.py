"""Typed desired and actual state of tenants, shared by the loader, the diff and the adapter."""

from __future__ import annotations

from dataclasses import dataclass, field

from cloudctl.core.errors import Location

#: Tag (Neutron, Keystone project) and description marker of everything cloudctl owns.
MANAGED_TAG = "managed-by=cloudctl"
#: Keystone project tag naming the set of tenants (so two centers, or tests, never prune
#: each other's tenants): ``cloudctl-scope=<scope>``.
SCOPE_TAG_PREFIX = "cloudctl-scope="
MANAGED_NOTE = "[managed-by=cloudctl]"

NEUTRON_QUOTA_KEYS = (
    "network",
    "subnet",
    "port",
    "router",
    "security_group",
    "security_group_rule",
    "floatingip",
)
COMPUTE_QUOTA_KEYS = ("cores", "ram", "instances", "key_pairs", "server_groups")
VOLUME_QUOTA_KEYS = ("volumes", "gigabytes", "snapshots", "backups", "backup_gigabytes")
QUOTA_KEYS = {
    "network": NEUTRON_QUOTA_KEYS,
    "compute": COMPUTE_QUOTA_KEYS,
    "volume": VOLUME_QUOTA_KEYS,
}
ALLOWED_ROLES = ("member", "reader")


# --------------------------------------------------------------------------- desired
@dataclass(frozen=True)
class RuleSpec:
    """One security-group rule, fully resolved (remote group by SG name within the tenant)."""

    direction: str = "ingress"
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_min: int | None = None
    port_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group: str | None = None
    description: str = ""

    def key(self) -> tuple:
        """Identity of a rule (Neutron rules are immutable: any change is delete + create)."""
        prefix = self.remote_ip_prefix
        if prefix is None and self.remote_group is None:
            prefix = "0.0.0.0/0" if self.ethertype == "IPv4" else "::/0"
        proto = self.protocol
        if proto in (None, "any", "-1"):
            proto = None
        pmin, pmax = self.port_min, self.port_max
        if proto not in ("tcp", "udp", "sctp", "icmp", "ipv6-icmp") and proto is not None:
            pmin = pmax = None
        return (self.direction, self.ethertype, proto, pmin, pmax, prefix, self.remote_group)

    def label(self) -> str:
        d, eth, proto, pmin, pmax, prefix, group = self.key()
        if proto is None:
            what = "any"
        elif pmin is None:
            what = proto
        elif proto in ("icmp", "ipv6-icmp"):
            what = f"{proto} type {pmin}" + (f" code {pmax}" if pmax is not None else "")
        else:
            what = f"{pmin}/{proto}" if pmin == pmax else f"{pmin}-{pmax}/{proto}"
        peer = f"group {group}" if group else prefix
        arrow = "from" if d == "ingress" else "to"
        return f"{d} {what} {arrow} {peer}" + ("" if eth == "IPv4" or prefix else f" ({eth})")


@dataclass(frozen=True)
class SubnetSpec:
    name: str  # OpenStack name
    allocation: str
    cidr: str
    gateway_ip: str | None
    allocation_pools: tuple[tuple[str, str], ...]
    dns_nameservers: tuple[str, ...]
    enable_dhcp: bool = True
    ip_version: int = 4
    description: str = ""
    location: Location | None = None


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    description: str
    subnets: tuple[SubnetSpec, ...]
    mtu: int | None = None
    location: Location | None = None


@dataclass(frozen=True)
class RouterSpec:
    name: str
    description: str
    interfaces: tuple[str, ...]  # subnet names
    external_network: str | None = None
    enable_snat: bool | None = None
    location: Location | None = None


@dataclass(frozen=True)
class SecurityGroupSpec:
    name: str
    template: str
    description: str
    rules: tuple[RuleSpec, ...]
    location: Location | None = None


@dataclass(frozen=True)
class UserSpec:
    name: str
    roles: tuple[str, ...]
    email: str | None = None
    description: str = ""
    password_env: str | None = None
    enabled: bool = True
    location: Location | None = None


@dataclass(frozen=True)
class TenantSpec:
    code: str  # department code (file name, key everywhere)
    project: str  # OpenStack project name (= name prefix + code)
    name_zh: str
    name_en: str
    description: str
    contacts: tuple[dict, ...]
    networks: tuple[NetworkSpec, ...]
    router: RouterSpec | None
    security_groups: tuple[SecurityGroupSpec, ...]
    quotas: dict[str, dict[str, int]]  # service -> key -> value
    users: tuple[UserSpec, ...]
    enabled: bool = True
    file: str = ""
    location: Location | None = None

    @property
    def subnets(self) -> list[SubnetSpec]:
        return [s for n in self.networks for s in n.subnets]


@dataclass(frozen=True)
class DesiredState:
    tenants: dict[str, TenantSpec]  # by code
    scope: str = "main"
    name_prefix: str = ""
    domain: str = "default"


# --------------------------------------------------------------------------- actual
class NeutronOwned:
    """Neutron resources are ours when tagged, or when the description carries the marker
    (a create whose tag call was lost stays ours)."""

    tags: list[str]
    description: str

    @property
    def managed(self) -> bool:
        return MANAGED_TAG in self.tags or MANAGED_NOTE in (self.description or "")


@dataclass
class Project:
    id: str
    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    domain_id: str = "default"

    @property
    def managed(self) -> bool:
        return MANAGED_TAG in self.tags

    @property
    def scope(self) -> str | None:
        for t in self.tags:
            if t.startswith(SCOPE_TAG_PREFIX):
                return t[len(SCOPE_TAG_PREFIX) :]
        return None


@dataclass
class User:
    id: str
    name: str
    description: str = ""
    email: str | None = None
    enabled: bool = True
    default_project_id: str | None = None
    domain_id: str = "default"

    @property
    def managed(self) -> bool:
        return MANAGED_NOTE in (self.description or "")


@dataclass
class Network(NeutronOwned):
    id: str
    name: str
    project_id: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    admin_state_up: bool = True
    external: bool = False
    shared: bool = False
    mtu: int | None = None


@dataclass
class Subnet(NeutronOwned):
    id: str
    name: str
    project_id: str
    network_id: str
    cidr: str
    gateway_ip: str | None
    allocation_pools: list[tuple[str, str]]
    dns_nameservers: list[str]
    enable_dhcp: bool = True
    ip_version: int = 4
    description: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class Router(NeutronOwned):
    id: str
    name: str
    project_id: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    external_network_id: str | None = None
    enable_snat: bool | None = None


@dataclass
class RouterInterface:
    router_id: str
    subnet_id: str
    port_id: str


@dataclass
class SecurityGroup(NeutronOwned):
    id: str
    name: str
    project_id: str
    description: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class Rule:
    id: str
    security_group_id: str
    project_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_min: int | None
    port_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None
    description: str = ""


@dataclass
class ActualState:
    """Everything the diff needs, read in bulk (one list call per kind)."""

    projects: list[Project] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)  # id -> name
    role_assignments: set[tuple[str, str, str]] = field(default_factory=set)  # user, project, role
    networks: list[Network] = field(default_factory=list)
    subnets: list[Subnet] = field(default_factory=list)
    routers: list[Router] = field(default_factory=list)
    router_interfaces: list[RouterInterface] = field(default_factory=list)
    security_groups: list[SecurityGroup] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    quotas: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # svc->pid->k->v
    services: dict[str, bool] = field(
        default_factory=lambda: {"network": True, "compute": False, "volume": False}
    )
    #: ids cloudctl recorded when it created them (the ownership record): only these are
    #: ever deleted; a marker without a record only claims ownership.
    recorded: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Port:
    """A Neutron port, read only before deletes (what would make them fail with 409)."""

    id: str
    network_id: str
    project_id: str
    device_owner: str
    device_id: str
    security_groups: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
