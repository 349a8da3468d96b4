"""``cloudctl ipam drift``: the cloud's subnets against the address plan (read-only).

Finds subnets the plan does not know (a CIDR that is no allocation), and subnets on a known
allocation whose CIDR, gateway, allocation pools or DNS servers differ from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import netaddr

from cloudctl.tenant.desired import AddressPlanView
from cloudctl.tenant.model import ActualState


@dataclass
class SubnetFinding:
    subnet: str
    subnet_id: str
    project: str
    cidr: str
    status: str  # ok | unknown | mismatch | duplicate
    allocation: str | None = None
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "subnet": self.subnet,
            "id": self.subnet_id,
            "project": self.project,
            "cidr": self.cidr,
            "status": self.status,
            "allocation": self.allocation,
            "differences": self.differences,
            "message": self.message,
        }


def ipam_drift(plan: AddressPlanView, actual: ActualState) -> list[SubnetFinding]:
    by_cidr: dict[str, list] = {}
    usable = [a for a in plan.allocations.values() if a.status not in ("container", "reserved")]
    for a in usable:
        by_cidr.setdefault(str(netaddr.IPNetwork(a.cidr).cidr), []).append(a)
    projects = {p.id: p.name for p in actual.projects}
    out: list[SubnetFinding] = []
    for s in sorted(actual.subnets, key=lambda s: (projects.get(s.project_id, ""), s.name)):
        cidr = str(netaddr.IPNetwork(s.cidr).cidr)
        f = SubnetFinding(s.name, s.id, projects.get(s.project_id, s.project_id), cidr, "ok")
        cands = by_cidr.get(cidr, [])
        if not cands:
            net = netaddr.IPNetwork(cidr)
            inside = [
                a
                for a in usable
                if net in netaddr.IPNetwork(a.cidr) and net != netaddr.IPNetwork(a.cidr)
            ]
            if inside:
                a = min(inside, key=lambda a: netaddr.IPNetwork(a.cidr).size)
                f.status, f.allocation = "mismatch", a.name
                f.differences["cidr"] = {"cloud": cidr, "plan": a.cidr}
                f.message = f"inside allocation {a.name} ({a.cidr}) but not equal to it"
            else:
                f.status = "unknown"
                f.message = "the address plan has no allocation for this CIDR"
            out.append(f)
            continue
        named = [a for a in cands if s.name == a.name or s.name.endswith("-" + a.name)]
        a = (named or cands)[0]
        f.allocation = a.name
        if (a.gateway or None) != (s.gateway_ip or None):
            f.differences["gateway"] = {"cloud": s.gateway_ip, "plan": a.gateway}
        cloud_pools = [f"{x}-{y}" for x, y in s.allocation_pools]
        plan_pools = [f"{x}-{y}" for x, y in a.pools]
        if plan_pools and cloud_pools != plan_pools:
            f.differences["pools"] = {"cloud": cloud_pools, "plan": plan_pools}
        if list(a.dns) and list(s.dns_nameservers) != list(a.dns):
            f.differences["dns"] = {"cloud": list(s.dns_nameservers), "plan": list(a.dns)}
        if f.differences:
            f.status = "mismatch"
            f.message = "differs from allocation " + a.name + ": " + ", ".join(f.differences)
        out.append(f)
    _mark_duplicates(out, actual)
    return out


def _mark_duplicates(findings: list[SubnetFinding], actual: ActualState) -> None:
    """Two subnets of one project with one name or one CIDR (two applies at once, a copy
    made by hand) are drift, whatever the plan says of each of them alone."""
    by_sub = {s.id: s for s in actual.subnets}
    groups: dict[tuple, list[SubnetFinding]] = {}
    for f in findings:
        pid = by_sub[f.subnet_id].project_id
        if f.subnet:
            groups.setdefault((pid, "name", f.subnet), []).append(f)
        groups.setdefault((pid, "cidr", f.cidr), []).append(f)
    for (_pid, what, value), same in groups.items():
        if len(same) < 2:
            continue
        ids = ", ".join(x.subnet_id for x in same)
        for f in same:
            f.status = "duplicate"
            f.message = f"{len(same)} subnets with {what} {value} in this project ({ids})"
