"""The use cases behind ``cloudctl domains``: glue between files, the cloud and the pure
evaluator (the CLI only parses, calls one of these and renders)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from cloudctl.core.errors import InputError
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import display_path
from cloudctl.domains.assess import Assessment, assess, document
from cloudctl.domains.cloud import CloudSnapshot
from cloudctl.domains.matrix import Matrix, effective_matrix
from cloudctl.domains.model import Finding, RuleRef
from cloudctl.domains.tenants import Context, check_desired, design_path, load_context


def validate(center: Any) -> Context:
    """The design against the address plan and the template names (raises on problems)."""
    return load_context(center)


@dataclass
class OfflineCheck:
    ctx: Context
    findings: list[Finding]
    rules: list[RuleRef]


def check_offline(center: Any, today: dt.date | None = None) -> OfflineCheck:
    findings, rules, ctx = check_desired(center, today=today)
    return OfflineCheck(ctx, findings, rules)


@dataclass
class LiveCheck:
    ctx: Context
    snapshot: CloudSnapshot
    assessment: Assessment
    doc: dict
    requests: dict


def read_cloud(os_cloud: str | None, config_file: str | None) -> tuple[CloudSnapshot, Any]:
    from cloudctl.domains.openstack_reader import connect_and_read

    return connect_and_read(os_cloud, config_file)


def select_tenants(snap: CloudSnapshot, names: list[str], prefix: str | None) -> list[str] | None:
    """Projects to assess: named ones, those starting with ``prefix``, or None (all)."""
    if not names and not prefix:
        return None
    out = [p.name for p in snap.projects if p.name in names]
    missing = [n for n in names if n not in out]
    if missing:
        raise InputError(
            _("no project named {missing} in the cloud").format(missing=", ".join(missing))
        )
    if prefix:
        out += [p.name for p in snap.projects if p.name.startswith(prefix) and p.name not in out]
    return out


def check_live(
    center: Any,
    os_cloud: str | None = None,
    config_file: str | None = None,
    names: list[str] | None = None,
    prefix: str | None = None,
    today: dt.date | None = None,
    snapshot: CloudSnapshot | None = None,
) -> LiveCheck:
    ctx = load_context(center)
    counter = None
    if snapshot is None:
        snapshot, counter = read_cloud(os_cloud, config_file)
    only = select_tenants(snapshot, list(names or ()), prefix)
    a = assess(ctx.design, ctx.zones, ctx.plan, snapshot, only=only, today=today)
    requests = counter.summary() if counter is not None else {"requests": snapshot.requests}
    requests["seconds"] = snapshot.seconds
    doc = document(
        a,
        ctx.design,
        design_file=display_path(design_path(center)),
        cloud={
            "projects": len(snapshot.projects),
            "networks": len(snapshot.networks),
            "subnets": len(snapshot.subnets),
            "ports": len(snapshot.ports),
            "routers": len(snapshot.routers),
            "security_groups": len(snapshot.security_groups),
            "rules": len(snapshot.rules),
            "rbac_policies": len(snapshot.rbac),
            "requests": requests,
        },
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        today=today,
    )
    return LiveCheck(ctx, snapshot, a, doc, requests)


def matrix_offline(center: Any) -> tuple[Matrix, OfflineCheck]:
    chk = check_offline(center)
    waived = {f.evidence.get("rule") for f in chk.findings if f.waived}
    return effective_matrix(chk.ctx.design, chk.ctx.zones, chk.rules, waived), chk


def matrix_live(live: LiveCheck) -> Matrix:
    a = live.assessment
    keep = {o for o in a.objects}
    rules = [r for r in a.rules if r.tenant in keep]
    waived = {f.evidence.get("rule") for f in a.findings if f.waived and f.control == "sd-flow"}
    return effective_matrix(live.ctx.design, live.ctx.zones, rules, waived)
