"""Baseline files: waivers, the catalog of controls, the profile."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cloudctl.schemas.base import Bilingual, Date, Open, Strict, Text, Version


class Waiver(Strict):
    label = "waiver"
    hosts: Text = Field(description="shell-style pattern of inventory host names")
    control: Text = Field(description="control id of policies/<profile>/")
    justification: Text
    approver: Text
    expires: Date = Field(description="YYYY-MM-DD; the waiver stops applying after it")
    ticket: str | None = Field(None, description="change or approval ticket")


class WaiversFile(Strict):
    """policies/waivers.yaml: accepted exceptions to the baseline."""

    label = "waivers file"
    version: Version = 1
    waivers: list[Waiver] = Field(default_factory=list)


class Remediation(Strict):
    label = "remediation"
    tasks: list[dict[str, Any]] | None = None
    sshd: Any = None
    keyval: Any = None
    sysctl: Any = None
    packages_absent: Any = None
    packages_absent_var: Any = None
    packages_present: Any = None
    file_mode: Any = None
    audit_rules: Any = None
    pam: Any = None
    advice: Bilingual | None = None


class Control(Strict):
    label = "control"
    id: Text
    item: str | None = None
    unit: str | None = None
    clause: str | None = None
    title: Bilingual
    rationale: Bilingual | None = None
    severity: str | None = None
    kind: str | None = None
    high_risk: Any = None
    check: Open | None = None
    remediation: Remediation | None = None
    references: dict[str, Any] | None = None
    applies_to: Any = None
    container: Bilingual | None = None
    evidence: Open | None = None


class Catalog(Strict):
    """policies/<profile>/<clause>.yaml: the controls of one clause."""

    label = "catalog"
    version: Version = 1
    clause: Text
    title: Bilingual
    controls: list[Control] = Field(default_factory=list)


class Profile(Strict):
    """policies/<profile>/profile.yaml: which catalogs make the profile, and its variables."""

    label = "profile"
    version: Version = 1
    id: Text
    title: Bilingual | str
    standard: str | None = None
    include: list[str] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
