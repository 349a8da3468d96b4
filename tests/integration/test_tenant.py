"""``cloudctl tenant`` against the lab's real Keystone, Neutron, Nova and Cinder APIs.

A temp center holds copies of a few sample tenant files; every OpenStack name gets the
``t-`` prefix and the scope ``itest`` so nothing else in the cloud is touched. Results are
read back with openstacksdk directly (not through cloudctl's adapter).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import openstack
import pytest
import yaml
from labkit import make_center, run_cloudctl, wipe_projects

from cloudctl.core.center import load_center
from cloudctl.tenant import service
from cloudctl.tenant.apply import execute

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TENANTS = ("czj", "rsj")
SCOPE = "itest"
PREFIX = "t-"


@pytest.fixture(scope="module")
def tcenter(sdk, tmp_path_factory):
    wipe_projects(sdk, PREFIX)
    root = make_center(
        tmp_path_factory.mktemp("tenant-center"), TENANTS, prefix=PREFIX, scope=SCOPE
    )
    yield root
    wipe_projects(sdk, PREFIX)
    left = [p.name for p in sdk.identity.projects() if p.name.startswith(PREFIX)]
    assert not left, left


def run(cli, center: Path, *args: str):
    return cli("--center", str(center), "--lang", "en", "tenant", *args)


def test_bad_tenant_file_fails_with_file_line_before_any_api_call(cli, sdk, tmp_path):
    root = make_center(tmp_path / "bad", ("czj",), prefix="t-bad-", scope=SCOPE)
    f = root / "tenants" / "czj.yaml"
    text = f.read_text(encoding="utf-8")
    text = text.replace("allocation: czj-db", "allocation: czj-nope")
    text = text.replace("template: ops-ssh", "template: telnet")
    text = text.replace("class: standard", "class: standard\n  network: {port: -3}")
    f.write_text(text, encoding="utf-8")
    lines = text.splitlines()
    line_of = {
        k: next(i + 1 for i, s in enumerate(lines) if k in s)
        for k in ("czj-nope", "telnet", "port: -3")
    }
    before = {p.name for p in sdk.identity.projects()}
    # a cloud that does not exist: had anything tried to connect, it would fail differently
    r = run(cli, root, "apply", "--auto-approve", "--os-cloud", "no-such-cloud")
    assert r.exit_code == 2
    err = r.stderr
    assert f"tenants/czj.yaml:{line_of['czj-nope']}: unknown allocation 'czj-nope'" in err
    assert f"tenants/czj.yaml:{line_of['telnet']}: unknown security-group template 'telnet'" in err
    assert f"tenants/czj.yaml:{line_of['port: -3']}: quotas.network.port: negative quota -3" in err
    assert "Traceback" not in err
    # the same with the real cloud: still nothing created; audited as refused, no change
    r = cli("--center", str(root), "tenant", "apply", "--auto-approve")
    assert r.exit_code == 2
    assert {p.name for p in sdk.identity.projects()} == before
    assert not any(n.name.startswith("t-bad-") for n in sdk.network.networks())
    recs = [json.loads(x) for x in (root / "state" / "audit.log").read_text().splitlines()]
    assert [x["kind"] for x in recs] == ["intent", "outcome"] * 2
    assert recs[-1]["result"] == "refused"


def test_apply_creates_everything_as_desired(cli, sdk, tcenter):
    r = run(cli, tcenter, "apply", "--auto-approve", "--parallel", "2")
    assert r.exit_code == 0, r.output + r.stderr
    desired = service.load_desired(load_center(tcenter))
    for t in desired.tenants.values():
        proj = sdk.identity.find_project(t.project)
        assert proj is not None
        assert "managed-by=cloudctl" in proj.tags and f"cloudctl-scope={SCOPE}" in proj.tags
        assert proj.description == t.description
        pid = proj.id
        nets = {n.name: n for n in sdk.network.networks(project_id=pid)}
        assert set(nets) == {n.name for n in t.networks}
        for n in t.networks:
            assert "managed-by=cloudctl" in nets[n.name].tags
            assert nets[n.name].description == n.description
            for s in n.subnets:
                got = sdk.network.find_subnet(s.name, project_id=pid)
                assert got.network_id == nets[n.name].id
                assert got.cidr == s.cidr
                assert got.gateway_ip == s.gateway_ip
                assert [(p["start"], p["end"]) for p in got.allocation_pools] == list(
                    s.allocation_pools
                )
                assert got.dns_nameservers == list(s.dns_nameservers)
                assert got.is_dhcp_enabled == s.enable_dhcp
                assert "managed-by=cloudctl" in got.tags
        (router,) = list(sdk.network.routers(project_id=pid))
        assert router.name == t.router.name and router.external_gateway_info is None
        ports = sdk.network.ports(device_id=router.id, device_owner="network:router_interface")
        on = {sdk.network.get_subnet(ip["subnet_id"]).name for p in ports for ip in p.fixed_ips}
        assert on == set(t.router.interfaces)
        groups = {g.name: g for g in sdk.network.security_groups(project_id=pid)}
        for g in t.security_groups:
            rules = list(sdk.network.security_group_rules(security_group_id=groups[g.name].id))
            assert {x.project_id for x in rules} == {pid}  # counted against the tenant's quota
            got_keys = set()
            for x in rules:
                remote = None
                if x.remote_group_id:
                    remote = next(n for n, v in groups.items() if v.id == x.remote_group_id)
                prefix = x.remote_ip_prefix or (
                    None if remote else ("0.0.0.0/0" if x.ether_type == "IPv4" else "::/0")
                )
                got_keys.add(
                    (
                        x.direction,
                        x.ether_type,
                        x.protocol,
                        x.port_range_min,
                        x.port_range_max,
                        prefix,
                        remote,
                    )
                )
            assert got_keys == {r.key() for r in g.rules}, g.name
        ssh = next(g for g in t.security_groups if g.template == "ops-ssh")
        ssh_rules = list(sdk.network.security_group_rules(security_group_id=groups[ssh.name].id))
        assert {
            (x.port_range_min, x.remote_ip_prefix) for x in ssh_rules if x.protocol == "tcp"
        } == {(22, "10.40.0.0/20")}
        q = sdk.network.get_quota(pid)
        assert (q.networks, q.subnets, q.ports, q.routers) == tuple(
            t.quotas["network"][k] for k in ("network", "subnet", "port", "router")
        )
        assert (q.security_groups, q.security_group_rules) == (
            t.quotas["network"]["security_group"],
            t.quotas["network"]["security_group_rule"],
        )
        cq = sdk.compute.get_quota_set(pid)
        assert (cq.cores, cq.ram, cq.instances) == tuple(
            t.quotas["compute"][k] for k in ("cores", "ram", "instances")
        )
        vq = sdk.block_storage.get_quota_set(pid)
        assert (vq.volumes, vq.gigabytes, vq.snapshots) == tuple(
            t.quotas["volume"][k] for k in ("volumes", "gigabytes", "snapshots")
        )
        roles = {r.id: r.name for r in sdk.identity.roles()}
        for u in t.users:
            user = sdk.identity.find_user(u.name)
            assert user.default_project_id == pid
            assert "[managed-by=cloudctl]" in user.description
            got_roles = {
                roles[a.role["id"]]
                for a in sdk.identity.role_assignments(user_id=user.id, scope_project_id=pid)
            }
            assert got_roles == set(u.roles)
    # passwords: kept private, never in the output or the audit log
    secrets_file = tcenter / "state" / "secrets" / "tenant-passwords.yaml"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    pw = yaml.safe_load(secrets_file.read_text())
    assert set(pw) == {u.name for t in desired.tenants.values() for u in t.users}
    audit = (tcenter / "state" / "audit.log").read_text()
    for p in pw.values():
        assert p not in r.output and p not in audit
    rec = json.loads(audit.splitlines()[-1])
    assert rec["action"] == "tenant.apply" and rec["result"] == "ok"


def test_member_can_log_in_with_the_stored_password(lab_env, tcenter):
    pw = yaml.safe_load((tcenter / "state" / "secrets" / "tenant-passwords.yaml").read_text())
    conn = openstack.connect(
        load_yaml_config=False,
        load_envvars=False,
        region_name="RegionOne",
        auth={
            "auth_url": "http://127.0.0.1:5000/v3",
            "username": "t-czj-ops",
            "password": pw["t-czj-ops"],
            "user_domain_name": "Default",
            "project_name": "t-czj",
            "project_domain_name": "Default",
        },
    )
    names = {n.name for n in conn.network.networks()}
    assert "t-czj-app" in names and "t-rsj-app" not in names


def test_second_apply_makes_zero_write_calls(cli, tcenter):
    r = run(cli, tcenter, "apply", "--auto-approve", "-o", "json")
    assert r.exit_code == 0, r.output + r.stderr
    out = json.loads(r.output)
    assert out["summary"] == {"create": 0, "update": 0, "delete": 0}
    assert out["requests"]["writes"] == 0
    # bulk reads: one list per kind (+ token, + per-project Nova/Cinder quota sets)
    assert out["requests"]["requests"] <= 16 + 2 * len(TENANTS)
    r = run(cli, tcenter, "plan")
    assert r.exit_code == 0 and "No changes" in r.output


def test_plan_as_a_real_subprocess(lab_env, tcenter):
    env = {**os.environ, **lab_env.env(), "CLOUDCTL_CENTER": str(tcenter)}
    p = run_cloudctl("tenant", "plan", "-o", "yaml", env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert yaml.safe_load(p.stdout)["summary"] == {"create": 0, "update": 0, "delete": 0}


def test_out_of_band_changes_are_drift_and_apply_reverts_them(cli, sdk, tcenter):
    pid = sdk.identity.find_project("t-czj").id
    sg = sdk.network.find_security_group("t-czj-ops-ssh", project_id=pid)
    evil = sdk.network.create_security_group_rule(
        security_group_id=sg.id,
        direction="ingress",
        ethertype="IPv4",
        protocol="tcp",
        port_range_min=22,
        port_range_max=22,
        remote_ip_prefix="0.0.0.0/0",
    )
    sub = sdk.network.find_subnet("t-czj-app", project_id=pid)
    sdk.network.update_subnet(sub, dns_nameservers=["10.99.0.53"])
    r = run(cli, tcenter, "drift")
    assert r.exit_code == 1
    assert "WIDE OPEN: ingress 22/tcp from 0.0.0.0/0" in r.output
    assert "dns_nameservers" in r.output and "10.99.0.53" in r.output
    r = run(cli, tcenter, "drift", "-o", "json")
    data = json.loads(r.output)
    assert data["requests"]["writes"] == 0  # drift is read-only
    assert {(d["kind"], d["what"]) for d in data["drift"]} == {
        ("security_group_rule", "unexpected"),
        ("subnet", "changed"),
    }
    r = run(cli, tcenter, "apply", "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.network.find_security_group_rule(evil.id) is None
    assert sdk.network.get_subnet(sub.id).dns_nameservers == ["10.40.1.53", "10.40.1.54"]
    assert run(cli, tcenter, "drift").exit_code == 0


def test_neutron_restart_mid_apply_then_apply_converges(sdk, tcenter, lab_env):
    from cloudctl.lab import procs
    from cloudctl.lab.api import ensure_lab
    from cloudctl.lab.paths import LabPaths

    center = load_center(tcenter)
    shutil.copy(PROJECT_ROOT / "inventory" / "tenants" / "gaj.yaml", tcenter / "tenants")
    rec_file = LabPaths.from_env().run / "svc-neutron.json"
    desired = service.load_desired(center, ["gaj"])
    cloud = service.open_cloud(None)
    plan, actual = service.plan_tenants(cloud, desired, ["gaj"])
    assert len(plan.changes) > 20
    killed = threading.Event()

    def on_change(res):
        # after the project and the first network exist, Neutron goes away
        if not killed.is_set() and res.change.kind == "network" and res.ok:
            rec = procs.ProcRecord.load(rec_file)
            assert rec is not None and procs.is_running(rec)
            procs.terminate([rec])
            killed.set()

    result = execute(
        plan, cloud.adapter, actual, service.password_store(center), on_change=on_change
    )
    assert killed.is_set()
    assert not result.ok
    (t,) = result.tenants
    assert t.done >= 2 and t.failed is not None
    assert any(r.skipped for r in t.results)
    ensure_lab(center=PROJECT_ROOT)  # brings the dead service back
    cloud = service.open_cloud(None)
    plan, actual = service.plan_tenants(cloud, desired, ["gaj"])
    assert plan.changes and not plan.problems
    result = execute(plan, cloud.adapter, actual, service.password_store(center))
    assert result.ok, result.as_dict()
    cloud = service.open_cloud(None)
    plan, _ = service.plan_tenants(cloud, desired, ["gaj"])
    assert plan.empty, [(c.action, c.kind, c.name) for c in plan.changes]
    assert cloud.counter.summary()["writes"] == 0


def test_ipam_drift_finds_unknown_and_mismatched_subnets(cli, sdk, tcenter):
    from cloudctl.tenant.desired import plan_view_from_center
    from cloudctl.tenant.ipam_drift import ipam_drift

    pid = sdk.identity.find_project("t-rsj").id
    net = sdk.network.create_network(name="t-rsj-handmade", project_id=pid)
    sdk.network.create_subnet(
        name="t-rsj-handmade",
        network_id=net.id,
        project_id=pid,
        ip_version=4,
        cidr="10.250.7.0/24",
    )
    sub = sdk.network.find_subnet("t-rsj-app", project_id=pid)
    sdk.network.update_subnet(
        sub, allocation_pools=[{"start": "10.20.19.100", "end": "10.20.19.200"}]
    )
    try:
        cloud = service.open_cloud(None)
        findings = ipam_drift(
            plan_view_from_center(load_center(tcenter)), cloud.adapter.read_subnets()
        )
        by = {f.subnet: f for f in findings if f.project.startswith(PREFIX)}
        assert by["t-rsj-handmade"].status == "unknown"
        assert by["t-rsj-app"].status == "mismatch"
        assert by["t-rsj-app"].differences == {
            "pools": {"cloud": ["10.20.19.100-10.20.19.200"], "plan": ["10.20.19.10-10.20.19.254"]}
        }
        assert by["t-czj-app"].status == "ok" and by["t-czj-app"].allocation == "czj-app"
        r = cli("--center", str(tcenter), "ipam", "drift", "-o", "json")
        assert r.exit_code == 1, r.output
        found = {f["subnet"]: f["status"] for f in json.loads(r.stdout)["findings"]}
        assert found["t-rsj-handmade"] == "unknown" and found["t-rsj-app"] == "mismatch"
        assert "t-czj-app" not in found  # matches the plan: only differences are listed
    finally:
        sdk.network.update_subnet(
            sub, allocation_pools=[{"start": "10.20.19.10", "end": "10.20.19.254"}]
        )


def test_prune_removes_only_managed_resources(cli, sdk, tcenter):
    # t-rsj-handmade (made by hand in the previous test) is not cloudctl's: it must survive
    pid = sdk.identity.find_project("t-rsj").id
    assert sdk.network.find_network("t-rsj-handmade", project_id=pid) is not None
    f = tcenter / "tenants" / "rsj.yaml"
    doc = yaml.safe_load(f.read_text(encoding="utf-8"))
    doc["networks"] = [n for n in doc["networks"] if n["name"] != "web"]
    doc["security_groups"] = [g for g in doc["security_groups"] if g["template"] != "web"]
    f.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    r = run(cli, tcenter, "plan", "rsj")
    assert r.exit_code == 1  # interface to the web subnet goes; the rest awaits --prune
    assert "--prune" in r.output and "t-rsj-web" in r.output
    r = run(cli, tcenter, "apply", "rsj", "--auto-approve", "--prune")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.network.find_network("t-rsj-web", project_id=pid) is None
    assert sdk.network.find_security_group("t-rsj-web", project_id=pid) is None
    assert sdk.network.find_network("t-rsj-handmade", project_id=pid) is not None
    assert sdk.network.find_network("t-rsj-app", project_id=pid) is not None
    assert run(cli, tcenter, "plan", "rsj").exit_code == 0


def test_destroy_keeps_what_is_not_ours_then_removes_all(cli, sdk, tcenter):
    pid = sdk.identity.find_project("t-rsj").id
    r = run(cli, tcenter, "destroy", "rsj", "--yes")
    assert r.exit_code == 0, r.output + r.stderr
    assert "kept" in r.output
    assert sdk.identity.find_project("t-rsj") is not None  # holds the hand-made network
    assert [n.name for n in sdk.network.networks(project_id=pid)] == ["t-rsj-handmade"]
    sdk.network.delete_network(sdk.network.find_network("t-rsj-handmade", project_id=pid))
    r = run(cli, tcenter, "destroy", "rsj", "--yes")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.identity.find_project("t-rsj") is None
    # Neutron's default SG too (listed unfiltered: a project_id filter would recreate it)
    assert not [g for g in sdk.network.security_groups() if g.project_id == pid]
    assert pid not in {q.project_id for q in sdk.network.quotas()}
    assert sdk.identity.find_user("t-rsj-ops") is None
    rec = json.loads((tcenter / "state" / "audit.log").read_text().splitlines()[-1])
    assert rec["action"] == "tenant.destroy" and rec["result"] == "ok"


EXT_NET = "lab-ext-itest"


def test_router_external_gateway_is_applied_drifts_and_converges(cli, sdk, tmp_path):
    """A router with `external_network` and `enable_snat` on a real Neutron: the gateway is
    set, a hand-made change of SNAT or a removed gateway is drift, and apply restores it."""
    wipe_projects(sdk, "x-")
    for n in sdk.network.networks(name=EXT_NET):  # left by a killed run
        for r in sdk.network.routers():
            if (r.external_gateway_info or {}).get("network_id") == n.id:
                sdk.network.update_router(r, external_gateway_info={})
        sdk.network.delete_network(n)
    # an external provider network, made by the cloud's admin as in a real center
    # (203.0.113.0/24 is a documentation range: data in Neutron, no packet goes anywhere)
    ext = sdk.network.create_network(
        name=EXT_NET,
        is_router_external=True,
        provider_network_type="flat",
        provider_physical_network="extnet",
    )
    sdk.network.create_subnet(
        network_id=ext.id,
        name=EXT_NET,
        ip_version=4,
        cidr="203.0.113.0/24",
        gateway_ip="203.0.113.1",
        is_dhcp_enabled=False,
    )
    root = make_center(tmp_path / "c", ("rsj",), prefix="x-", scope="itest-ext")
    f = root / "tenants" / "rsj.yaml"
    doc = yaml.safe_load(f.read_text(encoding="utf-8"))
    doc["router"] = {"name": "router", "external_network": EXT_NET, "enable_snat": False}
    f.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    try:
        r = run(cli, root, "apply", "--auto-approve")
        assert r.exit_code == 0, r.output + r.stderr
        pid = sdk.identity.find_project("x-rsj").id
        router = sdk.network.find_router("x-rsj-router", project_id=pid)
        gw = router.external_gateway_info
        assert gw["network_id"] == ext.id and gw["enable_snat"] is False, gw
        assert gw["external_fixed_ips"][0]["ip_address"].startswith("203.0.113.")
        assert run(cli, root, "plan").exit_code == 0  # converged

        sdk.network.update_router(
            router, external_gateway_info={"network_id": ext.id, "enable_snat": True}
        )
        r = run(cli, root, "drift", "-o", "json")
        assert r.exit_code == 1
        assert [(d["kind"], d["what"]) for d in json.loads(r.output)["drift"]] == [
            ("router", "changed")
        ]
        assert "enable_snat" in r.output
        assert run(cli, root, "apply", "--auto-approve").exit_code == 0
        assert sdk.network.get_router(router.id).external_gateway_info["enable_snat"] is False

        sdk.network.update_router(router, external_gateway_info={})  # gateway removed by hand
        r = run(cli, root, "drift")
        assert r.exit_code == 1 and EXT_NET in r.output, r.output
        assert run(cli, root, "apply", "--auto-approve").exit_code == 0
        gw = sdk.network.get_router(router.id).external_gateway_info
        assert gw["network_id"] == ext.id and gw["enable_snat"] is False, gw
        assert run(cli, root, "drift").exit_code == 0

        r = run(cli, root, "destroy", "rsj", "--yes")
        assert r.exit_code == 0, r.output + r.stderr
        assert sdk.identity.find_project("x-rsj") is None
    finally:
        wipe_projects(sdk, "x-")
        sdk.network.delete_network(ext)


def test_destroy_with_a_vm_port_is_refused_and_deletes_nothing(cli, sdk, tcenter):
    """Issue 11 §3: every precondition before the first delete; a blocked destroy is whole."""
    r = run(cli, tcenter, "apply", "czj", "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    pid = sdk.identity.find_project("t-czj").id
    net = sdk.network.find_network("t-czj-app", project_id=pid)
    port = sdk.network.create_port(
        network_id=net.id, project_id=pid, device_owner="compute:nova", device_id="vm-t-czj"
    )

    def inventory():
        return (
            {n.id for n in sdk.network.networks(project_id=pid)},
            {g.id for g in sdk.network.security_groups(project_id=pid)},
            {u.id for u in sdk.identity.users(default_project_id=pid)},
        )

    before = inventory()
    r = run(cli, tcenter, "destroy", "czj", "--yes")
    assert r.exit_code == 2
    assert port.id in r.stderr and "compute:nova" in r.stderr and "nothing was deleted" in r.stderr
    assert "resource(s) will be deleted" in r.output  # the count is shown
    assert inventory() == before
    sdk.network.delete_port(port)
    r = run(cli, tcenter, "destroy", "czj", "--yes")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.identity.find_project("t-czj") is None


def test_upgrade_without_a_record_adopts_exact_matches_and_tenant_adopt_the_rest(cli, sdk, tcenter):
    """Issue 11 §3: resources made before the ownership record existed: apply records
    those that match exactly; one that differs waits for an explicit `tenant adopt`."""
    import sqlite3

    assert run(cli, tcenter, "apply", "czj", "--auto-approve").exit_code == 0
    db = tcenter / "state" / "cloudctl.db"
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM created_resources")  # as before the upgrade
    pid = sdk.identity.find_project("t-czj").id
    sub = sdk.network.find_subnet("t-czj-app", project_id=pid)
    sdk.network.update_subnet(sub, dns_nameservers=["10.99.0.53"])
    r = run(cli, tcenter, "apply", "czj", "--auto-approve")
    assert r.exit_code == 2 and "tenant adopt czj" in r.stderr and sub.id in r.stderr
    r = run(cli, tcenter, "adopt", "czj", "--yes")
    assert r.exit_code == 0, r.output + r.stderr
    assert sub.id in r.output
    r = run(cli, tcenter, "apply", "czj", "--auto-approve")
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.network.get_subnet(sub.id).dns_nameservers == ["10.40.1.53", "10.40.1.54"]
    with sqlite3.connect(db) as conn:
        ids = {row[0] for row in conn.execute("SELECT id FROM created_resources")}
    assert {pid, sub.id} <= ids
    r = run(cli, tcenter, "destroy", "czj", "--yes")  # prune/destroy work after the upgrade
    assert r.exit_code == 0, r.output + r.stderr
    assert sdk.identity.find_project("t-czj") is None
