"""Shared fixtures. Integration fixtures (the lab) live in tests/integration/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture
def cli():
    """Invoke cloudctl in-process: ``cli("ipam", "validate")`` -> click Result."""
    from cloudctl.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, env: dict | None = None):
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def center(tmp_path: Path) -> Path:
    """An empty center in a temp dir (tests copy the sample data they need into it)."""
    (tmp_path / "cloudctl.yaml").write_text("name: test-center\n", encoding="utf-8")
    return tmp_path
