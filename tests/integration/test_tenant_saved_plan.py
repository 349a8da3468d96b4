"""Saved plans against the lab's real Keystone and Neutron: ``tenant plan --out FILE``,
``tenant apply FILE`` applies exactly that plan, or refuses (exit 2, nothing changed) when
the cloud, the tenant files or the cloud identity changed since, or the file was edited;
``--detailed-exitcode`` with Terraform's meanings.

The temp center holds its own copies of the address plan, departments and policies (the
shared tree may be edited by others meanwhile); OpenStack names get the prefix ``sp-`` and
the scope ``splan``. Hand changes are made, and results read back, with openstacksdk.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from labkit import make_center, wipe_projects
from typer.testing import CliRunner

PREFIX = "sp-"
SCOPE = "splan"


def cloudctl(center: Path, *args: str, env: dict | None = None):
    from cloudctl.cli.app import app

    argv = ["--center", str(center), "--lang", "en", "tenant", *args]
    return CliRunner().invoke(app, argv, env=env, catch_exceptions=False)


def _projects(sdk) -> dict[str, str]:
    return {p.name: p.id for p in sdk.identity.projects() if p.name.startswith(PREFIX)}


@pytest.fixture(scope="module")
def spc(sdk, tmp_path_factory):
    wipe_projects(sdk, PREFIX)
    root = make_center(
        tmp_path_factory.mktemp("saved-plan-center"), prefix=PREFIX, scope=SCOPE, own_copies=True
    )
    yield root
    for code in ("czj", "rsj"):
        if f"{PREFIX}{code}" in _projects(sdk):
            r = cloudctl(root, "destroy", code, "--yes")
            assert r.exit_code == 0, r.output + r.stderr
    left = _projects(sdk)
    wipe_projects(sdk, PREFIX)
    assert not left, left


def _pid(sdk) -> str:
    return _projects(sdk)[f"{PREFIX}czj"]


def _group(sdk, name: str):
    return next(sdk.network.security_groups(name=f"{PREFIX}czj-{name}", project_id=_pid(sdk)))


def _rules(sdk) -> dict[str, tuple]:
    """Every rule of the tenant's groups: id -> what it allows."""
    out = {}
    for g in sdk.network.security_groups(project_id=_pid(sdk)):
        for r in sdk.network.security_group_rules(security_group_id=g.id):
            out[r.id] = (g.name, r.direction, r.protocol, r.port_range_min, r.remote_ip_prefix)
    return out


def _hand_rule(sdk, group: str, port: int):
    g = _group(sdk, group)
    return sdk.network.create_security_group_rule(
        security_group_id=g.id,
        project_id=_pid(sdk),
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=port,
        port_range_max=port,
        remote_ip_prefix="10.99.0.0/24",
        description="made by hand",
    )


def _labels(doc: dict) -> list[str]:
    return sorted(f"{c['action']} {c['kind']} {c['name']}" for c in doc["plan"]["changes"])


def _last_apply_record(center: Path) -> dict:
    recs = [json.loads(x) for x in (center / "state" / "audit.log").read_text().splitlines()]
    return [r for r in recs if r["kind"] == "change" and r["action"] == "tenant.apply"][-1]


# ---------------------------------------------------------------------------- tests
def test_plan_out_then_apply_file_applies_exactly_it(spc, sdk, tmp_path):
    p = tmp_path / "czj.plan"
    r = cloudctl(spc, "plan", "--out", str(p), "--detailed-exitcode", "-o", "json")
    assert r.exit_code == 2, r.stderr  # Terraform: 2 = succeeded, changes present
    shown = json.loads(r.stdout)
    assert oct(p.stat().st_mode & 0o777) == "0o600"
    saved = json.loads(p.read_text())
    assert saved["schema"] == "cloudctl.tenant.planfile/1"
    assert saved["cloud"].startswith("http://127.0.0.1:5000/v3|")
    assert len(saved["plan"]["changes"]) == len(shown["changes"]) > 30
    assert f"{PREFIX}czj" not in _projects(sdk)  # plan --out changed nothing
    r = cloudctl(spc, "apply", str(p), "--dry-run")  # checks it still holds, changes nothing
    assert r.exit_code == 1 and "The saved plan still holds." in r.stdout
    assert f"{PREFIX}czj" not in _projects(sdk)

    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    rec = _last_apply_record(spc)
    assert rec["plan_file"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert rec["plan_file"]["path"] == str(p)
    assert sorted(c["change"] for c in rec["changes"]) == _labels(saved)  # exactly those
    assert all(c["ok"] for c in rec["changes"])
    assert f"{PREFIX}czj" in _projects(sdk)
    assert {g.name for g in sdk.network.security_groups(project_id=_pid(sdk))} >= {
        f"{PREFIX}czj-{n}" for n in ("web", "app", "ops-ssh", "db")
    }
    # a second plan is empty: 0 with --detailed-exitcode (and without), drift too
    assert cloudctl(spc, "plan", "--detailed-exitcode").exit_code == 0
    assert cloudctl(spc, "plan").exit_code == 0
    assert cloudctl(spc, "drift", "--detailed-exitcode").exit_code == 0
    # the same file again: the cloud is not what it was planned against any more
    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 2
    assert "the cloud changed since the plan: tenant czj" in r.stderr


def test_a_hand_change_after_the_plan_refuses_the_apply(spc, sdk, tmp_path):
    first = _hand_rule(sdk, "web", 2201)
    # pending drift: Terraform's 2 with the flag, cloudctl's 1 without
    assert cloudctl(spc, "drift", "--detailed-exitcode").exit_code == 2
    assert cloudctl(spc, "drift").exit_code == 1
    assert cloudctl(spc, "plan", "--detailed-exitcode").exit_code == 2
    p = tmp_path / "czj.plan"
    r = cloudctl(spc, "plan", "--out", str(p))
    assert r.exit_code == 1
    assert _labels(json.loads(p.read_text())) == [
        f"delete security_group_rule {PREFIX}czj-web: ingress 2201/tcp from 10.99.0.0/24"
    ]
    second = _hand_rule(sdk, "app", 2202)  # someone else, after the review
    before = _rules(sdk)
    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 2
    assert "the saved plan no longer holds, nothing was changed" in r.stderr
    assert "the cloud changed since the plan: tenant czj" in r.stderr
    assert _rules(sdk) == before  # nothing changed: both hand rules are still there
    assert {first.id, second.id} <= set(before)
    # a fresh plan reviewed and saved goes through
    assert cloudctl(spc, "plan", "--out", str(p)).exit_code == 1
    assert cloudctl(spc, "apply", str(p), "--auto-approve").exit_code == 0
    assert not {first.id, second.id} & set(_rules(sdk))


def test_a_renamed_group_after_the_plan_refuses_the_apply(spc, sdk, tmp_path):
    p = tmp_path / "czj.plan"
    assert cloudctl(spc, "plan", "--out", str(p)).exit_code == 0  # nothing to do
    g = _group(sdk, "db")
    sdk.network.update_security_group(g, name=f"{PREFIX}czj-db-renamed")
    try:
        r = cloudctl(spc, "apply", "--plan", str(p), "--auto-approve")
        assert r.exit_code == 2
        assert "the cloud changed since the plan: tenant czj" in r.stderr
        assert sdk.network.get_security_group(g.id).name == f"{PREFIX}czj-db-renamed"
    finally:
        sdk.network.update_security_group(g, name=f"{PREFIX}czj-db")


def test_a_tenant_file_edited_after_the_plan_refuses_the_apply(spc, sdk, tmp_path):
    p = tmp_path / "czj.plan"
    assert cloudctl(spc, "plan", "--out", str(p)).exit_code == 0
    f = spc / "tenants" / "czj.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.replace("class: standard", "class: standard\n  network: {port: 123}"))
    port_before = sdk.network.get_quota(_pid(sdk)).ports
    try:
        r = cloudctl(spc, "apply", str(p), "--auto-approve")
        assert r.exit_code == 2
        assert "input files changed since the plan: tenants/czj.yaml (changed)" in r.stderr
        assert sdk.network.get_quota(_pid(sdk)).ports == port_before != 123
    finally:
        f.write_text(text, encoding="utf-8")
    # the same file, the same cloud again: the plan holds (it is the edit that was refused)
    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 0, r.stderr


def test_a_tampered_plan_file_is_refused(spc, sdk, tmp_path):
    hand = _hand_rule(sdk, "web", 2203)
    wanted = next(
        rid for rid, (g, d, _pr, port, _rp) in _rules(sdk).items() if port == 443 and d == "ingress"
    )
    p = tmp_path / "czj.plan"
    assert cloudctl(spc, "plan", "--out", str(p)).exit_code == 1
    original = p.read_bytes()
    doc = json.loads(original)
    (change,) = doc["plan"]["changes"]
    assert change["id"] == hand.id
    change["id"] = wanted  # delete the HTTPS rule instead
    p.write_text(json.dumps(doc, indent=2))
    before = _rules(sdk)
    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 2
    assert "the plan file was changed after `tenant plan --out` wrote it" in r.stderr
    # the same with the body hash recomputed: the fresh plan does not match it
    from cloudctl.tenant.planfile import sha256_of

    del doc["body_sha256"]
    doc["body_sha256"] = sha256_of(doc)
    p.write_text(json.dumps(doc, indent=2))
    r = cloudctl(spc, "apply", str(p), "--auto-approve")
    assert r.exit_code == 2
    assert "the plan computed now differs from the saved one" in r.stderr
    assert _rules(sdk) == before and {hand.id, wanted} <= set(before)
    p.write_bytes(original)  # the file as written: applies
    assert cloudctl(spc, "apply", str(p), "--auto-approve").exit_code == 0
    after = _rules(sdk)
    assert hand.id not in after and wanted in after


def test_a_plan_for_another_cloud_is_refused(spc, sdk, tmp_path, lab_env):
    p = tmp_path / "czj.plan"
    assert cloudctl(spc, "plan", "--out", str(p)).exit_code == 0
    cfg = yaml.safe_load(Path(lab_env.clouds_yaml).read_text())
    cfg["clouds"][lab_env.cloud]["auth"]["auth_url"] = "http://localhost:5000/v3"
    other = tmp_path / "clouds.yaml"
    other.touch(mode=0o600)
    other.write_text(yaml.safe_dump(cfg))
    # (through the variable: openstacksdk puts OS_CLIENT_CONFIG_FILE before --os-config-file)
    r = cloudctl(spc, "apply", str(p), "--auto-approve", env={"OS_CLIENT_CONFIG_FILE": str(other)})
    assert r.exit_code == 2
    assert "the plan is for cloud http://127.0.0.1:5000/v3|" in r.stderr
    assert "this is http://localhost:5000/v3|" in r.stderr


def test_a_saved_prune_plan_keeps_every_guard(spc, sdk, tmp_path):
    """czj's file is gone, rsj's is new: the saved --prune plan tears czj down, which
    needs --allow-destroy-project czj and (a mass deletion) --allow-mass-delete."""
    (spc / "tenants" / "rsj.yaml").write_text("version: 1\ncode: rsj\n")
    kept = tmp_path / "czj.yaml"
    shutil.move(spc / "tenants" / "czj.yaml", kept)
    try:
        p = tmp_path / "prune.plan"
        assert cloudctl(spc, "plan", "--prune", "--out", str(p)).exit_code == 1
        doc = json.loads(p.read_text())
        assert doc["prune"] is True and doc["tenants"] is None
        assert f"delete project {PREFIX}czj" in _labels(doc)
        assert f"create project {PREFIX}rsj" in _labels(doc)
        r = cloudctl(spc, "apply", str(p), "--auto-approve")
        assert r.exit_code == 2 and "--allow-destroy-project czj" in r.stderr
        r = cloudctl(spc, "apply", str(p), "--auto-approve", "--allow-destroy-project", "czj")
        assert r.exit_code == 2 and "--allow-mass-delete" in r.stderr
        assert {f"{PREFIX}czj"} <= set(_projects(sdk))
        assert f"{PREFIX}rsj" not in _projects(sdk)  # refused before the first change
        r = cloudctl(
            spc,
            "apply",
            str(p),
            "--auto-approve",
            "--allow-destroy-project",
            "czj",
            "--allow-mass-delete",
        )
        assert r.exit_code == 0, r.stderr
        assert set(_projects(sdk)) == {f"{PREFIX}rsj"}
        assert cloudctl(spc, "plan", "--prune", "--detailed-exitcode").exit_code == 0
    finally:
        shutil.move(kept, spc / "tenants" / "czj.yaml")
