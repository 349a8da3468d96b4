"""Integration fixtures: the real lab (OpenStack services + SSH hosts), started on demand.

Every test in tests/integration is marked ``integration`` automatically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def lab():
    """The running lab (brought up once per session if it is not running)."""
    from cloudctl.lab.api import ensure_lab

    return ensure_lab(center=PROJECT_ROOT)
