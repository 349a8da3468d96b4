"""The effective matrix: who can actually reach whom (zone × zone × service), from the rules,
next to what the design allows. Pure.

A cell (src, dst) holds the services the rules open from src into dst. A service beyond the
design is a difference (the same breach as an ``sd-flow`` finding, counted per cell); a
designed flow nothing opens is shown for information — flows into the center's own zones
(ops, secmgmt) are enforced by the center's firewalls, not by tenant security groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cloudctl.domains.classify import UNPLANNED, AddressZones
from cloudctl.domains.evaluate import rule_denials, source_zones
from cloudctl.domains.model import Design, RuleRef


@dataclass
class Cell:
    src: str
    dst: str
    design: list[str] = field(default_factory=list)  # service names the design allows
    effective: set[str] = field(default_factory=set)  # spec labels the rules open
    extra: set[str] = field(default_factory=set)  # spec labels beyond the design
    rules: set[str] = field(default_factory=set)  # rule ids behind ``extra``

    @property
    def state(self) -> str:
        """``ok`` (within the design), ``extra`` (beyond it), ``unused`` (designed, nothing
        opens it), ``none`` (neither)."""
        if self.extra:
            return "extra"
        if self.effective:
            return "ok"
        return "unused" if self.design else "none"

    def as_dict(self) -> dict:
        return {
            "from": self.src,
            "to": self.dst,
            "state": self.state,
            "design": self.design,
            "effective": sorted(self.effective),
            "extra": sorted(self.extra),
            "rules": sorted(self.rules),
        }


@dataclass
class Matrix:
    zones: list[str]
    cells: dict[tuple[str, str], Cell]

    @property
    def differences(self) -> list[Cell]:
        return [c for c in self.cells.values() if c.extra]

    def as_dict(self) -> dict:
        return {
            "zones": self.zones,
            "cells": [c.as_dict() for c in self.cells.values() if c.state != "none"],
            "differences": len(self.differences),
        }


def effective_matrix(
    design: Design, zones: AddressZones, rules: Iterable[RuleRef], waived: Iterable[str] = ()
) -> Matrix:
    """Aggregate every ingress rule into zone × zone cells. ``waived``: rule ids whose
    breach an active waiver covers (shown as effective, not as a difference)."""
    waived = set(waived)
    order = list(design.zones)
    cells: dict[tuple[str, str], Cell] = {}

    def cell(src: str, dst: str) -> Cell:
        c = cells.get((src, dst))
        if c is None:
            f = design.flow(src, dst)
            c = cells[(src, dst)] = Cell(src, dst, [s.name for s in f.services] if f else [])
        return c

    for s in order:
        for d in order:
            cell(s, d)
    for r in rules:
        if r.direction != "ingress":
            continue
        label = r.spec.label()
        for dst in r.dst_zones:
            for src in source_zones(design, zones, r):
                if src == dst and r.remote_group is not None and r.same_tenant:
                    continue  # the tenant's own VM-to-VM policy, not a zone crossing
                cell(src, dst).effective.add(label)
        if r.id in waived:
            continue
        for den in rule_denials(design, zones, r):
            c = cell(den.src, den.dst)
            c.extra.add(label)
            c.rules.add(r.id)
    zl = order + ([UNPLANNED] if any(UNPLANNED in k for k in cells) else [])
    return Matrix(zl, cells)
