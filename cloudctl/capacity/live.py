"""What the cloud says about use and quotas, read in bulk through the tenant area's
OpenStack adapter (the one module that imports openstacksdk). Read only.

Requests: hypervisors (1), servers of all projects with their flavors (1-2), volumes of
all projects (1), floating IPs (1), Neutron quotas of all projects (1), and — because Nova
and Cinder quota sets have no list form — one quota set per project and service, side by
side (``quota_workers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cloudctl.core.errors import ExternalError


@dataclass
class ProjectUse:
    id: str
    name: str
    managed: bool
    cores: tuple[int, int] = (0, -1)  # (in use, limit); -1 unlimited
    ram_mb: tuple[int, int] = (0, -1)
    instances: tuple[int, int] = (0, -1)
    gigabytes: tuple[int, int] = (0, -1)
    volumes: tuple[int, int] = (0, -1)


@dataclass
class CloudUsage:
    """Totals the forecast needs, per-project quota use the report shows."""

    hypervisors: int
    hypervisor_vcpus: int
    hypervisor_ram_gb: float
    vcpu: float
    ram_gb: float
    storage_gb: float
    public_ips: int
    servers: int
    volumes: int
    projects: list[ProjectUse] = field(default_factory=list)
    services: dict[str, bool] = field(default_factory=dict)
    requests: int = 0

    def totals(self) -> dict[str, float]:
        return {
            "vcpu": self.vcpu,
            "ram_gb": self.ram_gb,
            "storage_gb": self.storage_gb,
            "public_ips": float(self.public_ips),
        }


def _pair(qs: dict, key: str) -> tuple[int, int]:
    v = qs.get(key)
    if isinstance(v, dict):
        return int(v.get("in_use", 0) or 0) + int(v.get("reserved", 0) or 0), int(
            v.get("limit", -1)
        )
    return 0, int(v) if isinstance(v, int) else -1


def read_usage(
    cloud: str | None = None,
    config_file: str | None = None,
    *,
    project_filter: Any = None,
    quota_workers: int = 4,
) -> CloudUsage:
    """Bulk read of hypervisors, servers, volumes, floating IPs and quota use."""
    from concurrent.futures import ThreadPoolExecutor

    from cloudctl.tenant.openstack_adapter import OpenStackAdapter, connect

    conn, counter = connect(cloud, config_file)
    os_ = OpenStackAdapter(conn, counter, quota_workers=quota_workers)
    svc = os_.services()
    projects = os_._list("identity", "/projects", "projects")
    hyp_n = hyp_cpu = 0
    hyp_ram = 0.0
    vcpu = ram_gb = storage = 0.0
    servers = volumes = 0
    if svc.get("compute"):
        hyps = os_.call("compute", "GET", "/os-hypervisors/detail", what="list hypervisors")
        for h in (hyps or {}).get("hypervisors", []):
            hyp_n += 1
            hyp_cpu += int(h.get("vcpus") or 0)
            hyp_ram += float(h.get("memory_mb") or 0) / 1024
        flavors = {
            f["id"]: f for f in os_._list("compute", "/flavors/detail?is_public=None", "flavors")
        }
        for s in os_._list("compute", "/servers/detail?all_tenants=1", "servers"):
            servers += 1
            fl = s.get("flavor") or {}
            fl = flavors.get(fl.get("id"), fl)  # older microversions give only the id
            vcpu += float(fl.get("vcpus") or 0)
            ram_gb += float(fl.get("ram") or 0) / 1024
    if svc.get("volume"):
        for v in os_._list("volume", "/volumes/detail?all_tenants=1", "volumes"):
            volumes += 1
            storage += float(v.get("size") or 0)
    try:
        fips = os_._list("network", "/floatingips?fields=id", "floatingips")
    except ExternalError:
        fips = []  # a cloud without the L3 extension has no floating IPs to count
    keep = project_filter or (lambda p: True)
    chosen = [p for p in projects if keep(p)]
    pids = [p["id"] for p in chosen]

    def quota(args: tuple[str, str]) -> tuple[str, str, dict]:
        service, pid = args
        path = (
            f"/os-quota-sets/{pid}/detail"
            if service == "compute"
            else (f"/os-quota-sets/{pid}?usage=true")
        )
        data = os_.call(service, "GET", path, what=f"{service} quota use of {pid}")
        return service, pid, (data or {}).get("quota_set", {})

    jobs = [(s, pid) for s in ("compute", "volume") if svc.get(s) for pid in pids]
    qsets: dict[tuple[str, str], dict] = {}
    if jobs:
        with ThreadPoolExecutor(max_workers=max(1, quota_workers)) as ex:
            for service, pid, qs in ex.map(quota, jobs):
                qsets[(service, pid)] = qs
    uses = []
    for p in chosen:
        c = qsets.get(("compute", p["id"]), {})
        v = qsets.get(("volume", p["id"]), {})
        uses.append(
            ProjectUse(
                id=p["id"],
                name=p["name"],
                managed="managed-by=cloudctl" in (p.get("tags") or []),
                cores=_pair(c, "cores"),
                ram_mb=_pair(c, "ram"),
                instances=_pair(c, "instances"),
                gigabytes=_pair(v, "gigabytes"),
                volumes=_pair(v, "volumes"),
            )
        )
    return CloudUsage(
        hypervisors=hyp_n,
        hypervisor_vcpus=hyp_cpu,
        hypervisor_ram_gb=round(hyp_ram, 1),
        vcpu=vcpu,
        ram_gb=round(ram_gb, 1),
        storage_gb=storage,
        public_ips=len(fips),
        servers=servers,
        volumes=volumes,
        projects=uses,
        services=dict(svc),
        requests=len(counter.log),
    )
