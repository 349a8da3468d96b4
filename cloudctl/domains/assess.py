"""The live check (the assessor's view): a cloud snapshot judged against the zone design and
the level-3 network and cloud-extension clauses. Pure: snapshot + design in, a document out.

The document is shaped like the baseline's run document (``results`` with ``host`` /
``control`` / ``verdict`` / ``evidence`` / ``waiver``, ``items`` per clause with
``per_host`` and a 符合/部分符合/不符合 status), so the two can be merged into one report:
the assessed objects are the cloud platform and each tenant project.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from cloudctl.domains.classify import AddressZones, zone_of_cidr
from cloudctl.domains.cloud import CloudSnapshot, CPort, CRule
from cloudctl.domains.evaluate import check_rules, redundant_rules, sensitive
from cloudctl.domains.model import Design, Finding, PortSpec, RuleRef, normalize_protocol

SCHEMA = "cloudctl.domains.assessment/1"
PLATFORM = "platform"
PASS, FAIL, WAIVED = "pass", "fail", "waived"
COMPLIANT, PARTIAL, NON_COMPLIANT = "compliant", "partial", "non_compliant"
STATUS_LABEL = {
    COMPLIANT: {"zh": "符合", "en": "compliant"},
    PARTIAL: {"zh": "部分符合", "en": "partially compliant"},
    NON_COMPLIANT: {"zh": "不符合", "en": "non-compliant"},
}
_RANK = {COMPLIANT: 1, PARTIAL: 3, NON_COMPLIANT: 4}

#: clause -> (unit prefix of GB/T 28448-2019, title zh, title en). Unit numbers within the
#: prefix are not verified against the standard's text (see docs/domains.md).
CLAUSES = {
    "8.1.2.1": ("L3-CNS1", "安全通信网络 · 网络架构", "Secure network · network architecture"),
    "8.1.3.1": ("L3-ABS1", "安全区域边界 · 边界防护", "Area boundary · boundary protection"),
    "8.1.3.2": ("L3-ABS1", "安全区域边界 · 访问控制", "Area boundary · access control"),
    "8.2.2.1": ("L3-CNS2", "云计算扩展 · 网络架构", "Cloud extension · network architecture"),
    "8.2.3.1": (
        "L3-ABS2",
        "云计算扩展 · 访问控制（边界）",
        "Cloud extension · boundary access control",
    ),
    "8.2.4.2": (
        "L3-CES2",
        "云计算扩展 · 访问控制（计算环境）",
        "Cloud extension · VM access control",
    ),
    "8.2.5.1": ("L3-SMC2", "云计算扩展 · 集中管控", "Cloud extension · centralised control"),
}

#: control id -> (clause, title zh, title en)
CONTROLS = {
    "sd-zone-addressing": (
        "8.1.2.1",
        "租户子网按安全域地址规划划分",
        "tenant subnets lie in one zone of the plan",
    ),
    "sd-uncontrolled-port": (
        "8.1.3.1",
        "每个虚拟机端口都经安全组受控",
        "every VM port is controlled by security groups",
    ),
    "sd-border": (
        "8.1.3.1",
        "仅边界区路由器连接外部网络",
        "only border-zone routers have an external gateway",
    ),
    "sd-flow": (
        "8.1.3.2",
        "规则符合安全域设计（默认拒绝）",
        "rules follow the zone design (default deny)",
    ),
    "sd-any-port": ("8.1.3.2", "规则限定协议与端口", "rules check protocol and port"),
    "sd-redundant": ("8.1.3.2", "无冗余或被覆盖的规则", "no redundant or shadowed rules"),
    "sd-shared-network": ("8.2.2.1", "租户网络不共享", "no shared tenant network"),
    "sd-rbac-grant": (
        "8.2.2.1",
        "无跨租户 RBAC 网络授权",
        "no RBAC grant of a network to another tenant",
    ),
    "sd-router-joins-tenants": ("8.2.2.1", "路由器不连接两个租户", "no router joins two tenants"),
    "sd-level-boundary": (
        "8.2.3.1",
        "不同等级安全域之间访问受控",
        "flows between zones of different levels are controlled",
    ),
    "sd-tenant-policy": (
        "8.2.4.2",
        "租户自设虚拟机间访问策略",
        "tenants set their own VM-to-VM policy",
    ),
    "sd-mgmt-separation": (
        "8.2.5.1",
        "管理流量与业务流量分离",
        "management traffic separate from tenant traffic",
    ),
}


@dataclass
class Assessment:
    """Findings and the document built from them."""

    findings: list[Finding]
    objects: list[str]
    rules: list[RuleRef] = field(default_factory=list)
    subnet_zones: dict[str, str | None] = field(default_factory=dict)


# --------------------------------------------------------------------------- topology
def subnet_zones(plan, zones: AddressZones, snap: CloudSnapshot) -> dict[str, str | None]:
    """Zone of every subnet: the plan prefix with the same CIDR (by name when the same block
    sits in two VRFs, e.g. core and drill), else address coverage in the design's VRF."""
    by_cidr: dict[str, list] = {}
    for p in getattr(plan, "prefixes", []) or []:
        by_cidr.setdefault(str(p.cidr), []).append(p)
    out: dict[str, str | None] = {}
    for s in snap.subnets:
        cands = by_cidr.get(s.cidr, [])
        named = [p for p in cands if s.name.endswith(p.name)]
        if named:
            out[s.id] = max(named, key=lambda p: len(p.name)).zone
        elif len({p.zone for p in cands}) == 1:
            out[s.id] = cands[0].zone
        else:
            out[s.id] = zone_of_cidr(zones, s.cidr)
    return out


def _port_zones(port: CPort, szones: dict[str, str | None]) -> list[str]:
    out = []
    for sid, _ip in port.fixed_ips:
        z = szones.get(sid)
        if z and z not in out:
            out.append(z)
    return out


def _spec(r: CRule) -> PortSpec:
    proto = normalize_protocol(r.protocol)
    if proto in ("tcp", "udp", "sctp") and r.port_min is not None:
        return PortSpec(proto, r.port_min, r.port_max if r.port_max is not None else r.port_min)
    return PortSpec(proto)


def live_rules(
    design: Design, zones: AddressZones, snap: CloudSnapshot, szones: dict[str, str | None]
) -> list[RuleRef]:
    """Every live rule as a RuleRef: destination = zones of the ports its group is bound to
    (an unbound group: where its template is placed, else every zone of its project);
    a remote group = the zones of that group's ports."""
    sg_ports: dict[str, list[CPort]] = {}
    for p in snap.ports:
        for g in p.security_groups:
            sg_ports.setdefault(g, []).append(p)
    project_zones: dict[str, list[str]] = {}
    for s in snap.subnets:
        z = szones.get(s.id)
        if z and z not in project_zones.setdefault(s.project_id, []):
            project_zones[s.project_id].append(z)
    sg_by_id = {g.id: g for g in snap.security_groups}

    def zones_of_group(gid: str) -> tuple[str, ...]:
        zs: list[str] = []
        for p in sg_ports.get(gid, []):
            zs += [z for z in _port_zones(p, szones) if z not in zs]
        return tuple(zs)

    def unbound_zones(gname: str, owner: str) -> tuple[str, ...]:
        """A group no port uses yet: where its template is placed (name ``…-<template>``),
        else every zone of its project, since it may be bound to any port at any time."""
        mine = project_zones.get(owner, [])
        tpl = max(
            (t for t in design.placement if gname == t or gname.endswith("-" + t)),
            key=len,
            default=None,
        )
        if tpl is None:
            return tuple(mine)
        return tuple(z for z in design.placement[tpl] if z in mine)

    out = []
    for r in snap.rules:
        g = sg_by_id.get(r.security_group_id)
        owner = g.project_id if g else r.project_id
        if sg_ports.get(r.security_group_id):
            dst = zones_of_group(r.security_group_id)
        else:
            dst = unbound_zones(g.name if g else "", owner)
        kw: dict = {}
        if r.remote_group_id:
            rg = sg_by_id.get(r.remote_group_id)
            kw.update(
                remote_group=rg.name if rg else r.remote_group_id,
                remote_zones=zones_of_group(r.remote_group_id),
                same_tenant=(rg.project_id if rg else None) == owner,
            )
        elif r.remote_address_group_id:
            addrs = snap.address_groups.get(r.remote_address_group_id, ())
            src: set[str] = set()
            for a in addrs:
                src |= set(zones.classify(a).source_zones(design.internet_zone))
            kw.update(
                remote_zones=tuple(sorted(src)),
                remote_group=f"address-group {r.remote_address_group_id}",
                same_tenant=False,
            )
        else:
            kw["remote_cidr"] = r.remote_ip_prefix
        out.append(
            RuleRef(
                id=r.id,
                tenant=snap.project_name(owner),
                dst_zones=dst,
                spec=_spec(r),
                direction=r.direction,
                ethertype=r.ethertype,
                group=f"{g.name if g else '?'} ({r.security_group_id[:8]})",
                **kw,
            )
        )
    return out


# --------------------------------------------------------------------------- assessment
def assess(
    design: Design,
    zones: AddressZones,
    plan,
    snap: CloudSnapshot,
    *,
    platform_projects: Iterable[str] = ("admin", "service"),
    only: Iterable[str] | None = None,
    today: dt.date | None = None,
) -> Assessment:
    """Every finding of the live cloud; ``only``: the tenant projects to assess (default all
    that are not platform projects)."""
    today = today or dt.date.today()
    platform = set(platform_projects)
    pname = snap.project_name
    tenants = sorted(p.name for p in snap.projects if p.name not in platform)
    if only is not None:
        keep = set(only)
        tenants = [t for t in tenants if t in keep]
    szones = subnet_zones(plan, zones, snap)
    rules = live_rules(design, zones, snap, szones)
    findings: list[Finding] = []

    # 8.1.3.2: rules against the design; any-port; redundant rules
    flow_findings = check_rules(design, zones, rules, today=today)
    findings += flow_findings
    findings += redundant_rules([r for r in rules if r.direction == "ingress"], zones)
    # 8.2.3.1 and 8.2.5.1 views of the same breaches
    levels = {z.name: z.level for z in design.zones.values()}
    mgmt = set(design.management_zones)
    for f in flow_findings:
        if f.control != "sd-flow":
            continue
        cross = [d for d in f.denials if levels.get(d.src) != levels.get(d.dst)]
        if cross:
            findings.append(
                replace(f, control="sd-level-boundary", clause="8.2.3.1", denials=tuple(cross))
            )
        spec = PortSpec(f.evidence["protocol"] if f.evidence["protocol"] != "any" else None)
        rule = next((r for r in rules if r.id == f.evidence["rule"]), None)
        if rule is not None:
            spec = rule.spec
        if "admin" in sensitive(design, spec) and any(d.src not in mgmt for d in f.denials):
            findings.append(
                replace(
                    f,
                    control="sd-mgmt-separation",
                    clause="8.2.5.1",
                    message=f"管理端口 {spec.label()} 对非管理区开放（{f.evidence['remote']}）",
                    message_en=f"admin port {spec.label()} open to non-management zones "
                    f"({f.evidence['remote']})",
                    denials=tuple(d for d in f.denials if d.src not in mgmt),
                )
            )

    subnets = {s.id: s for s in snap.subnets}
    networks = {n.id: n for n in snap.networks}
    ext_nets = {n.id for n in snap.networks if n.external}

    def add(control: str, obj: str, sev: str, zh: str, en: str, **evidence) -> None:
        findings.append(Finding(control, CONTROLS[control][0], sev, obj, zh, en, None, evidence))

    # 8.1.2.1: tenant subnets inside one zone of the plan
    for s in snap.subnets:
        if s.network_id in ext_nets or pname(s.project_id) in platform:
            continue
        if szones.get(s.id) is None:
            add(
                "sd-zone-addressing",
                pname(s.project_id),
                "medium",
                f"子网 {s.name or s.id} {s.cidr} 不在地址规划的任何一个安全域内",
                f"subnet {s.name or s.id} {s.cidr} lies in no single zone of the address plan",
                subnet=s.id,
                cidr=s.cidr,
            )

    # 8.1.3.1: uncontrolled ports; external gateways outside the border zones
    for p in snap.ports:
        if p.is_infrastructure or pname(p.project_id) in platform:
            continue
        if not p.port_security or not p.security_groups:
            why = "port_security_enabled=false" if not p.port_security else "no security group"
            add(
                "sd-uncontrolled-port",
                pname(p.project_id),
                "high",
                f"端口 {p.name or p.id} 不受安全组控制（{why}）",
                f"port {p.name or p.id} is not controlled by security groups ({why})",
                port=p.id,
                addresses=[ip for _s, ip in p.fixed_ips],
            )
    router_ifaces: dict[str, list[CPort]] = {}
    for p in snap.ports:
        if p.is_router_interface:
            router_ifaces.setdefault(p.device_id, []).append(p)
    for r in snap.routers:
        attached = [
            (sid, szones.get(sid)) for p in router_ifaces.get(r.id, []) for sid, _ip in p.fixed_ips
        ]
        if r.external_network_id:
            inner = sorted({z for _s, z in attached if z and z not in design.border_zones})
            if inner:
                add(
                    "sd-border",
                    pname(r.project_id),
                    "high",
                    f"路由器 {r.name} 有外部网关，却连接非边界区 {', '.join(inner)}",
                    f"router {r.name} has an external gateway and joins non-border zones "
                    f"{', '.join(inner)}",
                    router=r.id,
                    external_network=r.external_network_id,
                    zones=inner,
                )
        owners = sorted({subnets[sid].project_id for sid, _z in attached if sid in subnets})
        if len(owners) > 1 or (owners and owners != [r.project_id]):
            names = sorted({pname(o) for o in owners} | {pname(r.project_id)})
            for obj in names:
                add(
                    "sd-router-joins-tenants",
                    obj,
                    "high",
                    f"路由器 {r.name}（{pname(r.project_id)}）连接了多个租户的网络："
                    f"{', '.join(names)}",
                    f"router {r.name} ({pname(r.project_id)}) joins the networks of "
                    f"{', '.join(names)}",
                    router=r.id,
                    subnets=[sid for sid, _z in attached],
                )
        # 8.2.5.1: a tenant router into a management zone
        mz = sorted({z for _s, z in attached if z in mgmt})
        if mz and pname(r.project_id) not in platform:
            add(
                "sd-mgmt-separation",
                pname(r.project_id),
                "high",
                f"租户路由器 {r.name} 连接管理区 {', '.join(mz)}",
                f"tenant router {r.name} is attached to management zone {', '.join(mz)}",
                router=r.id,
                zones=mz,
            )
    for p in snap.ports:
        if p.is_infrastructure or pname(p.project_id) in platform:
            continue
        mz = [z for z in _port_zones(p, szones) if z in mgmt]
        if mz:
            add(
                "sd-mgmt-separation",
                pname(p.project_id),
                "high",
                f"租户端口 {p.name or p.id} 位于管理区 {', '.join(mz)}",
                f"tenant port {p.name or p.id} sits in management zone {', '.join(mz)}",
                port=p.id,
            )

    # 8.2.2.1: shared networks and RBAC grants between tenants
    allowed_shared = set(design.shared_networks)
    for n in snap.networks:
        if n.shared and not n.external and n.name not in allowed_shared:
            add(
                "sd-shared-network",
                pname(n.project_id),
                "high",
                f"网络 {n.name} 共享给所有租户",
                f"network {n.name} is shared with every tenant",
                network=n.id,
            )
    for rb in snap.rbac:
        if rb.object_type != "network" or rb.target_tenant == rb.project_id:
            continue
        n = networks.get(rb.object_id)
        if n is not None and (n.name in allowed_shared or rb.action == "access_as_external"):
            continue
        target = "*" if rb.target_tenant == "*" else pname(rb.target_tenant)
        for obj in {pname(rb.project_id), target} - {"*"}:
            add(
                "sd-rbac-grant",
                obj,
                "high",
                f"RBAC 策略把网络 {n.name if n else rb.object_id} 授权给 {target}（{rb.action}）",
                f"RBAC policy grants network {n.name if n else rb.object_id} to {target} "
                f"({rb.action})",
                rbac=rb.id,
                network=rb.object_id,
            )

    # 8.2.4.2: each tenant's ports use the tenant's own security groups
    sg_owner = {g.id: g.project_id for g in snap.security_groups}
    own_sgs = {g.project_id for g in snap.security_groups}
    for p in snap.ports:
        if p.is_infrastructure or pname(p.project_id) in platform:
            continue
        foreign = [g for g in p.security_groups if sg_owner.get(g, p.project_id) != p.project_id]
        if foreign:
            add(
                "sd-tenant-policy",
                pname(p.project_id),
                "medium",
                f"端口 {p.name or p.id} 使用其他租户的安全组 {', '.join(foreign)}",
                f"port {p.name or p.id} uses another tenant's security groups {', '.join(foreign)}",
                port=p.id,
                groups=foreign,
            )
    for t in tenants:
        pid = next((p.id for p in snap.projects if p.name == t), None)
        has_net = any(s.project_id == pid for s in snap.subnets)
        if pid is not None and has_net and pid not in own_sgs:
            add(
                "sd-tenant-policy",
                t,
                "medium",
                f"租户 {t} 没有自己的安全组",
                f"tenant {t} has no security group of its own",
                project=pid,
            )

    keep = set(tenants)
    findings = [f for f in findings if f.obj in keep]
    return Assessment(findings, [PLATFORM, *tenants], rules, szones)


# --------------------------------------------------------------------------- document
def _status(findings: list[Finding]) -> str:
    open_ = [f for f in findings if not f.waived]
    if not open_:
        return COMPLIANT
    if all(f.severity == "low" for f in open_):
        return PARTIAL
    return NON_COMPLIANT


def _worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s], default=COMPLIANT)


def document(
    a: Assessment,
    design: Design,
    *,
    design_file: str = "",
    cloud: dict | None = None,
    started_at: str = "",
    today: dt.date | None = None,
) -> dict:
    """The assessment document: per object × control a result, per clause an item."""
    today = today or dt.date.today()
    results = []
    by_key: dict[tuple[str, str], list[Finding]] = {}
    for f in a.findings:
        by_key.setdefault((f.obj, f.control), []).append(f)
        by_key.setdefault((PLATFORM, f.control), []).append(f)
    for obj in a.objects:
        for cid, (clause, _zh, en) in CONTROLS.items():
            fs = by_key.get((obj, cid), [])
            open_ = [f for f in fs if not f.waived]
            verdict = PASS if not fs else (WAIVED if not open_ else FAIL)
            results.append(
                {
                    "host": obj,
                    "control": cid,
                    "clause": clause,
                    "verdict": verdict,
                    "status": _status(fs),
                    "observed": f"{len(open_)} finding(s)" if open_ else "",
                    "expected": en,
                    "note": "",
                    "evidence": [
                        {
                            "source": str(f.location) if f.location else f.evidence.get("rule", ""),
                            "text": f.text("en"),
                            "data": f.evidence,
                        }
                        for f in fs
                    ],
                    "waiver": next((f.waiver for f in fs if f.waiver), None),
                }
            )
    items = []
    for clause, (unit, zh, en) in CLAUSES.items():
        cids = [c for c, v in CONTROLS.items() if v[0] == clause]
        per_host = {
            obj: _status([f for c in cids for f in by_key.get((obj, c), [])]) for obj in a.objects
        }
        status = _worst(per_host.values())
        items.append(
            {
                "clause": clause,
                "unit": unit,
                "clause_title": {"zh": zh, "en": en},
                "controls": cids,
                "per_host": per_host,
                "status": status,
                "label": STATUS_LABEL[status],
            }
        )
    tally = {s: sum(1 for it in items if it["status"] == s) for s in STATUS_LABEL}
    open_findings = [f for f in a.findings if not f.waived]
    return {
        "schema": SCHEMA,
        "started_at": started_at,
        "design": {
            "name": design.name,
            "file": design_file,
            "platform_level": design.platform_level,
        },
        "cloud": cloud or {},
        "objects": [
            {"name": o, "kind": PLATFORM if o == PLATFORM else "tenant"} for o in a.objects
        ],
        "controls": [
            {"id": c, "clause": v[0], "unit": CLAUSES[v[0]][0], "title": {"zh": v[1], "en": v[2]}}
            for c, v in CONTROLS.items()
        ],
        "results": results,
        "items": items,
        "findings": [f.as_dict() for f in a.findings],
        "waivers": [w.as_dict(today) for w in design.waivers],
        "summary": {
            "objects": len(a.objects),
            "findings": len(open_findings),
            "waived": len(a.findings) - len(open_findings),
            "high": sum(1 for f in open_findings if f.severity == "high"),
            "clauses": tally,
            "status": _worst(it["status"] for it in items),
        },
    }
