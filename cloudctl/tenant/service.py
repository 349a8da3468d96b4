"""The use cases behind ``cloudctl tenant``: glue between files, the cloud and the diff."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudctl.core.center import Center
from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _
from cloudctl.state import open_state
from cloudctl.tenant.apply import PasswordStore, Recorder
from cloudctl.tenant.desired import (
    AddressPlanView,
    TenantSettings,
    load_desired_from_files,
    plan_view_from_center,
)
from cloudctl.tenant.diff import Plan, compute_plan, destroy_changes
from cloudctl.tenant.guards import needs_ports
from cloudctl.tenant.model import ActualState, DesiredState, Port
from cloudctl.tenant.ownership import StateOwnershipStore, cloud_key
from cloudctl.tenant.passwords import load_policy

#: How long a changing command waits for another one on the same cloud or tenant.
LOCK_WAIT_SECONDS = 60.0


def templates_dir(center: Center) -> Path:
    return center.policies / "security-groups"


def password_store(center: Center) -> PasswordStore:
    return PasswordStore(
        center.state / "secrets" / "tenant-passwords.yaml",
        policy_loader=lambda: load_policy(center.policies),
    )


def ownership_store(center: Center) -> StateOwnershipStore:
    """The record of what cloudctl created, in the center's state database."""
    return StateOwnershipStore(open_state(center))


def recorder(center: Center, cloud: Cloud) -> Recorder:
    return Recorder(ownership_store(center), cloud.key)


@contextlib.contextmanager
def change_lock(
    center: Center,
    cloud: Cloud,
    tenants: Iterable[str],
    *,
    whole_cloud: bool,
    wait: float = LOCK_WAIT_SECONDS,
) -> Iterator[None]:
    """Held by every changing command from reading the cloud until its last write.

    Each tenant has a lock, and the cloud has one. A command on named tenants passes the
    cloud lock (waits while a whole-cloud command runs) and holds its tenants' locks, so
    two operators on different tenants work side by side. A whole-cloud command (apply
    without names, which may prune; destroy) holds the cloud lock and then every tenant
    lock it touches. Locks are taken in one order, so nobody deadlocks; a waiting command
    reads the cloud afresh once it has its locks. The state database decides what a lock
    is: flock files under ``<state>/locks`` (SQLite), advisory locks (PostgreSQL, across
    machines).
    """
    db = open_state(center)
    base = f"tenant-{_slug(cloud.key)}"
    what = f"cloud {cloud.key}"
    with contextlib.ExitStack() as stack:
        if whole_cloud:
            stack.enter_context(db.lock(base, timeout=wait, what=what))
        else:  # only passes: waits until a whole-cloud command has finished
            with db.lock(base, timeout=wait, what=what + " (a whole-cloud command)"):
                pass
        for t in sorted(set(tenants)):
            stack.enter_context(db.lock(f"{base}--{t}", timeout=wait, what=f"tenant {t}"))
        yield


def _slug(key: str) -> str:
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", key)[:40].strip("_")
    return f"{readable}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def load_desired(
    center: Center, only: Iterable[str] = (), plan_view: AddressPlanView | None = None
) -> DesiredState:
    """Validate every tenant file (all of them, even when ``only`` selects a few)."""
    view = plan_view or plan_view_from_center(center)
    settings = TenantSettings.from_center_settings(center.settings)
    return load_desired_from_files(center.tenants, templates_dir(center), view, settings, only)


@dataclass
class Cloud:
    adapter: Any
    counter: Any
    key: str = ""  # Keystone endpoint + region: names the cloud in locks and the record


def open_cloud(cloud: str | None, config_file: str | None = None) -> Cloud:
    from cloudctl.tenant.openstack_adapter import OpenStackAdapter, connect

    conn, counter = connect(cloud, config_file)
    cfg = conn.config
    key = cloud_key(cfg.get_auth_args().get("auth_url"), cfg.get_region_name())
    return Cloud(OpenStackAdapter(conn, counter), counter, key)


def read_state(
    cloud: Cloud, desired: DesiredState, only: Iterable[str] = (), recorded: set[str] = frozenset()
) -> ActualState:
    codes = list(only) or list(desired.tenants)
    wanted = {desired.tenants[c].project for c in codes if c in desired.tenants}

    def quota_projects(projects):
        return [p.id for p in projects if p.managed and p.name in wanted]

    actual = cloud.adapter.read_actual(domain=desired.domain, quota_projects=quota_projects)
    actual.recorded = set(recorded)
    return actual


def plan_tenants(
    cloud: Cloud,
    desired: DesiredState,
    only: Iterable[str] = (),
    prune: bool = False,
    center: Center | None = None,
) -> tuple[Plan, ActualState]:
    """Read the cloud (and, with ``center``, the ownership record) and plan."""
    recorded = ownership_store(center).ids(cloud.key) if center is not None else set()
    actual = read_state(cloud, desired, only, recorded)
    return compute_plan(desired, actual, only=list(only), prune=prune), actual


def ports_before_deletes(cloud: Cloud, plan: Plan, actual: ActualState) -> list[Port]:
    """The ports that could hold a delete back; no request when nothing such is deleted."""
    if not needs_ports(plan.changes):
        return []
    dels = [c for c in plan.changes if c.action == "delete"]
    nets = {c.id for c in dels if c.kind == "network" and c.id}
    subs = {c.id for c in dels if c.kind == "subnet" and c.id}
    nets |= {s.network_id for s in actual.subnets if s.id in subs}
    by_name = {p.name: p.id for p in actual.projects}
    pids = {by_name[c.name.split("/")[0]] for c in dels if c.kind == "quota"}
    pids |= {
        g.project_id
        for g in actual.security_groups
        if g.id in {c.id for c in dels if c.kind == "security_group"}
    }
    return cloud.adapter.read_ports(nets, pids)


def destroy_plan(
    cloud: Cloud, settings: TenantSettings, code: str, center: Center | None = None
) -> tuple[Plan, ActualState, list[str]]:
    """Everything cloudctl created of one tenant (no tenant file needed: it may be gone)."""
    actual = cloud.adapter.read_actual(domain=settings.domain, quota_projects=lambda ps: [])
    if center is not None:
        actual.recorded = ownership_store(center).ids(cloud.key)
    name = f"{settings.name_prefix}{code}"
    proj = next((p for p in actual.projects if p.name == name), None)
    if proj is None:
        raise InputError(_("no project {name!r} in the cloud").format(name=name), Location(code))
    if not proj.managed:
        raise InputError(
            _("project {name!r} is not managed by cloudctl: not touching it").format(name=name)
        )
    if proj.scope not in (None, settings.scope):
        raise InputError(
            _("project {name!r} belongs to cloudctl scope {scope!r}").format(
                name=name, scope=proj.scope
            )
        )
    if proj.id not in actual.recorded:
        raise InputError(
            _(
                "project {name!r} carries cloudctl's marker, but "
                "cloudctl has no record of creating it: not touching "
                "it (if it is yours: `cloudctl tenant adopt {code}` "
                "with its tenant file, then destroy)"
            ).format(name=name, code=code)
        )
    changes, kept = destroy_changes(code, proj, actual)
    plan = Plan(changes=changes, tenants=[code])
    if kept:
        plan.notes.append(
            f"project {name} is kept: it holds resources cloudctl does not own: " + ", ".join(kept)
        )
    return plan, actual, kept


def check_passwords(plan: Plan, store: PasswordStore) -> None:
    """Before the first change: the policy can be read, and every password a new user
    takes from a variable meets it (errors name the user and variable, never the value)."""
    creates = [c for c in plan.changes if c.kind == "user" and c.action == "create"]
    if not creates:
        return
    _ = store.policy
    store.check_file()
    for c in creates:
        store.env_password(c.name, c.params.get("password_env"))
