"""A broken catalog file is a file:line problem, never a crash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cloudctl.baseline.catalog import load_profile
from cloudctl.core.errors import ValidationFailed

ROOT = Path(__file__).resolve().parents[3]
AUDIT = "8.1.4.3-audit.yaml"


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path / "policies"


@pytest.mark.parametrize(
    "edit, line, message",
    [
        (lambda t: "", 1, "catalog file must be a mapping"),
        (lambda t: "- a\n", 1, "catalog file must be a mapping"),
        (lambda t: "just text\n", 1, "catalog file must be a mapping"),
        (lambda t: "controls: 5\n", 1, "controls must be a list"),
        (
            lambda t: t.replace(
                "check: {type: packages, present_any", "check: {type: [packages], present_any", 1
            ),
            13,
            "unknown check type ['packages']",
        ),
        (
            lambda t: t.replace(
                "check: {type: packages, present_any: {debian: [auditd], redhat: [audit]}}",
                "check: packages",
                1,
            ),
            13,
            "check: expected a mapping",
        ),
        (
            lambda t: t.replace("- id: auditd-installed", "- id: [auditd-installed]", 1),
            7,
            "id: expected text",
        ),
    ],
)
def test_broken_catalog_file(policies, edit, line, message):
    f = policies / "mlps-l3" / AUDIT
    f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        load_profile(policies, "mlps-l3")
    got = [str(p) for p in e.value.problems]
    assert any(g.startswith(f"{f}:{line}:") and message in g for g in got), got


def test_profile_variables_and_include_must_have_the_right_shape(policies):
    f = policies / "mlps-l3" / "profile.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(
        text + "\nvariables: 5\n"
        if "variables:" not in text
        else text.replace("variables:", "variables: 5\nx_variables:", 1),
        encoding="utf-8",
    )
    with pytest.raises(ValidationFailed) as e:
        load_profile(policies, "mlps-l3")
    assert any("variables must be a mapping" in str(p) for p in e.value.problems)
