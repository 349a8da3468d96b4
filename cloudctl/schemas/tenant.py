"""Tenant files (inventory/tenants/), their defaults, security-group templates."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cloudctl.schemas.base import Open, Strict, Text, Version


class Contact(Open):
    name: str | None = None
    role: str | None = None
    phone: str | None = None
    email: str | None = None


class Subnet(Strict):
    label = "subnet"
    allocation: Text = Field(description="name of an allocation of the address plan")
    pools: list[str] | None = None
    dhcp: bool | None = None
    description: str | None = None


class Network(Strict):
    label = "network"
    name: Text
    description: str | None = None
    mtu: int | None = None
    subnets: list[Subnet] = Field(default_factory=list)


class Router(Strict):
    label = "router"
    name: str | None = None
    description: str | None = None
    external_network: str | None = None
    enable_snat: bool | None = None
    interfaces: list[Any] | None = None


class SecurityGroupRef(Strict):
    label = "security group"
    template: Text = Field(description="a template of policies/security-groups/")
    name: str | None = None
    description: str | None = None


class User(Strict):
    label = "user"
    name: Text
    roles: list[str] = Field(default_factory=list)
    email: str | None = None
    description: str | None = None
    enabled: bool | None = None
    password_env: str | None = None


class Tenant(Strict):
    """inventory/tenants/<code>.yaml: one department's desired OpenStack tenant."""

    label = "tenant"
    version: Version = 1
    code: Text = Field(description="department code (inventory/departments.yaml)")
    name_zh: str | None = None
    name_en: str | None = None
    description: str | None = None
    enabled: bool | None = None
    contacts: list[Contact] = Field(default_factory=list)
    networks: list[Network] = Field(default_factory=list)
    router: Router | None = None
    security_groups: list[SecurityGroupRef] = Field(default_factory=list)
    quotas: dict[str, Any] | None = Field(None, description="{class: NAME} and overrides")
    users: list[User] = Field(default_factory=list)


class TenantDefaults(Strict):
    """inventory/tenants/_defaults.yaml: quota classes and defaults of every tenant."""

    label = "tenant defaults"
    version: Version = 1
    quotas: dict[str, Any] | None = None
    quota_classes: dict[str, dict[str, dict[str, int]]] = Field(default_factory=dict)


class Rule(Strict):
    label = "rule"
    direction: str | None = None
    protocol: str | int | None = None
    port: str | int | None = None
    ethertype: str | None = None
    remote_zone: str | None = None
    remote_allocation: str | None = None
    remote_group: str | None = None
    remote_cidr: str | None = None
    description: str | None = None


class SecurityGroupTemplate(Strict):
    """policies/security-groups/<name>.yaml: a security-group template tenants name."""

    label = "security-group template"
    version: Version = 1
    name: Text
    description: str | None = None
    description_zh: str | None = None
    egress: str | list[Any] | None = None
    rules: list[Rule] = Field(default_factory=list)
