"""Guards in front of destructive plans (pure; the CLI asks, refuses or goes ahead).

- A whole tenant is torn down only when its code is named on the command line
  (``tenant destroy CODE`` or ``apply --prune --allow-destroy-project CODE``).
- A *mass deletion* needs typed confirmation, even with ``--auto-approve``, unless
  ``--allow-mass-delete`` is given: a plan deleting more than :data:`MASS_DELETE_MIN`
  resources and more than :data:`MASS_DELETE_SHARE` of what cloudctl manages in this
  scope, or more than :data:`MASS_DELETE_MAX` resources whatever the share. A mistyped
  tenants directory or an emptied file then cannot quietly plan hundreds of deletions.
- Before the first delete, everything that would make a delete fail (HTTP 409) is checked:
  a half-destroyed tenant is worse than one that was never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cloudctl.tenant.diff import Change, Plan
from cloudctl.tenant.model import ActualState, Port

MASS_DELETE_SHARE = 0.10
MASS_DELETE_MIN = 5
MASS_DELETE_MAX = 100

#: Neutron's own DHCP port goes with its subnet; every other port holds a delete back.
_DHCP = "network:dhcp"


@dataclass(frozen=True)
class Deletions:
    """How much a plan deletes, against how much cloudctl manages in the scope."""

    deletes: int
    managed: int
    projects: tuple[tuple[str, int], ...]  # tenant code -> deletions, for whole tenants

    @property
    def share(self) -> float:
        return self.deletes / self.managed if self.managed else 1.0

    @property
    def mass(self) -> bool:
        if self.deletes <= MASS_DELETE_MIN:
            return False
        return self.deletes > MASS_DELETE_MAX or self.share > MASS_DELETE_SHARE


def managed_count(actual: ActualState, scope: str) -> int:
    """Resources cloudctl created in the projects of ``scope`` (with their rules,
    interfaces and role assignments: the same units a plan counts)."""
    rec = actual.recorded
    pids = {p.id for p in actual.projects if p.id in rec and p.scope in (scope, None)}
    n = len(pids)
    for items in (actual.networks, actual.subnets, actual.routers, actual.security_groups):
        n += sum(1 for x in items if x.project_id in pids and x.id in rec)
    sgs = {g.id for g in actual.security_groups if g.project_id in pids and g.id in rec}
    routers = {r.id for r in actual.routers if r.project_id in pids and r.id in rec}
    users = {u.id for u in actual.users if u.default_project_id in pids and u.id in rec}
    n += len(users)
    n += sum(1 for r in actual.rules if r.security_group_id in sgs)
    n += sum(1 for i in actual.router_interfaces if i.router_id in routers)
    n += sum(1 for u, p, _r in actual.role_assignments if u in users and p in pids)
    return n


def deletions(plan: Plan, actual: ActualState, scope: str) -> Deletions:
    dels = [c for c in plan.changes if c.action == "delete" and c.kind != "quota"]
    codes = {c.tenant for c in dels if c.kind == "project"}
    codes |= {code for code in plan.teardowns if any(c.tenant == code for c in dels)}
    whole = tuple(sorted((code, sum(1 for c in dels if c.tenant == code)) for code in codes))
    return Deletions(len(dels), managed_count(actual, scope), whole)


def unapproved_projects(d: Deletions, allowed: Iterable[str]) -> list[tuple[str, int]]:
    """Whole tenants the plan tears down whose code was not named on the command line."""
    ok = set(allowed)
    return [(code, n) for code, n in d.projects if code not in ok]


def destroy_blockers(changes: list[Change], actual: ActualState, ports: list[Port]) -> list[str]:
    """Everything that would make one of the deletes fail, in words (empty: go ahead).

    A port on a network or subnet being deleted that is not the network's DHCP port or an
    interface this plan removes (a VM, a load balancer, a foreign router), a port using a
    security group being deleted, a subnet of someone else on a network being deleted.
    """
    net_del = {c.id for c in changes if c.action == "delete" and c.kind == "network"}
    sub_del = {c.id for c in changes if c.action == "delete" and c.kind == "subnet"}
    sg_del = {c.id for c in changes if c.action == "delete" and c.kind == "security_group"}
    iface_del = {c.id for c in changes if c.action == "delete" and c.kind == "router_interface"}
    names = {c.id: f"{c.kind.replace('_', ' ')} {c.name}" for c in changes if c.action == "delete"}
    out: list[str] = []
    for p in sorted(ports, key=lambda p: p.id):
        if p.id in iface_del:
            continue  # an interface this plan removes first
        what = f"port {p.id} ({p.device_owner or 'no owner'}, device {p.device_id or '-'})"
        hit = [names[s] for s in p.subnet_ids if s in sub_del]
        if p.network_id in net_del:
            hit.insert(0, names[p.network_id])
        if hit and p.device_owner != _DHCP:  # Neutron removes its DHCP ports by itself
            out.append(f"{what} is still on {', '.join(hit)}")
            continue
        used = [names[g] for g in p.security_groups if g in sg_del]
        if used:
            out.append(f"{what} uses security group {', '.join(used)}")
    for s in actual.subnets:
        if s.network_id in net_del and s.id not in sub_del:
            out.append(
                f"subnet {s.name or s.id} ({s.id}) of another owner is on {names[s.network_id]}"
            )
    return out


def needs_ports(changes: list[Change]) -> bool:
    """Whether the plan deletes anything a port can hold on to (then ports are read)."""
    return any(
        c.action == "delete" and c.kind in ("network", "subnet", "security_group", "router")
        for c in changes
    )
