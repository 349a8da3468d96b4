"""Helpers for the migrate unit tests: small plans written to temp files, fake step runners."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from cloudctl.migrate.validate import References


@pytest.fixture
def write_plan(tmp_path: Path):
    """write_plan(yaml_text, templates={name: text}) -> path of the plan file."""

    def write(text: str, templates: dict[str, str] | None = None, name: str = "plan.yaml") -> Path:
        tdir = tmp_path / "templates"
        tdir.mkdir(exist_ok=True)
        for tname, ttext in (templates or {}).items():
            (tdir / f"{tname}.yaml").write_text(textwrap.dedent(ttext), encoding="utf-8")
        p = tmp_path / name
        p.write_text(textwrap.dedent(text), encoding="utf-8")
        return p

    return write


@pytest.fixture
def refs() -> References:
    return References(
        tenants={"dzzwb", "zwfw", "rsj"},
        networks={"dzzwb": {"dzzwb-web", "dzzwb-app"}, "zwfw": {"zwfw-app"}, "rsj": {"rsj-app"}},
        hosts={"old1", "old2", "new1", "new2"},
        playbook_exists=lambda rel: (
            rel in {"migration/a.yml", "migration/b.yml", "migration/undo.yml"}
        ),
    )


@pytest.fixture
def sample_center(tmp_path: Path, project_root: Path) -> Path:
    """A copy of the project's sample center (plans, inventory, playbooks)."""
    root = tmp_path / "center"
    root.mkdir()
    shutil.copy(project_root / "cloudctl.yaml", root / "cloudctl.yaml")
    for d in ("inventory", "migration_plans", "playbooks"):
        shutil.copytree(
            project_root / d, root / d, ignore=shutil.ignore_patterns("lab.yml", "tenants")
        )
    return root
