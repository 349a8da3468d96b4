"""Migration plans, the security-domains design, the capacity file."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from cloudctl.schemas.base import Open, Strict, Text, Version


class Wave(Open):
    id: Text
    name_zh: str | None = None
    name_en: str | None = None
    systems: list[str] = Field(default_factory=list)


class System(Strict):
    label = "system"
    id: Text
    name_zh: str | None = None
    name_en: str | None = None
    department: str | None = None
    classification: dict[str, Any] | None = None
    strategy: str | None = None
    source_hosts: list[str] | None = None
    target: dict[str, Any] | None = None
    depends_on: list[str] | None = None
    data: dict[str, Any] | None = None
    downtime: Any = None
    template: str | None = None
    params: dict[str, Any] | None = None
    steps: Any = None
    description: str | None = None
    notes: Any = None
    owner: Any = None
    resources: dict[str, Any] | None = None


class MigrationPlan(Strict):
    """migration_plans/<name>.yaml: systems, waves and how each system moves."""

    label = "migration plan"
    version: Version = 1
    kind: Literal["migration-plan"] = "migration-plan"
    name: Text
    title_zh: str | None = None
    title_en: str | None = None
    description: str | None = None
    defaults: dict[str, Any] | None = None
    systems: list[System] = Field(default_factory=list)
    waves: list[Wave] = Field(default_factory=list)


class MigrationTemplate(Strict):
    """migration_plans/templates/<name>.yaml: steps a system of a plan refers to."""

    label = "migration template"
    version: Version = 1
    kind: str | None = None
    name: Text
    description: str | None = None
    params: dict[str, Any] | None = None
    steps: Any = None


class SecurityDomains(Strict):
    """policies/security-domains.yaml: zones, services and allowed flows of the design."""

    label = "security-domains design"
    version: Version = 1
    name: str | None = None
    platform_level: int | None = None
    vrf: str | None = None
    default: str | None = None
    high_risk: dict[str, Any] | None = None
    services: dict[str, Any] | None = None
    zones: dict[str, Any] | None = None
    placement: Any = None
    border_zones: list[str] | None = None
    shared_networks: list[Any] | None = None
    flows: list[dict[str, Any]] | None = None
    waivers: list[dict[str, Any]] | None = None


class Capacity(Strict):
    """capacity.yaml: phase-1 hardware, overcommit, growth and the phase-2 room."""

    label = "capacity"
    version: Version = 1
    as_of: str | None = Field(None, description="YYYY-MM: month 0 of the forecast")
    phase1_room: dict[str, Any] | None = None
    server_profiles: list[dict[str, Any]] | None = None
    host_classes: list[dict[str, Any]] | None = None
    storage_pools: list[dict[str, Any]] | None = None
    current_usage: dict[str, Any] | None = None
    growth: dict[str, Any] | None = None
    migration: dict[str, Any] | None = None
    phase2: dict[str, Any] | None = None
