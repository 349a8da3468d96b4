"""Integration fixtures: the real lab (OpenStack services + SSH hosts), started on demand.

Every test in tests/integration is marked ``integration`` automatically. ``lab``,
``lab_env`` and ``sdk`` are in tests/conftest.py (tests/security uses them too).
"""

from __future__ import annotations

from pathlib import Path

import pytest


def ssh_extra_args(lab) -> str:
    """Host keys checked against the keys `lab up` recorded (the lab's known_hosts)."""
    return (
        f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={lab.dir / 'known_hosts'} "
        "-o LogLevel=ERROR"
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def lab_admin_conn(lab):
    """openstacksdk Connection to the lab's cloud ``lab`` as admin."""
    conn = lab.admin_connection()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def lab_inventory(lab) -> Path:
    """The lab's Ansible inventory (YAML; group ``lab`` plus the center's groups)."""
    return lab.inventory


def testinfra_host(lab, name: str, sudo: bool = False):
    """A testinfra host for lab host ``name`` over the fast ``ssh`` backend."""
    import testinfra

    h = lab.hosts[name]
    return testinfra.get_host(
        f"ssh://{h.user}@127.0.0.1:{h.port}",
        ssh_identity_file=str(h.key_file),
        ssh_extra_args=ssh_extra_args(lab),
        controlpath="/tmp/.cloudctl-lab-ssh-%%C",  # one connection per host; %% for testinfra
        sudo=sudo,
    )


@pytest.fixture(scope="session")
def lab_testinfra(lab):
    """``lab_testinfra("yun-db01", sudo=True)`` -> testinfra host of a lab host."""

    def get(name: str, sudo: bool = False):
        return testinfra_host(lab, name, sudo)

    return get
