"""Issue 11 §1: a value from a data file never runs code on the controller.

Every test runs a real ansible-playbook (on a center whose hosts are the controller,
connection local, or a host that cannot be reached) with hostile values such as
``{{ lookup('pipe', 'touch MARKER') }}`` and ``{% ... %}``, and asserts that no marker
appears while the play still runs and prints the value as it is.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from cloudctl.ansible.runner import run_playbook, unsafe_yaml

SHOW = """---
- name: Show what the plan gave
  hosts: "{{ migrate_batch | default('unreach') }}"
  gather_facts: false
  tasks:
    - name: Show
      ansible.builtin.debug:
        msg: "unit={{ unit }} extra={{ extra | default('-') }}"
"""


def hostile(marker: Path) -> tuple[str, str]:
    return (
        f"{{{{ lookup('pipe', 'touch {marker}') }}}}",
        f"{{% if lookup('pipe', 'touch {marker}-2') %}}x{{% endif %}}",
    )


def add_unreachable_host(center: Path) -> None:
    (center / "inventory" / "hosts" / "unreach.yml").write_text(
        "all:\n  hosts:\n    unreach: {ansible_host: 127.0.0.1, ansible_port: 1, "
        "ansible_connection: ssh}\n"
    )


def stdout_of_run(center: Path) -> str:
    arts = center / ".cloudctl" / "artifacts" / "migrate"
    return "\n".join(p.read_text() for p in arts.rglob("stdout"))


def test_plan_values_reach_ansible_unsafe_extra_vars_and_batch_host_vars(
    cli, tmp_path, controller_center
):
    """The issue's exploit: params.unit (template → batch host vars and extra vars) and a
    step's own vars (→ extra vars), hosts unreachable: `migrate run` ran the code."""
    c = controller_center(tmp_path / "c", {"t/show.yml": SHOW})
    add_unreachable_host(c)
    marker = tmp_path / "MARKER"
    jinja, block = hostile(marker)
    tpl = (
        "version: 1\nkind: step-template\nname: tp\nparams:\n  unit: {description: u}\n"
        "steps:\n"
        "  - {name: batched, kind: check, batch: true, playbook: t/show.yml, "
        "vars: {unit: '${unit}'}}\n"
        "  - {name: alone, kind: check, playbook: t/show.yml, vars: {unit: '${unit}'}}\n"
    )
    (c / "migration_plans" / "templates").mkdir()
    (c / "migration_plans" / "templates" / "tp.yaml").write_text(tpl)
    plan = {
        "version": 1,
        "name": "p",
        "systems": [
            {
                "id": "a",
                "name_zh": "a",
                "department": "dzzwb",
                "strategy": "retire",
                "template": "tp",
                "params": {"unit": jinja},
            },
            {
                "id": "b",
                "name_zh": "b",
                "department": "dzzwb",
                "strategy": "retire",
                "steps": [
                    {
                        "name": "own",
                        "kind": "check",
                        "playbook": "t/show.yml",
                        "vars": {"unit": block, "extra": {"deep": [jinja]}},
                    }
                ],
            },
        ],
        "waves": [{"id": "w", "systems": ["a", "b"]}],
    }
    (c / "migration_plans" / "p.yaml").write_text(json.dumps(plan))
    r = cli("--center", str(c), "--lang", "en", "migrate", "run", "--wave", "w", "-o", "json")
    assert not marker.exists() and not Path(f"{marker}-2").exists()
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "done"
    out = stdout_of_run(c)
    # our own playbook was templated; the plan's values came out as themselves
    assert f"unit={jinja}".replace("'", "\\'") in out or f"unit={jinja}" in out, out
    assert "migrate-system-a" in out  # the batch (host vars) path ran too
    assert "lookup('pipe', 'touch " in out and "{% if lookup" in out


def test_validate_warns_about_the_same_plan(cli, tmp_path, controller_center):
    c = controller_center(tmp_path / "c", {"t/show.yml": SHOW})
    marker = tmp_path / "MARKER"
    jinja, _ = hostile(marker)
    (c / "migration_plans" / "p.yaml").write_text(
        "version: 1\nname: p\nsystems:\n  - id: a\n    name_zh: a\n    department: dzzwb\n"
        "    strategy: retire\n    steps:\n      - name: s\n        kind: check\n"
        f'        playbook: t/show.yml\n        vars:\n          unit: "{jinja}"\n'
        "waves:\n  - {id: w, systems: [a]}\n"
    )
    r = cli("--center", str(c), "--lang", "en", "migrate", "validate")
    assert r.exit_code == 0, r.output
    assert "p.yaml:13: warning: step 's': vars.unit contains a Jinja template" in r.output


SEED = """---
- name: Stand-in for the lab seed (shows its vars on the source host, changes nothing)
  hosts: "{{ host }}"
  gather_facts: false
  tasks:
    - name: Show
      ansible.builtin.debug:
        msg: "seed {{ unit }} {{ app_dir }} {{ data_dir }} {{ service_name }}"
"""


def test_lab_seed_passes_the_plans_vars_unsafe(cli, tmp_path, controller_center):
    c = controller_center(tmp_path / "c", {"migration/lab-legacy-app.yml": SEED})
    add_unreachable_host(c)
    marker = tmp_path / "MARKER"
    jinja, block = hostile(marker)
    plan = {
        "version": 1,
        "name": "p",
        "systems": [
            {
                "id": "a",
                "name_zh": "a",
                "department": "dzzwb",
                "strategy": "retire",
                "source_hosts": ["unreach"],
                "steps": [
                    {
                        "name": "s",
                        "kind": "check",
                        "playbook": "migration/lab-legacy-app.yml",
                        "vars": {
                            "unit": jinja,
                            "app_dir": block,
                            "data_dir": "/srv/d",
                            "service_name": "x",
                        },
                    }
                ],
            }
        ],
        "waves": [{"id": "w", "systems": ["a"]}],
    }
    (c / "migration_plans" / "p.yaml").write_text(json.dumps(plan))
    r = cli("--center", str(c), "--lang", "en", "migrate", "lab-seed", "--system", "a")
    assert not marker.exists() and not Path(f"{marker}-2").exists()
    assert r.exit_code == 0, r.output
    out = "\n".join(p.read_text() for p in (c / ".cloudctl").rglob("stdout"))
    assert "seed {{ lookup('pipe', 'touch " in out, out


def test_baseline_remediation_vars_are_unsafe(tmp_path, project_root):
    """baseline remediate hands its targets (host names from evidence files) to Ansible as
    extra vars: a hostile "host name" is never templated. The run is on the controller in
    check mode, and since the controller is not among the targets every task of the
    control is skipped by its `when:` (which is where the targets are read)."""
    from cloudctl.baseline import service as bsvc
    from cloudctl.core.center import load_center

    c = tmp_path / "c"
    (c / "inventory").mkdir(parents=True)
    (c / "cloudctl.yaml").write_text(
        f"name: t\npolicies: {project_root / 'policies'}\nplaybooks: {project_root / 'playbooks'}\n"
    )
    inv = _inventory(tmp_path)
    center = load_center(c)
    inputs = bsvc.load_inputs(center)
    cid = next(x.id for x in inputs.profile.automated if x.remediable)
    marker = tmp_path / "MARKER"
    jinja, block = hostile(marker)
    out = bsvc.remediate(
        center, [inv], inputs, {cid: [jinja, block]}, limit=None, dry_run=True, run_id="t1"
    )
    assert not marker.exists() and not Path(f"{marker}-2").exists()
    skipped = [e for e in out.result.events if e.get("event") == "runner_on_skipped"]
    assert skipped, out.result.stdout_tail()  # the play ran and read the targets
    assert not out.changed


# --------------------------------------------------------- command line, environment

SLEEP = """---
- name: Sleep a little on the controller
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep 2
      changed_when: false
    - name: What the play sees of the operator's environment
      ansible.builtin.debug:
        msg: "pw=[{{ lookup('env', 'OS_PASSWORD') }}] v={{ v }}"
"""


def _inventory(tmp_path: Path) -> Path:
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, "
        f"ansible_python_interpreter: {sys.executable}}}\n"
    )
    return inv


def _cmdlines() -> list[str]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                out.append(
                    (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
    return out


def test_step_vars_never_on_the_command_line_and_env_never_in_artifacts(tmp_path, monkeypatch):
    token = "tok-" + uuid.uuid4().hex
    secret = "pw-" + uuid.uuid4().hex
    monkeypatch.setenv("OS_PASSWORD", secret)
    pb = tmp_path / "sleep.yml"
    pb.write_text(SLEEP)
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.extend(x for x in _cmdlines() if "ansible-playbook" in x or token in x)
            time.sleep(0.05)

    t = threading.Thread(target=watch)
    t.start()
    try:
        res = run_playbook(
            pb, _inventory(tmp_path), artifacts_root=tmp_path / "art", extravars={"v": token}
        )
    finally:
        done.set()
        t.join()
    assert res.ok, res.stdout_tail()
    assert any(str(pb) in x for x in seen), "never saw the ansible-playbook process"
    assert not [x for x in seen if token in x], "a step var was on a command line"
    assert f"v={token}" in res.stdout_tail()  # ... yet the play had it
    assert "pw=[]" in res.stdout_tail()  # the operator's cloud password is not Ansible's
    for f in (tmp_path / "art").rglob("*"):
        if f.is_file():
            assert secret.encode() not in f.read_bytes(), f
            assert f.stat().st_mode & 0o777 == 0o600, f
        else:
            assert f.stat().st_mode & 0o777 == 0o700, f
    assert (tmp_path / "art").stat().st_mode & 0o777 == 0o700
    cmd = json.loads((res.artifact_dir / "command").read_text())
    assert "env" not in cmd and any(a.startswith("@") for a in cmd["command"])
    assert not list((tmp_path / "art" / "pdd").glob("extravars-*"))  # removed after the run


def test_migrate_artifacts_are_private(cli, tmp_path, controller_center, monkeypatch):
    secret = "pw-" + uuid.uuid4().hex
    monkeypatch.setenv("OS_PASSWORD", secret)
    c = controller_center(tmp_path / "c", {"t/show.yml": SHOW.replace("'unreach'", "'localhost'")})
    (c / "migration_plans" / "p.yaml").write_text(
        "version: 1\nname: p\nsystems:\n  - {id: a, name_zh: a, department: dzzwb, "
        "strategy: retire, steps: [{name: s, kind: check, playbook: t/show.yml, "
        "vars: {unit: u}}]}\nwaves:\n  - {id: w, systems: [a]}\n"
    )
    r = cli("--center", str(c), "migrate", "run", "--wave", "w")
    assert r.exit_code == 0, r.output
    arts = c / ".cloudctl" / "artifacts"
    for p in [arts, *arts.rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (0o600 if p.is_file() else 0o700), (p, oct(mode))
        if p.is_file():
            assert secret.encode() not in p.read_bytes(), p


@pytest.mark.parametrize(
    "value",
    [
        "{{ lookup('pipe', 'id') }}",
        "{% raw %}x",
        ["a", {"b": "{{ x }}"}],
        {"k{{": "{#"},
        "",
        "plain",
        7,
        None,
        True,
    ],
)
def test_unsafe_yaml_tags_every_string(value):
    import yaml

    text = unsafe_yaml({"v": value})
    # read back as Ansible would, the tags are there on every string and only on strings
    loader = type("L", (yaml.SafeLoader,), {})
    loader.add_constructor("!unsafe", lambda lo, node: ("UNSAFE", lo.construct_scalar(node)))
    back = yaml.load(text, Loader=loader)["v"]

    def check(orig, got):
        if isinstance(orig, str):
            assert got == ("UNSAFE", orig)
        elif isinstance(orig, list):
            for o, g in zip(orig, got, strict=True):
                check(o, g)
        elif isinstance(orig, dict):
            assert list(got) == list(orig)
            for k in orig:
                check(orig[k], got[k])
        else:
            assert got == orig

    check(value, back)
