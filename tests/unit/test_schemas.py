"""File schemas (cloudctl/schemas/): every sample file matches its kind, the published JSON
Schemas under schemas/ are the models' own, and a problem is reported at file:line."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import pytest

from cloudctl.cli.schema import schema_text
from cloudctl.core.errors import ValidationFailed
from cloudctl.core.schema import check
from cloudctl.core.yamlio import load_yaml, load_yaml_text
from cloudctl.schemas import kinds

ROOT = Path(__file__).resolve().parents[2]
KINDS = kinds()


def _samples(kind: str) -> list[Path]:
    _model, patterns = KINDS[kind]
    return [Path(f) for p in patterns for f in sorted(glob.glob(str(ROOT / p)))]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_sample_file_matches_its_schema(kind):
    files = _samples(kind)
    assert files, f"no sample file of kind {kind}"
    model, _ = KINDS[kind]
    for f in files:
        _obj, probs = check(model, load_yaml(f), str(f))
        assert probs == [], [str(p) for p in probs]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_published_schema_is_the_models_own(kind):
    published = ROOT / "schemas" / f"{kind}.json"
    assert published.read_text(encoding="utf-8") == schema_text(kind), (
        f"run `cloudctl schema export {kind}` after changing the model"
    )
    doc = json.loads(published.read_text(encoding="utf-8"))
    assert doc["$schema"].endswith("2020-12/schema") and doc["type"] == "object"


def test_sample_files_name_their_schema_for_the_yaml_language_server():
    """A modeline anywhere in the file (at the end: line numbers stay as they were). The
    prefix files are left out: `ipam allocate` appends to them (editors map them by glob)."""
    for kind in KINDS:
        for f in _samples(kind):
            if f.parent.name == "prefixes":
                continue
            text = f.read_text(encoding="utf-8")
            rel = os.path.relpath(ROOT / "schemas" / f"{kind}.json", f.parent)
            assert f"# yaml-language-server: $schema={rel}\n" in text, f


def test_samples_validate_with_jsonschema_if_installed():
    """Only where the venv already has jsonschema (it is not a dependency of cloudctl)."""
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    for kind in KINDS:
        schema = json.loads((ROOT / "schemas" / f"{kind}.json").read_text(encoding="utf-8"))
        for f in _samples(kind):
            doc = json.loads(json.dumps(yaml.safe_load(f.read_text(encoding="utf-8")), default=str))
            jsonschema.validate(doc, schema)


def _problems(kind: str, text: str, name: str = "f.yaml") -> list[str]:
    _obj, probs = check(KINDS[kind][0], load_yaml_text(text, name), name)
    return sorted(str(p) for p in probs)


def test_nested_problems_are_at_their_line():
    text = (
        "version: 1\ncode: czj\nnetworks:\n  - name: app\n    subnets:\n"
        "      - allocation: czj-app\n      - pools: [a]\n        dhcp: maybe\n"
        "users:\n  - {name: ops, roels: [member]}\n"
    )
    assert _problems("tenant", text) == [
        "f.yaml:10: user: unknown key 'roels' (known: description, email, enabled, name, "
        "password_env, roles)",
        "f.yaml:7: subnet misses allocation",
        "f.yaml:8: networks[0].subnets[1].dhcp: 'maybe': input should be a valid boolean, "
        "unable to interpret input",
    ]


def test_a_comma_in_unquoted_bilingual_text_is_caught_at_its_line():
    """What cut 20 catalog texts short: YAML reads `, digits` as a second key."""
    text = (
        "clause: '8.1.4.1'\ntitle: {zh: 身份鉴别, en: Identification}\ncontrols:\n"
        "  - id: x\n    title: {zh: 标题, en: ok}\n"
        "    rationale: {zh: 组合, en: A mix of case, digits and symbols.}\n"
    )
    assert _problems("catalog", text) == [
        "f.yaml:6: controls[0].rationale: unknown key 'digits and symbols.' (known: en, zh)"
    ]


def test_required_values_absent_null_or_empty_are_reported_together():
    text = "waivers:\n  - hosts: '*'\n    control: c\n    approver: ''\n    expires: 20270101\n"
    assert _problems("waivers", text) == [
        "f.yaml:2: waiver misses justification, approver",
        "f.yaml:5: waivers[0].expires: 20270101: value error, expected YYYY-MM-DD",
    ]


def test_center_config_is_checked_by_its_schema(tmp_path):
    from cloudctl.core.center import load_center

    (tmp_path / "cloudctl.yaml").write_text(
        "version: 2\nname: t\nlab:\n  hosts:\n    - {name: a, group: [x]}\n"
        "trust:\n  host_key_checking: sometimes\ntenants_dir: x\n"
    )
    with pytest.raises(ValidationFailed) as e:
        load_center(tmp_path)
    got = sorted(str(p).split("cloudctl.yaml", 1)[1] for p in e.value.problems)
    assert got == [
        ":1: version: 2: input should be 1",
        ":5: lab host: unknown key 'group' (known: groups, name)",
        ":7: trust.host_key_checking: 'sometimes': input should be 'strict' or 'accept-new'",
        ":8: unknown key 'tenants_dir' (known: address_plan, audit, capacity, departments, "
        "evidence, hosts_inventory, lab, migration_plans, name, playbooks, policies, state, "
        "tenant, tenants, trust, version)",
    ]


def test_schema_export_and_validate_commands(cli, tmp_path):
    r = cli("--lang", "en", "schema", "export", "waivers", "--out", str(tmp_path))
    assert r.exit_code == 0 and json.loads((tmp_path / "waivers.json").read_text())["$defs"]
    r = cli("--lang", "en", "schema", "export", "nosuch", "--out", str(tmp_path))
    assert r.exit_code == 2 and "unknown kind 'nosuch'" in r.stderr
    bad = tmp_path / "w.yaml"
    bad.write_text("waivers:\n  - hosts: '*'\n")
    r = cli("--lang", "en", "schema", "validate", "waivers", str(bad))
    assert r.exit_code == 2 and "w.yaml:2: waiver misses control" in r.stderr
    czj = str(ROOT / "inventory/tenants/czj.yaml")
    r = cli("--lang", "en", "schema", "validate", "tenant", czj)
    assert r.exit_code == 0 and "1 file(s) match tenant" in r.stdout


def test_schema_validate_json_lists_each_file_and_keeps_the_input_error_code(cli, tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("waivers:\n  - hosts: '*'\n")
    good = tmp_path / "ok.yaml"
    good.write_text("waivers: []\n")
    r = cli("--lang", "en", "schema", "validate", "waivers", str(good), str(bad), "-o", "json")
    assert r.exit_code == 2, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "cloudctl.schema.check/1" and doc["kind"] == "waivers"
    by_file = {Path(f["file"]).name: f for f in doc["files"]}
    assert by_file["ok.yaml"]["ok"] is True and by_file["ok.yaml"]["problems"] == []
    assert by_file["w.yaml"]["ok"] is False
    assert any(":2: waiver misses control" in p for p in by_file["w.yaml"]["problems"])
    r = cli("--lang", "en", "schema", "export", "waivers", "--out", str(tmp_path), "-o", "value")
    assert r.exit_code == 0 and r.stdout.split() == ["waivers", str(tmp_path / "waivers.json")]
