"""Read the center's facts a plan refers to: tenants (departments.yaml codes), networks
(the address plan's allocations per tenant), hosts (the Ansible inventory) and playbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cloudctl.core.center import Center
from cloudctl.core.errors import CloudctlError, Location, Problem
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import display_path, load_yaml
from cloudctl.migrate.trust import command_allowed, playbook_allowed
from cloudctl.migrate.validate import References

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def tenants_of(center: Center) -> set[str]:
    """Department codes are the tenant names (cloudctl.ipam owns departments.yaml)."""
    from cloudctl.ipam.api import load_departments

    return {d.code for d in load_departments(center)}


def networks_of(center: Center) -> dict[str, set[str]]:
    """Allocation names (``czj-app``...) per tenant, from the address plan as written
    (not re-validated here: ``cloudctl ipam validate`` owns that)."""
    from cloudctl.ipam.api import load_plan as load_address_plan

    out: dict[str, set[str]] = {}
    for p in load_address_plan(center, check=False).prefixes:
        if p.tenant:
            out.setdefault(p.tenant, set()).add(p.name)
    return out


def inventory_hosts(inventory: Path) -> set[str]:
    """Host names of a YAML inventory file or directory (group_vars/host_vars skipped)."""
    return inventory_names(inventory)[0]


def inventory_names(inventory: Path) -> tuple[set[str], set[str]]:
    """(host names, group names) of a YAML inventory file or directory."""
    files = (
        [inventory]
        if inventory.is_file()
        else [
            f for f in sorted(inventory.iterdir()) if f.suffix in (".yml", ".yaml") and f.is_file()
        ]
        if inventory.is_dir()
        else []
    )
    hosts: set[str] = set()
    groups: set[str] = set()

    def walk(group: Any) -> None:
        if not isinstance(group, dict):
            return
        for h in group.get("hosts") or {}:
            hosts.add(str(h))
        for name, child in (group.get("children") or {}).items():
            groups.add(str(name))
            walk(child)

    for f in files:
        data = load_yaml(f)  # bounded read, aliases capped (one YAML loader)
        if isinstance(data, dict):
            for name, grp in data.items():
                groups.add(str(name))
                walk(grp)
    return hosts, groups


def load_references(center: Center, inventory: Path | None = None) -> References:
    refs = References()
    try:
        refs.tenants = tenants_of(center)
    except CloudctlError as e:
        refs.unavailable.append(
            Problem(e.location, _("cannot check tenants: {message}").format(message=e.message))
        )
    try:
        refs.networks = networks_of(center)
    except CloudctlError as e:
        for pr in e.problems:
            refs.unavailable.append(
                Problem(
                    pr.location, _("cannot check networks: {message}").format(message=pr.message)
                )
            )
    inv = inventory or center.hosts_inventory
    if inv.exists():
        refs.hosts, refs.groups = inventory_names(inv)
    else:
        refs.unavailable.append(
            Problem(Location(display_path(inv)), _("cannot check hosts: inventory not found"))
        )
    pb_root = center.playbooks
    refs.playbook_exists = lambda rel: (pb_root / rel).is_file()
    refs.playbook_allowed = lambda rel: playbook_allowed(pb_root, rel, center.trust)
    refs.command_allowed = lambda cmd: command_allowed(cmd, center.trust)
    refs.trust_file = display_path(center.root / "cloudctl.yaml")
    return refs
