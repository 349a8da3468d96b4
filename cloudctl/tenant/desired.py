"""Desired state of tenants: tenant files + the address plan + security-group templates.

Pure: takes already-loaded YAML documents (with their lines) and an :class:`AddressPlanView`,
returns a :class:`DesiredState` or raises :class:`ValidationFailed` with every problem at
``file:line``. Nothing here talks to a cloud, so ``tenant validate`` needs no credentials.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import netaddr

from cloudctl.core.errors import CloudctlError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _, text_of
from cloudctl.core.yamlio import LDict, LList, display_path, load_yaml, loc_of
from cloudctl.tenant.model import (
    ALLOWED_ROLES,
    MANAGED_NOTE,
    QUOTA_KEYS,
    DesiredState,
    NetworkSpec,
    RouterSpec,
    RuleSpec,
    SecurityGroupSpec,
    SubnetSpec,
    TenantSpec,
    UserSpec,
)
from cloudctl.tenant.passwords import env_name_problem

FILE_VERSION = 1
CODE_RE = re.compile(r"^[a-z][a-z0-9]{1,23}$")
SHORT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,30}$")
# Ports that must never be open to the whole world (SSH, RDP, databases, admin consoles).
ADMIN_PORTS = {22, 23, 135, 139, 445, 1433, 1521, 2375, 3306, 3389, 5432, 5900, 6379, 9200, 27017}
PROTOCOLS = {"tcp", "udp", "icmp", "sctp", "ipv6-icmp", "any"}


# --------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class Allocation:
    """What the tenant layer needs of one address-plan allocation."""

    name: str
    cidr: str
    gateway: str | None
    pools: tuple[tuple[str, str], ...]
    dns: tuple[str, ...]
    zone: str | None = None
    tenant: str | None = None
    status: str = "active"
    location: Location | None = None
    vrf: str | None = None


@dataclass(frozen=True)
class AddressPlanView:
    """The slice of the address plan tenants depend on (filled from ``cloudctl.ipam.api``)."""

    allocations: Mapping[str, Allocation]
    zones: Mapping[str, tuple[str, ...]]  # zone name -> supernets
    departments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # code -> info


@dataclass(frozen=True)
class TenantSettings:
    """``tenant:`` section of cloudctl.yaml (tests use a prefix and their own scope)."""

    name_prefix: str = ""
    scope: str = "main"
    domain: str = "default"

    @classmethod
    def from_center_settings(cls, settings: Mapping[str, Any]) -> TenantSettings:
        raw = settings.get("tenant") or {}
        return cls(
            name_prefix=str(raw.get("name_prefix", "")),
            scope=str(raw.get("scope", "main")),
            domain=str(raw.get("domain", "default")),
        )


class _Problems:
    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, where: Location | None, message: str) -> None:
        self.items.append(Problem(where, message))


# --------------------------------------------------------------------------- helpers
def _unknown_keys(doc: Any, allowed: Iterable[str], probs: _Problems, what: str) -> None:
    if not isinstance(doc, dict):
        return
    allowed = set(allowed)
    for k in doc:
        if k not in allowed:
            probs.add(
                loc_of(doc, k),
                _("{what}: unknown key {key!r} (expected one of: {names})").format(
                    what=what, key=k, names=", ".join(sorted(allowed))
                ),
            )


def _as_list(doc: Any, key: str, probs: _Problems, fallback: Location) -> list:
    val = doc.get(key) if isinstance(doc, dict) else None
    if val is None:
        return []
    if not isinstance(val, list):
        probs.add(loc_of(doc, key, fallback), _("{key}: expected a list").format(key=key))
        return []
    return val


def _item_loc(seq: Any, i: int, fallback: Location) -> Location:
    return loc_of(seq, i, fallback) or fallback


def _entries(
    raw: list,
    where: Location,
    probs: _Problems,
    what: str,
    allowed: Iterable[str],
    shorthand: str | None = None,
    expected: str = "a mapping",
) -> Iterator[tuple[Any, Location]]:
    """Each mapping of a list section (rules, networks, subnets, ...) with its location.

    Every list section is checked the same way: an entry that is not a mapping is reported
    (``a <what> must be <expected>``) and skipped, unknown keys are reported. With
    ``shorthand``, a plain string stands for ``{shorthand: string}``.
    """
    for i, item in enumerate(raw):
        loc = _item_loc(raw, i, where)
        if shorthand is not None and isinstance(item, str):
            item = {shorthand: item}
        if not isinstance(item, dict):
            probs.add(loc, _("a {what} must be {expected}").format(what=what, expected=expected))
            continue
        _unknown_keys(item, allowed, probs, what)
        yield item, loc


def _new_short_name(
    short: Any,
    where: Location,
    seen: set[str],
    probs: _Problems,
    what: str,
    hint: str,
    twice_where: Location | None = None,
) -> bool:
    """Whether ``short`` is a usable short name not taken yet by another ``what`` of the tenant.

    Short names become part of OpenStack names, so they must match SHORT_NAME_RE and be
    unique. Reports ``<what> name <short><hint>`` or ``<what> <short> defined twice``
    (at ``twice_where`` if given) and returns False; otherwise remembers it in ``seen``.
    """
    if not isinstance(short, str) or not SHORT_NAME_RE.match(short):
        probs.add(where, _("{what} name {short!r}{hint}").format(what=what, short=short, hint=hint))
        return False
    if short in seen:
        probs.add(
            twice_where or where, _("{what} {short!r} defined twice").format(what=what, short=short)
        )
        return False
    seen.add(short)
    return True


def parse_range(text: str) -> tuple[str, str]:
    """``10.0.0.10-10.0.0.20`` → (start, end); raises ValueError."""
    start, sep, end = str(text).partition("-")
    if not sep:
        raise ValueError(_("{text!r} is not a range (start-end)").format(text=text))
    a, b = netaddr.IPAddress(start.strip()), netaddr.IPAddress(end.strip())
    if a > b:
        raise ValueError(_("range {text!r} ends before it starts").format(text=text))
    return str(a), str(b)


def parse_ports(val: Any) -> tuple[int | None, int | None]:
    if val is None:
        return None, None
    if isinstance(val, bool):
        raise ValueError(_("port must be a number or a range like 8000-8080"))
    if isinstance(val, int):
        lo = hi = val
    else:
        a, sep, b = str(val).partition("-")
        if not a.strip().isdigit() or (sep and not b.strip().isdigit()):
            raise ValueError(
                _("port {val!r} must be a number or a range like 8000-8080").format(val=val)
            )
        lo, hi = int(a), int(b) if sep else int(a)
    if not (1 <= lo <= hi <= 65535):
        raise ValueError(_("port range {val!r} is outside 1-65535").format(val=val))
    return lo, hi


def is_wide_open(rule: RuleSpec) -> bool:
    """An ingress rule reaching an admin port (or everything) from the whole Internet."""
    d, _eth, proto, pmin, pmax, prefix, group = rule.key()
    if d != "ingress" or group or prefix not in ("0.0.0.0/0", "::/0"):
        return False
    if proto is None or (proto in ("tcp", "udp", "sctp") and pmin is None):
        return True
    if proto in ("tcp", "udp") and pmin is not None and pmax is not None:
        return any(pmin <= p <= pmax for p in ADMIN_PORTS)
    return False


# --------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class RuleTemplate:
    direction: str
    protocol: str | None
    ports: tuple[int | None, int | None]
    ethertype: str | None
    remote_kind: str  # zone | allocation | group | cidr | any
    remote_value: str | None
    description: str
    location: Location | None


@dataclass(frozen=True)
class SecurityGroupTemplate:
    name: str
    description: str
    default_egress: bool
    rules: tuple[RuleTemplate, ...]
    location: Location | None


TEMPLATE_KEYS = {"version", "name", "description", "description_zh", "egress", "rules"}
RULE_KEYS = {
    "direction",
    "protocol",
    "port",
    "ethertype",
    "remote_zone",
    "remote_allocation",
    "remote_group",
    "remote_cidr",
    "description",
}


def load_templates(
    docs: Mapping[str, Any], plan: AddressPlanView
) -> dict[str, SecurityGroupTemplate]:
    """``docs``: template name (file stem) → loaded YAML. Raises ValidationFailed."""
    probs = _Problems()
    out = _parse_templates(docs, plan, probs)
    if probs.items:
        raise ValidationFailed(probs.items)
    return out


def _parse_templates(
    docs: Mapping[str, Any], plan: AddressPlanView, probs: _Problems
) -> dict[str, SecurityGroupTemplate]:
    out: dict[str, SecurityGroupTemplate] = {}
    for stem, doc in sorted(docs.items()):
        top = loc_of(doc) or Location(stem)
        if not isinstance(doc, dict):
            probs.add(top, _("a security-group template must be a mapping"))
            continue
        _unknown_keys(doc, TEMPLATE_KEYS, probs, "security-group template")
        _check_text(doc, top, probs, "description", "description_zh")
        name = doc.get("name", stem)
        if name != stem:
            probs.add(
                doc.loc("name"),
                _("name {name!r} must equal the file name {stem!r}").format(name=name, stem=stem),
            )
        egress = doc.get("egress", "default")
        if egress not in ("default", "none"):
            probs.add(doc.loc("egress"), _("egress: expected 'default' (allow all out) or 'none'"))
        rules: list[RuleTemplate] = []
        for r, rl in _entries(_as_list(doc, "rules", probs, top), top, probs, "rule", RULE_KEYS):
            rule = _parse_rule_template(r, rl, plan, probs)
            if rule is not None:
                rules.append(rule)
        out[stem] = SecurityGroupTemplate(
            name=stem,
            description=str(doc.get("description", "")),
            default_egress=egress != "none",
            rules=tuple(rules),
            location=top,
        )
    return out


def _parse_rule_template(
    r: LDict, rl: Location, plan: AddressPlanView, probs: _Problems
) -> RuleTemplate | None:
    direction = r.get("direction", "ingress")
    if direction not in ("ingress", "egress"):
        probs.add(loc_of(r, "direction", rl), _("direction: expected ingress or egress"))
        return None
    proto = str(r.get("protocol", "any")).lower()
    if proto not in PROTOCOLS:
        probs.add(
            loc_of(r, "protocol", rl),
            _("protocol {proto!r}: expected one of {names}").format(
                proto=proto, names=", ".join(sorted(PROTOCOLS))
            ),
        )
        return None
    try:
        ports = parse_ports(r.get("port"))
    except ValueError as e:
        probs.add(loc_of(r, "port", rl), text_of(e))
        return None
    if ports[0] is not None and proto not in ("tcp", "udp", "sctp"):
        probs.add(
            loc_of(r, "port", rl),
            _("port given for protocol {proto}: only tcp/udp/sctp").format(proto=proto),
        )
        return None
    if proto in ("tcp", "udp", "sctp") and ports[0] is None and direction == "ingress":
        probs.add(
            loc_of(r, "protocol", rl),
            _("{proto} ingress rule without a port opens every port").format(proto=proto),
        )
    ethertype = r.get("ethertype")
    if ethertype not in (None, "IPv4", "IPv6"):
        probs.add(loc_of(r, "ethertype", rl), _("ethertype: expected IPv4 or IPv6"))
        return None
    remotes = [
        k for k in ("remote_zone", "remote_allocation", "remote_group", "remote_cidr") if k in r
    ]
    if len(remotes) > 1:
        probs.add(rl, _("a rule takes one remote, not {names}").format(names=", ".join(remotes)))
        return None
    kind, value = "any", None
    if remotes:
        kind, value = remotes[0].removeprefix("remote_"), str(r[remotes[0]])
    rloc = loc_of(r, remotes[0], rl) if remotes else rl
    if kind == "zone" and value not in plan.zones:
        known = ", ".join(sorted(plan.zones)) or "none"
        probs.add(
            rloc,
            _("unknown zone {value!r} in the address plan (known: {known})").format(
                value=value, known=known
            ),
        )
        return None
    if kind == "allocation" and "{code}" not in (value or "") and value not in plan.allocations:
        probs.add(rloc, _("unknown allocation {value!r} in the address plan").format(value=value))
        return None
    if kind == "cidr":
        try:
            value = str(netaddr.IPNetwork(value).cidr)
        except (netaddr.AddrFormatError, ValueError, TypeError):
            probs.add(rloc, _("remote_cidr {value!r} is not a CIDR").format(value=value))
            return None
    rule = RuleTemplate(
        direction=direction,
        protocol=None if proto == "any" else proto,
        ports=ports,
        ethertype=ethertype,
        remote_kind=kind,
        remote_value=value,
        description=str(r.get("description", "")),
        location=rl,
    )
    if kind in ("any", "cidr") and direction == "ingress":
        probe = RuleSpec(
            direction="ingress",
            ethertype="IPv6" if value and ":" in value else "IPv4",
            protocol=rule.protocol,
            port_min=ports[0],
            port_max=ports[1],
            remote_ip_prefix=value,
        )
        if is_wide_open(probe):
            probs.add(
                rloc,
                _(
                    "wide-open rule: {label} (MLPS: management ports must not be open to everyone)"
                ).format(label=probe.label()),
            )
            return None
    return rule


# --------------------------------------------------------------------------- tenants
TENANT_KEYS = {
    "version",
    "code",
    "name_zh",
    "name_en",
    "description",
    "enabled",
    "contacts",
    "networks",
    "router",
    "security_groups",
    "quotas",
    "users",
}
NETWORK_KEYS = {"name", "description", "mtu", "subnets"}
SUBNET_KEYS = {"allocation", "pools", "dhcp", "description"}
ROUTER_KEYS = {"name", "description", "external_network", "enable_snat", "interfaces"}
SG_KEYS = {"template", "name", "description"}
USER_KEYS = {"name", "roles", "email", "description", "enabled", "password_env"}
DEFAULTS_KEYS = {"version", "quota_classes", "quotas"}


def _quota_block(
    raw: Any, where: Location, probs: _Problems, services: Iterable[str] = QUOTA_KEYS
) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    if not isinstance(raw, dict):
        probs.add(where, _("quotas: expected a mapping of service → {{key: value}}"))
        return out
    for svc, vals in raw.items():
        sloc = loc_of(raw, svc, where)
        if svc == "class":
            continue
        if svc not in services:
            probs.add(
                sloc,
                _("quotas: unknown service {svc!r} (network, compute, volume)").format(svc=svc),
            )
            continue
        if not isinstance(vals, dict):
            probs.add(sloc, _("quotas.{svc}: expected a mapping").format(svc=svc))
            continue
        for k, v in vals.items():
            kloc = loc_of(vals, k, sloc)
            if k not in QUOTA_KEYS[svc]:
                probs.add(
                    kloc,
                    _("quotas.{svc}: unknown quota {key!r} (known: {names})").format(
                        svc=svc, key=k, names=", ".join(QUOTA_KEYS[svc])
                    ),
                )
                continue
            if isinstance(v, bool) or not isinstance(v, int):
                probs.add(
                    kloc,
                    _("quotas.{svc}.{key}: expected a whole number (-1 = unlimited)").format(
                        svc=svc, key=k
                    ),
                )
                continue
            if v < -1:
                probs.add(
                    kloc,
                    _("quotas.{svc}.{key}: negative quota {value} (use -1 for unlimited)").format(
                        svc=svc, key=k, value=v
                    ),
                )
                continue
            out.setdefault(svc, {})[k] = v
    return out


def _merge_quotas(*blocks: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for b in blocks:
        for svc, vals in b.items():
            out.setdefault(svc, {}).update(vals)
    return out


@dataclass(frozen=True)
class TenantDefaults:
    quota_classes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    quotas: dict[str, dict[str, int]] = field(default_factory=dict)
    default_class: str | None = None


def parse_defaults(doc: Any, probs: _Problems, where: Location) -> TenantDefaults:
    if doc is None:
        return TenantDefaults()
    if not isinstance(doc, dict):
        probs.add(where, _("expected a mapping"))
        return TenantDefaults()
    _unknown_keys(doc, DEFAULTS_KEYS, probs, "tenant defaults")
    classes: dict[str, dict[str, dict[str, int]]] = {}
    raw_classes = doc.get("quota_classes") or {}
    for cname, block in raw_classes.items() if isinstance(raw_classes, dict) else []:
        classes[cname] = _quota_block(block, loc_of(raw_classes, cname, where), probs)
    quotas = doc.get("quotas") or {}
    default_class = quotas.get("class") if isinstance(quotas, dict) else None
    if default_class is not None and default_class not in classes:
        probs.add(
            loc_of(quotas, "class", where),
            _("unknown quota class {default_class!r}").format(default_class=default_class),
        )
    return TenantDefaults(
        quota_classes=classes,
        quotas=_quota_block(quotas, loc_of(doc, "quotas", where), probs),
        default_class=default_class,
    )


def build_desired(
    tenant_docs: Mapping[str, Any],
    plan: AddressPlanView,
    template_docs: Mapping[str, Any],
    settings: TenantSettings = TenantSettings(),
    defaults_doc: Any = None,
    defaults_where: Location | None = None,
) -> DesiredState:
    """Validate everything and resolve references; all problems are raised together.

    ``tenant_docs``: file stem → loaded YAML (file stem must equal the tenant's code).
    """
    probs = _Problems()
    templates = _parse_templates(template_docs, plan, probs)
    defaults = parse_defaults(defaults_doc, probs, defaults_where or Location("_defaults.yaml"))
    tenants: dict[str, TenantSpec] = {}
    used_allocations: dict[str, Location] = {}
    for stem, doc in sorted(tenant_docs.items()):
        t = _parse_tenant(stem, doc, plan, templates, defaults, settings, used_allocations, probs)
        if t is not None:
            tenants[t.code] = t
    if probs.items:
        raise ValidationFailed(probs.items)
    return DesiredState(
        tenants=tenants,
        scope=settings.scope,
        name_prefix=settings.name_prefix,
        domain=settings.domain,
    )


def _parse_tenant(
    stem: str,
    doc: Any,
    plan: AddressPlanView,
    templates: Mapping[str, SecurityGroupTemplate],
    defaults: TenantDefaults,
    settings: TenantSettings,
    used_allocations: dict[str, Location],
    probs: _Problems,
) -> TenantSpec | None:
    top = loc_of(doc) or Location(stem)
    if not isinstance(doc, dict):
        probs.add(top, _("a tenant file must be a mapping"))
        return None
    n_before = len(probs.items)
    _unknown_keys(doc, TENANT_KEYS, probs, "tenant")
    version = doc.get("version", FILE_VERSION)
    if version != FILE_VERSION:
        probs.add(
            doc.loc("version"),
            _("version {version!r} is not supported (expected {FILE_VERSION})").format(
                version=version, FILE_VERSION=FILE_VERSION
            ),
        )
    code = doc.get("code")
    if not isinstance(code, str) or not CODE_RE.match(code):
        probs.add(
            doc.loc("code"),
            _("code {code!r}: expected lowercase letters/digits (e.g. czj)").format(code=code),
        )
        return None
    if code != stem:
        probs.add(
            doc.loc("code"),
            _("code {code!r} must equal the file name ({stem}.yaml)").format(code=code, stem=stem),
        )
    dept = plan.departments.get(code)
    if dept is None:  # also when the departments list is empty or missing
        probs.add(
            doc.loc("code"), _("no department {code!r} in the departments list").format(code=code)
        )
    dept = dept or {}
    p = settings.name_prefix
    project = f"{p}{code}"
    _check_text(doc, top, probs, "name_zh", "name_en", "description")
    _check_enabled(doc, top, probs)
    name_zh = str(doc.get("name_zh") or dept.get("name_zh") or code)
    name_en = str(doc.get("name_en") or dept.get("name_en") or code)

    # networks and subnets -------------------------------------------------------------
    networks: list[NetworkSpec] = []
    subnet_names: dict[str, Location] = {}
    raw_nets = _as_list(doc, "networks", probs, top)
    seen_nets: set[str] = set()
    for n, nl in _entries(raw_nets, top, probs, "network", NETWORK_KEYS):
        short = n.get("name")
        name_loc = loc_of(n, "name", nl)
        if not _new_short_name(
            short, name_loc, seen_nets, probs, "network", ": expected e.g. app, db, web"
        ):
            continue
        _check_text(n, nl, probs, "description")
        mtu = n.get("mtu")
        if mtu is not None and (not isinstance(mtu, int) or isinstance(mtu, bool) or mtu < 68):
            probs.add(
                loc_of(n, "mtu", nl), _("mtu {mtu!r}: expected a number ≥ 68").format(mtu=mtu)
            )
            mtu = None
        subnets: list[SubnetSpec] = []
        raw_subs = _as_list(n, "subnets", probs, nl)
        if not raw_subs:
            probs.add(nl, _("network {short!r} has no subnets").format(short=short))
        for s, sl in _entries(
            raw_subs,
            nl,
            probs,
            "subnet",
            SUBNET_KEYS,
            shorthand="allocation",
            expected="an allocation name or a mapping",
        ):
            sub = _parse_subnet(s, sl, code, p, plan, used_allocations, probs)
            if sub is not None:
                subnets.append(sub)
                subnet_names[sub.allocation] = sl
        networks.append(
            NetworkSpec(
                name=f"{p}{code}-{short}",
                description=_described(n.get("description") or f"{name_zh} {short}"),
                subnets=tuple(subnets),
                mtu=mtu,
                location=nl,
            )
        )

    # router ----------------------------------------------------------------------------
    router = None
    raw_router = doc.get("router")
    if raw_router is not None:
        rl = doc.loc("router")
        if raw_router is True:
            raw_router = LDict()
            raw_router.file, raw_router.line, raw_router.key_lines = rl.file, rl.line, {}
        if not isinstance(raw_router, dict):
            probs.add(rl, _("router: expected a mapping (or true)"))
        else:
            _unknown_keys(raw_router, ROUTER_KEYS, probs, "router")
            _check_text(raw_router, rl, probs, "description", "name", "external_network")
            ifaces = raw_router.get("interfaces")
            if ifaces is None:
                iface_allocs = list(subnet_names)
            elif isinstance(ifaces, list):
                iface_allocs = []
                for k, a in enumerate(ifaces):
                    if a not in subnet_names:
                        probs.add(
                            loc_of(ifaces, k, rl),
                            _(
                                "router interface {a!r}: no subnet of this tenant "
                                "uses that allocation"
                            ).format(a=a),
                        )
                    else:
                        iface_allocs.append(a)
            else:
                probs.add(loc_of(raw_router, "interfaces", rl), _("interfaces: expected a list"))
                iface_allocs = []
            ext = raw_router.get("external_network")
            snat = raw_router.get("enable_snat")
            if snat is not None and not isinstance(snat, bool):
                probs.add(
                    loc_of(raw_router, "enable_snat", rl), _("enable_snat: expected true/false")
                )
            if snat is not None and ext is None:
                probs.add(
                    loc_of(raw_router, "enable_snat", rl), _("enable_snat needs external_network")
                )
            rname = raw_router.get("name") or "router"
            router = RouterSpec(
                name=f"{p}{code}-{rname}",
                description=_described(raw_router.get("description") or f"{name_zh} router"),
                interfaces=tuple(f"{p}{a}" for a in iface_allocs),
                external_network=str(ext) if ext is not None else None,
                enable_snat=snat if ext is not None else None,
                location=rl,
            )

    # security groups --------------------------------------------------------------------
    raw_sgs = _as_list(doc, "security_groups", probs, top)
    sg_entries: list[tuple[str, SecurityGroupTemplate, Any, Location]] = []
    seen_sg: set[str] = set()
    for g, gl in _entries(
        raw_sgs,
        top,
        probs,
        "security group",
        SG_KEYS,
        shorthand="template",
        expected="a template name or a mapping",
    ):
        _check_text(g, gl, probs, "description")
        tname = g.get("template")
        if not isinstance(tname, str) or tname not in templates:
            known = ", ".join(sorted(templates)) or "none"
            probs.add(
                loc_of(g, "template", gl),
                _("unknown security-group template {tname!r} (known: {known})").format(
                    tname=tname, known=known
                ),
            )
            continue
        short = g.get("name", tname)
        name_loc = loc_of(g, "name", gl)
        if not _new_short_name(
            short, name_loc, seen_sg, probs, "security group", " is not valid", twice_where=gl
        ):
            continue
        sg_entries.append((short, templates[tname], g, gl))
    by_template = {}
    for short, tpl, _g, _gl in sg_entries:
        by_template.setdefault(tpl.name, f"{p}{code}-{short}")
    sgs: list[SecurityGroupSpec] = []
    for short, tpl, g, gl in sg_entries:
        rules = _resolve_rules(tpl, code, p, plan, by_template, gl, probs)
        sgs.append(
            SecurityGroupSpec(
                name=f"{p}{code}-{short}",
                template=tpl.name,
                description=_described(g.get("description") or tpl.description or tpl.name),
                rules=tuple(rules),
                location=gl,
            )
        )

    # quotas -----------------------------------------------------------------------------
    raw_q = doc.get("quotas")
    qloc = doc.loc("quotas") if "quotas" in doc else top
    cls = defaults.default_class
    if isinstance(raw_q, dict) and "class" in raw_q:
        cls = raw_q.get("class")
        if not isinstance(cls, str) or cls not in defaults.quota_classes:
            known = ", ".join(sorted(defaults.quota_classes)) or "none"
            probs.add(
                loc_of(raw_q, "class", qloc),
                _("unknown quota class {cls!r} (known: {known})").format(cls=cls, known=known),
            )
            cls = None
    own = _quota_block(raw_q, qloc, probs) if raw_q is not None else {}
    quotas = _merge_quotas(defaults.quotas, defaults.quota_classes.get(cls or "", {}), own)

    # users ------------------------------------------------------------------------------
    users: list[UserSpec] = []
    raw_users = _as_list(doc, "users", probs, top)
    seen_users: set[str] = set()
    for u, ul in _entries(raw_users, top, probs, "user", USER_KEYS):
        if "password" in u:
            probs.add(loc_of(u, "password", ul), _("never put a password in a tenant file"))
        _check_text(u, ul, probs, "description", "email")
        short = u.get("name")
        name_loc = loc_of(u, "name", ul)
        if not _new_short_name(
            short, name_loc, seen_users, probs, "user", ": expected e.g. ops, audit"
        ):
            continue
        roles = u.get("roles") or []
        if not isinstance(roles, list) or not roles:
            probs.add(
                loc_of(u, "roles", ul), _("roles: expected a non-empty list (member, reader)")
            )
            roles = []
        for k, role in enumerate(roles):
            if role not in ALLOWED_ROLES:
                probs.add(
                    loc_of(roles, k, ul),
                    _("role {role!r} is not allowed for tenant users ({names})").format(
                        role=role, names=", ".join(ALLOWED_ROLES)
                    ),
                )
        _check_enabled(u, ul, probs)
        pw_env = u.get("password_env")
        bad_env = env_name_problem(pw_env) if pw_env is not None else None
        if bad_env:
            probs.add(loc_of(u, "password_env", ul), bad_env)
        users.append(
            UserSpec(
                name=f"{p}{code}-{short}",
                roles=tuple(sorted({r for r in roles if isinstance(r, str)} & set(ALLOWED_ROLES))),
                email=u.get("email"),
                description=_described(u.get("description") or f"{name_zh} {short}"),
                password_env=pw_env,
                enabled=bool(u.get("enabled", True)),
                location=ul,
            )
        )

    contacts = doc.get("contacts", dept.get("contacts") or [])
    if len(probs.items) > n_before:
        return None
    return TenantSpec(
        code=code,
        project=project,
        name_zh=name_zh,
        name_en=name_en,
        description=_described(str(doc.get("description") or f"{name_zh} {name_en}")),
        contacts=tuple(dict(c) for c in contacts if isinstance(c, dict)),
        networks=tuple(networks),
        router=router,
        security_groups=tuple(sgs),
        quotas=quotas,
        users=tuple(users),
        enabled=bool(doc.get("enabled", True)),
        file=top.file,
        location=top,
    )


def _check_text(m: Any, where: Location | None, probs: _Problems, *keys: str) -> None:
    """Free-text fields must be text: `description: {x: 1}` or `[a, b]` is a mistake, not
    something to store as "{'x': 1}"."""
    for key in keys:
        v = m.get(key)
        if v is not None and not isinstance(v, str):
            kind = "a list" if isinstance(v, list) else "a mapping" if isinstance(v, dict) else ""
            got = f" (got {kind or type(v).__name__})"
            probs.add(
                loc_of(m, key, where), _("{key}: expected text{got}").format(key=key, got=got)
            )


def _check_enabled(m: Any, where: Location | None, probs: _Problems) -> None:
    """`enabled: "false"` is text, and text is truthy: only a real boolean is taken."""
    if not isinstance(m.get("enabled", True), bool):
        probs.add(loc_of(m, "enabled", where), _("enabled: expected true or false (unquoted)"))


def _described(text: str) -> str:
    text = str(text).strip()
    return text if MANAGED_NOTE in text else f"{text} {MANAGED_NOTE}".strip()


def _parse_subnet(
    s: LDict,
    sl: Location,
    code: str,
    prefix: str,
    plan: AddressPlanView,
    used: dict[str, Location],
    probs: _Problems,
) -> SubnetSpec | None:
    _check_text(s, sl, probs, "description")
    alloc_name = s.get("allocation")
    aloc = loc_of(s, "allocation", sl)
    alloc = plan.allocations.get(alloc_name) if isinstance(alloc_name, str) else None
    if alloc is None:
        probs.add(
            aloc,
            _("unknown allocation {alloc_name!r} in the address plan").format(
                alloc_name=alloc_name
            ),
        )
        return None
    if alloc.tenant and alloc.tenant != code:
        probs.add(
            aloc,
            _("allocation {alloc_name!r} belongs to tenant {tenant!r}, not {code!r}").format(
                alloc_name=alloc_name, tenant=alloc.tenant, code=code
            ),
        )
        return None
    if alloc.status not in ("active", "allocated"):
        probs.add(
            aloc,
            _("allocation {alloc_name!r} is {status}: not usable as a subnet").format(
                alloc_name=alloc_name, status=alloc.status
            ),
        )
        return None
    if alloc_name in used:
        probs.add(
            aloc,
            _("allocation {alloc_name!r} is already used by {used}").format(
                alloc_name=alloc_name, used=used[alloc_name]
            ),
        )
        return None
    used[alloc_name] = aloc
    net = netaddr.IPNetwork(alloc.cidr)
    pools = alloc.pools
    if "pools" in s:
        raw = s.get("pools")
        ploc = loc_of(s, "pools", sl)
        if not isinstance(raw, list) or not raw:
            probs.add(ploc, _("pools: expected a list of start-end ranges"))
            return None
        parsed = []
        for k, r in enumerate(raw):
            rl = loc_of(raw, k, ploc)
            try:
                a, b = parse_range(r)
            except (ValueError, netaddr.AddrFormatError) as e:
                probs.add(rl, _("pool: {e}").format(e=e))
                return None
            if netaddr.IPAddress(a) not in net or netaddr.IPAddress(b) not in net:
                probs.add(
                    rl,
                    _(
                        "pool {a}-{b} is outside allocation {alloc_name} "
                        "({cidr}): a subnet must stay inside its allocation"
                    ).format(a=a, b=b, alloc_name=alloc_name, cidr=alloc.cidr),
                )
                return None
            if alloc.gateway and netaddr.IPAddress(a) <= netaddr.IPAddress(
                alloc.gateway
            ) <= netaddr.IPAddress(b):
                probs.add(
                    rl,
                    _("pool {a}-{b} contains the gateway {gateway}").format(
                        a=a, b=b, gateway=alloc.gateway
                    ),
                )
                return None
            parsed.append((a, b))
        pools = tuple(parsed)
    dhcp = s.get("dhcp", True)
    if not isinstance(dhcp, bool):
        probs.add(loc_of(s, "dhcp", sl), _("dhcp: expected true or false"))
        dhcp = True
    return SubnetSpec(
        name=f"{prefix}{alloc_name}",
        allocation=alloc_name,
        cidr=str(net.cidr),
        gateway_ip=alloc.gateway,
        allocation_pools=pools,
        dns_nameservers=alloc.dns,
        enable_dhcp=dhcp,
        ip_version=net.version,
        description=_described(s.get("description") or f"address plan allocation {alloc_name}"),
        location=sl,
    )


def _resolve_rules(
    tpl: SecurityGroupTemplate,
    code: str,
    prefix: str,
    plan: AddressPlanView,
    by_template: Mapping[str, str],
    where: Location,
    probs: _Problems,
) -> list[RuleSpec]:
    rules: list[RuleSpec] = []
    if tpl.default_egress:
        rules.append(RuleSpec(direction="egress", ethertype="IPv4"))
        rules.append(RuleSpec(direction="egress", ethertype="IPv6"))
    for rt in tpl.rules:
        base = {
            "direction": rt.direction,
            "protocol": rt.protocol,
            "port_min": rt.ports[0],
            "port_max": rt.ports[1],
            "description": rt.description,
        }
        prefixes: list[str | None] = []
        group = None
        if rt.remote_kind == "zone":
            prefixes = list(plan.zones.get(rt.remote_value or "", ()))
        elif rt.remote_kind == "allocation":
            name = (rt.remote_value or "").replace("{code}", code)
            alloc = plan.allocations.get(name)
            if alloc is None:
                probs.add(
                    where,
                    _(
                        "template {name} ({location}): allocation {name2!r} "
                        "does not exist for tenant {code}"
                    ).format(name=tpl.name, location=rt.location, name2=name, code=code),
                )
                continue
            prefixes = [alloc.cidr]
        elif rt.remote_kind == "group":
            group = by_template.get(rt.remote_value or "")
            if group is None:
                probs.add(
                    where,
                    _(
                        "template {name} ({location}) needs security group "
                        "{remote_value!r} in this tenant too"
                    ).format(name=tpl.name, location=rt.location, remote_value=rt.remote_value),
                )
                continue
            prefixes = [None]
        elif rt.remote_kind == "cidr":
            prefixes = [rt.remote_value]
        else:
            prefixes = [None]
        for pfx in prefixes:
            eth = rt.ethertype or ("IPv6" if pfx and ":" in pfx else "IPv4")
            rules.append(RuleSpec(ethertype=eth, remote_ip_prefix=pfx, remote_group=group, **base))
    # identical rules collapse (Neutron refuses duplicates)
    seen: dict[tuple, RuleSpec] = {}
    for r in rules:
        seen.setdefault(r.key(), r)
    return list(seen.values())


# --------------------------------------------------------------------------- file I/O
def read_docs(directory: Path, problems: list[Problem], pattern: str = "*.yaml") -> dict[str, Any]:
    """Load every ``*.yaml`` of a directory (files starting with ``_`` are not entities);
    unreadable files add to ``problems`` so every broken file is reported at once."""
    out: dict[str, Any] = {}
    if not directory.is_dir():
        return out
    for f in sorted(directory.glob(pattern)):
        if f.name.startswith((".", "_")):
            continue
        try:
            doc = load_yaml(f)
        except CloudctlError as e:
            problems.extend(e.problems)
            continue
        if not isinstance(doc, (dict, list)):  # empty, or a bare value: no line to point at
            what = "the file is empty" if doc is None else "the file holds a single value"
            problems.append(
                Problem(
                    Location(display_path(f), 1), _("{what}: expected a mapping").format(what=what)
                )
            )
            continue
        out[f.stem] = doc
    return out


def _tenants_dir_problem(tenants_dir: Path) -> Problem | None:
    """A mistyped or emptied tenants directory must never read as "no tenants wanted"
    (``--prune`` would then plan the deletion of every tenant)."""
    where = Location(display_path(tenants_dir))
    if not tenants_dir.exists():
        return Problem(where, _("tenants directory not found (check `tenants:` in cloudctl.yaml)"))
    if not tenants_dir.is_dir():
        return Problem(where, _("not a directory (check `tenants:` in cloudctl.yaml)"))
    if not any(
        not f.name.startswith((".", "_")) for f in tenants_dir.glob("*.yaml") if f.is_file()
    ):
        return Problem(
            where,
            _(
                "no tenant files (<code>.yaml) in the tenants "
                "directory: refusing to treat that as no tenants "
                "(check `tenants:` in cloudctl.yaml)"
            ),
        )
    return None


def plan_view_from_center(center: Any) -> AddressPlanView:
    """The address plan and departments through the ipam area's read API."""
    from cloudctl.ipam.api import load_departments, load_plan

    plan = load_plan(center)
    deps = load_departments(center)
    allocations = {
        p.name: Allocation(
            name=p.name,
            cidr=str(p.cidr),
            gateway=p.gateway,
            pools=tuple((str(a), str(b)) for a, b in (p.allocation_pools or ())),
            dns=tuple(p.dns_nameservers or ()),
            zone=p.zone,
            tenant=p.tenant,
            status=p.status,
            vrf=p.vrf,
            location=p.location if isinstance(p.location, Location) else None,
        )
        for p in plan.prefixes
    }
    zones = {z.name: tuple(z.supernets) for z in plan.zones.values()}
    departments = {
        d.code: {"name_zh": d.name_zh, "name_en": d.name_en, "contacts": list(d.contacts)}
        for d in deps
    }
    return AddressPlanView(allocations=allocations, zones=zones, departments=departments)


def load_desired_from_files(
    tenants_dir: Path,
    templates_dir: Path,
    plan: AddressPlanView,
    settings: TenantSettings,
    only: Iterable[str] = (),
) -> DesiredState:
    """Read the files and validate; ``only`` restricts to some tenant codes (all validated)."""
    problems: list[Problem] = []
    bad_dir = _tenants_dir_problem(tenants_dir)
    if bad_dir is not None:
        raise ValidationFailed([bad_dir], str(bad_dir))
    tenant_docs = read_docs(tenants_dir, problems)
    template_docs = read_docs(templates_dir, problems)
    defaults_path = tenants_dir / "_defaults.yaml"
    defaults_doc = None
    if defaults_path.is_file():
        try:
            defaults_doc = load_yaml(defaults_path)
        except CloudctlError as e:
            problems.extend(e.problems)
    if problems:
        raise ValidationFailed(problems)
    desired = build_desired(
        tenant_docs,
        plan,
        template_docs,
        settings,
        defaults_doc,
        Location(display_path(defaults_path)),
    )
    wanted = list(only)
    if wanted:
        unknown = [c for c in wanted if c not in desired.tenants]
        for c in unknown:
            problems.append(
                Problem(
                    Location(display_path(tenants_dir)), _("no tenant file for {c!r}").format(c=c)
                )
            )
        if problems:
            raise ValidationFailed(problems)
        desired = DesiredState(
            tenants={c: desired.tenants[c] for c in wanted},
            scope=desired.scope,
            name_prefix=desired.name_prefix,
            domain=desired.domain,
        )
    return desired


__all__ = [
    "AddressPlanView",
    "Allocation",
    "LList",
    "TenantSettings",
    "build_desired",
    "is_wide_open",
    "load_desired_from_files",
]
