"""``cloudctl domains check --cloud`` / ``matrix --cloud`` against the lab's real Neutron.

Two tenants are made by ``cloudctl tenant apply`` in a temp center whose OpenStack names
start with ``dom-it-`` (scope ``dom-it``), so nothing else in the shared cloud is touched;
VM-like ports carry the template groups. Then, as a department admin would, rules are added
by hand through the API and a router is made to join the two tenants: the live check finds
each of them. Everything made here is removed afterwards.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labkit import add_vm_ports, make_center, wipe_projects

PREFIX = "dom-it-"
TENANTS = ("czj", "rsj")


@pytest.fixture(scope="module")
def applied(sdk, tmp_path_factory):
    """Both tenants applied, with one VM-like port per network carrying its groups."""
    from typer.testing import CliRunner

    from cloudctl.cli.app import app

    wipe_projects(sdk, PREFIX)
    root = make_center(
        tmp_path_factory.mktemp("domains-center"), TENANTS, prefix=PREFIX, scope="dom-it"
    )
    res = CliRunner().invoke(
        app, ["--center", str(root), "tenant", "apply", *TENANTS, "--auto-approve"],
        catch_exceptions=False,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for code in TENANTS:
        add_vm_ports(sdk, sdk.identity.find_project(PREFIX + code))
    yield root
    wipe_projects(sdk, PREFIX)
    assert not [p for p in sdk.identity.projects() if p.name.startswith(PREFIX)]


def check(cli, root: Path, verb: str = "check", *extra: str):
    res = cli("--center", str(root), "--lang", "en", "domains", verb, "--cloud",
              "--project-prefix", PREFIX, "-o", "json", *extra)  # fmt: skip
    return res.exit_code, json.loads(res.output)


def test_after_tenant_apply_the_cloud_matches_the_design(cli, applied):
    code, doc = check(cli, applied)
    assert code == 0, [f["message_en"] for f in doc["findings"]]
    assert [o["name"] for o in doc["objects"]] == ["platform", "dom-it-czj", "dom-it-rsj"]
    assert {i["status"] for i in doc["items"]} == {"compliant"}
    assert doc["cloud"]["requests"]["requests"] <= 20
    code, m = check(cli, applied, "matrix")
    assert code == 0 and m["differences"] == 0
    cells = {(c["from"], c["to"]): c for c in m["cells"]}
    assert cells[("dmz", "core")]["state"] == "ok"  # app ports from the DMZ, as designed
    assert cells[("core", "data")]["state"] == "ok"  # db from the app group


def test_hand_made_split_internet_ssh_rules_are_found(cli, sdk, applied, tmp_path):
    proj = sdk.identity.find_project(PREFIX + "czj")
    sg = sdk.network.find_security_group(f"{PREFIX}czj-app", project_id=proj.id)
    made = [
        sdk.network.create_security_group_rule(
            security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="tcp",
            port_range_min=22, port_range_max=22, remote_ip_prefix=cidr,
        )
        for cidr in ("0.0.0.0/1", "128.0.0.0/1")
    ]  # fmt: skip
    try:
        junit = tmp_path / "domains.xml"
        code, doc = check(cli, applied, "check", "--junit", str(junit))
        assert code == 1
        flows = [f for f in doc["findings"] if f["control"] == "sd-flow"]
        assert sorted(f["evidence"]["rule"] for f in flows) == sorted(r.id for r in made)
        assert {f["evidence"]["remote"] for f in flows} == {"0.0.0.0/1", "128.0.0.0/1"}
        assert all(f["object"] == "dom-it-czj" and f["severity"] == "high" for f in flows)
        items = {i["clause"]: i for i in doc["items"]}
        assert items["8.1.3.2"]["per_host"]["dom-it-czj"] == "non_compliant"
        assert items["8.1.3.2"]["per_host"]["dom-it-rsj"] == "compliant"
        assert items["8.2.5.1"]["per_host"]["dom-it-czj"] == "non_compliant"
        assert "<failure" in junit.read_text()
        code, m = check(cli, applied, "matrix")
        cells = {(c["from"], c["to"]): c for c in m["cells"]}
        assert code == 1 and "tcp/22" in cells[("internet", "core")]["extra"]
    finally:
        for r in made:
            sdk.network.delete_security_group_rule(r)
    assert check(cli, applied)[0] == 0


def test_router_joining_two_tenants_is_found(cli, sdk, applied):
    a = sdk.identity.find_project(PREFIX + "czj")
    b = sdk.identity.find_project(PREFIX + "rsj")
    sub_b = next(s for s in sdk.network.subnets(project_id=b.id) if s.name.endswith("rsj-app"))
    router = sdk.network.create_router(name=f"{PREFIX}bridge", project_id=a.id)
    # the subnet's gateway address belongs to rsj's own router: join through a second port
    port = sdk.network.create_port(
        network_id=sub_b.network_id, project_id=a.id, fixed_ips=[{"subnet_id": sub_b.id}]
    )
    try:
        sdk.network.add_interface_to_router(router, port_id=port.id)
        code, doc = check(cli, applied)
        assert code == 1
        joins = [f for f in doc["findings"] if f["control"] == "sd-router-joins-tenants"]
        assert sorted(f["object"] for f in joins) == ["dom-it-czj", "dom-it-rsj"]
        assert all(f["evidence"]["router"] == router.id for f in joins)
        item = next(i for i in doc["items"] if i["clause"] == "8.2.2.1")
        assert item["status"] == "non_compliant" and item["label"]["zh"] == "不符合"
    finally:
        if any(p.device_id == router.id for p in sdk.network.ports(device_id=router.id)):
            sdk.network.remove_interface_from_router(router, port_id=port.id)
        else:
            sdk.network.delete_port(port)
        sdk.network.delete_router(router)
    assert check(cli, applied)[0] == 0
