"""The zone design is enforced by ``tenant validate``/``plan``/``apply`` before any cloud
call: a department's rule that the design forbids is a file:line error naming the flow."""

from __future__ import annotations

import pytest

from .test_cli import make_center


@pytest.mark.parametrize(
    "verb", [("validate",), ("plan", "--os-cloud", "nosuch"), ("apply", "--dry-run")]
)
def test_tenant_commands_refuse_rules_the_design_forbids(cli, tmp_path, verb):
    root = make_center(tmp_path / "c")
    res = cli("--center", str(root), "--lang", "en", "tenant", *verb, "czj")
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if "security-groups/bad.yaml:" in ln]
    assert any("bad.yaml:7:" in ln and "internet→core is not an allowed flow" in ln for ln in lines)
    assert "break the zone design" in res.output


def test_tenant_validate_passes_when_the_rules_fit_the_design(cli, tmp_path):
    root = make_center(tmp_path / "c", template=None)
    res = cli("--center", str(root), "--lang", "en", "tenant", "validate")
    assert res.exit_code == 0, res.output
