"""A batch step runs all its systems in one round (issue 17): with no --forks and no
user setting, Ansible gets at least as many forks as the batch has systems."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudctl.migrate import runbook
from cloudctl.migrate.executor import RunSystem
from cloudctl.migrate.model import Step


class _Res:
    ok, rc, status, events, stats = True, 0, "successful", [], {}
    artifact_dir = Path("/nonexistent")


def _forks_of_a_batch(tmp_path, monkeypatch, n: int, forks=None, env_forks=None):
    seen = []

    def fake_run_playbook(*a, **kw):
        seen.append(kw.get("forks"))
        return _Res()

    monkeypatch.setattr(runbook, "run_playbook", fake_run_playbook)
    monkeypatch.chdir(tmp_path)
    if env_forks:
        monkeypatch.setenv("ANSIBLE_FORKS", env_forks)
    else:
        monkeypatch.delenv("ANSIBLE_FORKS", raising=False)
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "none.cfg"))
    (tmp_path / "pb").mkdir(exist_ok=True)
    (tmp_path / "pb" / "step.yml").write_text("- hosts: all\n  tasks: []\n")
    r = runbook.AnsibleStepRunner(
        playbooks=tmp_path / "pb",
        inventory=[],
        artifacts=tmp_path / "art",
        workdir=tmp_path,
        forks=forks,
    )
    step = Step(name="s", kind="playbook", playbook="step.yml", batch=True)
    members = [
        (f"app{i:02d}", (RunSystem(f"app{i:02d}", "", "", [], [], [], [step]), step, print))
        for i in range(n)
    ]
    r._playbook_batch("run", step, "s", members)
    return seen[0]


@pytest.mark.parametrize(("n", "expected"), [(3, 10), (10, 10), (20, 20), (40, 40)])
def test_a_batch_gets_a_fork_per_system(tmp_path, monkeypatch, n, expected):
    assert _forks_of_a_batch(tmp_path, monkeypatch, n) == expected


def test_the_operators_forks_and_ansible_setting_win(tmp_path, monkeypatch):
    assert _forks_of_a_batch(tmp_path, monkeypatch, 20, forks=4) == 4
    assert _forks_of_a_batch(tmp_path, monkeypatch, 20, env_forks="3") is None  # theirs
