"""cloudctl.yaml: the center configuration."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cloudctl.schemas.base import Strict, Text, Version


class LabHost(Strict):
    label = "lab host"
    name: Text
    groups: list[str] = Field(default_factory=list)


class Lab(Strict):
    label = "lab"
    hosts: list[LabHost] = Field(default_factory=list)


class Trust(Strict):
    label = "trust"
    allow_commands: list[Text] = Field(default_factory=list, description="exact command texts")
    allow_playbooks: list[Text] = Field(default_factory=list, description="beyond playbooks/")
    known_hosts: str | None = None
    host_key_checking: Literal["strict", "accept-new"] = "strict"


class Audit(Strict):
    label = "audit"
    syslog: str | None = Field(None, description="udp://HOST:PORT, tcp://HOST:PORT or /dev/log")


def _path(default: str, what: str) -> Any:
    return Field(None, description=f"{what} (default: {default})")


class CenterConfig(Strict):
    """cloudctl.yaml at the root of a center; paths are relative to it."""

    label = "cloudctl.yaml"
    version: Version = 1
    name: str | None = None
    address_plan: str | None = _path("inventory/ipam", "address plan directory or file")
    departments: str | None = _path("inventory/departments.yaml", "departments file")
    tenants: str | None = _path("inventory/tenants", "tenant files")
    hosts_inventory: str | None = _path("inventory/hosts", "Ansible inventory directory")
    evidence: str | None = _path("inventory/evidence", "manual baseline evidence")
    policies: str | None = _path("policies", "catalog, waivers, security-group templates")
    playbooks: str | None = _path("playbooks", "playbooks")
    migration_plans: str | None = _path("migration_plans", "migration plans")
    capacity: str | None = _path("capacity.yaml", "capacity file")
    state: str | None = _path(".cloudctl", "state directory or postgresql:// URL (no password)")
    lab: Lab | None = None
    trust: Trust | None = None
    audit: Audit | None = None
    tenant: dict[str, Any] | None = Field(None, description="tenant settings (docs/tenant.md)")
