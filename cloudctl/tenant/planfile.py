"""Saved tenant plans (``tenant plan --out FILE`` / ``tenant apply FILE``), pure.

A saved plan is applied only when nothing it was computed from has changed: the cloud
state of the planned scope, the center's input files, the cloud itself, the ``--prune``
flag and cloudctl's version. Each is fingerprinted (sha256 over a canonical JSON form) when
the plan is written and again, inside the change lock, when it is applied; any difference
refuses the apply and says which. The file carries a hash of its own body, so an edited
file is refused too. That hash is no signature (anyone can recompute it); what makes a
forged file harmless is that apply re-plans from the cloud and the files and runs only
when that fresh plan equals the saved changes: a saved plan can only ever make apply do
less (refuse), never something the tenant files do not say.

No I/O here: the CLI reads the files and the cloud and passes them in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _
from cloudctl.tenant.diff import Plan
from cloudctl.tenant.model import ActualState, DesiredState

SCHEMA = "cloudctl.tenant.planfile/1"
#: The fingerprint of what every tenant shares (which services the catalog offers).
SHARED = "*"


# --------------------------------------------------------------------------- hashing
def canonical(obj: Any) -> bytes:
    """One byte string per value: keys sorted, no whitespace, UTF-8."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def sha256_of(obj: Any) -> str:
    return hashlib.sha256(canonical(obj)).hexdigest()


# --------------------------------------------------------------------------- inputs
def file_hashes(files: Mapping[str, bytes]) -> dict[str, str]:
    """``path -> sha256`` of the input files (tenant files, templates, address plan,
    departments, security domains)."""
    return {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())}


def desired_sha256(desired: DesiredState) -> str:
    """The desired state resolved from the files and from cloudctl.yaml's tenant settings
    (prefix, scope, domain), which are not among the hashed files."""
    return sha256_of(_desired_view(desired))


def _desired_view(desired: DesiredState) -> dict[str, Any]:
    return {
        "scope": desired.scope,
        "name_prefix": desired.name_prefix,
        "domain": desired.domain,
        "tenants": {code: asdict(t) for code, t in sorted(desired.tenants.items())},
    }


# --------------------------------------------------------------------------- cloud state
def state_fingerprint(
    desired: DesiredState, actual: ActualState, selected: Iterable[str], whole: bool
) -> dict[str, str]:
    """``tenant code -> sha256`` of everything the planner reads about that tenant, plus
    :data:`SHARED`. ``whole``: the plan covered the whole scope (no names), so projects of
    this scope without a tenant file (which ``--prune`` tears down) are covered too.

    Resources are sorted by id, tags as sets, so the order in which the cloud lists things
    does not matter. Each resource carries whether the ownership record holds its id.
    Neutron's ``revision_number``/``updated_at`` are not read by the adapter; every field
    the planner does read is covered, so an equal fingerprint means an equal plan.
    """
    out: dict[str, str] = {}
    codes = list(selected)
    projects = {code: desired.tenants[code].project for code in codes if code in desired.tenants}
    if whole:
        wanted = {t.project for t in desired.tenants.values()}
        for p in actual.projects:
            if p.managed and p.scope == desired.scope and p.name not in wanted:
                projects[p.name.removeprefix(desired.name_prefix)] = p.name
    for code, project in sorted(projects.items()):
        out[code] = sha256_of(_tenant_view(desired, actual, code, project))
    out[SHARED] = sha256_of({"services": dict(sorted(actual.services.items()))})
    return out


def _res(obj: Any, recorded: set[str]) -> dict[str, Any]:
    d = asdict(obj)
    if isinstance(d.get("tags"), list):
        d["tags"] = sorted(d["tags"])
    if "id" in d:
        d["recorded"] = d["id"] in recorded
    return d


def _tenant_view(
    desired: DesiredState, actual: ActualState, code: str, project: str
) -> dict[str, Any]:
    """What the diff of one tenant (or the teardown of one without a file) reads."""
    rec = actual.recorded
    spec = desired.tenants.get(code)
    projs = [p for p in actual.projects if p.name == project]
    pids = {p.id for p in projs}

    def mine(items: list) -> list:
        return sorted((x for x in items if x.project_id in pids), key=lambda x: x.id)

    nets, subs = mine(actual.networks), mine(actual.subnets)
    routers, sgs = mine(actual.routers), mine(actual.security_groups)
    router_ids, sg_ids = {r.id for r in routers}, {g.id for g in sgs}
    rules = sorted((r for r in actual.rules if r.security_group_id in sg_ids), key=lambda r: r.id)
    ifaces = sorted(
        (i for i in actual.router_interfaces if i.router_id in router_ids),
        key=lambda i: (i.router_id, i.port_id, i.subnet_id),
    )
    user_names = {u.name for u in spec.users} if spec else set()
    users = sorted(
        (u for u in actual.users if u.default_project_id in pids or u.name in user_names),
        key=lambda u: u.id,
    )
    assignments = sorted(
        [u, actual.roles.get(r, r)] for u, p, r in actual.role_assignments if p in pids
    )
    role_names = {r for u in spec.users for r in u.roles} if spec else set()
    # names of things outside the tenant that its resources point at (shown and compared
    # by name): external networks, a subnet's network, interfaces' subnets, remote groups
    ext_names = {spec.router.external_network} if spec and spec.router else set()
    ref_nets = {s.network_id for s in subs} | {r.external_network_id for r in routers}
    ref_subs = {i.subnet_id for i in ifaces}
    ref_sgs = {r.remote_group_id for r in rules}
    ref_projects = {u.default_project_id for u in users}
    return {
        "project": project,
        "projects": [_res(p, rec) for p in sorted(projs, key=lambda p: p.id)],
        "networks": [_res(x, rec) for x in nets],
        "subnets": [_res(x, rec) for x in subs],
        "routers": [_res(x, rec) for x in routers],
        "router_interfaces": [asdict(i) for i in ifaces],
        "security_groups": [_res(x, rec) for x in sgs],
        "rules": [asdict(r) for r in rules],
        "users": [_res(u, rec) for u in users],
        "role_assignments": assignments,
        "roles": sorted([i, n] for i, n in actual.roles.items() if n in role_names),
        "quotas": {
            svc: {pid: dict(sorted(q.get(pid, {}).items())) for pid in sorted(pids)}
            for svc, q in sorted(actual.quotas.items())
        },
        "refs": {
            "networks": sorted(
                [n.id, n.name, n.external]
                for n in actual.networks
                if n.id in ref_nets or (n.external and n.name in ext_names)
            ),
            "subnets": sorted([s.id, s.name] for s in actual.subnets if s.id in ref_subs),
            "security_groups": sorted(
                [g.id, g.name] for g in actual.security_groups if g.id in ref_sgs
            ),
            "projects": sorted([p.id, p.name] for p in actual.projects if p.id in ref_projects),
        },
    }


# --------------------------------------------------------------------------- the plan
def plan_body(plan: Plan) -> dict[str, Any]:
    """The plan as shown (``-o json``), each change with the request parameters apply
    will use (bodies without passwords: those are made or read only at apply time)."""
    body = plan.as_dict()
    changes = sorted(plan.changes, key=lambda c: (c.tenant, c.order, c.name))
    body["changes"] = [{**c.as_dict(), "params": c.params} for c in changes]
    body["teardowns"] = dict(sorted(plan.teardowns.items()))
    body["tenants"] = list(plan.tenants)
    # through JSON once, so a plan just computed and one read back compare equal
    return json.loads(canonical(body))


def build(
    plan: Plan,
    *,
    names: list[str] | None,
    prune: bool,
    cloud: str,
    files: dict[str, str],
    desired: str,
    state: dict[str, str],
    version: str,
    created_at: str,
) -> dict[str, Any]:
    """The document ``plan --out`` writes: what to apply, what it was computed from, and
    ``body_sha256`` over all of that."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "cloudctl_version": version,
        "created_at": created_at,
        "cloud": cloud,
        "tenants": list(names) if names else None,  # in the order given: the plan's order
        "prune": prune,
        "inputs": {"files": dict(sorted(files.items())), "desired_sha256": desired},
        "state": {"tenants": dict(sorted(state.items())), "sha256": sha256_of(state)},
        "plan": plan_body(plan),
    }
    doc["body_sha256"] = sha256_of(doc)
    return doc


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


# --------------------------------------------------------------------------- reading back
@dataclass(frozen=True)
class SavedPlan:
    """A plan file read back and checked for integrity (not yet against the world)."""

    doc: dict[str, Any]
    sha256: str  # of the file's bytes, as ``sha256sum`` prints it (named in the audit log)

    @property
    def names(self) -> list[str] | None:
        return self.doc["tenants"]

    @property
    def prune(self) -> bool:
        return bool(self.doc["prune"])

    @property
    def cloud(self) -> str:
        return self.doc["cloud"]

    @property
    def body(self) -> dict[str, Any]:
        return self.doc["plan"]


_FIELDS = {
    "cloudctl_version": str,
    "created_at": str,
    "cloud": str,
    "prune": bool,
    "inputs": dict,
    "state": dict,
    "plan": dict,
    "body_sha256": str,
}


def load(raw: bytes, where: str) -> SavedPlan:
    """Parse a plan file; refuse one that is not a plan file or whose body was edited."""
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(_("not a plan file: not UTF-8"), Location(where)) from None
    except json.JSONDecodeError as e:
        raise InputError(
            _("not a plan file: {msg}").format(msg=e.msg), Location(where, e.lineno)
        ) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else None
        raise InputError(
            _(
                "not a cloudctl tenant plan file (schema {got!r}, "
                "expected {SCHEMA!r}); write one with `cloudctl "
                "tenant plan --out FILE`"
            ).format(got=got, SCHEMA=SCHEMA),
            Location(where),
        )
    bad = [k for k, t in _FIELDS.items() if not isinstance(doc.get(k), t)]
    names = doc.get("tenants")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        bad.append("tenants")
    if bad:
        raise InputError(
            _("damaged plan file: missing or wrong {names}").format(names=", ".join(bad)),
            Location(where),
        )
    claimed = doc["body_sha256"]
    body = {k: v for k, v in doc.items() if k != "body_sha256"}
    if sha256_of(body) != claimed:
        raise InputError(
            _(
                "the plan file was changed after `tenant plan --out` "
                "wrote it (its body does not match body_sha256): "
                "refusing it; plan again"
            ),
            Location(where),
        )
    return SavedPlan(doc, hashlib.sha256(raw).hexdigest())


@dataclass(frozen=True)
class Mismatch:
    """One reason a saved plan no longer holds. ``what``: version | cloud | files |
    desired | state | plan."""

    what: str
    detail: str
    items: tuple[str, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return self.detail + (": " + ", ".join(self.items) if self.items else "")


def check_files(saved: SavedPlan, *, version: str, files: dict[str, str]) -> list[Mismatch]:
    """What can be checked before anything else is read: cloudctl's version, the files."""
    out: list[Mismatch] = []
    if saved.doc["cloudctl_version"] != version:
        out.append(
            Mismatch(
                "version",
                f"the plan was written by cloudctl {saved.doc['cloudctl_version']}, this is "
                f"cloudctl {version}",
            )
        )
    old = saved.doc["inputs"].get("files") or {}
    changed = sorted(p for p in old.keys() & files.keys() if old[p] != files[p])
    items = (
        [f"{p} (changed)" for p in changed]
        + [f"{p} (removed)" for p in sorted(old.keys() - files.keys())]
        + [f"{p} (added)" for p in sorted(files.keys() - old.keys())]
    )
    if items:
        out.append(Mismatch("files", "input files changed since the plan", tuple(items)))
    return out


def check_target(saved: SavedPlan, *, cloud: str, desired: str) -> list[Mismatch]:
    """Before reading the cloud: the same cloud, the same resolved desired state."""
    out: list[Mismatch] = []
    if saved.cloud != cloud:
        out.append(Mismatch("cloud", f"the plan is for cloud {saved.cloud}, this is {cloud}"))
    if saved.doc["inputs"].get("desired_sha256") != desired:
        out.append(
            Mismatch(
                "desired",
                "the desired state changed since the plan (cloudctl.yaml's tenant settings: "
                "name prefix, scope or domain)",
            )
        )
    return out


def check_state(saved: SavedPlan, state: dict[str, str]) -> list[Mismatch]:
    """The cloud state read now (inside the lock) against the one the plan was made from."""
    old: dict[str, str] = saved.doc["state"].get("tenants") or {}
    items = []
    for code in sorted(old.keys() | state.keys()):
        if old.get(code) == state.get(code):
            continue
        if code == SHARED:
            items.append("the cloud's service catalog")
        elif code not in old:
            items.append(f"tenant {code} (a project of this scope appeared)")
        elif code not in state:
            items.append(f"tenant {code} (its project is gone)")
        else:
            items.append(f"tenant {code}")
    if not items:
        return []
    return [Mismatch("state", "the cloud changed since the plan", tuple(items))]


def check_plan(saved: SavedPlan, plan: Plan) -> list[Mismatch]:
    """The plan computed now must equal the saved one, change for change."""
    now = plan_body(plan)
    if now == saved.body:
        return []
    old_c = [_label(c) for c in saved.body.get("changes", [])]
    new_c = [_label(c) for c in now["changes"]]
    items = [f"- {x}" for x in old_c if x not in new_c]
    items += [f"+ {x}" for x in new_c if x not in old_c]
    return [
        Mismatch(
            "plan",
            "the plan computed now differs from the saved one",
            tuple(items[:20]) or ("details differ",),
        )
    ]


def _label(c: dict[str, Any]) -> str:
    return f"{c.get('tenant')}: {c.get('action')} {c.get('kind')} {c.get('name')}"
