"""Issue 11 §2: hosts are authenticated. Host keys are checked against known_hosts by
default (`accept-new` only when the operator asks), the user's own Ansible settings
(ssh_args, ssh_extra_args, forks) are kept, and lab runs are checked against the keys
`lab up` recorded. The lab tests use copies of the lab's inventory and known_hosts, so
other runs against the shared lab never see a wrong key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudctl.ansible import runner
from cloudctl.ansible.runner import SshTrust, ansible_env, run_playbook

PROJECT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- unit: settings


@pytest.fixture
def no_user_cfg(monkeypatch, tmp_path):
    """No ansible.cfg and no ANSIBLE_* settings of the user's (HOME is a temp dir)."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k in ("ANSIBLE_CONFIG", "ANSIBLE_SSH_ARGS", "ANSIBLE_SSH_EXTRA_ARGS", "ANSIBLE_FORKS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr(runner, "user_ansible_cfg", _only_env_cfg)
    return tmp_path


def _only_env_cfg(project_dir=None):
    import configparser
    import os

    p = os.environ.get("ANSIBLE_CONFIG")
    if not p:
        return None
    cp = configparser.ConfigParser(interpolation=None)
    cp.read(p)
    return cp


def test_checked_by_default_never_skipped(no_user_cfg):
    env = ansible_env()
    assert env["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert "StrictHostKeyChecking=yes" in env["ANSIBLE_SSH_EXTRA_ARGS"]
    assert "UserKnownHostsFile" not in env["ANSIBLE_SSH_EXTRA_ARGS"]  # ssh's own default
    joined = " ".join(env.values())
    assert "StrictHostKeyChecking=no" not in joined and "/dev/null" not in joined
    assert env["ANSIBLE_SSH_ARGS"] == runner.SPEED_SSH_ARGS  # no ssh_args of the user's


def test_accept_new_and_known_hosts_file(no_user_cfg, tmp_path):
    kh = tmp_path / "my known_hosts"
    env = ansible_env(ssh_trust=SshTrust(known_hosts=kh, checking="accept-new"))
    extra = env["ANSIBLE_SSH_EXTRA_ARGS"]
    assert "StrictHostKeyChecking=accept-new" in extra
    assert f"UserKnownHostsFile='{kh}'" in extra  # quoted: a path with a space


def test_the_users_ssh_args_and_extra_args_are_kept(no_user_cfg, monkeypatch, tmp_path):
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text(
        "[ssh_connection]\nssh_args = -o ProxyJump=bastion.example -o ControlPersist=5m\n"
        "ssh_extra_args = -o ServerAliveInterval=7\n"
    )
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    env = ansible_env()
    assert "ANSIBLE_SSH_ARGS" not in env  # Ansible reads the user's own from ansible.cfg
    assert env["ANSIBLE_SSH_EXTRA_ARGS"].startswith("-o ServerAliveInterval=7 ")
    assert env["ANSIBLE_SSH_EXTRA_ARGS"].endswith("-o StrictHostKeyChecking=yes")
    monkeypatch.delenv("ANSIBLE_CONFIG")
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-o ProxyJump=jump")
    assert "ANSIBLE_SSH_ARGS" not in ansible_env()  # the user's environment wins


def test_center_trust_decides_known_hosts_and_checking(tmp_path):
    from cloudctl.core.center import load_center

    c = tmp_path / "c"
    c.mkdir()
    (c / "cloudctl.yaml").write_text("name: t\n")
    center = load_center(c)
    assert SshTrust.of_center(center) == SshTrust(None, "strict")  # the user's known_hosts
    (c / ".cloudctl").mkdir()
    (c / ".cloudctl" / "known_hosts").write_text("")
    assert SshTrust.of_center(load_center(c)).known_hosts == c / ".cloudctl" / "known_hosts"
    assert SshTrust.of_center(load_center(c), accept_new=True).checking == "accept-new"
    (c / "cloudctl.yaml").write_text(
        "name: t\ntrust:\n  known_hosts: keys/kh\n  host_key_checking: accept-new\n"
    )
    t = SshTrust.of_center(load_center(c))
    assert t == SshTrust(c / "keys" / "kh", "accept-new")


def test_no_code_turns_host_key_checking_off():
    for f in [*(PROJECT / "cloudctl").rglob("*.py"), *(PROJECT / "playbooks").rglob("*.yml")]:
        if f.parent.name == "lab" and f.name == "hosts.py":
            continue  # the lab's own boot probe of its fresh containers (not Ansible)
        text = f.read_text()
        assert "StrictHostKeyChecking=no" not in text, f
        assert "UserKnownHostsFile=/dev/null" not in text, f


LOCAL = """---
- hosts: localhost
  gather_facts: false
  tasks: [{ansible.builtin.debug: {msg: hi}}]
"""


def _forks_of(tmp_path: Path, name: str, **kw) -> str | None:
    pb = tmp_path / "pb.yml"
    pb.write_text(LOCAL)
    inv = tmp_path / "inv.yml"
    inv.write_text(
        "all: {hosts: {localhost: {ansible_connection: local, "
        f"ansible_python_interpreter: {sys.executable}}}}}\n"
    )
    r = run_playbook(pb, inv, artifacts_root=tmp_path / "art", ident=name, **kw)
    assert r.ok, r.stdout_tail()
    argv = json.loads((r.artifact_dir / "command").read_text())["command"]
    return argv[argv.index("--forks") + 1] if "--forks" in argv else None


def test_forks_the_operator_then_ansible_cfg_then_ten(no_user_cfg, monkeypatch, tmp_path):
    assert _forks_of(tmp_path, "a") == "10"
    assert _forks_of(tmp_path, "b", forks=4) == "4"
    with runner.options(forks=2):  # a command's --forks wins over what the code asks
        assert _forks_of(tmp_path, "c", forks=4) == "2"
    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\nforks = 3\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(cfg))
    assert _forks_of(tmp_path, "d") is None  # Ansible takes the user's forks = 3


def test_forks_and_accept_new_options_on_the_commands():
    import click
    import typer.main

    from cloudctl.cli.app import app

    root = typer.main.get_command(app)
    ctx = click.Context(root)
    for group, cmd in (
        ("migrate", "run"),
        ("migrate", "resume"),
        ("migrate", "rollback"),
        ("migrate", "lab-seed"),
        ("baseline", "check"),
        ("baseline", "remediate"),
    ):
        sub = root.get_command(ctx, group)  # type: ignore[attr-defined]
        c = sub.get_command(click.Context(sub, parent=ctx), cmd)
        opts = {o for p in c.params for o in p.opts}
        assert "--accept-new-host-keys" in opts, (group, cmd)
        assert cmd == "lab-seed" or "--forks" in opts, (group, cmd)


# ------------------------------------------------------------------ the real lab


PING = """---
- name: Reach the host
  hosts: legacy-web01
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
"""


def _lab_copy(lab, tmp_path: Path, known_hosts_text: str | None, with_args: bool = True):
    """A copy of the lab inventory checking against a copy of its known_hosts."""
    kh = tmp_path / "known_hosts"
    kh.write_text(
        known_hosts_text if known_hosts_text is not None else (lab.dir / "known_hosts").read_text()
    )
    doc = yaml.safe_load(lab.inventory.read_text())
    for v in doc["all"]["children"]["lab"]["hosts"].values():
        if with_args:
            v["ansible_ssh_common_args"] = v["ansible_ssh_common_args"].replace(
                str(lab.dir / "known_hosts"), str(kh)
            )
        else:
            v.pop("ansible_ssh_common_args")
    inv = tmp_path / "inv.yml"
    inv.write_text(yaml.safe_dump(doc))
    return inv, kh


def _wrong_key(lab, tmp_path: Path) -> str:
    port = lab.hosts["legacy-web01"].port
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "fake")], check=True
    )
    fake = (tmp_path / "fake.pub").read_text().split()
    lines = [
        ln
        for ln in (lab.dir / "known_hosts").read_text().splitlines()
        if not ln.startswith(f"[127.0.0.1]:{port} ")
    ]
    return "\n".join([*lines, f"[127.0.0.1]:{port} {fake[0]} {fake[1]}"]) + "\n"


# every test its own ControlPath: a master another run opened must not skip the check
def _env(tmp_path: Path) -> dict:
    return {"ANSIBLE_SSH_CONTROL_PATH_DIR": str(tmp_path / "cp")}


@pytest.mark.integration
def test_lab_inventory_checks_host_keys_and_a_wrong_key_fails(lab, tmp_path):
    from cloudctl.migrate.runbook import failure_message

    doc = yaml.safe_load(lab.inventory.read_text())
    args = doc["all"]["children"]["lab"]["hosts"]["legacy-web01"]["ansible_ssh_common_args"]
    assert "StrictHostKeyChecking=yes" in args and str(lab.dir / "known_hosts") in args
    pb = tmp_path / "ping.yml"
    pb.write_text(PING)
    (tmp_path / "good").mkdir()
    inv, _ = _lab_copy(lab, tmp_path / "good", None)
    r = run_playbook(pb, inv, artifacts_root=tmp_path / "a1", env=_env(tmp_path / "good"))
    assert r.ok, r.stdout_tail()
    (tmp_path / "bad").mkdir()
    inv, _ = _lab_copy(lab, tmp_path / "bad", _wrong_key(lab, tmp_path))
    r = run_playbook(pb, inv, artifacts_root=tmp_path / "a2", env=_env(tmp_path / "bad"))
    assert not r.ok
    msg = failure_message(r.events) or ""
    assert msg.startswith("legacy-web01: Ping: ")
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in msg and "Host key verification failed" in msg


@pytest.mark.integration
def test_migrate_run_fails_on_a_wrong_key_and_accept_new_only_when_asked(
    lab, tmp_path, cli, controller_center
):
    """A center without host keys in its inventory vars: cloudctl checks against the
    center's known_hosts (trust.known_hosts). Wrong key: the step fails with the host-key
    error; unknown host: fails, unless --accept-new-host-keys, which records the key."""
    c = controller_center(tmp_path / "c", {"t/ping.yml": PING})
    inv, kh = _lab_copy(lab, tmp_path, _wrong_key(lab, tmp_path), with_args=False)
    (c / "inventory" / "hosts" / "lab.yml").write_text(inv.read_text())
    with (c / "cloudctl.yaml").open("a") as f:
        f.write(f"trust:\n  known_hosts: {kh}\n")
    (c / "migration_plans" / "p.yaml").write_text(
        "version: 1\nname: p\nsystems:\n  - {id: a, name_zh: a, department: dzzwb, "
        "strategy: retire, steps: [{name: reach, kind: check, playbook: t/ping.yml}]}\n"
        "waves:\n  - {id: w, systems: [a]}\n"
    )
    j = tmp_path / "j.db"
    runs = iter(range(100))

    def run(*extra: str):
        return cli(
            "--center", str(c), "--lang", "en", "migrate", "run", "--wave", "w", "--again",
            "--journal", str(j), "-o", "json", *extra,
            env=_env(tmp_path / f"run{next(runs)}"),
        )  # fmt: skip

    def last_message() -> str:
        from cloudctl.migrate.journal import Journal

        jj = Journal(j)
        return jj.steps(jj.runs(limit=1)[0].run_id)[-1]["message"] or ""

    r = run()
    assert r.exit_code == 1, r.output
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in last_message()
    r = run("--accept-new-host-keys")  # a changed key is never accepted
    assert r.exit_code == 1 and "REMOTE HOST IDENTIFICATION HAS CHANGED" in last_message()
    kh.write_text("")  # a host never seen
    r = run()
    assert r.exit_code == 1 and "Host key verification failed" in last_message()
    assert kh.read_text() == ""
    r = run("--accept-new-host-keys")
    assert r.exit_code == 0, (r.output, last_message())
    found = subprocess.run(  # the entry may be hashed (HashKnownHosts): ask ssh-keygen
        ["ssh-keygen", "-F", f"[127.0.0.1]:{lab.hosts['legacy-web01'].port}", "-f", str(kh)],
        capture_output=True,
    )
    assert found.returncode == 0, kh.read_text()
    r = run()  # now known: strict passes
    assert r.exit_code == 0, (r.output, last_message())


@pytest.mark.integration
def test_the_labs_own_probes_check_host_keys(lab, tmp_path):
    """`lab up`/`lab status` log in to the hosts too: a key that is not the one the lab
    made for the host is refused, not trusted on first sight."""
    from cloudctl.lab import hosts

    h = lab.hosts["legacy-web01"]
    ok, _ = hosts.health(h.port, h.key_file, lab.dir / "known_hosts")
    assert ok
    wrong = tmp_path / "known_hosts"
    wrong.write_text(
        f"[127.0.0.1]:{h.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIGZhbGt3b3JsZGZhbGt3b3JsZGZhbGt3b3JsZGZhbGt3\n"
    )
    ok, detail = hosts.health(h.port, h.key_file, wrong)
    assert not ok and "Host key verification failed" in detail
