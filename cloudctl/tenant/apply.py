"""Execute a Plan: each tenant in dependency order, independent tenants in parallel.

Stateless on purpose: there is no state file to go stale. A failure stops that tenant's
remaining changes (later ones may depend on it), other tenants carry on, and what was done
is reported; the next ``apply`` re-reads the cloud and converges from wherever it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cloudctl.core.errors import CloudctlError
from cloudctl.tenant.diff import Change, Plan, primary
from cloudctl.tenant.model import ActualState, RuleSpec
from cloudctl.tenant.ownership import RECORDED_KINDS, OwnershipStore
from cloudctl.tenant.passwords import PasswordStore

__all__ = ["ApplyResult", "PasswordStore", "Recorder", "execute"]


@dataclass
class Recorder:
    """Writes what apply creates (and forgets what it deletes) in the ownership record."""

    store: OwnershipStore
    cloud: str

    def created(self, kind: str, rid: str, name: str, tenant: str) -> None:
        if kind in RECORDED_KINDS:
            self.store.record(self.cloud, kind, rid, name, tenant)

    def deleted(self, kind: str, rid: str | None) -> None:
        if kind in RECORDED_KINDS and rid:
            self.store.forget(self.cloud, rid)


@dataclass
class ChangeResult:
    change: Change
    ok: bool
    error: str = ""
    skipped: bool = False


@dataclass
class TenantResult:
    tenant: str
    results: list[ChangeResult] = field(default_factory=list)

    @property
    def failed(self) -> ChangeResult | None:
        return next((r for r in self.results if not r.ok and not r.skipped), None)

    @property
    def done(self) -> int:
        return sum(1 for r in self.results if r.ok)


@dataclass
class ApplyResult:
    tenants: list[TenantResult]

    @property
    def ok(self) -> bool:
        return all(t.failed is None for t in self.tenants)

    def counts(self) -> dict[str, int]:
        done = sum(t.done for t in self.tenants)
        failed = sum(1 for t in self.tenants if t.failed)
        not_run = sum(1 for t in self.tenants for r in t.results if r.skipped)
        return {"done": done, "failed_tenants": failed, "not_run": not_run}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.counts(),
            "tenants": [
                {
                    "tenant": t.tenant,
                    "done": t.done,
                    "failed": (
                        {
                            "change": f"{t.failed.change.action} {t.failed.change.kind} "
                            f"{t.failed.change.name}",
                            "error": t.failed.error,
                        }
                        if t.failed
                        else None
                    ),
                    "not_run": [
                        f"{r.change.action} {r.change.kind} {r.change.name}"
                        for r in t.results
                        if r.skipped
                    ],
                }
                for t in self.tenants
            ],
        }


class _Ids:
    """Name → ID per kind for one tenant, seeded from the cloud, grown by creates."""

    def __init__(self, actual: ActualState, project: str | None):
        self.map: dict[tuple[str, str], str] = {}
        proj = next((p for p in actual.projects if p.name == project), None)
        pid = proj.id if proj else None
        if proj:
            self.map[("project", proj.name)] = proj.id
        for kind, items in (
            ("network", actual.networks),
            ("subnet", actual.subnets),
            ("router", actual.routers),
            ("security_group", actual.security_groups),
        ):
            same: dict[str, list] = {}
            for it in items:
                if pid and it.project_id == pid:
                    same.setdefault(it.name, []).append(it)
            for name, group in same.items():  # a name held twice: the one the diff used
                self.map[(kind, name)] = primary(group, actual.recorded).id
        for u in actual.users:
            self.map[("user", u.name)] = u.id
        for rid, name in actual.roles.items():
            self.map[("role", name)] = rid
        self.rule_keys: dict[str, set[tuple]] = {}  # SG name -> keys present after create

    def get(self, kind: str, name: str) -> str:
        try:
            return self.map[(kind, name)]
        except KeyError:
            raise CloudctlError(f"{kind} {name!r} is not known (a previous step failed?)") from None


def execute(
    plan: Plan,
    adapter: Any,
    actual: ActualState,
    passwords: PasswordStore,
    *,
    parallel: int = 4,
    on_change: Callable[[ChangeResult], None] | None = None,
    recorder: Recorder | None = None,
) -> ApplyResult:
    """Run the plan. With ``recorder``, every id created is recorded before the next
    change, and every id deleted is forgotten (without one, e.g. in benches, the next
    apply adopts what matches the desired state)."""
    by_tenant = plan.by_tenant()
    projects = {t: _project_name(cs) for t, cs in by_tenant.items()}

    def run(tenant: str) -> TenantResult:
        res = TenantResult(tenant)
        ids = _Ids(actual, projects.get(tenant))
        failed = False
        for batch in _batches(by_tenant[tenant]):
            if failed:
                done = [ChangeResult(ch, ok=False, skipped=True) for ch in batch]
            else:
                try:
                    if len(batch) == 1:
                        _apply_one(batch[0], adapter, ids, passwords, recorder)
                    else:
                        _create_rules(batch, adapter, ids)
                    done = [ChangeResult(ch, ok=True) for ch in batch]
                except CloudctlError as e:
                    done = [ChangeResult(ch, ok=False, error=e.message) for ch in batch]
                    failed = True
                except Exception as e:  # the cloud failed in a way we did not foresee
                    err = f"{type(e).__name__}: {e}"
                    done = [ChangeResult(ch, ok=False, error=err) for ch in batch]
                    failed = True
            for r in done:
                res.results.append(r)
                if on_change:
                    on_change(r)
        return res

    tenants = list(by_tenant)
    if parallel <= 1 or len(tenants) <= 1:
        results = [run(t) for t in tenants]
    else:
        with ThreadPoolExecutor(max_workers=parallel) as ex:
            results = list(ex.map(run, tenants))
    return ApplyResult(results)


def _batches(changes: list[Change]) -> list[list[Change]]:
    """One change per request, except the new rules of one security group: Neutron
    creates a list of them in one ``POST`` (all or nothing; one group per request)."""
    out: list[list[Change]] = []
    for ch in changes:
        bulk = ch.kind == "security_group_rule" and ch.action == "create"
        last = out[-1][0] if out else None
        if (
            bulk
            and last is not None
            and (last.kind, last.action) == (ch.kind, ch.action)
            and last.params["security_group_ref"] == ch.params["security_group_ref"]
        ):
            out[-1].append(ch)
        else:
            out.append([ch])
    return out


def _rule_body(ch: Change, ids: _Ids) -> dict | None:
    p = ch.params
    if tuple(p["key"]) in ids.rule_keys.get(p["security_group_ref"], set()):
        return None  # Neutron already made it with the group (default egress)
    body = dict(p.get("body") or {})
    body["security_group_id"] = ids.get("security_group", p["security_group_ref"])
    body["project_id"] = ids.get("project", p["project_ref"])
    if p.get("remote_group_ref"):
        body["remote_group_id"] = ids.get("security_group", p["remote_group_ref"])
    return body


def _create_rules(batch: list[Change], ad: Any, ids: _Ids) -> None:
    bodies = [b for b in (_rule_body(ch, ids) for ch in batch) if b is not None]
    if len(bodies) == 1:
        ad.create("security_group_rule", bodies[0])
    elif bodies:
        ad.create_many("security_group_rule", bodies)


def _project_name(changes: list[Change]) -> str | None:
    for c in changes:
        ref = c.params.get("project_ref")
        if ref:
            return ref
        if c.kind == "project":
            return c.name
    return None


def _apply_one(
    ch: Change, ad: Any, ids: _Ids, passwords: PasswordStore, rec: Recorder | None = None
) -> None:
    def created(rid: str) -> None:
        ids.map[(ch.kind, ch.name)] = rid
        if rec is not None:
            rec.created(ch.kind, rid, ch.name, ch.tenant)

    _apply_change(ch, ad, ids, passwords, created)
    if rec is not None and ch.action == "delete":
        rec.deleted(ch.kind, ch.id)


def _apply_change(
    ch: Change, ad: Any, ids: _Ids, passwords: PasswordStore, created: Callable[[str], None]
) -> None:
    """One change; ``created`` gets a new resource's id the moment the cloud returns it
    (before a separate tag call, so a lost tag call loses no ownership record)."""
    p = ch.params
    kind, action = ch.kind, ch.action
    body = dict(p.get("body") or {})
    pid = None
    if "project_ref" in p and action == "create":
        pid = ids.get("project", p["project_ref"])
    if kind == "project":
        if action == "create":
            created(ad.create_project(body))
        elif action == "update":
            ad.update_project(ch.id, body)
        else:
            ad.delete_project(ch.id)
        return
    if kind in ("network", "subnet", "router", "security_group"):
        if action == "create":
            body["project_id"] = pid
            if kind == "subnet":
                body["network_id"] = ids.get("network", p["network_ref"])
            obj = ad.create(kind, body, on_created=lambda o: created(o["id"]))
            if kind == "security_group":
                _settle_default_rules(ch, obj, ad, ids)
        elif action == "update":
            if "tags" in p:
                ad.set_tags(kind, ch.id, p["tags"])
            if body:
                ad.update(kind, ch.id, body)
        else:
            ad.delete(kind, ch.id)
        return
    if kind == "router_interface":
        if action == "create":
            ad.add_interface(ids.get("router", p["router_ref"]), ids.get("subnet", p["subnet_ref"]))
        else:
            ad.remove_interface(p["router_id"], p["port_id"])
        return
    if kind == "security_group_rule":
        if action == "delete":
            ad.delete("security_group_rule", ch.id)
            return
        _create_rules([ch], ad, ids)
        return
    if kind == "quota":
        svc = p["service"]
        if action == "delete":
            ad.delete_quota(svc, p["project_id"])
        else:
            ad.set_quota(svc, ids.get("project", p["project_ref"]), body)
        return
    if kind == "user":
        if action == "create":
            body["default_project_id"] = pid
            body["password"] = passwords.password_for(ch.name, p.get("password_env"))
            created(ad.create_user(body))
        elif action == "update":
            if p.get("default_project_ref"):
                body["default_project_id"] = ids.get("project", p["default_project_ref"])
            ad.update_user(ch.id, body)
        else:
            ad.delete_user(ch.id)
        return
    if kind == "role_assignment":
        pid = ids.get("project", p["project_ref"])
        uid = ids.get("user", p["user_ref"])
        rid = ids.get("role", p["role_ref"])
        if action == "create":
            ad.grant_role(pid, uid, rid)
        else:
            ad.revoke_role(pid, uid, rid)
        return
    raise CloudctlError(f"cannot {action} a {kind}")


def _settle_default_rules(ch: Change, sg: dict, ad: Any, ids: _Ids) -> None:
    """Neutron gives every new group allow-all egress rules: keep them if the template wants
    them (then the rule creates are skipped), delete them otherwise."""
    from cloudctl.tenant.openstack_adapter import rule_from_api

    wanted = {tuple(k) for k in ch.params.get("rule_keys", [])}
    present: set[tuple] = set()
    for raw in sg.get("security_group_rules") or []:
        r = rule_from_api(raw)
        key = RuleSpec(
            direction=r.direction,
            ethertype=r.ethertype,
            protocol=r.protocol,
            port_min=r.port_min,
            port_max=r.port_max,
            remote_ip_prefix=r.remote_ip_prefix,
            remote_group=ch.name if r.remote_group_id == sg["id"] else r.remote_group_id,
        ).key()
        if key in wanted:
            present.add(key)
        else:
            ad.delete("security_group_rule", r.id)
    ids.rule_keys[ch.name] = present
