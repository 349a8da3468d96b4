"""Pure lab logic: services, host plan, inventory and clouds.yaml documents."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudctl.core.errors import InputError, ValidationFailed
from cloudctl.lab.model import (
    FIRST_HOST_PORT,
    MAX_HOSTS,
    SERVICES,
    clouds_doc,
    fingerprint,
    inventory_doc,
    parse_without,
    plan_hosts,
    wanted_services,
)

CENTER_HOSTS = [
    ("legacy-web01", ("legacy", "web", "migration_source")),
    ("yun-web01", ("cloud", "web", "migration_target")),
    ("yun-db01", ("cloud", "db")),
]


def test_without_accepts_optional_services_comma_separated_and_repeated():
    assert parse_without(["nova,cinder"]) == {"nova", "cinder"}
    assert parse_without(["Nova", " cinder "]) == {"nova", "cinder"}
    assert parse_without([]) == frozenset()
    assert [s.name for s in wanted_services({"nova"})] == ["keystone", "neutron", "cinder"]


@pytest.mark.parametrize("bad", ["keystone", "neutron", "glance"])
def test_without_refuses_core_or_unknown_services(bad):
    with pytest.raises(InputError, match="only these services are optional: cinder, nova"):
        parse_without([f"nova,{bad}"])


def test_services_listen_on_their_usual_loopback_ports():
    assert {n: s.port for n, s in SERVICES.items()} == {
        "keystone": 5000,
        "neutron": 9696,
        "nova": 8774,
        "cinder": 8776,
    }
    assert all(s.url.startswith("http://127.0.0.1:") for s in SERVICES.values())


def test_plan_takes_center_hosts_in_order_with_deterministic_ports():
    hosts = plan_hosts(CENTER_HOSTS, None)
    assert [(h.name, h.port) for h in hosts] == [
        ("legacy-web01", 2201),
        ("yun-web01", 2202),
        ("yun-db01", 2203),
    ]
    assert hosts[0].groups == ("legacy", "web", "migration_source")


def test_plan_adds_numbered_extra_hosts_and_can_shrink():
    hosts = plan_hosts(CENTER_HOSTS, 5)
    assert [(h.name, h.port, h.groups) for h in hosts[3:]] == [
        ("lab-host04", 2204, ()),
        ("lab-host05", 2205, ()),
    ]
    assert [h.name for h in plan_hosts(CENTER_HOSTS, 1)] == ["legacy-web01"]
    assert [h.name for h in plan_hosts([], None)] == ["lab-host01", "lab-host02", "lab-host03"]


def test_plan_reports_every_bad_host_entry_at_once():
    bad = [("Web_01", ("web",)), ("db", ("all", "9x")), ("db", ())]
    with pytest.raises(ValidationFailed) as e:
        plan_hosts(bad, 3, "/c/cloudctl.yaml")
    msgs = [str(p) for p in e.value.problems]
    assert len(msgs) == 4
    assert all(m.startswith("/c/cloudctl.yaml: lab.hosts: ") for m in msgs)
    assert any("'Web_01' is not a valid host name" in m for m in msgs)
    assert any("'db' is listed twice" in m for m in msgs)


@pytest.mark.parametrize("n", [-1, MAX_HOSTS + 1])
def test_plan_refuses_host_counts_out_of_range(n):
    with pytest.raises(InputError, match="--hosts"):
        plan_hosts(CENTER_HOSTS, n)


def test_plan_refuses_a_configured_name_that_an_extra_host_would_take():
    with pytest.raises(InputError, match="lab-host02"):
        plan_hosts([("lab-host02", ())], 2)


@settings(deadline=None)  # a loaded CI machine must not turn slowness into a failure
@given(st.integers(min_value=0, max_value=MAX_HOSTS))
def test_plan_ports_are_unique_and_follow_position(n):
    hosts = plan_hosts(CENTER_HOSTS, n)
    assert len(hosts) == n
    assert [h.port for h in hosts] == list(range(FIRST_HOST_PORT, FIRST_HOST_PORT + n))
    assert len({h.name for h in hosts}) == n


def test_inventory_has_group_lab_with_loopback_connection_vars_and_center_groups():
    hosts = plan_hosts(CENTER_HOSTS, 4)
    doc = inventory_doc(hosts, "/lab/ssh/id_ed25519", "/lab/known_hosts")
    children = doc["all"]["children"]
    assert list(children) == [
        "lab",
        "cloud",
        "db",
        "legacy",
        "migration_source",
        "migration_target",
        "web",
    ]
    lab = children["lab"]["hosts"]
    assert list(lab) == ["legacy-web01", "yun-web01", "yun-db01", "lab-host04"]
    v = lab["yun-db01"]
    assert v["ansible_port"] == 2203
    assert v["ansible_user"] == "admin"
    assert v["ansible_ssh_private_key_file"] == "/lab/ssh/id_ed25519"
    assert v["ansible_python_interpreter"] == "/usr/bin/python3"
    # host keys are checked against the lab's own known_hosts, never skipped
    assert "StrictHostKeyChecking=yes" in v["ansible_ssh_common_args"]
    assert "UserKnownHostsFile=/lab/known_hosts" in v["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=no" not in v["ansible_ssh_common_args"]
    assert all(ipaddress.ip_address(x["ansible_host"]).is_loopback for x in lab.values())
    assert set(children["web"]["hosts"]) == {"legacy-web01", "yun-web01"}


def test_clouds_yaml_names_the_admin_cloud_lab():
    cloud = clouds_doc("s3cret")["clouds"]["lab"]
    assert cloud["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
    assert cloud["auth"]["username"] == "admin"
    assert cloud["region_name"] == "RegionOne"


def test_fingerprint_is_stable_and_changes_with_any_part():
    assert fingerprint("a", "b") == fingerprint("a", "b")
    assert fingerprint("a", "b") != fingerprint("ab", "")
    assert fingerprint("a", b"b") == fingerprint("a", "b")
    assert len(fingerprint("x")) == 16


def test_inotify_limit_is_only_raised_and_sized_by_hosts(tmp_path):
    from cloudctl.lab.hosts import ensure_inotify_instances

    f = tmp_path / "max_user_instances"
    f.write_text("128\n")
    assert ensure_inotify_instances(30, f) == 128 + 32 * 30
    assert f.read_text() == f"{128 + 32 * 30}\n"
    assert ensure_inotify_instances(3, f) is None  # never lowered
    assert f.read_text() == f"{128 + 32 * 30}\n"
    assert ensure_inotify_instances(3, tmp_path / "missing") is None
