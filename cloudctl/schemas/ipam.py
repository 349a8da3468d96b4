"""The address plan (inventory/ipam/) and the departments file."""

from __future__ import annotations

from pydantic import Field

from cloudctl.schemas.base import Open, Strict, Text


class Vrf(Strict):
    label = "vrf"
    name: Text
    rd: str | None = None
    name_zh: str | None = None
    description: str | None = None


class Zone(Strict):
    label = "zone"
    name: Text
    name_zh: str | None = None
    name_en: str | None = None
    vrf: str | None = None
    supernets: list[str] = Field(default_factory=list)
    vlans: str | None = Field(None, description="VLAN range, e.g. 1500-1999")
    purpose: str | None = None
    dns: list[str] | None = None


class ReservedRange(Strict):
    label = "reserved range"
    range: Text = Field(description="FIRST-LAST addresses kept out of the pools")
    purpose: str | None = None


class Prefix(Strict):
    label = "prefix"
    name: Text
    prefix: Text = Field(description="CIDR, e.g. 10.20.16.0/24")
    zone: str | None = None
    tenant: str | None = None
    vrf: str | None = None
    vlan: int | None = None
    purpose: str | None = None
    status: str | None = Field(None, description="active, container, reserved or deprecated")
    gateway: str | None = None
    pools: list[str] | None = Field(None, description="FIRST-LAST address ranges")
    dns: list[str] | None = None
    reserved: list[ReservedRange | str] | None = None
    description: str | None = None


class AddressPlanFile(Strict):
    """A file of the address plan: vrfs.yaml, zones.yaml or prefixes/<zone>.yaml."""

    label = "address plan"
    vrfs: list[Vrf] | None = None
    zones: list[Zone] | None = None
    dns: list[str] | None = None
    zone: str | None = Field(None, description="the zone of the prefixes in this file")
    prefixes: list[Prefix] | None = None


class Department(Strict):
    label = "department"
    code: Text
    name_zh: str | None = None
    name_en: str | None = None
    kind: str | None = Field(None, description="department or county")
    contacts: list[Open] | None = None
    systems: list[Open] | list[str] | None = None


class DepartmentsFile(Strict):
    """inventory/departments.yaml: the departments and counties that own tenants."""

    label = "departments file"
    departments: list[Department] = Field(default_factory=list)
