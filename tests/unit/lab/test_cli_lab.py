"""``cloudctl lab`` through Typer's CliRunner, on an empty lab directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def empty_lab(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("CLOUDCTL_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.setenv("CLOUDCTL_CACHE_DIR", str(tmp_path / "cache"))


def test_status_of_a_lab_that_never_ran_is_down_exit_1(cli, center):
    r = cli("--center", str(center), "lab", "status", "-o", "json")
    assert r.exit_code == 1
    st = json.loads(r.stdout)
    assert st["state"] == "down"
    assert st["services"] == [] and st["hosts"] == []


def test_without_a_core_service_is_an_input_error(cli, center):
    r = cli("--center", str(center), "--lang", "en", "lab", "up", "--without", "keystone")
    assert r.exit_code == 2
    assert "cannot leave out keystone" in r.stderr


def test_reset_of_an_unknown_host_is_an_input_error(cli, center):
    r = cli("--center", str(center), "--lang", "en", "lab", "reset-host", "nope")
    assert r.exit_code == 2
    assert "no lab host 'nope'" in r.stderr


def test_down_of_a_lab_that_never_ran_changes_nothing(cli, center, tmp_path):
    r = cli("--center", str(center), "--lang", "en", "lab", "down")
    assert r.exit_code == 0
    assert "0 items" in r.stdout
    assert not (tmp_path / "lab").exists()


def test_help_lists_the_lab_commands(cli):
    out = cli("lab", "--help").stdout
    for cmd in ("up", "status", "down", "reset-host"):
        assert cmd in out
