"""Stale state of a killed lab: found without side effects, then cleaned by recover()."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cloudctl.lab import manager, procs
from cloudctl.lab.paths import LabPaths


@pytest.fixture
def paths(tmp_path: Path, monkeypatch) -> LabPaths:
    monkeypatch.setenv("CLOUDCTL_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.setenv("CLOUDCTL_CACHE_DIR", str(tmp_path / "cache"))
    p = LabPaths.from_env()
    p.run.mkdir(parents=True)
    return p


def _dead_record(paths: LabPaths, key: str) -> procs.ProcRecord:
    p = subprocess.Popen(["true"])
    p.wait()
    rec = procs.ProcRecord(key=key, pid=p.pid, start=12345)
    rec.save(paths.run)
    return rec


def test_dead_records_and_sockets_are_found_then_cleaned(paths: LabPaths):
    _dead_record(paths, "svc-keystone")
    _dead_record(paths, "host-t-lab-unit")
    (paths.run / "keystone.ctl").write_text("")
    found = manager.find_stale(paths)
    assert any(s.startswith("record svc-keystone.json: pid") for s in found)
    assert any(s.startswith("socket ") and "keystone.ctl" in s for s in found)
    assert (paths.run / "svc-keystone.json").exists(), "find_stale must not change anything"

    cleaned = manager.recover(paths)
    assert cleaned == found
    assert manager.find_stale(paths) == []
    assert sorted(p.name for p in paths.run.iterdir()) == ["recovery.json"]
    assert json.loads(paths.recovery_file.read_text())["found"] == found
    assert manager.recover(paths) == []


def test_orphan_marked_process_is_found_and_killed(paths: LabPaths):
    rec = procs.spawn(
        "x", ["sleep", "30"], {"PATH": "/usr/bin:/bin"}, paths.logs / "x.log", paths.root
    )
    try:
        assert manager.orphans(paths) == [rec.pid]
        assert any(s.startswith(f"orphan pid {rec.pid}") for s in manager.find_stale(paths))
        rec.save(paths.run)  # recorded and alive: ours, not an orphan
        assert manager.orphans(paths) == []
        assert manager.find_stale(paths) == []
        (paths.run / "x.json").unlink()
        manager.recover(paths)
        assert not procs.is_running(rec)
    finally:
        procs.terminate([rec], timeout=2)


def test_state_file_round_trip_and_info_when_down(paths: LabPaths):
    assert manager.info() is None
    st = manager.LabState(
        status="up", services=["keystone"], hosts=[{"name": "h1", "port": 2201, "groups": ["web"]}]
    )
    st.save(paths)
    info = manager.info()
    assert info is not None
    assert info.services == {"keystone": 5000}
    assert info.hosts["h1"].port == 2201
    assert info.hosts["h1"].groups == ("web",)
    assert info.hosts["h1"].key_file == paths.key_file
    st.status = "down"
    st.save(paths)
    assert manager.info() is None


def test_down_purge_deletes_the_lab_data_but_not_the_cache(paths: LabPaths):
    (paths.data).mkdir(parents=True)
    (paths.data / "keystone.db").write_text("x")
    (paths.hosts / "h1/upper").mkdir(parents=True)
    paths.cache.mkdir(parents=True)
    (paths.cache / "rootfs-x.tar.zst").write_text("x")
    _dead_record(paths, "svc-nova")
    manager.down(purge=True)
    assert sorted(p.name for p in paths.root.iterdir()) == ["lab.lock"]
    assert (paths.cache / "rootfs-x.tar.zst").exists()


def test_down_keeps_data_and_marks_the_lab_down(paths: LabPaths):
    (paths.data).mkdir(parents=True)
    (paths.data / "keystone.db").write_text("x")
    manager.LabState(status="up", services=["keystone"]).save(paths)
    paths.inventory.write_text("all: {}\n")
    manager.down()
    assert (paths.data / "keystone.db").exists()
    assert not paths.inventory.exists()
    assert manager.LabState.load(paths).status == "down"
    assert manager.info() is None
