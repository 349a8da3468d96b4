"""Remediation never locks anyone out (issue 12), proved with real logins on yun-db01.

A password user, a key user with sudo, and root, before and after `baseline remediate`:
right/wrong passwords over SSH (a wrong one counted once), lock-out after `deny` wrong
attempts and unlock after `unlock_time` (shortened through the catalog variables), key
login + sudo, root refused by the *running* sshd, root's chpasswd with a strong and a weak
password. AIDE is made unavailable (apt pin) so one control fails while every other one is
applied and sshd is reloaded; a second `remediate` and `remediate --all` change nothing;
and no mode under /etc is looser than before. Run with -s to see the login table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
import testinfra
import yaml

from cloudctl.lab.api import reset_host

PROJECT = Path(__file__).resolve().parents[2]
HOST = os.environ.get("CLOUDCTL_BASELINE_TEST_HOST", "yun-db01")
CLOUDCTL = [sys.executable, "-m", "cloudctl"]
PW_USER, PW = "pwuser", "Pw-Us3r!lab-2026"
KEY_USER, KEY_PW = "keyuser", "Key-Us3r!lab-2026"
DENY, UNLOCK = 3, 15  # short lock-out for the test, through the catalog's variables
MODES = "find /etc -xdev \\( -type f -o -type d \\) -printf '%m %p\\n'"


@pytest.fixture(scope="module")
def env(lab, tmp_path_factory):
    reset_host(HOST)
    root = tmp_path_factory.mktemp("safety")
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copy(lab.inventory, inv / "lab.yml")
    gv = yaml.safe_load((PROJECT / "inventory/hosts/group_vars/lab.yml").read_text())
    gv.update(
        baseline_ssh_allow_users=f"admin {PW_USER} {KEY_USER}",
        baseline_faillock_deny=DENY,
        baseline_faillock_unlock_time=UNLOCK,
    )
    (inv / "group_vars/lab.yml").write_text(yaml.safe_dump(gv))
    (root / "cloudctl.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "safety-test",
                "policies": str(PROJECT / "policies"),
                "playbooks": str(PROJECT / "playbooks"),
                "evidence": str(PROJECT / "inventory/evidence"),
                "hosts_inventory": "inventory",
                "state": ".cloudctl",
            }
        )
    )
    h = lab.hosts[HOST]
    host = testinfra.get_host(
        f"ssh://{h.user}@127.0.0.1:{h.port}",
        ssh_identity_file=str(h.key_file),
        sudo=True,
        # host keys checked against the keys `lab up` recorded
        ssh_extra_args="-o StrictHostKeyChecking=yes "
        f"-o UserKnownHostsFile={lab.dir / 'known_hosts'} -o LogLevel=ERROR",
    )
    key = root / "keyuser_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    pub = (root / "keyuser_ed25519.pub").read_text().strip()
    for cmd in (
        f"useradd -m -s /bin/bash {PW_USER}",
        f"useradd -m -s /bin/bash -G sudo {KEY_USER}",
        f"printf '%s\\n' '{PW_USER}:{PW}' '{KEY_USER}:{KEY_PW}' | chpasswd",
        f"install -d -m 700 -o {KEY_USER} -g {KEY_USER} /home/{KEY_USER}/.ssh",
        f"printf '%s\\n' '{pub}' > /home/{KEY_USER}/.ssh/authorized_keys",
        f"chown {KEY_USER}: /home/{KEY_USER}/.ssh/authorized_keys",
        "useradd -m -s /bin/bash pwtest",
        # the host already locks for UNLOCK seconds (absent, pam_faillock's default is 600 s,
        # which remediation would keep: it never shortens a lock-out)
        f"printf 'unlock_time = {UNLOCK}\\n' >> /etc/security/faillock.conf",
        # no AIDE package for this host: that control must fail alone
        "printf 'Package: aide aide-common\\nPin: release *\\nPin-Priority: -1\\n'"
        " > /etc/apt/preferences.d/99-no-aide",
    ):
        host.run_test(cmd)
    yield {"root": root, "host": host, "port": h.port, "key": key, "root_key": h.key_file}
    reset_host(HOST)  # leave the lab host as we found it: no aide pin, no test users


def cloudctl(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLOUDCTL, "--center", str(env["root"]), "--lang", "en", *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=env["root"],
    )


def ssh_login(env, user: str, password: str | None = None, key: Path | None = None) -> bool:
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        c.connect(
            "127.0.0.1",
            env["port"],
            username=user,
            password=password,
            key_filename=str(key) if key else None,
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
            banner_timeout=10,
            auth_timeout=15,
        )
        _, out, _ = c.exec_command("id -un", timeout=10)
        return out.read().decode().strip() == user
    except (paramiko.AuthenticationException, paramiko.SSHException):
        return False
    finally:
        c.close()


def sudo_works(env) -> bool:
    c = paramiko.SSHClient()
    c.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        c.connect(
            "127.0.0.1",
            env["port"],
            username=KEY_USER,
            key_filename=str(env["key"]),
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        stdin, out, _ = c.exec_command("sudo -S -p '' id -u", timeout=15)
        stdin.write(KEY_PW + "\n")
        stdin.flush()
        return out.read().decode().strip() == "0"
    except paramiko.SSHException:
        return False
    finally:
        c.close()


def failures(env, user: str) -> int:
    """Failed-login records pam_faillock keeps for ``user`` (0 when it is not in use)."""
    r = env["host"].run(f"faillock --user {user} 2>/dev/null | grep -c ' V$' || true")
    return int((r.stdout or "0").strip() or 0)


def chpasswd(env, password: str) -> bool:
    return env["host"].run(f"printf '%s\\n' 'pwtest:{password}' | chpasswd").rc == 0


def login_table(env) -> dict[str, object]:
    host = env["host"]
    host.run(f"faillock --user {PW_USER} --reset")
    row: dict[str, object] = {}
    row["password user, right password"] = ssh_login(env, PW_USER, PW)
    before = failures(env, PW_USER)
    row["password user, wrong password"] = ssh_login(env, PW_USER, "Wrong-Passw0rd!")
    row["failures counted for one wrong password"] = failures(env, PW_USER) - before
    row["password user, right password again"] = ssh_login(env, PW_USER, PW)
    row["key user, key"] = ssh_login(env, KEY_USER, key=env["key"])
    row["key user, sudo"] = sudo_works(env)
    row["root over SSH (key)"] = ssh_login(env, "root", key=env["root_key"])
    row["root chpasswd, strong password"] = chpasswd(env, "Str0ng!Lab-Passw0rd")
    row["root chpasswd, weak password"] = chpasswd(env, "abc")
    host.run(f"faillock --user {PW_USER} --reset")
    return row


def etc_modes(host) -> dict[str, int]:
    out = {}
    for line in host.check_output(MODES).splitlines():
        mode, _, path = line.partition(" ")
        out[path] = int(mode, 8)
    return out


def print_table(before: dict, after: dict) -> None:
    width = max(len(k) for k in before)
    print(f"\n{'login / action':<{width}}  before  after")
    for k in before:
        print(f"{k:<{width}}  {before[k]!s:<6}  {after[k]!s}")


def test_remediation_never_locks_anyone_out(env):
    host = env["host"]
    modes_before = etc_modes(host)
    before = login_table(env)
    assert before["password user, right password"] is True
    assert before["password user, wrong password"] is False
    assert before["key user, key"] is True and before["key user, sudo"] is True

    # remediate: aide fails (no package), everything else is applied and in effect
    r = cloudctl(env, "baseline", "remediate", "-l", HOST, "-o", "json")
    assert r.returncode == 1, r.stdout[-3000:] + r.stderr[-2000:]
    out = json.loads(r.stdout)
    rows = out["results"][HOST]
    assert rows["aide-installed"]["status"] == "failed", rows["aide-installed"]
    assert "aide" in rows["aide-installed"]["reason"]
    others = {c: v["status"] for c, v in rows.items() if c != "aide-installed"}
    # unchanged = the setting itself already met the requirement (e.g. faillock deny)
    assert set(others.values()) <= {"changed", "unchanged"}, others
    changed = {c for c, v in others.items() if v == "changed"}
    assert {
        "sshd-macs",
        "shell-histsize",
        "sysctl-suid-dumpable",
        "sshd-permit-root-login",
        "faillock-enabled",
        "pam-no-nullok",
    } <= changed
    assert [f["control"] for f in out["failed_controls"]] == ["aide-installed"]

    after = login_table(env)
    print_table(before, after)
    assert after["password user, right password"] is True
    assert after["password user, wrong password"] is False
    assert after["failures counted for one wrong password"] == 1
    assert after["password user, right password again"] is True
    assert after["key user, key"] is True and after["key user, sudo"] is True
    assert after["root over SSH (key)"] is False  # the running sshd, not only sshd -T
    assert after["root chpasswd, strong password"] is True
    assert after["root chpasswd, weak password"] is False

    # lock-out after DENY wrong passwords, unlock after UNLOCK seconds
    for _ in range(DENY):
        assert ssh_login(env, PW_USER, "Wrong-Passw0rd!") is False
    assert failures(env, PW_USER) == DENY
    assert ssh_login(env, PW_USER, PW) is False, "not locked after deny wrong passwords"
    time.sleep(UNLOCK + 2)
    assert ssh_login(env, PW_USER, PW) is True, "still locked after unlock_time"

    # the check agrees, sshd included (running daemon = its configuration)
    r = cloudctl(env, "baseline", "check", "-l", HOST, "-o", "json", "--no-updates")
    doc = json.loads(r.stdout)
    verdicts = {x["control"]: x["verdict"] for x in doc["results"]}
    assert {c for c, v in verdicts.items() if v == "fail"} == {"aide-installed"}
    assert verdicts["security-updates"] == "not_evaluated"

    # a second remediate and --all change nothing; no mode under /etc got looser
    for extra in ([], ["--all"]):
        r = cloudctl(env, "baseline", "remediate", "-l", HOST, "-o", "json", *extra)
        again = json.loads(r.stdout)
        statuses = {c: v["status"] for c, v in again["results"][HOST].items()}
        assert "changed" not in statuses.values(), {
            c: again["results"][HOST][c] for c, s in statuses.items() if s == "changed"
        }
        assert statuses.pop("aide-installed") == "failed"
    modes_after = etc_modes(host)
    looser = {
        p: f"{modes_before[p]:04o} -> {m:04o}"
        for p, m in modes_after.items()
        if p in modes_before and m & ~modes_before[p]
    }
    assert not looser, looser
    tightened = {
        p: f"{modes_before[p]:04o} -> {m:04o}"
        for p, m in modes_after.items()
        if p in modes_before and m != modes_before[p]
    }
    print("modes changed under /etc (all stricter):", tightened)


def test_sshd_change_not_yet_loaded_is_a_finding(env):
    """A config file changed after sshd's last reload: the check says so, remediation
    reloads and verifies."""
    host = env["host"]
    host.run_test("printf 'MaxAuthTries 2\\n' > /etc/ssh/sshd_config.d/05-pending.conf")
    r = cloudctl(env, "baseline", "check", "-l", HOST, "-o", "json", "--no-updates")
    res = {x["control"]: x for x in json.loads(r.stdout)["results"]}
    assert res["sshd-max-auth-tries"]["verdict"] == "fail"
    assert "not in effect" in res["sshd-max-auth-tries"]["observed"]
    r = cloudctl(
        env, "baseline", "remediate", "-l", HOST, "-o", "json", "-c", "sshd-max-auth-tries"
    )
    rows = json.loads(r.stdout)["results"][HOST]
    assert rows["sshd-max-auth-tries"]["status"] == "changed"  # the reload
    r = cloudctl(env, "baseline", "check", "-l", HOST, "-o", "json", "--no-updates")
    res = {x["control"]: x for x in json.loads(r.stdout)["results"]}
    assert res["sshd-max-auth-tries"]["verdict"] == "pass"
    host.run_test("rm -f /etc/ssh/sshd_config.d/05-pending.conf && systemctl reload ssh")


def test_dry_run_with_the_host_down_says_so(env):
    (env["root"] / "down.yml").write_text(
        yaml.safe_dump(
            {"all": {"hosts": {"ghost-db09": {"ansible_host": "127.0.0.1", "ansible_port": 9}}}}
        )
    )
    r = cloudctl(env, "baseline", "remediate", "-i", "down.yml", "--dry-run")
    assert r.returncode == 1
    assert "ghost-db09" in r.stdout and "unreachable" in r.stdout
    r = cloudctl(env, "baseline", "check", "-i", "down.yml", "-o", "json")
    doc = json.loads(r.stdout)
    assert doc["summary"]["conclusion"] == "not_assessed"
