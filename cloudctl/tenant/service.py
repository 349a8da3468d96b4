"""The use cases behind ``cloudctl tenant``: glue between files, the cloud and the diff."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudctl.core.center import Center
from cloudctl.core.errors import InputError, Location
from cloudctl.tenant.apply import PasswordStore
from cloudctl.tenant.desired import (
    AddressPlanView,
    TenantSettings,
    load_desired_from_files,
    plan_view_from_center,
)
from cloudctl.tenant.diff import Plan, compute_plan, destroy_changes
from cloudctl.tenant.model import ActualState, DesiredState


def templates_dir(center: Center) -> Path:
    return center.policies / "security-groups"


def password_store(center: Center) -> PasswordStore:
    return PasswordStore(center.state / "secrets" / "tenant-passwords.yaml")


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


def open_cloud(cloud: str | None, config_file: str | None = None) -> Cloud:
    from cloudctl.tenant.openstack_adapter import OpenStackAdapter, connect

    conn, counter = connect(cloud, config_file)
    return Cloud(OpenStackAdapter(conn, counter), counter)


def read_state(cloud: Cloud, desired: DesiredState, only: Iterable[str] = ()) -> ActualState:
    codes = list(only) or list(desired.tenants)
    wanted = {desired.tenants[c].project for c in codes if c in desired.tenants}

    def quota_projects(projects):
        return [p.id for p in projects if p.managed and p.name in wanted]

    return cloud.adapter.read_actual(domain=desired.domain, quota_projects=quota_projects)


def plan_tenants(
    cloud: Cloud, desired: DesiredState, only: Iterable[str] = (), prune: bool = False
) -> tuple[Plan, ActualState]:
    actual = read_state(cloud, desired, only)
    return compute_plan(desired, actual, only=list(only), prune=prune), actual


def destroy_plan(
    cloud: Cloud, settings: TenantSettings, code: str
) -> tuple[Plan, ActualState, list[str]]:
    """Everything cloudctl owns of one tenant (no tenant file needed: it may be gone)."""
    actual = cloud.adapter.read_actual(domain=settings.domain, quota_projects=lambda ps: [])
    name = f"{settings.name_prefix}{code}"
    proj = next((p for p in actual.projects if p.name == name), None)
    if proj is None:
        raise InputError(f"no project {name!r} in the cloud", Location(code))
    if not proj.managed:
        raise InputError(f"project {name!r} is not managed by cloudctl: not touching it")
    if proj.scope not in (None, settings.scope):
        raise InputError(f"project {name!r} belongs to cloudctl scope {proj.scope!r}")
    changes, kept = destroy_changes(code, proj, actual)
    plan = Plan(changes=changes, tenants=[code])
    if kept:
        plan.notes.append(
            f"project {name} is kept: it holds resources cloudctl does not own: " + ", ".join(kept)
        )
    return plan, actual, kept
