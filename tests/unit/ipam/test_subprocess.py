"""cloudctl ipam as a real process: exit codes, files on disk, two operators at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from cloudctl.core.center import load_center
from cloudctl.ipam import service

CORE = Path("inventory/ipam/prefixes/core.yaml")


def cloudctl(center: Path, *args: str, wait: bool = True):
    cmd = [sys.executable, "-m", "cloudctl", "--center", str(center), "--lang", "en", "ipam", *args]
    env = {**os.environ, "COLUMNS": "200"}
    if not wait:
        return subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, timeout=60)


def test_exit_codes_and_messages(sample_center):
    r = cloudctl(sample_center, "validate")
    assert r.returncode == 0 and "146 prefixes" in r.stdout
    core = sample_center / CORE
    core.write_text(
        core.read_text(encoding="utf-8").replace("vlan: 1523", "vlan: 1522"), encoding="utf-8"
    )
    r = cloudctl(sample_center, "validate")
    assert r.returncode == 2
    assert (
        "core.yaml:" in r.stderr and "VLAN 1522 is already used in zone core by czj-app" in r.stderr
    )
    assert "Traceback" not in r.stderr
    r = cloudctl(sample_center, "allocate", "--zone", "core")  # missing options: usage error
    assert r.returncode == 2


def test_allocate_keeps_comments_and_failed_allocate_is_byte_for_byte(sample_center):
    core = sample_center / CORE
    before = core.read_bytes()
    r = cloudctl(
        sample_center, "allocate", "-z", "core", "-t", "gaj", "-l", "23", "-n", "gaj-video"
    )
    assert r.returncode == 0, r.stderr
    after = core.read_bytes()
    assert (
        after.startswith(before) and b"# \xe9\x83\xa8\xe9\x97\xa8" in after
    )  # "# 部门" comment kept
    assert yaml.safe_load(after)["prefixes"][-1]["prefix"] == "10.20.62.0/23"
    r = cloudctl(sample_center, "allocate", "-z", "core", "-t", "gaj", "-l", "12", "-n", "gaj-huge")
    assert r.returncode == 2 and "does not fit" in r.stderr
    assert core.read_bytes() == after


def test_two_processes_allocating_at_once_get_different_blocks(sample_center):
    procs = [
        cloudctl(
            sample_center,
            "allocate",
            "-z",
            "data",
            "-t",
            t,
            "-l",
            "26",
            "-n",
            f"{t}-db2",
            "-o",
            "json",
            wait=False,
        )
        for t in ("czj", "rsj")
    ]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    blocks = {o["prefix"] for o in outs}
    vlans = {o["vlan"] for o in outs}
    assert len(blocks) == 2 and len(vlans) == 2
    loaded = service.load(load_center(sample_center))
    assert loaded.problems == []
    assert {loaded.plan.prefix("czj-db2").cidr, loaded.plan.prefix("rsj-db2").cidr} == blocks


def test_a_held_lock_makes_the_second_operator_wait(sample_center):
    center = load_center(sample_center)
    core = sample_center / CORE
    before = core.read_bytes()
    with service.plan_lock(center, center.address_plan):
        p = cloudctl(
            sample_center,
            "allocate",
            "-z",
            "core",
            "-t",
            "czj",
            "-l",
            "24",
            "-n",
            "czj-app2",
            wait=False,
        )
        time.sleep(1.5)
        assert p.poll() is None  # still waiting for the lock
        assert core.read_bytes() == before
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert core.read_bytes() != before
