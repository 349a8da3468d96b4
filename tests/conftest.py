"""Shared fixtures. ``lab``, ``lab_env`` and ``sdk`` are here because tests/security needs
them too (its lab tests are marked ``integration`` by hand); the rest of the integration
fixtures live in tests/integration/conftest.py, shared helpers in tests/labkit.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def controller_center():
    """``make(root, {"t/x.yml": text})`` -> a center whose only host is the controller
    (connection local), with the sample departments and address plan: real Ansible runs
    without the lab."""

    def make(root: Path, playbooks: dict[str, str]) -> Path:
        (root / "migration_plans").mkdir(parents=True)
        (root / "inventory" / "hosts").mkdir(parents=True)
        (root / "cloudctl.yaml").write_text(
            f"name: t\ndepartments: {PROJECT_ROOT / 'inventory' / 'departments.yaml'}\n"
            f"address_plan: {PROJECT_ROOT / 'inventory' / 'ipam'}\n"
        )
        for rel, text in playbooks.items():
            f = root / "playbooks" / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
        (root / "inventory" / "hosts" / "local.yml").write_text(
            "all:\n  hosts:\n    localhost: {ansible_connection: local, "
            f"ansible_python_interpreter: {sys.executable}}}\n"
        )
        return root

    return make


@pytest.fixture
def cli():
    """Invoke cloudctl in-process: ``cli("ipam", "validate")`` -> click Result."""
    from cloudctl.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def lab():
    """The running lab (brought up once per session if it is not running)."""
    from cloudctl.lab.api import ensure_lab

    return ensure_lab(center=PROJECT_ROOT)


@pytest.fixture(scope="module")
def lab_env(lab):
    """The lab, with OS_CLIENT_CONFIG_FILE/OS_CLOUD naming its admin cloud while the module
    runs: in-process cloudctl commands connect to it."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in lab.env().items():
            mp.setenv(key, value)
        yield lab


@pytest.fixture(scope="module")
def sdk(lab_env):
    """openstacksdk admin connection to the lab, for hand changes and reading results back
    (not through cloudctl's adapter)."""
    conn = lab_env.admin_connection()
    yield conn
    conn.close()


@pytest.fixture
def center(tmp_path: Path) -> Path:
    """An empty center in a temp dir (tests copy the sample data they need into it)."""
    (tmp_path / "cloudctl.yaml").write_text("name: test-center\n", encoding="utf-8")
    return tmp_path
