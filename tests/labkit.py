"""Helpers shared by the tenant/domains tests and benches: a temp center with copies of the
sample tenant files, a wipe of lab OpenStack projects by name prefix, VM-like ports,
cloudctl as a real process. The lab fixtures (``lab``, ``lab_env``, ``sdk``) are in
tests/conftest.py.

No pytest in here, so bench/ can import it too (with ``tests/`` on ``sys.path``). Tests get
``tests/`` on ``sys.path`` from pytest's rootdir ``tests/conftest.py`` (import mode prepend),
whether the whole suite runs or one file alone.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLOUDCTL = [sys.executable, "-m", "cloudctl"]


def make_center(
    root: Path,
    tenants=("czj",),
    *,
    prefix: str,
    scope: str,
    tenants_dir: str = "tenants",
    own_copies: bool = False,
) -> Path:
    """A center in ``root`` whose OpenStack names get ``prefix`` and the scope ``scope``, with
    copies of the sample tenant files ``tenants`` (and ``_defaults``) in ``root/tenants``.

    The address plan, departments and policies are the repository's; ``own_copies`` copies
    them into the center (for a test the shared tree must not change under, e.g. one that
    fingerprints its inputs). ``tenants_dir`` is what ``cloudctl.yaml`` names, even when the
    files are not there (a mistyped directory)."""
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    for code in (*tenants, "_defaults"):
        shutil.copy(PROJECT_ROOT / "inventory" / "tenants" / f"{code}.yaml", root / "tenants")
    shared = {
        "address_plan": PROJECT_ROOT / "inventory" / "ipam",
        "departments": PROJECT_ROOT / "inventory" / "departments.yaml",
        "policies": PROJECT_ROOT / "policies",
    }
    cfg = {
        "name": f"test center ({scope})",
        "tenants": tenants_dir,
        "state": "state",
        "tenant": {"name_prefix": prefix, "scope": scope},
    }
    for key, src in shared.items():
        if own_copies:
            dst = root / src.relative_to(PROJECT_ROOT)
            dst.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
            cfg[key] = str(dst.relative_to(root))
        else:
            cfg[key] = str(src)
    (root / "cloudctl.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return root


def make_migration_center(root: Path, lab_inventory: Path) -> Path:
    """A center in ``root/center`` for migration waves on the lab: copies of the sample
    center's file, templates, address plan, departments and host inventory, the lab's
    ``lab.yml``, and the shipped playbooks (a symlink). Plans are the caller's."""
    c = root / "center"
    (c / "inventory" / "hosts").mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "cloudctl.yaml", c / "cloudctl.yaml")
    (c / "migration_plans").mkdir()
    shutil.copytree(
        PROJECT_ROOT / "migration_plans" / "templates", c / "migration_plans" / "templates"
    )
    shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", c / "inventory" / "ipam")
    shutil.copy(
        PROJECT_ROOT / "inventory" / "departments.yaml", c / "inventory" / "departments.yaml"
    )
    shutil.copytree(
        PROJECT_ROOT / "inventory" / "hosts" / "group_vars",
        c / "inventory" / "hosts" / "group_vars",
    )
    shutil.copy(PROJECT_ROOT / "inventory" / "hosts" / "center.yml", c / "inventory" / "hosts")
    shutil.copy(lab_inventory, c / "inventory" / "hosts" / "lab.yml")
    (c / "playbooks").symlink_to(PROJECT_ROOT / "playbooks")
    return c


def wipe_projects(conn, prefix: str) -> None:
    """Delete every project whose name starts with ``prefix`` and all that is in it, and the
    users of that prefix, straight through the API: also what a killed run left and what
    cloudctl's destroy keeps (hand-made or unrecorded resources).

    Routers first, all of them (a router may join another prefixed project's network), then
    per project its VM-like ports, networks, groups, quotas, users and the project."""
    projects = [p for p in conn.identity.projects() if p.name.startswith(prefix)]
    pids = {p.id for p in projects}
    for r in list(conn.network.routers()):
        if r.project_id in pids:
            for port in conn.network.ports(device_id=r.id):
                if (port.device_owner or "").startswith("network:router_interface"):
                    conn.network.remove_interface_from_router(r, port_id=port.id)
            conn.network.delete_router(r)
    has_compute, has_volume = conn.has_service("compute"), conn.has_service("block-storage")
    for p in projects:
        for port in conn.network.ports(project_id=p.id):
            if not (port.device_owner or "").startswith("network:"):
                conn.network.delete_port(port)
        for n in conn.network.networks(project_id=p.id):
            conn.network.delete_network(n)
        for g in conn.network.security_groups(project_id=p.id):
            conn.network.delete_security_group(g)
        conn.network.delete_quota(p.id)
        if has_compute:
            conn.delete_compute_quotas(p.id)
        if has_volume:
            conn.delete_volume_quotas(p.id)
        for u in conn.identity.users(default_project_id=p.id):
            conn.identity.delete_user(u)
        conn.identity.delete_project(p)
    for u in conn.identity.users():
        if u.name.startswith(prefix):
            conn.identity.delete_user(u)


def add_vm_ports(conn, project) -> None:
    """One VM-like port per network of ``project`` (``<network>-vm``), carrying the groups a
    VM there would: the one named like the network and ``<project>-ops-ssh``."""
    groups = {g.name: g.id for g in conn.network.security_groups(project_id=project.id)}
    for net in conn.network.networks(project_id=project.id):
        sgs = [g for g in (groups.get(net.name), groups.get(f"{project.name}-ops-ssh")) if g]
        conn.network.create_port(
            network_id=net.id, project_id=project.id, name=f"{net.name}-vm", security_groups=sgs
        )


def run_cloudctl(*args: str, env: dict | None = None, timeout: float = 600):
    """``cloudctl ARGS`` as a real process (its own interpreter, argv and environment)."""
    return subprocess.run(
        [*CLOUDCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def start_cloudctl(*args: str, env: dict | None = None) -> subprocess.Popen:
    """``cloudctl ARGS`` started as a real process, stdout/stderr piped (text)."""
    return subprocess.Popen(
        [*CLOUDCTL, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
