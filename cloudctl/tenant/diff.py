"""Desired vs actual → a Plan of ordered changes (pure; no cloud calls).

Ownership rules: cloudctl only changes what carries its marker. A resource in the cloud
with a desired name but without the marker is a *conflict* (reported, never adopted
silently). Inside a managed security group every rule is owned (an extra rule added by
hand is reverted); on a managed router every interface is owned; a managed user's role
assignments on its project are owned. Whole managed resources that are no longer desired
are deleted only with ``--prune``.

Each change carries ``params`` for the executor: request bodies whose ``*_ref`` keys name
other resources of the same tenant (resolved to IDs at run time, since a parent may be
created earlier in the same apply).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from cloudctl.core.errors import Location, Problem
from cloudctl.core.i18n import _
from cloudctl.tenant.desired import is_wide_open
from cloudctl.tenant.model import (
    MANAGED_TAG,
    SCOPE_TAG_PREFIX,
    ActualState,
    DesiredState,
    Project,
    Rule,
    RuleSpec,
    SecurityGroupSpec,
    TenantSpec,
)

# Dependency order (creates and updates ascend, deletes descend). Quotas come right after
# the project, not last: a new project starts with the cloud's default quotas, which may be
# smaller than what the tenant is about to create (the lab's default allows ~20 rules).
PHASES = {
    "project": 10,
    "quota": 15,
    "network": 20,
    "subnet": 30,
    "router": 40,
    "router_interface": 45,
    "security_group": 50,
    "security_group_rule": 55,
    "user": 70,
    "role_assignment": 75,
}
KINDS = tuple(PHASES)


@dataclass
class Change:
    tenant: str
    action: str  # create | update | delete
    kind: str
    name: str
    attrs: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # attr -> (old, new)
    id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # why (e.g. "out-of-band", "not desired (--prune)")
    warning: str = ""  # something to shout about (wide-open rule)

    @property
    def order(self) -> tuple[int, int]:
        p = PHASES[self.kind]
        return (0, -p) if self.action == "delete" else (1, p)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["attrs"] = {k: {"old": o, "new": n} for k, (o, n) in self.attrs.items()}
        d.pop("params")
        return d


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # conflicts: nothing is done then
    notes: list[str] = field(default_factory=list)
    pruneable: list[Change] = field(default_factory=list)  # shown, applied only with --prune
    warnings: list[Change] = field(default_factory=list)  # wide-open rules not ours to fix
    tenants: list[str] = field(default_factory=list)
    #: ownership findings: duplicates, and resources claiming the marker without a record
    findings: list[Finding] = field(default_factory=list)
    #: (kind, id, name, tenant) of marked resources with a desired name and no record that
    #: match the desired state exactly: apply records them (resources made before the record)
    adoptions: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: the same, but differing from the desired state: only ``tenant adopt`` records them
    unrecorded: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: tenants whose whole content is deleted (tenant file gone, --prune) -> deletions
    teardowns: dict[str, int] = field(default_factory=dict)

    def by_tenant(self) -> dict[str, list[Change]]:
        out: dict[str, list[Change]] = defaultdict(list)
        for c in sorted(self.changes, key=lambda c: c.order):
            out[c.tenant].append(c)
        return dict(out)

    def counts(self) -> dict[str, int]:
        out = {"create": 0, "update": 0, "delete": 0}
        for c in self.changes:
            out[c.action] += 1
        return out

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def blocking(self) -> list[Finding]:
        """Findings apply cannot resolve on its own (it refuses and names the ids)."""
        return [f for f in self.findings if f.blocking]

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
            "adopt": [
                {"kind": k, "id": i, "name": n, "tenant": t} for k, i, n, t in self.adoptions
            ],
            "changes": [c.as_dict() for c in sorted(self.changes, key=_sort_key)],
            "not_desired": [c.as_dict() for c in self.pruneable],
            "warnings": [c.as_dict() for c in self.warnings],
            "notes": list(self.notes),
            "problems": [str(p) for p in self.problems],
        }


@dataclass
class Finding:
    """Something about ownership a person must look at (drift: plan and drift exit 1).

    ``duplicate``: more than one resource of one kind and name in a project, at least one
    claiming cloudctl's marker. ``unrecorded``: a resource claims the marker but cloudctl
    has no record of creating it: it is never deleted or changed. ``blocking``: apply
    refuses to run until a person removes one (the ids are named).
    """

    tenant: str
    kind: str
    name: str
    what: str  # duplicate | unrecorded
    ids: list[str]
    message: str
    blocking: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sort_key(c: Change):
    return (c.tenant, c.order, c.name)


# --------------------------------------------------------------------------- indexes
class _Index:
    """Actual state by the keys the diff needs."""

    def __init__(self, actual: ActualState):
        self.a = actual
        self.projects = {p.name: p for p in actual.projects}
        self.users = {u.name: u for u in actual.users}
        self.role_ids = {name: rid for rid, name in actual.roles.items()}
        self.recorded = actual.recorded
        #: (project id, kind) -> [(name, [every resource of that name], the one used)]
        self.dups: dict[tuple[str, str], list[tuple[str, list, Any]]] = defaultdict(list)
        self.nets = self._by_name("network", actual.networks)
        self.net_by_id = {n.id: n for n in actual.networks}
        self.subs = self._by_name("subnet", actual.subnets)
        self.sub_by_id = {s.id: s for s in actual.subnets}
        self.routers = self._by_name("router", actual.routers)
        self.ifaces: dict[str, list] = defaultdict(list)
        for i in actual.router_interfaces:
            self.ifaces[i.router_id].append(i)
        self.sgs = self._by_name("security_group", actual.security_groups)
        self.sg_by_id = {g.id: g for g in actual.security_groups}
        self.rules: dict[str, list[Rule]] = defaultdict(list)
        for r in actual.rules:
            self.rules[r.security_group_id].append(r)
        self.assignments: dict[tuple[str, str], set[str]] = defaultdict(set)
        for uid, pid, rid in actual.role_assignments:
            self.assignments[(uid, pid)].add(rid)
        self.external_nets = {n.name: n for n in actual.networks if n.external}

    def _by_name(self, kind: str, items: list) -> dict[str, dict[str, Any]]:
        """project id -> name -> the resource used under that name (see :func:`primary`);
        names held by more than one resource are remembered in ``dups``."""
        groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for it in items:
            groups[it.project_id][it.name].append(it)
        out: dict[str, dict[str, Any]] = defaultdict(dict)
        for pid, names in groups.items():
            for name, same in names.items():
                out[pid][name] = chosen = primary(same, self.recorded)
                if len(same) > 1 and any(x.managed for x in same):
                    self.dups[(pid, kind)].append((name, same, chosen))
        return out

    def owned(self, res: Any) -> bool:
        """Created by cloudctl: its id is in the ownership record (a marker only claims)."""
        return res.id in self.recorded

    def network_name(self, network_id: str | None) -> str | None:
        """A network's name for display, or its ID when it is not in the state read."""
        n = self.net_by_id.get(network_id or "")
        return n.name if n else network_id

    def subnet_name(self, subnet_id: str) -> str:
        """A subnet's name for display, or its ID when it is not in the state read."""
        sub = self.sub_by_id.get(subnet_id)
        return sub.name if sub else subnet_id

    def rule_spec(self, r: Rule) -> RuleSpec:
        group = None
        if r.remote_group_id:
            sg = self.sg_by_id.get(r.remote_group_id)
            group = sg.name if sg else r.remote_group_id
        return RuleSpec(
            direction=r.direction,
            ethertype=r.ethertype,
            protocol=_norm_proto(r.protocol),
            port_min=r.port_min,
            port_max=r.port_max,
            remote_ip_prefix=r.remote_ip_prefix,
            remote_group=group,
            description=r.description,
        )


def primary(same: list, recorded: set[str]) -> Any:
    """Of resources sharing one name, the one cloudctl works on: the recorded one, else one
    that claims the marker, else the first (apply and the diff must agree on it)."""
    for pick in (lambda x: x.id in recorded, lambda x: x.managed):
        hit = [x for x in same if pick(x)]
        if hit:
            return hit[0]
    return same[0]


_PROTO_NUMBERS = {"6": "tcp", "17": "udp", "1": "icmp", "132": "sctp", "58": "ipv6-icmp"}


def _norm_proto(p: str | None) -> str | None:
    if p is None:
        return None
    p = str(p).lower()
    return _PROTO_NUMBERS.get(p, p)


def _tags(base: Iterable[str], scope: str | None = None) -> list[str]:
    out = [MANAGED_TAG]
    if scope is not None:
        out.append(f"{SCOPE_TAG_PREFIX}{scope}")
    for t in base:
        if t not in out:
            out.append(t)
    return out


def _cmp(attrs: dict[str, tuple[Any, Any]], name: str, old: Any, new: Any) -> None:
    if _normal(old) != _normal(new):
        attrs[name] = (old, new)


def _normal(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [_normal(x) for x in v]
    return v


def _tag_fix(attrs: dict[str, tuple[Any, Any]], tags: list[str]) -> None:
    """Managed by its description marker but the tag is missing (a lost tag call)."""
    if MANAGED_TAG not in tags:
        attrs["tags"] = (list(tags), [*tags, MANAGED_TAG])


def _is_conflict(cur: Any, what: str, conflicts: list[str]) -> bool:
    """Whether ``cur`` exists without cloudctl's marker: a conflict (noted in ``conflicts``),
    since a resource that merely has a desired name is never adopted silently."""
    if cur is not None and not cur.managed:
        conflicts.append(what)
        return True
    return False


def _neutron_body(name: str, description: str) -> dict[str, Any]:
    """What every Neutron resource is created with: its name, description and our tag."""
    return {"name": name, "description": description, "tags": _tags([])}


def _update_params(attrs: dict[str, tuple[Any, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"body": {k: v[1] for k, v in attrs.items() if k != "tags"}}
    if "tags" in attrs:
        out["tags"] = attrs["tags"][1]
    return out


def _pools(p: Iterable[tuple[str, str]]) -> list[list[str]]:
    return [[a, b] for a, b in p]


def _created(code: str, kind: str, name: str, params: dict[str, Any], /, **new: Any) -> Change:
    """A create change; its attrs show each attribute in ``new`` going from nothing to its value."""
    return Change(code, "create", kind, name, {k: (None, v) for k, v in new.items()}, params=params)


def _out_of_band_update(
    code: str,
    kind: str,
    name: str,
    attrs: dict[str, tuple[Any, Any]],
    resource_id: str,
    params: dict[str, Any],
) -> Change:
    """An update putting back what was changed in the cloud behind cloudctl's back."""
    return Change(
        code,
        "update",
        kind,
        name,
        attrs,
        id=resource_id,
        params=params,
        reason="out-of-band change",
    )


# --------------------------------------------------------------------------- plan
def compute_plan(
    desired: DesiredState,
    actual: ActualState,
    *,
    only: Iterable[str] = (),
    prune: bool = False,
) -> Plan:
    """Everything needed to bring the selected tenants (default: all) to the desired state.

    ``prune`` moves managed-but-undesired resources from ``plan.pruneable`` into the changes,
    including whole tenants of this scope that no longer have a file (only without ``only``).
    """
    idx = _Index(actual)
    plan = Plan()
    selected = list(only) or sorted(desired.tenants)
    plan.tenants = selected
    if not actual.services.get("compute") and any(
        desired.tenants[c].quotas.get("compute") for c in selected
    ):
        plan.notes.append("compute quotas skipped: the cloud has no compute service in its catalog")
    if not actual.services.get("volume") and any(
        desired.tenants[c].quotas.get("volume") for c in selected
    ):
        plan.notes.append(
            "volume quotas skipped: the cloud has no block-storage service in its catalog"
        )
    for code in selected:
        _plan_tenant(desired, desired.tenants[code], idx, plan)
    if not list(only):
        wanted = {t.project for t in desired.tenants.values()}
        for p in actual.projects:
            if p.managed and p.scope == desired.scope and p.name not in wanted:
                code = p.name.removeprefix(desired.name_prefix)
                if not idx.owned(p):
                    plan.findings.append(_unrecorded(code, "project", p))
                    continue
                changes, kept = destroy_changes(code, p, actual, idx=idx)
                plan.pruneable.extend(changes)
                plan.teardowns[code] = len(changes)
                if kept:
                    plan.notes.append(
                        f"project {p.name} would be kept: it holds resources cloudctl does "
                        "not own: " + ", ".join(kept)
                    )
    if prune:
        plan.changes.extend(plan.pruneable)
        plan.pruneable = []
    return plan


def _plan_tenant(desired: DesiredState, t: TenantSpec, idx: _Index, plan: Plan) -> None:
    code = t.code
    loc = t.location or Location(t.file)
    proj = idx.projects.get(t.project)
    out: list[Change] = []
    pid = None
    adopt: list[tuple[str, str, str, str]] = []
    unrecorded: list[tuple[str, str, str, str]] = []

    def settle(cur: Any, kind: str, mark: int) -> None:
        """After diffing a resource that claims the marker: if cloudctl has no record of
        it, it is adopted when nothing about it changes (made before the record existed),
        otherwise its changes are held back until a person runs ``tenant adopt``."""
        if idx.owned(cur):
            return
        item = (kind, cur.id, cur.name, code)
        if len(out) == mark:
            adopt.append(item)
        else:
            del out[mark:]
            unrecorded.append(item)

    if proj is None:
        body = {
            "name": t.project,
            "description": t.description,
            "enabled": t.enabled,
            "domain_id": desired.domain,
            "tags": _tags([], desired.scope),
        }
        out.append(
            _created(
                code,
                "project",
                t.project,
                {"body": body},
                description=t.description,
                enabled=t.enabled,
                tags=_tags([], desired.scope),
            )
        )
    else:
        if not proj.managed:
            plan.problems.append(
                Problem(
                    loc,
                    _(
                        "project {project!r} exists but is not managed by "
                        "cloudctl (no tag {MANAGED_TAG}); refusing to touch "
                        "it"
                    ).format(project=t.project, MANAGED_TAG=MANAGED_TAG),
                )
            )
            return
        if proj.scope not in (None, desired.scope):
            plan.problems.append(
                Problem(
                    loc,
                    _("project {project!r} belongs to cloudctl scope {scope!r}").format(
                        project=t.project, scope=proj.scope
                    ),
                )
            )
            return
        pid = proj.id
        mark = len(out)
        attrs: dict[str, tuple[Any, Any]] = {}
        _cmp(attrs, "description", proj.description, t.description)
        _cmp(attrs, "enabled", proj.enabled, t.enabled)
        want_tags = _tags(proj.tags, desired.scope)
        if set(want_tags) != set(proj.tags):
            attrs["tags"] = (list(proj.tags), want_tags)
        if attrs:
            params = {"body": {k: v[1] for k, v in attrs.items()}}  # Keystone: tags in the body
            out.append(_out_of_band_update(code, "project", t.project, attrs, pid, params))
        settle(proj, "project", mark)

    conflicts: list[str] = []
    nets = idx.nets.get(pid, {}) if pid else {}
    subs = idx.subs.get(pid, {}) if pid else {}
    routers = idx.routers.get(pid, {}) if pid else {}
    sgs = idx.sgs.get(pid, {}) if pid else {}
    ref = {"project_ref": t.project}

    # networks and subnets ---------------------------------------------------------------
    replaced_subnets: set[str] = set()
    for n in t.networks:
        cur = nets.get(n.name)
        if _is_conflict(cur, f"network {n.name}", conflicts):
            continue
        if cur is None:
            body = _neutron_body(n.name, n.description)
            if n.mtu:
                body["mtu"] = n.mtu
            new = {k: v for k, v in body.items() if k != "name"}
            out.append(_created(code, "network", n.name, {"body": body, **ref}, **new))
        else:
            mark = len(out)
            attrs = {}
            _cmp(attrs, "description", cur.description, n.description)
            _cmp(attrs, "admin_state_up", cur.admin_state_up, True)
            if n.mtu:
                _cmp(attrs, "mtu", cur.mtu, n.mtu)
            _tag_fix(attrs, cur.tags)
            if attrs:
                params = _update_params(attrs)
                out.append(_out_of_band_update(code, "network", n.name, attrs, cur.id, params))
            settle(cur, "network", mark)
        for s in n.subnets:
            scur = subs.get(s.name)
            if _is_conflict(scur, f"subnet {s.name}", conflicts):
                continue
            body = {
                "name": s.name,
                "cidr": s.cidr,
                "ip_version": s.ip_version,
                "gateway_ip": s.gateway_ip,
                "allocation_pools": [{"start": a, "end": b} for a, b in s.allocation_pools],
                "dns_nameservers": list(s.dns_nameservers),
                "enable_dhcp": s.enable_dhcp,
                "description": s.description,
                "tags": _tags([]),
            }
            create = _created(
                code,
                "subnet",
                s.name,
                {"body": body, "network_ref": n.name, **ref},
                network=n.name,
                cidr=s.cidr,
                gateway_ip=s.gateway_ip,
                allocation_pools=_pools(s.allocation_pools),
                dns_nameservers=list(s.dns_nameservers),
                enable_dhcp=s.enable_dhcp,
            )
            if scur is None:
                out.append(create)
                continue
            mark = len(out)
            _subnet_update(code, s, n.name, scur, create, body, idx, out, replaced_subnets)
            settle(scur, "subnet", mark)

    # router and interfaces --------------------------------------------------------------
    if t.router is not None:
        r = t.router
        rcur = routers.get(r.name)
        ext_id = None
        if r.external_network:
            ext = idx.external_nets.get(r.external_network)
            if ext is None:
                plan.problems.append(
                    Problem(
                        r.location or loc,
                        _(
                            "external network {external_network!r} does not "
                            "exist in the cloud (or is not router:external)"
                        ).format(external_network=r.external_network),
                    )
                )
            else:
                ext_id = ext.id
        gw = None
        if ext_id:
            gw = {"network_id": ext_id}
            if r.enable_snat is not None:
                gw["enable_snat"] = r.enable_snat
        if rcur is not None and not rcur.managed:
            conflicts.append(f"router {r.name}")
        elif rcur is None:
            body = _neutron_body(r.name, r.description)
            if gw:
                body["external_gateway_info"] = gw
            out.append(
                _created(
                    code,
                    "router",
                    r.name,
                    {"body": body, **ref},
                    description=r.description,
                    external_network=r.external_network,
                )
            )
            for sname in r.interfaces:
                out.append(_iface_create(code, r.name, sname))
        else:
            mark = len(out)
            _router_update(code, r, rcur, gw, idx, out, replaced_subnets)
            settle(rcur, "router", mark)

    # security groups and rules ---------------------------------------------------------
    for g in t.security_groups:
        gcur = sgs.get(g.name)
        if _is_conflict(gcur, f"security group {g.name}", conflicts):
            continue
        if gcur is None:
            rule_keys = [list(r.key()) for r in g.rules]
            params = {"body": _neutron_body(g.name, g.description), "rule_keys": rule_keys, **ref}
            out.append(
                _created(
                    code,
                    "security_group",
                    g.name,
                    params,
                    description=g.description,
                    template=g.template,
                )
            )
            for rule in g.rules:
                out.append(_rule_create(code, t.project, g, rule))
            continue
        mark = len(out)
        attrs = {}
        _cmp(attrs, "description", gcur.description, g.description)
        _tag_fix(attrs, gcur.tags)
        if attrs:
            params = _update_params(attrs)
            out.append(_out_of_band_update(code, "security_group", g.name, attrs, gcur.id, params))
        have_rules = {}
        for r in idx.rules.get(gcur.id, []):
            have_rules.setdefault(idx.rule_spec(r).key(), r)
        want = {r.key(): r for r in g.rules}
        for k, rule in want.items():
            if k not in have_rules:
                out.append(_rule_create(code, t.project, g, rule))
        for r in idx.rules.get(gcur.id, []):
            spec = idx.rule_spec(r)
            if spec.key() not in want or have_rules.get(spec.key()) is not r:
                why = "not in template " + g.template + " (added out of band)"
                out.append(_rule_delete(code, g.name, spec, r.id, why))
        settle(gcur, "security_group", mark)
    # wide-open rules in security groups we do not own: flag, never touch
    if pid:
        ours = {g.name for g in t.security_groups}
        for g in idx.sgs.get(pid, {}).values():
            if g.managed and g.name in ours:
                continue
            for r in idx.rules.get(g.id, []):
                spec = idx.rule_spec(r)
                if is_wide_open(spec):
                    why = "in a security group cloudctl does not manage: fix by hand"
                    plan.warnings.append(_rule_delete(code, g.name, spec, r.id, why))

    # quotas -----------------------------------------------------------------------------
    for svc in ("network", "compute", "volume"):
        want_q = t.quotas.get(svc)
        if not want_q or not idx.a.services.get(svc):
            continue
        have_q = idx.a.quotas.get(svc, {}).get(pid or "", {}) if pid else {}
        attrs = {}
        for k, v in want_q.items():
            old = have_q.get(k, "default" if pid else None)
            if old != v:
                attrs[k] = (old, v)
        if attrs:
            out.append(
                Change(
                    code,
                    "create" if pid is None else "update",
                    "quota",
                    f"{t.project}/{svc}",
                    attrs,
                    params={"service": svc, "body": dict(want_q), **ref},
                    reason="" if pid is None else "differs from desired",
                )
            )

    # users and roles --------------------------------------------------------------------
    for u in t.users:
        ucur = idx.users.get(u.name)
        if _is_conflict(ucur, f"user {u.name}", conflicts):
            continue
        if ucur is None:
            body = {
                "name": u.name,
                "description": u.description,
                "enabled": u.enabled,
                "domain_id": desired.domain,
            }
            if u.email:
                body["email"] = u.email
            out.append(
                _created(
                    code,
                    "user",
                    u.name,
                    {"body": body, "password_env": u.password_env, **ref},
                    description=u.description,
                    email=u.email,
                    enabled=u.enabled,
                    default_project=t.project,
                    password="(generated, kept in the secrets file)",
                )
            )
            for role in u.roles:
                out.append(_role_create(code, t.project, u.name, role))
            continue
        mark = len(out)
        attrs = {}
        _cmp(attrs, "description", ucur.description, u.description)
        _cmp(attrs, "enabled", ucur.enabled, u.enabled)
        if u.email:
            _cmp(attrs, "email", ucur.email, u.email)
        if ucur.default_project_id != pid:
            proj_name = next(
                (p.name for p in idx.a.projects if p.id == ucur.default_project_id),
                ucur.default_project_id,
            )
            attrs["default_project"] = (proj_name, t.project)
        if attrs:
            body = {k: v[1] for k, v in attrs.items() if k != "default_project"}
            params: dict[str, Any] = {"body": body}
            if "default_project" in attrs:
                params["default_project_ref"] = t.project
            out.append(_out_of_band_update(code, "user", u.name, attrs, ucur.id, params))
        have_roles = idx.assignments.get((ucur.id, pid), set()) if pid else set()
        have_names = {idx.a.roles.get(rid, rid): rid for rid in have_roles}
        for role in u.roles:
            if role not in have_names:
                out.append(_role_create(code, t.project, u.name, role))
        for role, rid in sorted(have_names.items()):
            if role not in u.roles:
                out.append(
                    Change(
                        code,
                        "delete",
                        "role_assignment",
                        f"{u.name} → {role} on {t.project}",
                        id=rid,
                        params={"user_ref": u.name, "role_ref": role, **ref},
                        reason="not desired (granted out of band)",
                        warning="extra privilege" if role not in ("member", "reader") else "",
                    )
                )
        settle(ucur, "user", mark)

    # whole resources that are managed but no longer desired ----------------------------
    if pid:
        changes, claims = _undesired(t, pid, idx)
        plan.pruneable.extend(changes)
        plan.findings.extend(claims)
        plan.findings.extend(_duplicates(code, pid, idx))

    plan.unrecorded.extend(unrecorded)
    if unrecorded:
        plan.problems.append(
            Problem(
                loc,
                "carries cloudctl's marker but cloudctl has no record of creating it, and it "
                "differs from the desired state; check it, then take it over with "
                f"`cloudctl tenant adopt {code}`: "
                + ", ".join(f"{k} {n} ({i})" for k, i, n, _t in unrecorded),
            )
        )
    if conflicts:
        plan.problems.append(
            Problem(
                loc,
                "exists but not managed by cloudctl (no tag "
                f"{MANAGED_TAG}); rename it or tag it to adopt: " + ", ".join(conflicts),
            )
        )
    if conflicts or unrecorded:
        return
    plan.adoptions.extend(adopt)
    plan.changes.extend(out)


UNRECORDED = "claims to be managed by cloudctl but was not created by cloudctl"


def _unrecorded(code: str, kind: str, res: Any) -> Finding:
    return Finding(
        code,
        kind,
        res.name,
        "unrecorded",
        [res.id],
        f"{UNRECORDED} (no ownership record): never deleted; remove the marker or the "
        "resource by hand",
    )


def _duplicates(code: str, pid: str, idx: _Index) -> list[Finding]:
    """Names held by more than one resource of a kind in the project (one claiming the
    marker at least): a second apply racing the first, or a hand-made copy."""
    out: list[Finding] = []
    for kind in ("network", "subnet", "router", "security_group"):
        for name, same, chosen in idx.dups.get((pid, kind), []):
            ids = [x.id for x in same]
            owners = [x for x in same if idx.owned(x)] or [x for x in same if x.managed]
            if len(owners) > 1:
                msg = (
                    f"{len(same)} {kind}s named {name} claim cloudctl's marker "
                    f"({', '.join(ids)}); apply refuses to choose: delete the one not in use "
                    "by hand, then apply again"
                )
                out.append(Finding(code, kind, name, "duplicate", ids, msg, blocking=True))
            else:
                others = [x.id for x in same if x is not chosen]
                how = "recorded as created by cloudctl" if idx.owned(chosen) else "the marked one"
                msg = (
                    f"{len(same)} {kind}s named {name}: cloudctl keeps {chosen.id} ({how}); "
                    f"{', '.join(others)} was not created by cloudctl and is left alone"
                )
                out.append(Finding(code, kind, name, "duplicate", ids, msg))
    return out


def _subnet_update(
    code: str,
    s: Any,
    net_name: str,
    scur: Any,
    create: Change,
    body: dict[str, Any],
    idx: _Index,
    out: list[Change],
    replaced_subnets: set[str],
) -> None:
    """An existing subnet: replaced when CIDR or network changed, else updated in place."""
    cur_net_name = idx.network_name(scur.network_id)
    if scur.cidr != s.cidr or cur_net_name != net_name:
        # CIDR and network are immutable: replace (interfaces first, see below)
        why = {}
        _cmp(why, "cidr", scur.cidr, s.cidr)
        _cmp(why, "network", cur_net_name, net_name)
        out.append(
            Change(
                code,
                "delete",
                "subnet",
                s.name,
                why,
                id=scur.id,
                reason="replaced: " + ", ".join(why) + " cannot change in place",
            )
        )
        create.reason = "replacement"
        out.append(create)
        replaced_subnets.add(scur.id)
        return
    attrs = {}
    _cmp(attrs, "gateway_ip", scur.gateway_ip, s.gateway_ip)
    _cmp(attrs, "allocation_pools", _pools(scur.allocation_pools), _pools(s.allocation_pools))
    _cmp(attrs, "dns_nameservers", list(scur.dns_nameservers), list(s.dns_nameservers))
    _cmp(attrs, "enable_dhcp", scur.enable_dhcp, s.enable_dhcp)
    _cmp(attrs, "description", scur.description, s.description)
    _tag_fix(attrs, scur.tags)
    if attrs:
        upd = _update_params(attrs)
        if "allocation_pools" in upd["body"]:
            upd["body"]["allocation_pools"] = body["allocation_pools"]
        out.append(_out_of_band_update(code, "subnet", s.name, attrs, scur.id, upd))


def _router_update(
    code: str,
    r: Any,
    rcur: Any,
    gw: dict[str, Any] | None,
    idx: _Index,
    out: list[Change],
    replaced_subnets: set[str],
) -> None:
    """An existing router: attributes, gateway, tag, and its interfaces."""
    attrs = {}
    _cmp(attrs, "description", rcur.description, r.description)
    cur_ext_name = idx.network_name(rcur.external_network_id)
    _cmp(attrs, "external_network", cur_ext_name, r.external_network)
    if r.external_network and r.enable_snat is not None:
        _cmp(attrs, "enable_snat", rcur.enable_snat, r.enable_snat)
    _tag_fix(attrs, rcur.tags)
    if attrs:
        body = {}
        if "description" in attrs:
            body["description"] = r.description
        if "external_network" in attrs or "enable_snat" in attrs:
            body["external_gateway_info"] = gw or {}
        params: dict[str, Any] = {"body": body}
        if "tags" in attrs:
            params["tags"] = attrs["tags"][1]
        out.append(_out_of_band_update(code, "router", r.name, attrs, rcur.id, params))
    have = {}
    for i in idx.ifaces.get(rcur.id, []):
        have[idx.subnet_name(i.subnet_id)] = i
    for sname in r.interfaces:
        i = have.get(sname)
        if i is None or i.subnet_id in replaced_subnets:
            if i is not None:
                out.append(_iface_delete(code, r.name, rcur.id, sname, i, "replacement"))
            out.append(_iface_create(code, r.name, sname))
    for sname, i in have.items():
        if sname not in r.interfaces:
            out.append(_iface_delete(code, r.name, rcur.id, sname, i, "not desired"))


def _iface_create(code: str, router: str, subnet: str) -> Change:
    return Change(
        code,
        "create",
        "router_interface",
        f"{router} ↔ {subnet}",
        {"subnet": (None, subnet)},
        params={"router_ref": router, "subnet_ref": subnet},
    )


def _iface_delete(code, router, router_id, subnet, iface, reason) -> Change:
    return Change(
        code,
        "delete",
        "router_interface",
        f"{router} ↔ {subnet}",
        id=iface.port_id,
        params={"router_id": router_id, "port_id": iface.port_id},
        reason=reason,
    )


def _rule_create(code: str, project: str, g: SecurityGroupSpec, rule: RuleSpec) -> Change:
    """A rule is created in the group's project (by default Neutron would give it to the
    caller's project — admin — and count it against the admin project's quota)."""
    body: dict[str, Any] = {
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "description": rule.description,
    }
    if rule.protocol:
        body["protocol"] = rule.protocol
    if rule.port_min is not None:
        body["port_range_min"] = rule.port_min
        body["port_range_max"] = rule.port_max
    if rule.remote_ip_prefix:
        body["remote_ip_prefix"] = rule.remote_ip_prefix
    params: dict[str, Any] = {
        "body": body,
        "security_group_ref": g.name,
        "key": list(rule.key()),
        "project_ref": project,
    }
    if rule.remote_group:
        params["remote_group_ref"] = rule.remote_group
    return Change(
        code,
        "create",
        "security_group_rule",
        f"{g.name}: {rule.label()}",
        params=params,
        warning=f"WIDE OPEN: {rule.label()}" if is_wide_open(rule) else "",
    )


def _rule_delete(code: str, group: str, spec: RuleSpec, rule_id: str, reason: str) -> Change:
    """Deleting a rule of ``group``; a wide-open one is flagged so it stands out."""
    return Change(
        code,
        "delete",
        "security_group_rule",
        f"{group}: {spec.label()}",
        id=rule_id,
        reason=reason,
        warning=f"WIDE OPEN: {spec.label()}" if is_wide_open(spec) else "",
    )


def _role_create(code: str, project: str, user: str, role: str) -> Change:
    return Change(
        code,
        "create",
        "role_assignment",
        f"{user} → {role} on {project}",
        {"role": (None, role)},
        params={"user_ref": user, "role_ref": role, "project_ref": project},
    )


def _undesired(t: TenantSpec, pid: str, idx: _Index) -> tuple[list[Change], list[Finding]]:
    """Marked resources of the tenant that are no longer desired: what cloudctl created
    is pruneable; the rest only claims the marker and is reported, never deleted."""
    out: list[Change] = []
    claims: list[Finding] = []
    why = "managed but not desired (--prune deletes it)"
    want_nets = {n.name for n in t.networks}
    want_subs = {s.name for s in t.subnets}
    want_sgs = {g.name for g in t.security_groups}
    want_router = t.router.name if t.router else None

    def ours(kind: str, res: Any) -> bool:
        if idx.owned(res):
            return True
        claims.append(_unrecorded(t.code, kind, res))
        return False

    for r in idx.routers.get(pid, {}).values():
        if r.managed and r.name != want_router and ours("router", r):
            for i in idx.ifaces.get(r.id, []):
                out.append(
                    _iface_delete(t.code, r.name, r.id, idx.subnet_name(i.subnet_id), i, why)
                )
            out.append(Change(t.code, "delete", "router", r.name, id=r.id, reason=why))
    for s in idx.subs.get(pid, {}).values():
        if s.managed and s.name not in want_subs and ours("subnet", s):
            # its interface on the desired router is removed by the router's own diff
            out.append(Change(t.code, "delete", "subnet", s.name, id=s.id, reason=why))
    for n in idx.nets.get(pid, {}).values():
        if n.managed and n.name not in want_nets and ours("network", n):
            out.append(Change(t.code, "delete", "network", n.name, id=n.id, reason=why))
    for g in idx.sgs.get(pid, {}).values():
        if g.managed and g.name not in want_sgs and ours("security_group", g):
            out.append(Change(t.code, "delete", "security_group", g.name, id=g.id, reason=why))
    want_users = {u.name for u in t.users}
    for u in idx.a.users:
        if (
            u.managed
            and u.default_project_id == pid
            and u.name not in want_users
            and ours("user", u)
        ):
            out.append(Change(t.code, "delete", "user", u.name, id=u.id, reason=why))
    return out, claims


# --------------------------------------------------------------------------- destroy
def destroy_changes(
    code: str, project: Project, actual: ActualState, idx: _Index | None = None
) -> tuple[list[Change], list[str]]:
    """Everything cloudctl created of one tenant, in reverse dependency order, and what
    was left (things not ours, and things that claim the marker without a record).

    The project itself goes only when nothing else remains in it (Neutron's own
    ``default`` security group is removed with it: deleting a project leaves it behind).
    The caller checks that the project itself was created by cloudctl.
    """
    idx = idx or _Index(actual)
    pid = project.id
    why = "destroy"
    out: list[Change] = []
    kept: list[str] = []

    def ours(kind: str, res: Any) -> bool:
        if idx.owned(res):
            return True
        note = " (claims the marker, not created by cloudctl)" if res.managed else ""
        kept.append(f"{kind.replace('_', ' ')} {res.name}{note}")
        return False

    for u in actual.users:
        if u.managed and u.default_project_id == pid and ours("user", u):
            out.append(Change(code, "delete", "user", u.name, id=u.id, reason=why))
    for svc in ("network", "compute", "volume"):
        if actual.services.get(svc):
            out.append(
                Change(
                    code,
                    "delete",
                    "quota",
                    f"{project.name}/{svc}",
                    id=pid,
                    params={"service": svc, "project_id": pid},
                    reason="reset to defaults",
                )
            )
    for g in actual.security_groups:
        if g.project_id != pid:
            continue
        if (g.name == "default" and not g.managed) or ours("security_group", g):
            out.append(Change(code, "delete", "security_group", g.name, id=g.id, reason=why))
    for r in actual.routers:
        if r.project_id != pid or not ours("router", r):
            continue
        for i in idx.ifaces.get(r.id, []):
            out.append(_iface_delete(code, r.name, r.id, idx.subnet_name(i.subnet_id), i, why))
        out.append(Change(code, "delete", "router", r.name, id=r.id, reason=why))
    for s in actual.subnets:
        if s.project_id == pid and ours("subnet", s):
            out.append(Change(code, "delete", "subnet", s.name, id=s.id, reason=why))
    for n in actual.networks:
        if n.project_id == pid and ours("network", n):
            out.append(Change(code, "delete", "network", n.name, id=n.id, reason=why))
    if not kept:
        out.append(Change(code, "delete", "project", project.name, id=pid, reason=why))
    return out, kept


# --------------------------------------------------------------------------- drift
@dataclass
class DriftItem:
    tenant: str
    kind: str
    name: str
    what: str  # changed | missing | unexpected | not-desired | wide-open
    attrs: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    warning: str = ""

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["attrs"] = {k: {"actual": o, "desired": n} for k, (o, n) in self.attrs.items()}
        return d


def drift_items(plan: Plan, actual: ActualState, desired: DesiredState) -> list[DriftItem]:
    """Out-of-band changes: the plan seen from the cloud's side, for tenants that exist."""
    existing = {p.name for p in actual.projects if p.managed}
    out: list[DriftItem] = []
    reported: set[str] = set()
    for c in sorted(plan.changes, key=_sort_key):
        t = desired.tenants.get(c.tenant)
        if t is not None and t.project not in existing:
            if t.project not in reported:  # never applied (or deleted by hand): one line
                out.append(DriftItem(c.tenant, "project", t.project, "missing"))
                reported.add(t.project)
            continue
        if c.action == "update":
            out.append(DriftItem(c.tenant, c.kind, c.name, "changed", dict(c.attrs), c.warning))
        elif c.action == "create":
            if c.kind == "quota":
                out.append(DriftItem(c.tenant, c.kind, c.name, "changed", dict(c.attrs)))
            else:
                out.append(DriftItem(c.tenant, c.kind, c.name, "missing", {}, c.warning))
        else:
            out.append(DriftItem(c.tenant, c.kind, c.name, "unexpected", {}, c.warning))
    for c in plan.pruneable:
        out.append(DriftItem(c.tenant, c.kind, c.name, "not-desired"))
    for c in plan.warnings:
        out.append(DriftItem(c.tenant, c.kind, c.name, "wide-open", {}, c.warning))
    for f in plan.findings:
        what = "duplicate" if f.what == "duplicate" else "not-created-by-cloudctl"
        out.append(DriftItem(f.tenant, f.kind, f.name, what, {}, f.message))
    return out
