"""cloudctl baseline on a real lab host (yun-db01): a misconfigured host fails exactly the
expected controls, checks and --dry-run change nothing under /etc, remediation fixes the
host (verified independently with testinfra over SSH), a second run changes nothing, and an
unreachable host is reported without stopping the run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
import yaml

from cloudctl.lab.api import reset_host

PROJECT = Path(__file__).resolve().parents[2]
# yun-db01 is the baseline area's lab host; CLOUDCTL_BASELINE_TEST_HOST picks an extra one
# (lab up --hosts 4 -> lab-host04) while other areas' tests share the lab.
HOST = os.environ.get("CLOUDCTL_BASELINE_TEST_HOST", "yun-db01")
CLOUDCTL = [sys.executable, "-m", "cloudctl"]

# What the pristine lab image (Debian 12 minbase + sshd, auditd, rsyslog, chrony, pwquality)
# fails with the db/lab group variables of this center.
PRISTINE_FAILS = {
    "aide-installed",
    "audit-rules-identity",
    "audit-rules-immutable",
    "audit-rules-logins",
    "audit-rules-modules",
    "audit-rules-sudoers",
    "audit-rules-time",
    "faillock-deny",
    "faillock-enabled",
    "faillock-unlock-time",
    "log-forwarding",
    "log-retention",
    "login-defs-pass-max-days",
    "login-defs-pass-min-days",
    "pam-no-nullok",
    "pam-password-history",
    "perm-crontab",
    "perm-sshd-config",
    "pwquality-enforce-root",
    "pwquality-minclass",
    "shell-histsize",
    "shell-tmout",
    "ssh-access-restricted",
    "sshd-client-alive-interval",
    "sshd-login-grace-time",
    "sshd-macs",
    "sshd-max-auth-tries",
    "sshd-permit-root-login",
    "sshd-x11-forwarding",
    "su-restricted",
    "sysctl-accept-redirects",
    "sysctl-aslr",
    "sysctl-dmesg-restrict",
    "sysctl-ip-forward",
    "sysctl-send-redirects",
    "sysctl-source-route",
    "sysctl-suid-dumpable",
    "sysctl-syncookies",
    "umask-login-defs",
    "umask-profile",
    "useradd-inactive",
}
# What this test breaks on top of that.
INJECTED_FAILS = {
    "pkg-telnet-server-absent",
    "pkg-inetd-absent",
    "port-telnet-closed",
    "high-risk-ports-closed",
    "accounts-no-empty-password",
    "sshd-permit-empty-passwords",
}
ETC_FINGERPRINT = (
    "find /etc -xdev \\( -type f -o -type d -o -type l \\) -printf '%p %m %u %g %s %l\\n' | sort | sha256sum; "  # noqa: E501
    "find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum"
)


@pytest.fixture(scope="module")
def env(lab, tmp_path_factory):
    """A center of its own (project catalog and playbooks, the lab's inventory with this
    center's group variables, plus a host nobody listens for), and yun-db01 reset."""
    reset_host(HOST)
    root = tmp_path_factory.mktemp("center")
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copy(lab.inventory, inv / "lab.yml")
    for g in ("lab.yml", "db.yml"):
        shutil.copy(PROJECT / "inventory/hosts/group_vars" / g, inv / "group_vars" / g)
    if HOST not in yaml.safe_load((inv / "lab.yml").read_text())["all"]["children"].get(
        "db", {}
    ).get("hosts", {}):  # the expectations below assume the db group's variables
        shutil.copy(inv / "group_vars/db.yml", inv / "group_vars/lab.yml.db")
        with (inv / "group_vars/lab.yml").open("a") as fh:
            fh.write((inv / "group_vars/db.yml").read_text())
        (inv / "group_vars/lab.yml.db").unlink()
    (root / "unreachable.yml").write_text(
        yaml.safe_dump(
            {
                "all": {
                    "hosts": {
                        "ghost-db09": {
                            "ansible_host": "127.0.0.1",
                            "ansible_port": 9,
                            "ansible_user": "admin",
                        }
                    }
                }
            }
        )
    )
    (root / "cloudctl.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "baseline-test",
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
    yield {"root": root, "host": host}
    reset_host(HOST)  # leave the lab host un-hardened and clean, as `lab up` gives it


def cloudctl(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLOUDCTL, "--center", str(env["root"]), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=env["root"],
    )


def fingerprint(host) -> str:
    return host.check_output(ETC_FINGERPRINT)


def misconfigure(host) -> None:
    host.run_test("DEBIAN_FRONTEND=noninteractive apt-get install -y -q telnetd openbsd-inetd")
    host.run_test(
        "grep -q '^23 stream' /etc/inetd.conf || "
        "echo '23 stream tcp nowait root /usr/sbin/telnetd telnetd' >> /etc/inetd.conf"
    )
    host.run_test("systemctl restart inetd")
    host.run_test("useradd -m -s /bin/bash guest && passwd -d guest")
    host.run_test("printf 'PermitEmptyPasswords yes\\n' > /etc/ssh/sshd_config.d/10-legacy.conf")
    host.run_test("systemctl reload ssh")  # in effect (a pending reload is its own finding)


def failing(doc: dict) -> set[str]:
    return {r["control"] for r in doc["results"] if r["host"] == HOST and r["verdict"] == "fail"}


def test_baseline_end_to_end(env):
    host = env["host"]
    misconfigure(host)
    assert host.socket("tcp://0.0.0.0:23").is_listening

    # 1. check: exactly the expected failures; the unreachable host is reported; /etc untouched
    before = fingerprint(host)
    r = cloudctl(
        env,
        "baseline",
        "check",
        "-l",
        f"{HOST},ghost-db09",
        "-i",
        "inventory",
        "-i",
        "unreachable.yml",
        "-o",
        "json",
        "--junit",
        "junit.xml",
        "--html",
        "report.html",
    )
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert failing(doc) == PRISTINE_FAILS | INJECTED_FAILS
    assert doc["summary"]["hosts_unreachable"] == ["ghost-db09"]
    assert {h["name"]: h["status"] for h in doc["hosts"]} == {
        HOST: "ok",
        "ghost-db09": "unreachable",
    }
    # the bastion evidence (hosts "*") is contradicted while sshd lets anyone in
    errors = {r["control"] for r in doc["results"] if r["verdict"] == "error"}
    assert errors == {"two-factor-admin"}
    assert [(x["host"], x["control"]) for x in doc["summary"]["contradictions"]] == [
        (HOST, "two-factor-admin")
    ]
    assert fingerprint(host) == before, "check changed /etc"
    assert (env["root"] / "report.html").read_text().count("yun-db01") > 10
    r = cloudctl(env, "baseline", "runs", "-o", "json")
    assert json.loads(r.stdout)["items"][0]["run_id"] == doc["run_id"]

    # 2. --dry-run: check mode with diff over every failing control; nothing changes
    r = cloudctl(env, "baseline", "remediate", "-l", HOST, "--dry-run", "-o", "json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    dry = json.loads(r.stdout)
    assert dry["failed"] == []
    assert set(dry["targets"]) == failing(doc) - {"port-telnet-closed", "high-risk-ports-closed"}
    dry_status = {c: row["status"] for c, row in dry["results"][HOST].items()}
    assert set(dry_status) == set(dry["targets"])
    assert set(dry["changed"][HOST]) == {c for c, s in dry_status.items() if s == "changed"}
    # faillock's own defaults (deny 3, unlock 600 s) already meet the catalog: kept as they are
    assert {c for c, s in dry_status.items() if s != "changed"} == {
        "faillock-deny",
        "faillock-unlock-time",
    }
    assert fingerprint(host) == before, "--dry-run changed /etc"

    # 3. remediate, then verify the host independently (testinfra over plain SSH)
    r = cloudctl(env, "baseline", "remediate", "-l", HOST, "-o", "json")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    fixed = json.loads(r.stdout)
    assert fixed["failed"] == []
    statuses = {c: row["status"] for c, row in fixed["results"][HOST].items()}
    assert set(statuses) == set(fixed["targets"])
    # unchanged: the setting already met the requirement (e.g. faillock's default deny)
    assert set(statuses.values()) <= {"changed", "unchanged"}, statuses
    assert set(fixed["changed"][HOST]) == {c for c, s in statuses.items() if s == "changed"}
    assert not host.package("telnetd").is_installed
    assert not host.package("openbsd-inetd").is_installed
    assert not host.socket("tcp://0.0.0.0:23").is_listening
    assert host.package("aide").is_installed
    assert host.package("auditd").is_installed and host.service("auditd").is_enabled
    assert host.service("rsyslog").is_running
    sshd_t = host.check_output("sshd -T")
    for line in (
        "permitrootlogin no",
        "permitemptypasswords no",
        "maxauthtries 4",
        "x11forwarding no",
        "allowusers admin",
    ):
        assert line in sshd_t.splitlines(), line
    dropin = host.file("/etc/ssh/sshd_config.d/00-cloudctl-mlps.conf")
    assert dropin.mode == 0o600 and dropin.contains("^PermitRootLogin no$")
    assert host.file("/etc/ssh/sshd_config").mode == 0o600
    login_defs = host.file("/etc/login.defs").content_string
    assert re.search(r"^PASS_MAX_DAYS\s+60$", login_defs, re.M)  # group db: 60 days
    assert host.file("/etc/profile.d/99-cloudctl-tmout.sh").contains("^TMOUT=300$")
    assert host.file("/etc/pam.d/common-auth").contains("pam_faillock.so preauth")
    assert not host.file("/etc/pam.d/common-auth").contains("nullok")
    assert host.check_output("passwd -S guest").split()[1] == "L"
    assert host.file("/etc/audit/rules.d/zz-cloudctl-finalize.rules").content_string == "-e 2\n"
    assert host.file("/etc/sysctl.d/99-zz-cloudctl-mlps.conf").contains("net.ipv4.ip_forward = 0")
    assert host.sysctl("net.ipv4.conf.all.send_redirects") == 0  # per-namespace: applied live
    assert host.run("sudo -n true").rc == 0  # the admin still works

    # 4. check passes for every remediated control (waived ones stay waived, nothing fails)
    r = cloudctl(env, "baseline", "check", "-l", HOST, "-i", "inventory", "-o", "json")
    assert r.returncode == 0, r.stdout[-3000:]
    after = json.loads(r.stdout)
    verdicts = {x["control"]: x["verdict"] for x in after["results"]}
    assert all(verdicts[c] == "pass" for c in fixed["targets"])
    assert after["summary"]["verdicts"]["fail"] == 0
    r = cloudctl(env, "baseline", "diff", doc["run_id"], after["run_id"], "-o", "json")
    d = json.loads(r.stdout)
    assert r.returncode == 0 and not d["worse"]
    assert {x["control"] for x in d["better"]} == failing(doc) | errors

    # 5. idempotent: running the same controls' tasks again changes nothing
    again = ["--all", *[a for c in sorted(fixed["targets"]) for a in ("--control", c)]]
    r = cloudctl(env, "baseline", "remediate", "-l", HOST, "-o", "json", *again)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    second = json.loads(r.stdout)
    assert set(second["targets"]) == set(fixed["targets"])
    assert second["changed"] == {} and second["failed"] == []

    # every remediate left an audit record
    audit = [json.loads(x) for x in (env["root"] / ".cloudctl/audit.log").read_text().splitlines()]
    audit = [a for a in audit if a.get("kind") == "change"]  # not the runs' intent/outcome
    assert [a["result"] for a in audit if a["action"] == "baseline.remediate"] == [
        "dry-run",
        "ok",
        "ok",
    ]
