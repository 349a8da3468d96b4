"""Fixtures for the ipam tests: a copy of the sample center, and tiny hand-written plans."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

VRFS = """\
vrfs:
  - {name: gov, rd: "65010:100"}
  - {name: dr, rd: "65010:200"}
"""

ZONES = """\
dns: [10.40.1.53]
zones:
  - name: core
    vrf: gov
    supernets: [10.20.0.0/16]
    vlans: 1500-1999
  - name: data
    vrf: gov
    supernets: [10.30.0.0/16]
    vlans: 2000-2499
  - name: drill
    vrf: dr
    supernets: [10.20.0.0/16]
    vlans: 3000-3499
"""

DEPARTMENTS = """\
departments:
  - {code: czj, name_zh: 市财政局, name_en: Finance Bureau, kind: department}
  - {code: rsj, name_zh: 市人社局, name_en: HR and Social Security Bureau, kind: department}
"""


@pytest.fixture
def sample_center(tmp_path: Path, project_root: Path) -> Path:
    """A copy of the sample center's plan and departments (tests may change it freely)."""
    shutil.copy(project_root / "cloudctl.yaml", tmp_path / "cloudctl.yaml")
    (tmp_path / "inventory").mkdir()
    shutil.copytree(project_root / "inventory" / "ipam", tmp_path / "inventory" / "ipam")
    shutil.copy(project_root / "inventory" / "departments.yaml", tmp_path / "inventory")
    return tmp_path


class MiniCenter:
    """A center with a three-zone plan; ``prefixes(text)`` writes prefixes/core.yaml."""

    def __init__(self, root: Path):
        self.root = root
        self.plan = root / "inventory" / "ipam"
        (self.plan / "prefixes").mkdir(parents=True)
        (root / "cloudctl.yaml").write_text("name: mini\n", encoding="utf-8")
        (self.plan / "vrfs.yaml").write_text(VRFS, encoding="utf-8")
        (self.plan / "zones.yaml").write_text(ZONES, encoding="utf-8")
        (root / "inventory" / "departments.yaml").write_text(DEPARTMENTS, encoding="utf-8")

    def write(self, rel: str, text: str) -> Path:
        path = self.plan / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def prefixes(self, text: str, name: str = "core") -> Path:
        return self.write(f"prefixes/{name}.yaml", text)


@pytest.fixture
def mini(tmp_path: Path) -> MiniCenter:
    return MiniCenter(tmp_path)
