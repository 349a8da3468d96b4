"""`migrate validate` and `migrate plan` must not pay for what only runs need (issue 17,
cold start): the executor, the journal and the state DB, Ansible's runner, rich's progress
bars, Jinja for the HTML report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HEAVY = [
    "cloudctl.migrate.executor",
    "cloudctl.migrate.journal",
    "cloudctl.migrate.runbook",
    "cloudctl.ansible.runner",
    "cloudctl.state",
    "rich.progress",
    "jinja2",
]

CODE = """
import sys
from pathlib import Path
from cloudctl.cli import migrate as cli
from cloudctl.migrate import model, service, validate
plan = model.load_plan(Path(sys.argv[1]))
service.wave_table(plan, True, 10, 4)
print(",".join(m for m in sys.argv[2:] if m in sys.modules))
"""


def test_plan_path_imports_nothing_heavy(tmp_path: Path):
    root = Path(__file__).resolve().parents[3]
    plan = root / "migration_plans" / "xiaogan-2016.yaml"
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(plan), *HEAVY],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert out.stdout.strip() == "", f"imported at start-up: {out.stdout.strip()}"
