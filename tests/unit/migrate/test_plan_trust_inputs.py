"""Issue 11 §1/§7 through `cloudctl migrate validate`: wrong values in plans and step
templates are `file:line` problems (exit 2); a plan cannot run commands or outside
playbooks the center did not allow; Jinja in data is a warning; a 0-byte journal is an
error, not a new empty journal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HEAD = "version: 1\nname: t\nsystems:\n"
WAVES = "waves:\n  - {id: w, systems: [a]}\n"


def system(extra: str = "", steps: str | None = None, target_hosts: str = "[localhost]") -> str:
    steps = steps or (
        "      - {name: s, playbook: t/p.yml, vars: {unit: app.service}, rollback: none}\n"
    )
    return (
        "  - id: a\n    name_zh: 系统a\n    department: dzzwb\n"
        "    source_hosts: [localhost]\n"
        f"    target: {{tenant: dzzwb, network: dzzwb-app, hosts: {target_hosts}}}\n"
        f"{extra}    steps:\n{steps}"
    )


@pytest.fixture
def center(tmp_path: Path, controller_center) -> Path:
    c = controller_center(
        tmp_path / "c", {"t/p.yml": "- hosts: localhost\n  gather_facts: false\n  tasks: []\n"}
    )
    (tmp_path / "outside.yml").write_text("- hosts: localhost\n  tasks: []\n")
    return c


def validate(cli, center: Path, text: str, templates: dict[str, str] | None = None):
    plans = center / "migration_plans"
    (plans / "p.yaml").write_text(text)
    for name, body in (templates or {}).items():
        (plans / "templates").mkdir(exist_ok=True)
        (plans / "templates" / f"{name}.yaml").write_text(body)
    return cli("--center", str(center), "--lang", "en", "migrate", "validate")


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def assert_problem(r, file: str, line: int, words: str) -> None:
    assert r.exit_code == 2, r.output
    pat = re.compile(rf"{re.escape(file)}:{line}: .*{re.escape(words)}")
    assert any(pat.search(x) for x in r.output.splitlines()), r.output
    assert "Traceback" not in r.output


def test_the_plan_used_below_is_valid(cli, center):
    r = validate(cli, center, HEAD + system() + WAVES)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    ("fragment", "needle", "words"),
    [
        ("    data: {size: 1GiB, sync: teleport}\n", "teleport", "data.sync is 'teleport'"),
        (None, "port: eighty", "`port` must be a port number 1..65535, not 'eighty'"),
        (None, "port: 70000", "`port` must be a port number 1..65535, not 70000"),
        (None, "port: -1", "`port` must be a port number 1..65535, not -1"),
        (None, "unit: [a, b]", "`unit` must be text"),
    ],
)
def test_bad_values_are_file_line_problems(cli, center, fragment, needle, words):
    if fragment is not None:
        text = HEAD + system(extra=fragment) + WAVES
    else:
        steps = f"      - {{name: s, playbook: t/p.yml, vars: {{{needle}}}, rollback: none}}\n"
        text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, needle), words)


def test_template_params_are_checked_at_the_systems_line(cli, center):
    tpl = (
        "version: 1\nkind: step-template\nname: tp\nparams:\n  unit: {description: u}\n"
        "  port: {default: 8080}\nsteps:\n"
        "  - {name: s, playbook: t/p.yml, vars: {unit: '${unit}', port: '${port}'}, "
        "rollback: none}\n"
    )
    extra = "    template: tp\n    params: {unit: [a, b], port: eighty}\n"
    text = HEAD + system(extra=extra).split("    steps:\n")[0] + WAVES
    r = validate(cli, center, text, {"tp": tpl})
    line = line_of(text, "params:")
    assert_problem(r, "p.yaml", line, "`unit` must be text")
    assert_problem(r, "p.yaml", line, "`port` must be a port number 1..65535, not 'eighty'")


def test_empty_host_lists_are_problems(cli, center):
    text = HEAD + system(target_hosts="[]") + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "hosts: []"), "`hosts` is empty")
    text = (HEAD + system() + WAVES).replace("source_hosts: [localhost]", "source_hosts: []")
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "source_hosts: []"), "`source_hosts` is empty")


def test_step_hosts_must_name_a_host_or_group(cli, center):
    steps = (
        "      - {name: s, playbook: t/p.yml, hosts: no-such-host, vars: {unit: u},\n"
        "         rollback: none}\n"
    )
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "no-such-host"), "'no-such-host', which is no host")
    ok = HEAD + system(steps=steps.replace("no-such-host", "all")) + WAVES
    assert validate(cli, center, ok).exit_code == 0


def test_command_must_be_text_or_a_list_of_texts(cli, center):
    steps = "      - {name: s, kind: command, command: [ls, 3], rollback: none}\n"
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "command: [ls, 3]"), "`command` must be text")


def test_unknown_keys_in_step_templates(cli, center):
    tpl = (
        "version: 1\nkind: step-template\nname: tp\nsteppz: []\n"
        "params:\n  unit: {description: u, defualt: x}\n"
        "steps:\n  - {name: s, playbook: t/p.yml, vars: {unit: '${unit}'}, rollback: none}\n"
    )
    text = HEAD + system(extra="    template: tp\n    params: {unit: a}\n").split("    steps:")[0]
    r = validate(cli, center, text + WAVES, {"tp": tpl})
    assert_problem(r, "templates/tp.yaml", 4, "unknown field `steppz`")
    assert_problem(r, "templates/tp.yaml", 6, "unknown field `defualt`")


# ------------------------------------------------------------------ a plan is data


def test_command_steps_need_the_centers_allowance(cli, center):
    steps = "      - {name: s, kind: command, command: 'touch /tmp/x', rollback: none}\n"
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "kind: command"), "not in trust.allow_commands")
    with (center / "cloudctl.yaml").open("a") as f:
        f.write("trust:\n  allow_commands: ['touch /tmp/x']\n")
    assert validate(cli, center, text).exit_code == 0
    # the allowance is for that exact text only
    other = text.replace("touch /tmp/x", "touch /tmp/x; id")
    r = validate(cli, center, other)
    assert_problem(r, "p.yaml", line_of(other, "kind: command"), "not in trust.allow_commands")


@pytest.mark.parametrize("var", ["dump_command", "restore_command", "cleanup_command"])
def test_command_vars_of_shipped_playbooks_need_the_allowance_too(cli, center, var):
    # db-sync.yml runs dump/restore_command, db-cleanup.yml cleanup_command, as shell lines
    steps = (
        f"      - {{name: s, playbook: t/p.yml, vars: {{{var}: 'mysqldump x'}}, rollback: none}}\n"
    )
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, var), f"vars.{var} 'mysqldump x'")


@pytest.mark.parametrize("where", ["../../outside.yml", "ABS"])
def test_playbooks_outside_playbooks_dir_need_the_allowance(cli, center, where):
    outside = center.parent / "outside.yml"
    rel = str(outside) if where == "ABS" else where
    steps = f"      - {{name: s, playbook: '{rel}', rollback: none}}\n"
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert_problem(r, "p.yaml", line_of(text, "outside.yml"), "not in trust.allow_playbooks")
    with (center / "cloudctl.yaml").open("a") as f:
        f.write(f"trust:\n  allow_playbooks: ['{outside}']\n")
    assert validate(cli, center, text).exit_code == 0


def test_run_refuses_too_and_runs_nothing(cli, center, tmp_path):
    marker = tmp_path / "ran"
    steps = f"      - {{name: s, kind: command, command: 'touch {marker}', rollback: none}}\n"
    text = HEAD + system(steps=steps) + WAVES
    (center / "migration_plans" / "p.yaml").write_text(text)
    r = cli("--center", str(center), "--lang", "en", "migrate", "run", "--wave", "w")
    assert_problem(r, "p.yaml", line_of(text, "kind: command"), "not in trust.allow_commands")
    assert not marker.exists()


def test_runner_refuses_a_journaled_step_the_center_no_longer_allows(tmp_path):
    """A resumed run replays the journal's steps: the runner checks again."""
    from cloudctl.core.center import Trust
    from cloudctl.migrate.executor import RunSystem
    from cloudctl.migrate.model import Step
    from cloudctl.migrate.runbook import AnsibleStepRunner

    marker = tmp_path / "ran"
    runner = AnsibleStepRunner(
        playbooks=tmp_path / "pb", inventory=[], artifacts=tmp_path / "art", workdir=tmp_path
    )
    s = RunSystem("a", "", "", [], [], [], [])
    step = Step(name="s", kind="command", command=f"touch {marker}")
    out = runner("r", s, step, "forward", 0, 1, lambda t: None)
    assert out.status == "failed" and "not in trust.allow_commands" in (out.message or "")
    assert not marker.exists()
    runner.trust = Trust(allow_commands=(f"touch {marker}",))
    assert runner("r", s, step, "forward", 0, 2, lambda t: None).status == "ok"
    assert marker.exists()
    art = tmp_path / "art" / "r" / "a" / "st00-s-a2"
    assert oct(art.stat().st_mode & 0o777) == "0o700"
    assert oct((art / "stdout").stat().st_mode & 0o777) == "0o600"
    bad = Step(name="p", kind="playbook", playbook="../elsewhere.yml")
    out = runner("r", s, bad, "forward", 1, 1, lambda t: None)
    assert out.status == "failed" and "trust.allow_playbooks" in (out.message or "")


def test_trust_section_errors_have_a_line(cli, center):
    with (center / "cloudctl.yaml").open("a") as f:
        f.write("trust:\n  host_key_checking: off\n")
    r = cli("--center", str(center), "migrate", "validate")
    assert r.exit_code == 2 and "cloudctl.yaml:" in r.output and "host_key_checking" in r.output


# ------------------------------------------------------------------------ warnings


def test_jinja_in_data_is_a_warning_with_file_line(cli, center):
    steps = (
        "      - name: s\n        playbook: t/p.yml\n        rollback: none\n"
        "        vars:\n          unit: \"{{ lookup('pipe', 'id') }}\"\n"
        "          more: ['{% if x %}y{% endif %}']\n"
    )
    text = HEAD + system(steps=steps) + WAVES
    r = validate(cli, center, text)
    assert r.exit_code == 0, r.output  # a warning, not an error
    assert f"p.yaml:{line_of(text, 'lookup')}: warning: " in r.output
    assert f"p.yaml:{line_of(text, '{% if')}: warning: " in r.output


# ------------------------------------------------------------------------- journal


def test_a_zero_byte_journal_is_an_error_not_a_new_journal(cli, center, tmp_path):
    j = tmp_path / "journal.db"
    j.write_bytes(b"")
    for cmd in (["history"], ["status"], ["run", "--wave", "w"]):
        (center / "migration_plans" / "p.yaml").write_text(HEAD + system() + WAVES)
        r = cli("--center", str(center), "--lang", "en", "migrate", *cmd, "--journal", str(j))
        assert r.exit_code == 2, (cmd, r.output)
        assert f"{j}: the journal is empty (0 bytes)" in r.output, r.output
    assert j.stat().st_size == 0  # left as it was
