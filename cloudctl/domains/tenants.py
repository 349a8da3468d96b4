"""The design enforced on the desired tenants, before anything is created (offline).

Reads the tenant files through the tenant area's public loaders (read-only) and turns every
template rule of every tenant into a ``RuleRef`` that keeps the template rule's file:line.
The tenant CLI can call ``design_problems`` from ``tenant validate``/``plan``::

    from cloudctl.domains.tenants import design_problems
    problems = design_problems(center, desired)      # [] when the center has no design
    if problems:
        raise ValidationFailed(problems, f"{len(problems)} rule(s) break the zone design")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudctl.core.errors import Location, Problem
from cloudctl.domains.classify import AddressZones
from cloudctl.domains.evaluate import check_rules
from cloudctl.domains.load import DESIGN_FILE, load_design
from cloudctl.domains.model import Design, Finding, PortSpec, RuleRef, normalize_protocol


def design_path(center: Any) -> Path:
    return Path(center.policies) / DESIGN_FILE


@dataclass
class Context:
    """What every domain command starts from: the design and the zones as IP sets."""

    design: Design
    zones: AddressZones
    plan: Any  # ipam AddressPlan


def load_context(center: Any, templates: Iterable[str] | None = None) -> Context:
    """The address plan (validated) and the design validated against it."""
    from cloudctl.ipam.api import load_plan

    plan = load_plan(center)
    if templates is None:
        tdir = Path(center.policies) / "security-groups"
        templates = [p.stem for p in tdir.glob("*.yaml") if not p.name.startswith((".", "_"))]
    design = load_design(
        design_path(center),
        {z.name: z.vrf for z in plan.zones.values()},
        policies=Path(center.policies),
        templates=templates,
    )
    return Context(design, AddressZones.from_plan(plan, design.vrf), plan)


def desired_rules(
    design: Design, desired: Any, view: Any, templates: Mapping[str, Any]
) -> list[RuleRef]:
    """One RuleRef per (tenant, template rule), located at the template rule's line.

    ``desired``: the tenant area's DesiredState; ``view``: its AddressPlanView;
    ``templates``: its parsed SecurityGroupTemplates by name.
    """
    out: list[RuleRef] = []
    for t in desired.tenants.values():
        tenant_zones: list[str] = []
        for sn in t.subnets:
            alloc = view.allocations.get(sn.allocation)
            if alloc is not None and alloc.zone and alloc.zone not in tenant_zones:
                tenant_zones.append(alloc.zone)

        def placed(template: str, tenant_zones: list[str] = tenant_zones) -> tuple[str, ...]:
            if template in design.placement:
                return tuple(z for z in design.placement[template] if z in tenant_zones)
            return tuple(tenant_zones)

        for sg in t.security_groups:
            tpl = templates.get(sg.template)
            if tpl is None:
                continue
            dst = placed(sg.template)
            for rt in tpl.rules:
                if rt.direction != "ingress":
                    continue
                remote: dict[str, Any] = {}
                if rt.remote_kind == "zone":
                    remote["remote_zones"] = (rt.remote_value,)
                elif rt.remote_kind == "allocation":
                    alloc = view.allocations.get((rt.remote_value or "").replace("{code}", t.code))
                    if alloc is None:
                        continue
                    remote["remote_cidr"] = alloc.cidr
                elif rt.remote_kind == "group":
                    remote["remote_group"] = rt.remote_value
                    remote["remote_zones"] = placed(rt.remote_value or "")
                elif rt.remote_kind == "cidr":
                    remote["remote_cidr"] = rt.remote_value
                cidr = remote.get("remote_cidr")
                eth = rt.ethertype or ("IPv6" if cidr and ":" in cidr else "IPv4")
                proto = normalize_protocol(rt.protocol)
                out.append(
                    RuleRef(
                        id=f"{sg.name}:{rt.location}",
                        tenant=t.code,
                        dst_zones=dst,
                        spec=PortSpec(proto, rt.ports[0], rt.ports[1])
                        if proto in ("tcp", "udp", "sctp")
                        else PortSpec(proto),
                        ethertype=eth,
                        group=sg.name,
                        location=rt.location,
                        context=f"tenant {t.code} ({sg.location})",
                        **remote,
                    )
                )
    return out


def check_desired(
    center: Any, desired: Any = None, ctx: Context | None = None, today: dt.date | None = None
) -> tuple[list[Finding], list[RuleRef], Context]:
    """Load (if not given) the desired tenants and judge every rule against the design."""
    from cloudctl.core.errors import ValidationFailed
    from cloudctl.tenant.desired import load_templates, plan_view_from_center, read_docs
    from cloudctl.tenant.service import load_desired, templates_dir

    view = plan_view_from_center(center)
    problems: list[Problem] = []
    docs = read_docs(templates_dir(center), problems)
    if problems:
        raise ValidationFailed(problems)
    templates = load_templates(docs, view)
    ctx = ctx or load_context(center, templates=list(templates))
    desired = desired if desired is not None else load_desired(center, (), view)
    rules = desired_rules(ctx.design, desired, view, templates)
    return check_rules(ctx.design, ctx.zones, rules, today=today), rules, ctx


def findings_to_problems(findings: Iterable[Finding], lang: str = "en") -> list[Problem]:
    """One ``file:line`` problem per template rule and kind of breach, naming the tenants
    (a template used by 45 tenants gives one line, not 45). Waived findings are left out."""
    grouped: dict[tuple, list[str]] = {}
    first: dict[tuple, Finding] = {}
    for f in findings:
        if f.waived:
            continue
        key = (str(f.location or ""), f.control, f.text(lang))
        grouped.setdefault(key, [])
        if f.obj not in grouped[key]:
            grouped[key].append(f.obj)
        first.setdefault(key, f)
    out = []
    for key, tenants in grouped.items():
        f = first[key]
        shown = ", ".join(tenants[:5]) + (f" +{len(tenants) - 5}" if len(tenants) > 5 else "")
        label = "tenants" if lang == "en" else "租户"
        out.append(Problem(f.location or Location("?"), f"{f.text(lang)} [{label}: {shown}]"))
    return out


def design_problems(center: Any, desired: Any = None, lang: str = "en") -> list[Problem]:
    """For ``tenant validate``/``plan``: every template rule that breaks the zone design,
    as file:line problems naming the flow and the design line. [] without a design file."""
    if not design_path(center).is_file():
        return []
    findings, _rules, _ctx = check_desired(center, desired)
    return findings_to_problems(findings, lang)
