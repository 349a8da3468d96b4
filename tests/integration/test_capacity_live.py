"""cloudctl capacity against the lab's real Nova, Cinder and Neutron (read only)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(lab, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **lab.env(), "CLOUDCTL_CENTER": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "cloudctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_read_usage_in_bulk_from_the_lab(lab):
    from cloudctl.capacity.live import read_usage

    u = read_usage("lab", str(lab.clouds_yaml))
    assert u.services["compute"] and u.services["volume"]
    assert u.hypervisors == 0  # the lab runs Nova's API without compute nodes
    assert u.projects, "Keystone has projects"
    admin = next(p for p in u.projects if p.name == "admin")
    assert admin.cores[1] != 0 and admin.gigabytes[1] != 0  # real limits from Nova / Cinder
    # bulk: a fixed number of list calls plus one quota set per project and service
    assert u.requests <= 8 + 2 * len(u.projects)


def test_auto_falls_back_to_the_file_on_a_cloud_without_compute_nodes(lab):
    r = cli(lab, "--lang", "en", "capacity", "-o", "json")
    assert r.returncode in (0, 1), r.stderr
    data = json.loads(r.stdout)
    assert data["usage_source"] == "file"
    assert any("no compute nodes" in n for n in data["notes"])


def test_usage_cloud_takes_the_clouds_figures(lab):
    """The lab runs no servers: with --usage cloud the forecast starts from what the cloud
    reports (nothing), so only the migration waves fill phase 1."""
    r = cli(lab, "--lang", "en", "capacity", "-o", "json", "--usage", "cloud")
    assert r.returncode in (0, 1), r.stderr
    live = json.loads(r.stdout)
    f = json.loads(cli(lab, "capacity", "-o", "json", "--usage", "file").stdout)
    assert live["usage_source"] == "cloud"
    vcpu_live = next(x for x in live["resources"] if x["resource"] == "vcpu")
    vcpu_file = next(x for x in f["resources"] if x["resource"] == "vcpu")
    assert vcpu_live["monthly"][0]["used"] < vcpu_file["monthly"][0]["used"]
