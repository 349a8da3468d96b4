"""What the live check reads of Neutron and Keystone, as plain typed values (no SDK objects),
so the assessment is pure and unit tests build snapshots by hand."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CProject:
    id: str
    name: str


@dataclass(frozen=True)
class CNetwork:
    id: str
    name: str
    project_id: str
    shared: bool = False
    external: bool = False


@dataclass(frozen=True)
class CSubnet:
    id: str
    name: str
    project_id: str
    network_id: str
    cidr: str


@dataclass(frozen=True)
class CPort:
    id: str
    name: str
    project_id: str
    network_id: str
    device_owner: str
    device_id: str
    fixed_ips: tuple[tuple[str, str], ...]  # (subnet_id, ip)
    security_groups: tuple[str, ...]
    port_security: bool = True

    @property
    def is_router_interface(self) -> bool:
        return self.device_owner.startswith("network:router_interface")

    @property
    def is_infrastructure(self) -> bool:
        """Router, DHCP, gateway, floating IP ports: Neutron's own, no security groups."""
        return self.device_owner.startswith("network:")


@dataclass(frozen=True)
class CRouter:
    id: str
    name: str
    project_id: str
    external_network_id: str | None = None


@dataclass(frozen=True)
class CSecurityGroup:
    id: str
    name: str
    project_id: str


@dataclass(frozen=True)
class CRule:
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
    remote_address_group_id: str | None = None


@dataclass(frozen=True)
class CRbac:
    id: str
    object_type: str
    object_id: str
    project_id: str  # owner who granted
    target_tenant: str  # project id or "*"
    action: str


@dataclass
class CloudSnapshot:
    """Everything the live check needs, read with one list call per kind."""

    projects: list[CProject] = field(default_factory=list)
    networks: list[CNetwork] = field(default_factory=list)
    subnets: list[CSubnet] = field(default_factory=list)
    ports: list[CPort] = field(default_factory=list)
    routers: list[CRouter] = field(default_factory=list)
    security_groups: list[CSecurityGroup] = field(default_factory=list)
    rules: list[CRule] = field(default_factory=list)
    rbac: list[CRbac] = field(default_factory=list)
    address_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # id -> CIDRs
    requests: int = 0  # API requests the read took (for the bench and the report)
    seconds: float = 0.0

    def project_name(self, pid: str) -> str:
        for p in self.projects:
            if p.id == pid:
                return p.name
        return pid
