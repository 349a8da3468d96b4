"""The remediation role roles/baseline as Ansible users expect it (issue 14 §4): defaults and
an argument spec for every variable its tasks read, one task file per clause, task names
that map back to their control, the catalog's spelling gone, and a remediation that runs the
committed role, or a freshly generated one when the committed role is out of date."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudctl.baseline import remediate as R
from cloudctl.baseline import role
from cloudctl.baseline.catalog import CLAUSE_TITLES, load_profile

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "playbooks/baseline"
ROLE = BASE / "roles/baseline"
PROFILE = load_profile(ROOT / "policies", "mlps-l3")
REMEDIABLE = [c for c in PROFILE.automated if c.remediable]


def _yaml(rel: str):
    return yaml.safe_load((ROLE / rel).read_text())


def _role_text() -> str:
    return "\n".join(
        p.read_text() for p in sorted(ROLE.rglob("*")) if p.is_file() and "meta" not in p.parts
    )


def test_defaults_and_argument_spec_cover_every_variable_the_role_reads():
    read = set(re.findall(r"\b(baseline_[a-z0-9_]+)\b", _role_text())) - {R.TARGETS_VAR}
    defaults = _yaml("defaults/main.yml")
    options = _yaml("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert read and read <= set(defaults), read - set(defaults)
    assert set(defaults) | {R.TARGETS_VAR} == set(options)
    for name, value in defaults.items():
        profile_default = PROFILE.variables[name.removeprefix("baseline_")].default
        assert value == profile_default, name  # YAML kept the type: 'no' is no boolean
        assert options[name]["type"] == R._spec_type(value), name
        assert options[name]["description"], name
    assert defaults["baseline_ssh_permit_root_login"] == "no"
    assert defaults["baseline_umask"] == "027"
    assert options[R.TARGETS_VAR] == {**options[R.TARGETS_VAR], "type": "dict", "required": False}


def test_one_task_file_per_clause_imported_with_its_clause_tag():
    main = _yaml("tasks/main.yml")
    imports = {
        t["ansible.builtin.import_tasks"]: t["tags"]
        for t in main
        if "ansible.builtin.import_tasks" in t
    }
    clauses = sorted({c.clause for c in REMEDIABLE}, key=R._clause_key)
    assert list(imports) == [R.clause_file(c) for c in clauses]
    assert [tags for tags in imports.values()] == [[c] for c in clauses]
    assert R.clause_file("8.1.4.1") == "8.1.4.1-identification-and-authentication.yml"
    for clause in clauses:
        blocks = _yaml(f"tasks/{R.clause_file(clause)}")
        ids = [b["tags"][0] for b in blocks]
        assert ids == [c.id for c in REMEDIABLE if c.clause == clause]
        assert all(b["when"] == R._targeted(b["tags"][0]) for b in blocks)
    assert set(CLAUSE_TITLES) >= set(clauses)


def test_handlers_listen_to_what_the_tasks_notify():
    handlers = _yaml("handlers/main.yml")
    topics = {h["listen"] for h in handlers}
    notified = set(re.findall(r"^\s+notify: (.+)$", _role_text(), re.M))
    assert notified and notified <= topics, notified - topics
    reload = [h["name"] for h in handlers if h["listen"] == R.RELOAD_SSHD]
    assert reload == ["Validate the sshd configuration", "Reload sshd"]  # validated first


def test_the_catalog_spelling_is_gone_and_registered_variables_are_private():
    text = _role_text()
    assert not re.search(r"(?<![\w.-])mlps\.[a-z_]+", text)
    registered = re.findall(r"^\s+register: (\S+)$", text, re.M)
    assert registered and all(r.startswith("__baseline_") for r in registered), registered
    # check.yml sends every baseline_* variable with the evidence: none may be a result
    assert not re.findall(r"^\s+register: baseline_", text, re.M)


def test_pam_profiles_are_templates_identical_to_the_catalog():
    for c in REMEDIABLE:
        profiles = ((c.remediation.get("pam") or {}).get("debian") or {}).get("profiles") or {}
        for name, text in profiles.items():
            tpl = (ROLE / "templates" / R.pam_template(name)).read_text()
            assert tpl == text.replace("mlps.", "baseline_"), name
            assert "\t" in tpl  # the format's tabs, kept out of the YAML (no-tabs)


def test_task_names_map_back_to_their_control():
    assert R.task_control("8.1.4.2a sshd-permit-root-login | sshd PermitRootLogin") == (
        "sshd-permit-root-login",
        "sshd PermitRootLogin",
    )
    assert R.task_control("8.1.4.10a shell-histsize | a | b") == ("shell-histsize", "a | b")
    others = ["Gathering Facts", "Validating arguments against arg spec 'main' - X", "Reload sshd"]
    for own in (R.SSHD_RUNTIME_TASK, "sshd-macs | old style", *others):
        assert R.task_control(own)[0] == "", own


def test_yaml_keeps_ansible_types_and_short_lines():
    data = {"a": "no", "b": "027", "c": "x," * 80, "d": ["yes", "8.1.4.1"], "e": "{{ a | b('') }}"}
    text = R.dump_yaml(data)
    assert yaml.safe_load(text) == data  # YAML 1.1, as Ansible reads it
    assert max(len(line) for line in text.splitlines()) <= 160
    assert "''''" not in text  # no YAML doubling of the quotes in Jinja's ('')


def _copy_base(tmp_path: Path) -> Path:
    base = tmp_path / "baseline"
    shutil.copytree(BASE, base, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    return base


def test_remediation_runs_the_committed_role_when_it_matches_the_catalog(tmp_path):
    base = _copy_base(tmp_path)
    files = R.role_files(PROFILE, REMEDIABLE)
    pb, stale = role.playbook_for_run(base, files, tmp_path / "run")
    assert (pb, stale) == (base / "remediate.yml", [])
    assert not (tmp_path / "run").exists()
    assert (base / "roles/baseline/library/mlps_pam.py").is_file()  # the role is self-contained
    assert (base / "roles/baseline/filter_plugins/mlps.py").is_file()


def test_an_out_of_date_role_is_not_run_a_generated_one_is(tmp_path):
    base = _copy_base(tmp_path)
    clause = base / "roles/baseline/tasks" / R.clause_file("8.1.4.2")
    clause.write_text(clause.read_text().replace("0640", "0644"))  # an edit by hand
    (base / "roles/baseline/tasks/8.1.4.99-old.yml").write_text("---\n[]\n")  # an old clause
    files = R.role_files(PROFILE, REMEDIABLE)
    run = tmp_path / "arts" / "r1.role"
    pb, stale = role.playbook_for_run(base, files, run)
    assert pb == run / "remediate.yml"
    assert set(stale) == {
        f"roles/baseline/tasks/{R.clause_file('8.1.4.2')}",
        "roles/baseline/tasks/8.1.4.99-old.yml",
    }
    assert role.differences(run, files) == []
    assert (run / "roles/baseline/library/mlps_evidence.py").is_file()
    modes = {p: p.stat().st_mode & 0o777 for p in run.rglob("*") if not p.is_symlink()}
    assert all(m == 0o600 for p, m in modes.items() if p.is_file()), modes
    assert (run.stat().st_mode & 0o777) == 0o700
    # `cloudctl baseline playbook` brings the committed role back in line, old clause gone
    changed = role.write_role(base, files)
    assert set(changed) == set(stale) and role.differences(base, files) == []
    assert not (base / "roles/baseline/tasks/8.1.4.99-old.yml").exists()


def test_cli_playbook_writes_the_role(cli, center):
    shutil.copytree(ROOT / "policies", center / "policies")
    out = center / "pb"
    r = cli("--center", str(center), "baseline", "playbook", "--out", str(out))
    assert r.exit_code == 0, r.output
    assert role.differences(out, R.role_files(PROFILE, REMEDIABLE)) == []
    assert yaml.safe_load((out / "remediate.yml").read_text())[0]["roles"] == [{"role": "baseline"}]


@pytest.mark.slow
def test_ansible_renders_the_pam_templates_byte_for_byte(tmp_path):
    """pam-auth-update profiles are compared byte for byte on the host (idempotency): the
    template lookup must keep the tabs and the final newline."""
    names = [n for c in REMEDIABLE for n in R.pam_profiles([c])]
    play = [
        {
            "name": "Render",
            "hosts": "localhost",
            "gather_facts": False,
            "vars": {"baseline_password_remember": 5, "ansible_python_interpreter": sys.executable},
            "tasks": [
                {
                    "name": "Render",
                    "ansible.builtin.copy": {
                        "dest": f"{tmp_path}/{{{{ item }}}}",
                        "content": "{{ lookup('ansible.builtin.template', tpl + item + '.j2') }}",
                        "mode": "0600",
                    },
                    "vars": {"tpl": str(ROLE / "templates/pam-configs") + "/"},
                    "loop": names,
                }
            ],
        }
    ]
    (tmp_path / "p.yml").write_text(json.dumps(play))
    env = {**os.environ, "ANSIBLE_LOCALHOST_WARNING": "false"}
    r = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(tmp_path / "p.yml")],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    for c in REMEDIABLE:
        profiles = ((c.remediation.get("pam") or {}).get("debian") or {}).get("profiles") or {}
        for name, text in profiles.items():
            expected = text.replace("{{ mlps.password_remember }}", "5")
            assert (tmp_path / name).read_text() == expected, name


@pytest.mark.slow
def test_remediate_runs_the_role_and_a_stale_one_is_replaced_for_the_run(tmp_path):
    """A real run (check mode, the controller as the host): the committed role runs; with
    a hand-edited role, the run uses the catalog's role from its private directory and
    reports which files were stale. Both read the targets the same way."""
    from cloudctl.baseline import service as bsvc
    from cloudctl.core.center import load_center

    c = tmp_path / "c"
    (c / "inventory").mkdir(parents=True)
    (c / "playbooks").mkdir()
    _copy_base(c / "playbooks")
    (c / "cloudctl.yaml").write_text(
        f"name: t\npolicies: {ROOT / 'policies'}\nplaybooks: {c / 'playbooks'}\n"
    )
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, "
        f"ansible_python_interpreter: {sys.executable}}}\n"
    )
    center = load_center(c)
    inputs = bsvc.load_inputs(center)
    targets = {"sshd-x11-forwarding": ["not-this-host"]}  # every task skipped by its when
    out = bsvc.remediate(center, [inv], inputs, targets, limit=None, dry_run=True, run_id="r1")
    assert out.playbook == c / "playbooks/baseline/remediate.yml" and out.stale_role == []
    assert out.result.rc == 0, out.result.stdout_tail()
    started = {
        str(e["event_data"].get("task"))
        for e in out.result.events
        if e.get("event") == "playbook_on_task_start"
    }
    assert any(t.startswith("Validating arguments against arg spec 'main'") for t in started)
    assert any(R.task_control(t)[0] == "sshd-x11-forwarding" for t in started)

    defaults = c / "playbooks/baseline/roles/baseline/defaults/main.yml"
    defaults.write_text(defaults.read_text().replace("baseline_tmout: 600", "baseline_tmout: 6000"))
    out = bsvc.remediate(center, [inv], inputs, targets, limit=None, dry_run=True, run_id="r2")
    assert out.stale_role == ["roles/baseline/defaults/main.yml"]
    assert out.playbook.parent == center.artifacts / "baseline" / "r2.role"
    assert out.result.rc == 0, out.result.stdout_tail()
    assert (
        "baseline_tmout: 600\n"
        in (out.playbook.parent / R.ROLE_DIR / "defaults/main.yml").read_text()
    )
