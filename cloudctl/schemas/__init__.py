"""Declarative schemas of the files a center is made of, one per kind.

They validate (cloudctl.core.schema.check: errors at file:line) and are published as JSON
Schema under schemas/ (``cloudctl schema export``) for editors with the YAML language
server. ``kinds()``: kind -> (model, the sample files of that kind, relative to a center).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import BaseModel


def kinds() -> dict[str, tuple[type[BaseModel], tuple[str, ...]]]:
    """Imported when asked for: loading cloudctl.yaml needs one model, not all of them."""
    from cloudctl.schemas.baseline import Catalog, Profile, WaiversFile
    from cloudctl.schemas.center import CenterConfig
    from cloudctl.schemas.ipam import AddressPlanFile, DepartmentsFile
    from cloudctl.schemas.other import Capacity, MigrationPlan, MigrationTemplate, SecurityDomains
    from cloudctl.schemas.tenant import SecurityGroupTemplate, Tenant, TenantDefaults

    return {
        "center": (CenterConfig, ("cloudctl.yaml",)),
        "tenant": (Tenant, ("inventory/tenants/[!_]*.yaml",)),
        "tenant-defaults": (TenantDefaults, ("inventory/tenants/_defaults.yaml",)),
        "security-group": (SecurityGroupTemplate, ("policies/security-groups/*.yaml",)),
        "address-plan": (
            AddressPlanFile,
            ("inventory/ipam/*.yaml", "inventory/ipam/prefixes/*.yaml"),
        ),
        "departments": (DepartmentsFile, ("inventory/departments.yaml",)),
        "migration-plan": (MigrationPlan, ("migration_plans/*.yaml",)),
        "migration-template": (MigrationTemplate, ("migration_plans/templates/*.yaml",)),
        "waivers": (WaiversFile, ("policies/waivers.yaml",)),
        "catalog": (Catalog, ("policies/mlps-l3/8.*.yaml",)),
        "profile": (Profile, ("policies/mlps-l3/profile.yaml",)),
        "security-domains": (SecurityDomains, ("policies/security-domains.yaml",)),
        "capacity": (Capacity, ("capacity.yaml",)),
    }
