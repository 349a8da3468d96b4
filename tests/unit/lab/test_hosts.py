"""Host helpers that need no container: command lines, image markers, mount parsing."""

from __future__ import annotations

from pathlib import Path

from cloudctl.lab import hosts
from cloudctl.lab.model import HostSpec
from cloudctl.lab.paths import LabPaths


def test_nspawn_isolates_the_network_and_never_grants_the_clock():
    argv = hosts.nspawn_argv(HostSpec("yun-db01", 2203), Path("/lab/hosts/yun-db01/merged"))
    assert argv[0] == "systemd-nspawn"
    assert "--private-network" in argv
    assert "--boot" in argv
    assert "--machine=yun-db01" in argv
    assert any(a.startswith("--drop-capability=") and "CAP_SYS_TIME" in a for a in argv)
    assert not any(a.startswith("--capability") for a in argv)
    assert "--resolv-conf=off" in argv and "--timezone=off" in argv


def test_ssh_goes_to_loopback_by_key_without_prompts_and_checks_the_host_key():
    argv = hosts.ssh_argv(2201, Path("/k"), "true", Path("/lab/h1/known_hosts"))
    assert argv[-2:] == ["admin@127.0.0.1", "true"]
    assert "BatchMode=yes" in argv
    assert argv[argv.index("-p") + 1] == "2201"
    assert "StrictHostKeyChecking=yes" in argv
    assert "UserKnownHostsFile=/lab/h1/known_hosts" in argv
    assert not any("StrictHostKeyChecking=no" in a or "/dev/null" in a for a in argv)


def test_a_host_upper_layer_remembers_its_image(tmp_path: Path):
    paths = LabPaths(root=tmp_path, cache=tmp_path / "cache")
    d = hosts.dirs(paths, "h1")
    assert hosts.image_of(d) is None
    d.upper.mkdir(parents=True)
    (d.upper / "changed").write_text("x")
    d.image_marker.write_text("abc\n")
    assert hosts.image_of(d) == "abc"
    hosts.wipe(paths, "h1")
    assert not d.upper.exists()
    assert hosts.image_of(d) is None


def test_mount_table_is_read_and_filtered_to_the_lab(tmp_path: Path):
    assert "/" in hosts.mounts()
    paths = LabPaths(root=tmp_path, cache=tmp_path / "cache")
    assert hosts.lab_mounts(paths) == []
    assert hosts.record_keys("h1") == ("host-h1", "init-h1", "fwd-h1")


def test_each_host_gets_its_own_cgroup_in_every_hierarchy(tmp_path: Path):
    for h in ("systemd", "unified"):
        (tmp_path / h).mkdir()
        (tmp_path / h / "cgroup.procs").write_text("")
    dirs = hosts.cgroup_dirs("h1", root=tmp_path)
    assert dirs == [tmp_path / "systemd/cloudctl-lab/h1", tmp_path / "unified/cloudctl-lab/h1"]
    assert hosts.cgroup_dirs("h2", root=tmp_path)[0].parent == dirs[0].parent
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2/cgroup.controllers").write_text("")
    assert hosts.cgroup_dirs("h1", root=tmp_path / "v2") == [tmp_path / "v2/cloudctl-lab/h1"]
