"""The address plan, read-only, for other areas (tenant, migrate, baseline). Stable contract.

    from cloudctl.ipam.api import load_departments, load_plan

    deps = load_departments(center)          # list[Department]
    plan = load_plan(center)                 # AddressPlan, validated (raises ValidationFailed)
    app = plan.prefix("czj-app")             # Prefix | None
    for p in plan.prefixes_of("czj"): ...    # every prefix of one tenant, file order
    core = plan.zone("core")                 # Zone | None

``Department``: code (the tenant name used everywhere), name_zh, name_en, kind
("department" | "county"), contacts (tuple of dicts), systems, location (core Location).

``Prefix``: name, cidr (str, "10.20.18.0/24"), zone, tenant (code or None for center-owned
infrastructure), vrf, vlan (int | None), purpose, status ("active" | "container" |
"reserved" | "deprecated"), gateway (str | None), allocation_pools (list of (start, end)
str tuples), dns_nameservers (list[str], already resolved: the prefix's own, else its
zone's, else the plan's default — the center's DNS servers in the ops zone), parent (name of
the enclosing prefix or None), role ("app" for "czj-app"), location (Location; str() gives
"file:line"), size, first/last (ints).

``Zone``: name, name_zh, name_en, vrf, supernets (tuple[str]), vlan_range ((lo, hi) | None;
also ``.vlans``), purpose, dns_nameservers.

Naming convention of tenant prefixes: ``<code>-<role>`` — ``<code>-app`` (/24, zone core),
``<code>-web`` (/26, zone dmz), ``<code>-db`` (/26, zone data); ``<code>-app-dr`` in zone
drill (VRF dr) mirrors ``<code>-app`` at the same address on purpose. Every department has
an ``app``; not every one has ``web`` / ``db``: check for None.

``load_plan(center, check=False)`` skips validation (for tools that must read a broken plan);
the default raises ``ValidationFailed`` listing every problem as file:line: message.
"""

from __future__ import annotations

from pathlib import Path

from cloudctl.core.center import Center
from cloudctl.core.errors import ValidationFailed
from cloudctl.core.i18n import _
from cloudctl.ipam.model import (
    AddressPlan,
    Department,
    Prefix,
    Reservation,
    Vrf,
    Zone,
)
from cloudctl.ipam.model import load_departments as _load_departments_file
from cloudctl.ipam.model import load_plan as _load_plan_dir
from cloudctl.ipam.validate import validate_plan

__all__ = [
    "AddressPlan",
    "Department",
    "Prefix",
    "Reservation",
    "Vrf",
    "Zone",
    "load_departments",
    "load_plan",
]


def _path(center: Center | str | Path, attr: str) -> Path:
    return Path(getattr(center, attr)) if isinstance(center, Center) else Path(center)


def load_departments(center: Center | str | Path) -> list[Department]:
    """Departments and counties of the center (or of a departments.yaml path)."""
    deps, problems = _load_departments_file(_path(center, "departments"))
    if problems:
        raise ValidationFailed(
            problems, _("{len} problem(s) in the departments file").format(len=len(problems))
        )
    return deps


def load_plan(
    center: Center | str | Path, *, check: bool = True, departments: str | Path | None = None
) -> AddressPlan:
    """The address plan of ``center`` (or of a plan directory / file).

    With ``check`` (default) the plan is validated against the departments file and
    ``ValidationFailed`` is raised when anything is wrong. DNS defaults are resolved.
    """
    plan = _load_plan_dir(_path(center, "address_plan"))
    tenants = None
    if isinstance(center, Center) or departments is not None:
        dep_path = Path(departments) if departments is not None else center.departments  # type: ignore[union-attr]
        deps, dep_problems = _load_departments_file(dep_path)
        plan.problems.extend(dep_problems)
        tenants = [d.code for d in deps]
    problems = validate_plan(plan, tenants)
    if check and problems:
        raise ValidationFailed(
            problems, _("{len} problem(s) in the address plan").format(len=len(problems))
        )
    resolve_dns(plan)
    return plan


def resolve_dns(plan: AddressPlan) -> None:
    """Fill each prefix's DNS servers from its zone or the plan default when it has none."""
    for p in plan.prefixes:
        if not p.dns_nameservers and p.status == "active" and p.gateway is not None:
            zone = plan.zones.get(p.zone)
            p.dns_nameservers = list((zone.dns_nameservers if zone else ()) or plan.dns_nameservers)
