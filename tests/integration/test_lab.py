"""The lab's own integration tests, against the real lab.

Order matters at the end of this file: the recovery and down/up tests restart the lab and
leave it running, because other areas' integration tests in the same session use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import openstack
import pytest
import yaml
from openstack import exceptions as os_exc

from cloudctl.lab import procs
from cloudctl.lab.api import ensure_lab, lab_down, lab_info, reset_host
from cloudctl.lab.hosts import cgroup_dirs, lab_mounts
from cloudctl.lab.manager import orphans, records
from cloudctl.lab.paths import LabPaths

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RESET_HOST = "yun-db01"


def _cloudctl(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "cloudctl"), "--center", str(PROJECT_ROOT), "--lang", "en", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_lab_has_services_hosts_and_files(lab):
    assert set(lab.services) == {"keystone", "neutron", "nova", "cinder"}
    assert list(lab.hosts)[:3] == ["legacy-web01", "yun-web01", "yun-db01"]
    assert [h.port for h in lab.hosts.values()][:3] == [2201, 2202, 2203]
    assert lab.clouds_yaml.stat().st_mode & 0o777 == 0o600
    clouds = yaml.safe_load(lab.clouds_yaml.read_text())
    assert clouds["clouds"]["lab"]["auth"]["auth_url"] == "http://127.0.0.1:5000/v3"
    inv = yaml.safe_load(lab.inventory.read_text())
    lab_hosts = inv["all"]["children"]["lab"]["hosts"]
    assert {v["ansible_host"] for v in lab_hosts.values()} == {"127.0.0.1"}
    assert set(inv["all"]["children"]["migration_source"]["hosts"]) == {"legacy-web01"}
    center_inv = PROJECT_ROOT / "inventory/hosts/lab.yml"
    assert lab.center_inventory == center_inv
    assert yaml.safe_load(center_inv.read_text()) == inv


def test_member_logs_into_its_project_and_neutron_quota_is_enforced(lab, lab_admin_conn):
    idc, net = lab_admin_conn.identity, lab_admin_conn.network
    name = f"lab-test-{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    project = idc.create_project(name=name, domain_id="default")
    user = idc.create_user(name=f"{name}-user", password=password, domain_id="default")
    try:
        idc.assign_project_role_to_user(project, user, idc.find_role("member"))
        net.update_quota(project.id, networks=1)
        member = openstack.connect(
            load_yaml_config=False,
            load_envvars=False,
            region_name="RegionOne",
            auth={
                "auth_url": "http://127.0.0.1:5000/v3",
                "username": user.name,
                "password": password,
                "user_domain_name": "Default",
                "project_id": project.id,
            },
        )
        assert member.current_project_id == project.id
        first = member.network.create_network(name="first")
        assert first.project_id == project.id
        with pytest.raises(os_exc.ConflictException) as over:
            member.network.create_network(name="second")
        assert over.value.status_code == 409
        with pytest.raises(os_exc.ForbiddenException):
            member.network.update_quota(project.id, networks=100)
        lab_admin_conn.set_compute_quotas(project.id, cores=4)
        lab_admin_conn.set_volume_quotas(project.id, volumes=3)
        assert lab_admin_conn.get_compute_quotas(project.id).cores == 4
        assert lab_admin_conn.get_volume_quotas(project.id).volumes == 3
        member.network.delete_network(first)
    finally:
        for sg in net.security_groups(project_id=project.id):
            net.delete_security_group(sg)
        for n in net.networks(project_id=project.id):
            net.delete_network(n)
        net.delete_quota(project.id)
        lab_admin_conn.delete_compute_quotas(project.id)
        lab_admin_conn.delete_volume_quotas(project.id)
        idc.delete_user(user)
        idc.delete_project(project)


def test_every_host_answers_ansible_ping(lab, lab_inventory):
    env = {
        **os.environ,
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_NOCOLOR": "1",
    }
    r = subprocess.run(
        [str(BIN / "ansible"), "-i", str(lab_inventory), "lab", "-m", "ping", "-o", "-f", "10"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for name in lab.hosts:
        assert f'{name} | SUCCESS => {{"changed": false,"ping": "pong"}}' in r.stdout


def test_every_host_is_debian_12_with_a_sudo_admin(lab, lab_testinfra):
    recs = records(LabPaths.from_env())
    for name in lab.hosts:
        # its own cgroup: hosts sharing one make each other's systemd wait on stops and boots
        cgroups = Path(f"/proc/{recs[f'init-{name}'].pid}/cgroup").read_text()
        assert f"/cloudctl-lab/{name}/payload" in cgroups, cgroups
        host = lab_testinfra(name)
        assert host.system_info.distribution == "debian"
        assert host.system_info.release.startswith("12")
        assert host.check_output("hostname") == name
        assert host.user("admin").exists
        assert host.service("ssh").is_running
        assert lab_testinfra(name, sudo=True).check_output("id -u") == "0"
        # never CAP_SYS_TIME (bit 25) or CAP_SYS_MODULE (16): the machine's clock and kernel
        bounding = int(host.check_output("awk '/^CapBnd/ {print $2}' /proc/1/status"), 16)
        assert not bounding & (1 << 25 | 1 << 16), name
        assert host.check_output("ip -o link show | awk -F': ' '{print $2}'") == "lo"


def test_a_fresh_host_is_an_unhardened_debian_server(lab, lab_testinfra):
    reset_host(RESET_HOST)  # other areas' tests harden and change the hosts
    host = lab_testinfra(RESET_HOST)
    for pkg in ("openssh-server", "sudo", "rsync", "python3-apt", "libpam-pwquality", "auditd"):
        assert host.package(pkg).is_installed, pkg
    assert not host.package("telnetd").is_installed
    for svc in ("ssh", "rsyslog", "cron"):
        assert host.service(svc).is_running, svc
    root = lab_testinfra(RESET_HOST, sudo=True)
    # Debian's defaults, which the baseline must find wanting
    sshd = root.check_output("sshd -T")
    assert "permitrootlogin without-password" in sshd
    assert "passwordauthentication yes" in sshd


def test_local_apt_repository_installs_legacy_packages_offline(lab, lab_testinfra):
    reset_host(RESET_HOST)
    root = lab_testinfra(RESET_HOST, sudo=True)
    out = root.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q telnetd openbsd-inetd")
    assert out.rc == 0, out.stderr
    assert root.package("telnetd").is_installed
    assert root.service("inetd").is_running


def test_reset_host_gives_a_pristine_host(lab, lab_testinfra):
    root = lab_testinfra(RESET_HOST, sudo=True)
    root.run_test("touch /etc/lab-reset-marker && echo changed >> /etc/motd")
    assert root.file("/etc/lab-reset-marker").exists
    t0 = time.monotonic()
    reset_host(RESET_HOST)
    took = time.monotonic() - t0
    fresh = lab_testinfra(RESET_HOST, sudo=True)
    assert not fresh.file("/etc/lab-reset-marker").exists
    assert "changed" not in fresh.file("/etc/motd").content_string
    assert not fresh.package("telnetd").is_installed
    assert took < 15, f"reset took {took:.1f} s"


def test_status_reports_every_part_healthy_with_pid_and_memory(lab):
    r = _cloudctl("lab", "status", "--output", "json", timeout=60)
    st = json.loads(r.stdout)
    rows = st["services"] + st["hosts"]
    unhealthy = [x for x in rows if not x["healthy"]]
    assert (r.returncode, st["state"], st["stale"], unhealthy) == (0, "up", [], []), r.stderr
    assert {x["name"] for x in rows} >= {"keystone", "neutron", "nova", "cinder", *lab.hosts}
    for x in rows:
        assert x["healthy"], x
        assert x["pid"] and procs.start_ticks(x["pid"]) is not None
        assert x["rss_mib"] > 5
    assert st["memory_mib"] < 2048


def test_up_twice_is_harmless_and_fast(lab):
    paths = LabPaths.from_env()
    first = ensure_lab(center=PROJECT_ROOT)
    before = {k: (r.pid, r.start) for k, r in records(paths).items()}
    t0 = time.monotonic()
    again = ensure_lab(center=PROJECT_ROOT)
    took = time.monotonic() - t0
    after = {k: (r.pid, r.start) for k, r in records(paths).items()}
    assert again == first
    assert after == before, "a second up must not restart anything"
    assert took < 10, f"up on a running lab took {took:.1f} s"
    r = _cloudctl("lab", "up", "--output", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hosts"]["yun-db01"]["port"] == 2203
    assert {k: (r.pid, r.start) for k, r in records(paths).items()} == before


def _kill_everything(paths: LabPaths) -> None:
    """What a CI runner ending all processes does: SIGKILL, no cleanup."""
    recs = list(records(paths).values())
    pids = {r.pid for r in recs if procs.is_running(r)} | set(procs.owned_pids(paths.root))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(procs.is_running(r) for r in recs):
        time.sleep(0.1)


def test_up_recovers_from_a_killed_lab(lab, lab_testinfra):
    paths = LabPaths.from_env()
    _kill_everything(paths)
    assert lab_mounts(paths), "a killed lab leaves its overlay mounts behind"
    st = _cloudctl("lab", "status", "--output", "json", timeout=60)
    assert st.returncode == 1
    assert any("is gone" in s for s in json.loads(st.stdout)["stale"])
    before = lab_info()
    info = ensure_lab(center=PROJECT_ROOT)
    assert info == before
    st = _cloudctl("lab", "status", "--output", "json", timeout=60)
    assert st.returncode == 0, st.stdout + st.stderr
    found = json.loads(st.stdout)["last_recovery"]["found"]
    assert any(s.startswith("mount ") for s in found)
    assert lab_testinfra(RESET_HOST).check_output("hostname") == RESET_HOST


def test_down_leaves_nothing_behind_then_up_again(lab):
    """Runs last in this file and leaves the lab running for the other areas' tests."""
    paths = LabPaths.from_env()
    running = lab_info()
    assert running is not None
    recs = list(records(paths).values())
    lab_down()
    assert not any(procs.is_running(r) for r in recs)
    assert procs.owned_pids(paths.root) == []
    assert orphans(paths) == []
    assert lab_mounts(paths) == []
    assert [d for h in running.hosts for d in cgroup_dirs(h) if d.exists()] == []
    for port in [*running.services.values(), *(h.port for h in running.hosts.values())]:
        assert procs.listening_inodes(port) == set(), port
    assert lab_info() is None
    assert not (PROJECT_ROOT / "inventory/hosts/lab.yml").exists()
    t0 = time.monotonic()
    again = ensure_lab(center=PROJECT_ROOT, hosts=len(running.hosts))
    took = time.monotonic() - t0
    assert again == running
    assert took < 60, f"up from stopped took {took:.1f} s"
