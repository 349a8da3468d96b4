"""Reading and validating the zone design (policies/security-domains.yaml).

``parse_design`` is pure: it takes the loaded YAML (with lines), the address plan's zones,
the baseline's high-risk ports and the template names, and returns the ``Design`` plus every
problem at ``file:line``. ``load_design`` is the thin file-reading edge around it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cloudctl.core.errors import CloudctlError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _, text_of
from cloudctl.core.yamlio import display_path, load_yaml, loc_of
from cloudctl.domains.model import (
    CATEGORIES,
    PORT_PROTOCOLS,
    ROLES,
    Design,
    DesignZone,
    Flow,
    PortSpec,
    Service,
    Waiver,
    normalize_protocol,
)

DESIGN_FILE = "security-domains.yaml"
TOP_KEYS = {
    "version",
    "name",
    "platform_level",
    "vrf",
    "default",
    "high_risk",
    "services",
    "zones",
    "placement",
    "border_zones",
    "shared_networks",
    "flows",
    "waivers",
}
ZONE_KEYS = {"role", "level", "description"}
FLOW_KEYS = {"from", "to", "services", "reason"}
SERVICE_KEYS = {"ports", "description"}
WAIVER_KEYS = {"tenants", "from", "to", "service", "justification", "reason", "approver", "expires"}
HIGH_RISK_KEYS = {"baseline_profile", "admin", "database", "ports"}
_SPEC_RE = re.compile(r"^(?P<proto>[a-z0-9-]+)(?:/(?P<lo>\d+)(?:-(?P<hi>\d+))?)?$")


def parse_port_spec(text: Any) -> PortSpec:
    """``tcp/22``, ``tcp/5985-5986``, ``udp/161``, ``icmp``, ``any`` → PortSpec."""
    s = str(text).strip().lower()
    m = _SPEC_RE.match(s)
    if not m:
        raise ValueError(
            _("{text!r} is not a service: expected PROTO/PORT[-PORT], icmp or any").format(
                text=text
            )
        )
    proto = normalize_protocol(m["proto"])
    if proto is not None and proto not in (*PORT_PROTOCOLS, "icmp", "ipv6-icmp"):
        raise ValueError(
            _("{text!r}: unknown protocol {proto!r}").format(text=text, proto=m["proto"])
        )
    if m["lo"] is None:
        if proto in PORT_PROTOCOLS:
            raise ValueError(
                _("{text!r}: {proto} without a port opens every port; name the ports").format(
                    text=text, proto=proto
                )
            )
        return PortSpec(proto)
    if proto not in PORT_PROTOCOLS:
        raise ValueError(_("{text!r}: only tcp/udp/sctp take ports").format(text=text))
    lo = int(m["lo"])
    hi = int(m["hi"]) if m["hi"] else lo
    if not 1 <= lo <= hi <= 65535:
        raise ValueError(_("{text!r}: ports must be 1-65535, low to high").format(text=text))
    return PortSpec(proto, lo, hi)


class _Probs:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, where: Location | None, msg: str) -> None:
        self.items.append(Problem(where, msg))


def _unknown(doc: Any, allowed: set[str], probs: _Probs, what: str) -> None:
    if isinstance(doc, dict):
        for k in doc:
            if k not in allowed:
                probs.add(
                    loc_of(doc, k),
                    _("{what}: unknown key {k!r} (expected one of: {allowed})").format(
                        what=what, k=k, allowed=", ".join(sorted(allowed))
                    ),
                )


def _names(val: Any, where: Location | None, probs: _Probs, what: str) -> list[str]:
    if val is None:
        return []
    if isinstance(val, str):
        return [val]
    if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
        probs.add(where, _("{what}: expected a list of names").format(what=what))
        return []
    return list(val)


def baseline_high_risk_ports(policies: Path, profile: str) -> tuple[list[int], Location]:
    """``variables.high_risk_ports.default`` of a baseline profile (data only: the baseline
    code is not imported, so the two areas share the list, not each other's internals)."""
    path = policies / profile / "profile.yaml"
    doc = load_yaml(path)
    var = ((doc or {}).get("variables") or {}).get("high_risk_ports") or {}
    ports = var.get("default") if isinstance(var, dict) else var
    where = loc_of((doc or {}).get("variables"), "high_risk_ports") or Location(display_path(path))
    if not isinstance(ports, list) or not all(isinstance(p, int) for p in ports):
        raise CloudctlError(_("high_risk_ports.default: expected a list of port numbers"), where)
    return list(ports), where


def parse_design(
    doc: Any,
    plan_zones: Mapping[str, str],
    *,
    baseline_ports: Iterable[int] = (),
    templates: Iterable[str] | None = None,
    where: Location | None = None,
) -> tuple[Design | None, list[Problem]]:
    """Validate the design document against the address plan.

    ``plan_zones``: zone name → its VRF, from the address plan. ``templates``: names of the
    security-group templates (for ``placement``), or None to skip that check.
    """
    probs = _Probs()
    top = loc_of(doc) or where or Location(DESIGN_FILE)
    if not isinstance(doc, dict):
        return None, [Problem(top, _("the design must be a mapping"))]
    _unknown(doc, TOP_KEYS, probs, _("security-domain design"))
    if doc.get("version") != 1:
        probs.add(loc_of(doc, "version", top), _("version: expected 1"))
    if doc.get("default", "deny") != "deny":
        probs.add(loc_of(doc, "default", top), _("default: only 'deny' (default deny, 8.1.3.2)"))
    level = doc.get("platform_level", 3)
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
        probs.add(loc_of(doc, "platform_level", top), _("platform_level: expected 1-5"))
        level = 3
    vrf = str(doc.get("vrf", "gov"))
    if plan_zones and vrf not in set(plan_zones.values()):
        probs.add(
            loc_of(doc, "vrf", top),
            _("vrf {vrf!r} holds no zone of the address plan").format(vrf=vrf),
        )

    services = _parse_services(doc.get("services"), loc_of(doc, "services", top), probs)
    hr_ports = _parse_high_risk(doc.get("high_risk"), top, services, probs, baseline_ports)
    zones = _parse_zones(doc.get("zones"), loc_of(doc, "zones", top), plan_zones, level, probs)
    flows = _parse_flows(doc.get("flows"), loc_of(doc, "flows", top), zones, services, probs)
    _check_flow_policy(flows, zones, services, hr_ports, probs)
    for z in zones.values():
        if not any(z.name in (f.src, f.dst) for f in flows):
            probs.add(
                z.location,
                _("zone {z!r} has no flow: every zone needs at least one").format(z=z.name),
            )

    placement: dict[str, tuple[str, ...]] = {}
    raw_pl = doc.get("placement") or {}
    if not isinstance(raw_pl, dict):
        probs.add(loc_of(doc, "placement", top), _("placement: expected template: [zones]"))
        raw_pl = {}
    known_templates = set(templates) if templates is not None else None
    for tpl, zl in raw_pl.items():
        tl = loc_of(raw_pl, tpl, top)
        if known_templates is not None and tpl not in known_templates:
            probs.add(tl, _("placement: no security-group template {tpl!r}").format(tpl=tpl))
        names = _names(zl, tl, probs, f"placement.{tpl}")
        for n in names:
            if n not in zones:
                probs.add(tl, _("placement.{tpl}: unknown zone {n!r}").format(tpl=tpl, n=n))
        placement[str(tpl)] = tuple(n for n in names if n in zones)
    border = _names(doc.get("border_zones"), loc_of(doc, "border_zones", top), probs, "border")
    for n in border:
        if n not in zones:
            probs.add(
                loc_of(doc, "border_zones", top), _("border_zones: unknown zone {n!r}").format(n=n)
            )
    shared = _names(doc.get("shared_networks"), loc_of(doc, "shared_networks", top), probs, "sn")
    waivers = _parse_waivers(doc.get("waivers"), loc_of(doc, "waivers", top), zones, probs)
    if probs.items:
        return None, probs.items
    design = Design(
        name=str(doc.get("name", "")),
        platform_level=level,
        vrf=vrf,
        zones=zones,
        services=services,
        flows=tuple(flows),
        placement=placement,
        shared_networks=tuple(shared),
        border_zones=tuple(border),
        waivers=tuple(waivers),
        high_risk_ports=frozenset(hr_ports),
        default_location=loc_of(doc, "default", top) or top,
        location=top,
    )
    return design, []


def _parse_services(raw: Any, where: Location, probs: _Probs) -> dict[str, Service]:
    out: dict[str, Service] = {}
    if not isinstance(raw, dict):
        probs.add(where, _("services: expected a mapping name: ports"))
        return out
    seen: dict[tuple[PortSpec, ...], str] = {}
    for name, val in raw.items():
        sl = loc_of(raw, name, where)
        desc = ""
        if isinstance(val, dict):
            _unknown(val, SERVICE_KEYS, probs, _("service {name}").format(name=name))
            desc = str(val.get("description", ""))
            val = val.get("ports")
        items = val if isinstance(val, list) else [val]
        specs: list[PortSpec] = []
        for it in items:
            try:
                specs.append(parse_port_spec(it))
            except ValueError as e:
                probs.add(sl, _("service {name}: {error}").format(name=name, error=e))
        key = tuple(sorted(specs))
        if key and key in seen:
            probs.add(
                sl,
                _("service {name} has the same ports as service {seen}: use one name").format(
                    name=name, seen=seen[key]
                ),
            )
        seen.setdefault(key, str(name))
        out[str(name)] = Service(str(name), tuple(specs), frozenset(), desc, sl)
    return out


def _parse_high_risk(
    raw: Any, top: Location, services: dict[str, Service], probs: _Probs, baseline: Iterable[int]
) -> set[int]:
    where = loc_of(raw) or top
    ports: set[int] = set(baseline)
    if raw is None:
        return ports
    if not isinstance(raw, dict):
        probs.add(where, _("high_risk: expected a mapping"))
        return ports
    _unknown(raw, HIGH_RISK_KEYS, probs, "high_risk")
    for extra in raw.get("ports") or []:
        if isinstance(extra, int) and 1 <= extra <= 65535:
            ports.add(extra)
        else:
            probs.add(
                loc_of(raw, "ports", where),
                _("high_risk.ports: {extra!r} is not a port").format(extra=extra),
            )
    for cat in ("admin", "database"):
        cl = loc_of(raw, cat, where)
        for n in _names(raw.get(cat), cl, probs, f"high_risk.{cat}"):
            svc = services.get(n)
            if svc is None:
                probs.add(cl, _("high_risk.{cat}: unknown service {n!r}").format(cat=cat, n=n))
                continue
            services[n] = Service(
                svc.name, svc.specs, svc.categories | {cat}, svc.description, svc.location
            )
    # a service touching a high-risk port is high-risk too (one list, shared with baseline)
    for n, svc in list(services.items()):
        if any(
            s.protocol in PORT_PROTOCOLS
            and s.lo is not None
            and any(s.lo <= p <= (s.hi or s.lo) for p in ports)
            for s in svc.specs
        ):
            services[n] = Service(
                svc.name, svc.specs, svc.categories | {"high_risk"}, svc.description, svc.location
            )
    return ports


def _parse_zones(
    raw: Any, where: Location, plan_zones: Mapping[str, str], level: int, probs: _Probs
) -> dict[str, DesignZone]:
    out: dict[str, DesignZone] = {}
    if not isinstance(raw, dict):
        probs.add(where, _("zones: expected a mapping zone: {{role, level}}"))
        return out
    for name, z in raw.items():
        zl = loc_of(raw, name, where)
        if not isinstance(z, dict):
            probs.add(
                zl, _("zone {name}: expected a mapping with role and level").format(name=name)
            )
            continue
        _unknown(z, ZONE_KEYS, probs, _("zone {name}").format(name=name))
        if plan_zones and name not in plan_zones:
            probs.add(
                zl,
                _("unknown zone {name!r}: not in the address plan (known: {plan_zones})").format(
                    name=name, plan_zones=", ".join(sorted(plan_zones))
                ),
            )
        role = z.get("role")
        if role not in ROLES:
            probs.add(
                loc_of(z, "role", zl),
                _("zone {name}: role {role!r} is not one of {ROLES}").format(
                    name=name, role=role, ROLES=", ".join(sorted(ROLES))
                ),
            )
            continue
        lv = z.get("level")
        if lv is not None and (isinstance(lv, bool) or not isinstance(lv, int) or not 1 <= lv <= 5):
            probs.add(
                loc_of(z, "level", zl),
                _("zone {name}: level must be 1-5 or null").format(name=name),
            )
            lv = None
        if lv is not None and lv > level:
            probs.add(
                loc_of(z, "level", zl),
                _(
                    "zone {name}: level {lv} is above the platform's level {level} "
                    "(8.2.2.1: the cloud hosts no system above its own level)"
                ).format(name=name, lv=lv, level=level),
            )
        if ROLES[role] == "external" and lv is not None:
            probs.add(
                loc_of(z, "level", zl),
                _("zone {name}: an external zone has no level (null)").format(name=name),
            )
        out[str(name)] = DesignZone(str(name), role, lv, str(z.get("description", "")), zl)
    for name in plan_zones:
        if name not in out:
            probs.add(
                where, _("address-plan zone {name!r} is missing from the design").format(name=name)
            )
    return out


def _parse_flows(
    raw: Any,
    where: Location,
    zones: Mapping[str, DesignZone],
    services: Mapping[str, Service],
    probs: _Probs,
) -> list[Flow]:
    out: list[Flow] = []
    if not isinstance(raw, list):
        probs.add(where, _("flows: expected a list of {{from, to, services, reason}}"))
        return out
    seen: dict[tuple[str, str], Location | None] = {}
    for i, f in enumerate(raw):
        fl = loc_of(raw, i, where)
        if not isinstance(f, dict):
            probs.add(fl, _("flow: expected a mapping"))
            continue
        _unknown(f, FLOW_KEYS, probs, _("flow"))
        src, dst = f.get("from"), f.get("to")
        ok = True
        for key, z in (("from", src), ("to", dst)):
            if z not in zones:
                probs.add(
                    loc_of(f, key, fl), _("flow {key}: unknown zone {z!r}").format(key=key, z=z)
                )
                ok = False
        if not str(f.get("reason", "")).strip():
            probs.add(
                fl,
                _("flow {src}→{dst}: needs a reason (why the center allows it)").format(
                    src=src, dst=dst
                ),
            )
        svcs: list[Service] = []
        sl = loc_of(f, "services", fl)
        names = _names(f.get("services"), sl, probs, "flow services")
        if not names:
            probs.add(
                sl,
                _("flow {src}→{dst}: no services (a flow opens named services only)").format(
                    src=src, dst=dst
                ),
            )
        for n in names:
            if n in services:
                svcs.append(services[n])
                continue
            try:  # an inline spec such as tcp/8443
                spec = parse_port_spec(n)
                svcs.append(Service(str(n), (spec,), frozenset(), "", sl))
            except ValueError:
                probs.add(
                    sl, _("flow {src}→{dst}: unknown service {n!r}").format(src=src, dst=dst, n=n)
                )
        specs = [(s, svc.name) for svc in svcs for s in svc.specs]
        for a in range(len(specs)):
            for b in range(a + 1, len(specs)):
                if specs[a][0].overlaps(specs[b][0]):
                    probs.add(
                        sl,
                        _("flow {src}→{dst}: services {specs} and {specs2} overlap").format(
                            src=src, dst=dst, specs=specs[a][1], specs2=specs[b][1]
                        ),
                    )
        if not ok:
            continue
        if (src, dst) in seen:
            probs.add(
                fl,
                _(
                    "flow {src}→{dst} is defined twice (also at {seen}): merge the "
                    "services into one flow"
                ).format(src=src, dst=dst, seen=seen[(src, dst)]),
            )
            continue
        seen[(src, dst)] = fl
        out.append(Flow(src, dst, tuple(svcs), str(f.get("reason", "")), fl))
    return out


def _check_flow_policy(
    flows: list[Flow],
    zones: Mapping[str, DesignZone],
    services: Mapping[str, Service],
    hr_ports: set[int],
    probs: _Probs,
) -> None:
    """The center's rules for a level-3 design, so a bad design cannot bless bad rules."""
    for f in flows:
        src, dst = zones[f.src], zones[f.dst]
        cats = {c for svc in f.services for c in (services.get(svc.name) or svc).categories}
        inline_hr = any(
            s.protocol in PORT_PROTOCOLS
            and s.lo is not None
            and any(s.lo <= p <= (s.hi or s.lo) for p in hr_ports)
            for svc in f.services
            for s in svc.specs
        )
        if inline_hr:
            cats.add("high_risk")
        if any(s.protocol is None for svc in f.services for s in svc.specs):
            probs.add(
                f.location,
                _(
                    "flow {flow}: 'any' protocol is not a controlled flow "
                    "(8.1.3.2 c: port-level control)"
                ).format(flow=f.id),
            )
        if dst.management and src.external:
            probs.add(
                f.location,
                _(
                    "flow {flow}: nothing may reach a management zone from outside the center"
                ).format(flow=f.id),
            )
        if src.external and cats & set(CATEGORIES):
            probs.add(
                f.location,
                _(
                    "flow {flow}: {categories} services may not be reached from outside the center"
                ).format(flow=f.id, categories=", ".join(sorted(cats & set(CATEGORIES)))),
            )
        if "admin" in cats and not src.management:
            names = [s.name for s in f.services if "admin" in s.categories]
            probs.add(
                f.location,
                _(
                    "flow {flow}: administrative services ({names}) only from a management zone"
                ).format(flow=f.id, names=", ".join(names)),
            )
        if "database" in cats and src.role not in ("business", "management", "security-management"):
            probs.add(
                f.location,
                _(
                    "flow {flow}: database services only from the business tier or a management "
                    "zone"
                ).format(flow=f.id),
            )


def _parse_waivers(
    raw: Any, where: Location, zones: Mapping[str, DesignZone], probs: _Probs
) -> list[Waiver]:
    out: list[Waiver] = []
    if raw is None:
        return out
    if not isinstance(raw, list):
        probs.add(where, _("waivers: expected a list"))
        return out
    for i, w in enumerate(raw):
        wl = loc_of(raw, i, where)
        if not isinstance(w, dict):
            probs.add(wl, _("waiver: expected a mapping"))
            continue
        _unknown(w, WAIVER_KEYS, probs, _("waiver"))
        reason = w.get("justification") or w.get("reason")
        missing = [
            k
            for k, v in (
                ("approver", w.get("approver")),
                ("justification", reason),
                ("expires", w.get("expires")),
            )
            if not v
        ]
        if missing:
            probs.add(wl, _("waiver misses {missing}").format(missing=", ".join(missing)))
            continue
        exp = w.get("expires")
        if not isinstance(exp, dt.date):
            probs.add(loc_of(w, "expires", wl), _("expires: expected a date YYYY-MM-DD"))
            continue
        src, dst = str(w.get("from", "*")), str(w.get("to", "*"))
        bad = [z for z in (src, dst) if z != "*" and z not in zones]
        if bad:
            probs.add(wl, _("waiver: unknown zone {bad}").format(bad=", ".join(bad)))
            continue
        spec = None
        if w.get("service") is not None:
            try:
                spec = parse_port_spec(w["service"])
            except ValueError as e:
                probs.add(loc_of(w, "service", wl), text_of(e))
                continue
        out.append(
            Waiver(
                tenants=str(w.get("tenants", "*")),
                src=src,
                dst=dst,
                spec=spec,
                justification=str(reason),
                approver=str(w["approver"]),
                expires=exp,
                location=wl,
            )
        )
    return out


def load_design(
    path: Path,
    plan_zones: Mapping[str, str],
    *,
    policies: Path | None = None,
    templates: Iterable[str] | None = None,
) -> Design:
    """Read and validate the design file; raises ValidationFailed with every problem."""
    if not path.is_file():
        raise CloudctlError(
            _("no security-domain design at {path}").format(path=display_path(path)),
            Location(display_path(path)),
        )
    doc = load_yaml(path)
    baseline: list[int] = []
    hr = doc.get("high_risk") if isinstance(doc, dict) else None
    profile = hr.get("baseline_profile") if isinstance(hr, dict) else None
    if profile:
        pol = policies or path.parent
        if not (pol / str(profile) / "profile.yaml").is_file():
            raise ValidationFailed(
                [
                    Problem(
                        loc_of(hr, "baseline_profile"),
                        _("no baseline profile {profile!r} under {pol}").format(
                            profile=profile, pol=pol
                        ),
                    )
                ]
            )
        baseline, _where = baseline_high_risk_ports(pol, str(profile))
    design, problems = parse_design(
        doc,
        plan_zones,
        baseline_ports=baseline,
        templates=templates,
        where=Location(display_path(path)),
    )
    if problems or design is None:
        raise ValidationFailed(
            problems, _("{n} problem(s) in the security-domain design").format(n=len(problems))
        )
    return design
