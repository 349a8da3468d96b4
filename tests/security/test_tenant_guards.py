"""Issue 11 §3, §6, §7 (tenant): destructive plans are guarded, markers are not trusted,
secrets never leak into errors or the audit log, bad tenant input is an input error.

The first tests need no cloud (the files are refused before any connection); the lab
tests (marked ``integration``) use tenants named ``g11-*`` in their own scope.
"""

from __future__ import annotations

import json

import pytest
import yaml
from labkit import make_center, wipe_projects

PREFIX, SCOPE = "g11-", "g11"


# ---------------------------------------------------------------- no cloud needed
@pytest.mark.parametrize("verb", ["validate", "plan", "apply", "drift"])
@pytest.mark.parametrize("layout", ["typo", "empty"])
def test_mistyped_or_empty_tenants_directory_is_refused(cli, tmp_path, verb, layout):
    root = make_center(tmp_path, prefix=PREFIX, scope=SCOPE, tenants_dir="inventory/tenantz")
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
    root = make_center(tmp_path, prefix=PREFIX, scope=SCOPE)
    (root / "tenants" / "czj.yaml").write_text("")
    r = cli("--center", str(root), "tenant", "validate")
    assert r.exit_code == 2
    assert "tenants/czj.yaml:1: the file is empty" in r.stderr


def test_password_env_outside_the_prefix_is_refused_at_its_line(cli, tmp_path):
    root = make_center(tmp_path, prefix=PREFIX, scope=SCOPE)
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
def applied(sdk, tmp_path_factory):
    wipe_projects(sdk, PREFIX)
    root = make_center(tmp_path_factory.mktemp("g11"), ("czj", "rsj"), prefix=PREFIX, scope=SCOPE)
    yield root
    wipe_projects(sdk, PREFIX)


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
