"""playbooks/ is clean for ansible-lint at the `production` profile (issue 14 §4), the
profile Ansible Automation Platform / AWX expects of certified content.

Offline: ansible-lint installs nothing (collections, requirements) and fetches no schema.
`--strict` turns warnings into failures too: any finding fails the test, and the output
names each one as `file:line: rule: message`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def ansible_lint(*paths: str) -> subprocess.CompletedProcess:
    exe = BIN / "ansible-lint"
    assert exe.exists(), "ansible-lint is a dev extra: pip install -e '.[dev]'"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "NO_COLOR": "1",
        "ANSIBLE_LINT_SKIP_SCHEMA_UPDATE": "1",
    }
    return subprocess.run(
        [str(exe), "--offline", "--strict", "--profile", "production", "--nocolor",
         "--format", "pep8", *paths],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip


@pytest.mark.slow
def test_playbooks_are_clean_at_the_production_profile():
    r = ansible_lint("playbooks/")
    assert r.returncode == 0, f"ansible-lint findings:\n{r.stdout}\n{r.stderr[-3000:]}"
    assert r.stdout.strip() == "", r.stdout
    assert "0 failure(s), 0 warning(s)" in r.stderr, r.stderr[-2000:]
    assert "Profile 'production' was required, and it passed" in r.stderr


@pytest.mark.slow
def test_the_check_can_fail(tmp_path):
    """The same command reports a finding (it is not silently linting nothing)."""
    bad = tmp_path / "probe.yml"
    bad.write_text("- hosts: all\n  tasks:\n    - shell: echo hi | cat\n")
    r = ansible_lint(str(bad))
    assert r.returncode != 0
    assert "risky-shell-pipe" in r.stdout and "name[play]" in r.stdout, r.stdout
