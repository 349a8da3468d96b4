"""Address reservations across clones: two clones of one center on one shared state never
hand out the same block, VLAN or name; a reservation is committed once the allocating
clone's git HEAD holds it; ``ipam validate`` warns about those that never landed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def items(doc):
    """A list printed by a command: bare, or under ``items`` of a versioned document."""
    return doc["items"] if isinstance(doc, dict) else doc


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
    )


def make_clone(root: Path) -> Path:
    (root / "inventory").mkdir(parents=True)
    shutil.copytree(PROJECT_ROOT / "inventory" / "ipam", root / "inventory" / "ipam")
    shutil.copy(PROJECT_ROOT / "inventory" / "departments.yaml", root / "inventory")
    (root / "cloudctl.yaml").write_text(
        "name: shared-center\naddress_plan: inventory/ipam\n"
        "departments: inventory/departments.yaml\n"
    )
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "plan")
    return root


@pytest.fixture
def clones(tmp_path, backend, cli):
    a, b = make_clone(tmp_path / "a"), make_clone(tmp_path / "b")

    def run(clone: Path, *args: str):
        return cli("--center", str(clone), "--lang", "en", *args, env=backend.env)

    return a, b, run


def allocate(run, clone, name, tenant="czj"):
    r = run(
        clone, "ipam", "allocate", "-z", "core", "-t", tenant, "-l", "24", "-n", name, "-o", "json"
    )
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_two_clones_get_different_blocks_vlans_and_cannot_share_a_name(clones):
    a, b, run = clones
    got_a = allocate(run, a, "czj-new")
    got_b = allocate(run, b, "rsj-new", "rsj")  # B's plan file does not have A's block
    assert got_a["prefix"] != got_b["prefix"] and got_a["vlan"] != got_b["vlan"]
    r = run(b, "ipam", "allocate", "-z", "core", "-t", "czj", "-l", "24", "-n", "czj-new")
    assert r.exit_code == 2 and "reserved by another clone as " + got_a["prefix"] in r.output
    # the same allocation again in A is idempotent (its plan holds it)
    assert allocate(run, a, "czj-new")["created"] is False


def test_validate_warns_until_the_allocating_clone_commits(clones):
    a, b, run = clones
    got = allocate(run, a, "czj-late")
    r = run(b, "ipam", "validate")
    assert r.exit_code == 0
    assert f"reservation czj-late {got['prefix']} by " in r.output
    assert "not in this plan and not committed by its clone" in r.output
    assert " s ago" in r.output  # its age
    r = run(a, "ipam", "validate", "-o", "json")
    assert [w["name"] for w in json.loads(r.stdout)["warnings"]] == ["czj-late"]
    git(a, "commit", "-q", "-am", "allocate czj-late")
    r = run(a, "ipam", "validate", "-o", "json")
    assert json.loads(r.stdout)["warnings"] == []
    assert "czj-late" not in run(b, "ipam", "validate").output  # committed: it has landed
    # still held for B until B's plan has it: B cannot get that block
    assert allocate(run, b, "czj-other")["prefix"] != got["prefix"]


def test_release_drops_the_reservation(clones, backend):
    a, b, run = clones
    got = allocate(run, a, "czj-tmp")
    assert run(a, "ipam", "release", "czj-tmp").exit_code == 0
    from cloudctl.state.reservations import ReservationStore

    assert [
        r.name for r in ReservationStore(backend.db()).for_plan("shared-center:inventory/ipam")
    ] == []
    # the block is free again for B
    assert allocate(run, b, "czj-again")["prefix"] == got["prefix"]
