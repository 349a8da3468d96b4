"""Judging security-group rules against the zone design. Pure: models in, findings out.

The tenant area (``tenant validate``/``plan``) and the live check call the same function::

    from cloudctl.domains.evaluate import check_rules
    findings = check_rules(design, zones, rules)   # rules: list[RuleRef] with file:line

A rule is allowed when, for every source zone its remote covers and every destination zone
of the ports it protects, the design has a flow src→dst whose services cover the rule's
protocol and ports. Traffic inside one zone between members of one tenant's own group is the
tenant's VM-to-VM policy (GB/T 22239-2019 8.2.4.2) and needs no flow. A service the design
publishes to the internet (internet→dmz https) may be reached from any zone: a rule opening
it to 0.0.0.0/0 is what publishing means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cloudctl.domains.classify import UNPLANNED, AddressZones
from cloudctl.domains.model import (
    PORT_PROTOCOLS,
    Denial,
    Design,
    Finding,
    PortSpec,
    RuleRef,
)

SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}


def source_zones(design: Design, zones: AddressZones, rule: RuleRef) -> tuple[str, ...]:
    """The zones a rule admits traffic from (internet and unplanned space included)."""
    if rule.remote_zones is not None:
        return tuple(sorted(set(rule.remote_zones)))
    cidr = rule.remote_cidr
    if cidr is None and rule.remote_group is None:
        cidr = "::/0" if rule.ethertype == "IPv6" else "0.0.0.0/0"
    if cidr is None:
        return ()
    return zones.classify(cidr).source_zones(design.internet_zone)


def sensitive(design: Design, spec: PortSpec) -> list[str]:
    """Categories (admin, database, high_risk) whose ports ``spec`` opens."""
    out = []
    for cat in ("admin", "database", "high_risk"):
        if any(spec.overlaps(s) for s in design.category_ports(cat)):
            out.append(cat)
    return out


def _severity(design: Design, rule: RuleRef, denials: list[Denial]) -> str:
    ext = {z.name for z in design.zones.values() if z.external} | {UNPLANNED}
    if rule.spec.protocol is None or sensitive(design, rule.spec):
        return "high"
    if any(d.src in ext for d in denials):
        return "high"
    return "medium"


def _waiver_for(design: Design, rule: RuleRef, denials: list[Denial], today: dt.date):
    """The waiver covering every denial of this rule (active ones first), if any."""
    best = None
    for w in design.waivers:
        if all(w.matches(rule.tenant, d.src, d.dst, rule.spec) for d in denials):
            if w.active(today):
                return w
            best = best or w
    return best


def rule_denials(design: Design, zones: AddressZones, rule: RuleRef) -> list[Denial]:
    """Every (source zone, destination zone) pair of ``rule`` that the design does not allow."""
    out: list[Denial] = []
    srcs = source_zones(design, zones, rule)
    inet = design.internet_zone
    for dst in rule.dst_zones:
        public = design.flow(inet, dst) if inet else None
        if public is not None and public.allows(rule.spec):
            continue  # a service published to the internet may be reached from anywhere
        for src in srcs:
            if src == dst and rule.remote_group is not None and rule.same_tenant:
                continue
            flow = design.flow(src, dst)
            if flow is not None and flow.allows(rule.spec):
                continue
            where = flow.location if flow is not None else design.default_location
            out.append(Denial(src, dst, flow, where))
    return out


def check_rules(
    design: Design,
    zones: AddressZones,
    rules: Iterable[RuleRef],
    *,
    today: dt.date | None = None,
) -> list[Finding]:
    """Findings for ingress rules the design does not allow, and for rules that do not
    check the port (any protocol, or tcp/udp/sctp without a port) from outside the group."""
    today = today or dt.date.today()
    out: list[Finding] = []
    for rule in rules:
        if rule.direction != "ingress":
            continue
        ev = _evidence(design, zones, rule)
        denials = rule_denials(design, zones, rule)
        if denials:
            f = Finding(
                control="sd-flow",
                clause="8.1.3.2",
                severity=_severity(design, rule, denials),
                obj=rule.tenant,
                message=f"规则 {rule.label()}（{rule.group}）违反安全域设计",
                message_en=f"rule {rule.label()} ({rule.group}) breaks the zone design",
                location=rule.location,
                evidence=ev,
                denials=tuple(denials),
            )
            w = _waiver_for(design, rule, denials, today)
            if w is not None:
                f.waiver = w.as_dict(today)
            out.append(f)
        if _unchecked_port(rule):
            out.append(
                Finding(
                    control="sd-any-port",
                    clause="8.1.3.2",
                    severity="high",
                    obj=rule.tenant,
                    message=f"规则 {rule.label()}（{rule.group}）未限定协议或端口",
                    message_en=f"rule {rule.label()} ({rule.group}) does not check protocol/port",
                    location=rule.location,
                    evidence=ev,
                )
            )
    return out


def _unchecked_port(rule: RuleRef) -> bool:
    if rule.remote_group is not None and rule.same_tenant:
        return False  # a tenant's own group: its VM-to-VM policy (8.2.4.2)
    if rule.spec.protocol is None:
        return True
    return rule.spec.protocol in PORT_PROTOCOLS and rule.spec.lo is None


def _evidence(design: Design, zones: AddressZones, rule: RuleRef) -> dict:
    return {
        "rule": rule.id,
        "group": rule.group,
        "protocol": rule.spec.protocol or "any",
        "ports": rule.spec.label(),
        "remote": rule.remote_label(),
        "ethertype": rule.ethertype,
        "source_zones": list(source_zones(design, zones, rule)),
        "destination_zones": list(rule.dst_zones),
    }


def redundant_rules(rules: Iterable[RuleRef], zones: AddressZones) -> list[Finding]:
    """Rules another rule of the same group already covers (8.1.3.2 b: 删除多余或无效的
    访问控制规则). Pure set logic; duplicates and shadowed rules alike."""
    import netaddr

    out: list[Finding] = []
    by_group: dict[str, list[RuleRef]] = {}
    for r in rules:
        by_group.setdefault(r.group, []).append(r)
    for group_rules in by_group.values():
        for i, a in enumerate(group_rules):
            for j, b in enumerate(group_rules):
                if i == j or a.direction != b.direction or a.ethertype != b.ethertype:
                    continue
                if not b.spec.covers(a.spec):
                    continue
                if not _remote_within(a, b, netaddr):
                    continue
                if a.spec == b.spec and _same_remote(a, b) and j > i:
                    continue  # exact duplicates: report the later one only
                out.append(
                    Finding(
                        control="sd-redundant",
                        clause="8.1.3.2",
                        severity="low",
                        obj=a.tenant,
                        message=f"规则 {a.label()} 被同组规则 {b.label()} 覆盖（冗余）",
                        message_en=f"rule {a.label()} is covered by {b.label()} (redundant)",
                        location=a.location,
                        evidence={"rule": a.id, "covered_by": b.id, "group": a.group},
                    )
                )
                break
    return out


def _same_remote(a: RuleRef, b: RuleRef) -> bool:
    return (a.remote_cidr, a.remote_group, a.remote_zones) == (
        b.remote_cidr,
        b.remote_group,
        b.remote_zones,
    )


def _remote_within(a: RuleRef, b: RuleRef, netaddr) -> bool:
    if _same_remote(a, b):
        return True
    if a.remote_group is not None or b.remote_group is not None:
        return False
    ca = a.remote_cidr or ("::/0" if a.ethertype == "IPv6" else "0.0.0.0/0")
    cb = b.remote_cidr or ("::/0" if b.ethertype == "IPv6" else "0.0.0.0/0")
    try:
        return netaddr.IPNetwork(ca).cidr in netaddr.IPNetwork(cb).cidr
    except (netaddr.AddrFormatError, ValueError):
        return False


def worst(severities: Iterable[str]) -> str | None:
    sev = [s for s in severities if s]
    return max(sev, key=lambda s: SEVERITY_RANK.get(s, 0)) if sev else None
