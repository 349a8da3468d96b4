"""Issue 11 §3, §6, §7 (tenant): destructive plans are guarded, markers are not trusted,
secrets never leak into errors or the audit log, bad tenant input is an input error.

The first tests need no cloud (the files are refused before any connection); the lab
tests (marked ``integration``) use tenants named ``g11-*`` in their own scope.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import openstack
import openstack.config
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "g11-"


def make_center(root: Path, tenants=("czj",), prefix=PREFIX, scope="g11", tenants_dir="tenants"):
    (root / "tenants").mkdir(parents=True, exist_ok=True)
    for code in (*tenants, "_defaults"):
        shutil.copy(ROOT / "inventory" / "tenants" / f"{code}.yaml", root / "tenants")
    cfg = {
        "name": "g11",
        "address_plan": str(ROOT / "inventory" / "ipam"),
        "departments": str(ROOT / "inventory" / "departments.yaml"),
        "tenants": tenants_dir,
        "policies": str(ROOT / "policies"),
        "state": "state",
        "tenant": {"name_prefix": prefix, "scope": scope},
    }
    (root / "cloudctl.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return root


# ---------------------------------------------------------------- no cloud needed
@pytest.mark.parametrize("verb", ["validate", "plan", "apply", "drift"])
@pytest.mark.parametrize("layout", ["typo", "empty"])
def test_mistyped_or_empty_tenants_directory_is_refused(cli, tmp_path, verb, layout):
    root = make_center(tmp_path, tenants_dir="inventory/tenantz")
    if layout == "empty":
        (root / "inventory" / "tenantz").mkdir(parents=True)
    args = [verb] + (["--prune", "--auto-approve"] if verb == "apply" else [])
    # a cloud that does not exist: the files must be refused before any connection
    extra = ["--os-cloud", "no-such-cloud"] if verb != "validate" else []
    r = cli("--center", str(root), "--lang", "en", "tenant", *args, *extra)
    assert r.exit_code == 2, r.output
    assert "tenantz" in r.stderr and ("not found" in r.stderr or "no tenant files" in r.stderr)
    assert "0 tenant file(s) valid" not in r.output


def test_empty_tenant_file_names_its_path(cli, tmp_path):
    root = make_center(tmp_path)
    (root / "tenants" / "czj.yaml").write_text("")
    r = cli("--center", str(root), "tenant", "validate")
    assert r.exit_code == 2
    assert "tenants/czj.yaml:1: the file is empty" in r.stderr


def test_password_env_outside_the_prefix_is_refused_at_its_line(cli, tmp_path):
    root = make_center(tmp_path)
    f = root / "tenants" / "czj.yaml"
    text = f.read_text().replace("roles: [reader]", "roles: [reader], password_env: HOME", 1)
    assert "HOME" in text
    f.write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "HOME" in s)
    r = cli("--center", str(root), "tenant", "validate")
    assert r.exit_code == 2
    assert f"tenants/czj.yaml:{line}: password_env: only environment variables named " in r.stderr


# ---------------------------------------------------------------- lab
@pytest.fixture(scope="module")
def lab_env():
    from cloudctl.lab.api import ensure_lab

    lab = ensure_lab(center=ROOT)
    old = {k: os.environ.get(k) for k in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD")}
    os.environ.update(lab.env())
    yield lab
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def sdk(lab_env):
    cfg = openstack.config.OpenStackConfig(config_files=[str(lab_env.clouds_yaml)])
    return openstack.connection.Connection(config=cfg.get_one(cloud=lab_env.cloud))


def wipe(sdk, prefix: str) -> None:
    """Remove every ``prefix`` thing left by this module (cloudctl-made or not)."""
    for p in list(sdk.identity.projects()):
        if not p.name.startswith(prefix):
            continue
        for port in list(sdk.network.ports(project_id=p.id)):
            if port.device_owner not in ("network:router_interface", "network:dhcp"):
                sdk.network.delete_port(port)
        for r in sdk.network.routers(project_id=p.id):
            for port in sdk.network.ports(device_id=r.id, device_owner="network:router_interface"):
                sdk.network.remove_interface_from_router(r, port_id=port.id)
            sdk.network.delete_router(r)
        for n in sdk.network.networks(project_id=p.id):
            sdk.network.delete_network(n)
        for g in sdk.network.security_groups(project_id=p.id):
            sdk.network.delete_security_group(g)
        for u in sdk.identity.users(default_project_id=p.id):
            sdk.identity.delete_user(u)
        sdk.identity.delete_project(p)
    for u in sdk.identity.users():
        if u.name.startswith(prefix):
            sdk.identity.delete_user(u)


@pytest.fixture(scope="module")
def applied(sdk, tmp_path_factory):
    wipe(sdk, PREFIX)
    root = make_center(tmp_path_factory.mktemp("g11"), tenants=("czj", "rsj"))
    yield root
    wipe(sdk, PREFIX)


def run(cli, root, *args, input=None):
    return cli("--center", str(root), "--lang", "en", "tenant", *args, input=input)


@pytest.mark.integration
def test_apply_then_forged_markers_are_drift_and_never_pruned(cli, sdk, applied):
    r = run(cli, applied, "apply", "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    pid = sdk.identity.find_project(f"{PREFIX}czj").id
    forged = sdk.network.create_network(name=f"{PREFIX}czj-dept", project_id=pid)
    sdk.network.set_tags(forged, ["managed-by=cloudctl"])
    user = sdk.identity.create_user(
        name=f"{PREFIX}czj-intruder",
        default_project_id=pid,
        description="added by the department [managed-by=cloudctl]",
        domain_id="default",
    )
    r = run(cli, applied, "drift", "-o", "json")
    assert r.exit_code == 1
    got = {(d["kind"], d["name"], d["what"]) for d in json.loads(r.output)["drift"]}
    assert ("network", f"{PREFIX}czj-dept", "not-created-by-cloudctl") in got
    assert ("user", f"{PREFIX}czj-intruder", "not-created-by-cloudctl") in got
    r = run(cli, applied, "plan", "--prune")
    assert r.exit_code == 1 and "claims to be managed by cloudctl" in r.output
    r = run(cli, applied, "apply", "--prune", "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.network.find_network(forged.id) is not None
    assert sdk.identity.find_user(user.id) is not None
    sdk.network.delete_network(forged)
    sdk.identity.delete_user(user)
    assert run(cli, applied, "drift").exit_code == 0


@pytest.mark.integration
def test_removing_a_tenant_file_needs_its_code_and_a_mass_delete_needs_more(cli, sdk, applied):
    (applied / "tenants" / "rsj.yaml").rename(applied / "rsj.yaml.away")
    try:
        before = {n.id for n in sdk.network.networks() if n.name.startswith(PREFIX)}
        r = run(cli, applied, "apply", "--prune", "--auto-approve")
        assert r.exit_code == 2
        assert "whole tenant(s): rsj (" in r.stderr and "--allow-destroy-project rsj" in r.stderr
        # named, but rsj is half of what is managed here: typed confirmation, no TTY -> refused
        r = run(
            cli, applied, "apply", "--prune", "--auto-approve", "--allow-destroy-project", "rsj"
        )
        assert r.exit_code == 2
        assert "not interactive; add --allow-mass-delete" in r.stderr
        assert {n.id for n in sdk.network.networks() if n.name.startswith(PREFIX)} == before
    finally:
        (applied / "rsj.yaml.away").rename(applied / "tenants" / "rsj.yaml")


@pytest.mark.integration
def test_typed_confirmation_on_a_terminal(cli, sdk, applied, monkeypatch):
    from cloudctl.cli import tenant as tenant_cli

    monkeypatch.setattr(tenant_cli, "_isatty", lambda: True)
    (applied / "tenants" / "rsj.yaml").rename(applied / "rsj.yaml.away")
    try:
        args = ("apply", "--prune", "--auto-approve", "--allow-destroy-project", "rsj")
        r = run(cli, applied, *args, input="yes\n")
        assert r.exit_code == 1 and "Type 'delete " in r.output and "Cancelled" in r.output
        assert sdk.identity.find_project(f"{PREFIX}rsj") is not None
        n = int(r.output.split("Type 'delete ")[1].split("'")[0])
        r = run(cli, applied, *args, input=f"delete {n}\n")
        assert r.exit_code == 0, r.output + r.stderr
        assert sdk.identity.find_project(f"{PREFIX}rsj") is None
    finally:
        (applied / "rsj.yaml.away").rename(applied / "tenants" / "rsj.yaml")


@pytest.mark.integration
def test_damaged_secrets_file_never_reaches_output_or_audit(cli, sdk, applied):
    f = applied / "tenants" / "czj.yaml"
    doc = yaml.safe_load(f.read_text())
    doc["users"].append({"name": "extra", "roles": ["member"]})
    f.write_text(yaml.safe_dump(doc, allow_unicode=True))
    secrets = applied / "state" / "secrets" / "tenant-passwords.yaml"
    good = secrets.read_text()
    secret = "Hunter2-S3cret-value"
    secrets.write_text(good + f"{PREFIX}broken: [{secret}\n")
    try:
        r = run(cli, applied, "apply", "--auto-approve")
        assert r.exit_code == 2
        assert "secrets file is damaged" in r.stderr
        audit = (applied / "state" / "audit.log").read_text()
        assert secret not in r.output + r.stderr and secret not in audit
        assert sdk.identity.find_user(f"{PREFIX}czj-extra") is None  # refused before creating
    finally:
        secrets.write_text(good)
        doc["users"].pop()
        f.write_text(yaml.safe_dump(doc, allow_unicode=True))
