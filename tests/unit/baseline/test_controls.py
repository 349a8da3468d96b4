"""Every automated control: passes on the compliant host's evidence and fails on evidence
broken in exactly the way that control is about."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cloudctl.baseline.catalog import load_profile
from cloudctl.baseline.evaluate import evaluate_control

from .fixtures import MISSING, edit, f, good_evidence, mutated, user

ROOT = Path(__file__).resolve().parents[3]
PROFILE = load_profile(ROOT / "policies", "mlps-l3")


def sshd_line(key: str, value: str) -> Callable[[dict], None]:
    """Put ``key value`` in a drop-in read before the main settings: first match wins."""

    def fn(ev: dict) -> None:
        edit(ev, "/etc/ssh/sshd_config.d/50-bad.conf", f"{key} {value}\n")

    return fn


def replace(path: str, old: str, new: str) -> Callable[[dict], None]:
    def fn(ev: dict) -> None:
        text = ev["files"][path]["content"]
        assert old in text, (path, old)
        ev["files"][path]["content"] = text.replace(old, new)

    return fn


def add_pkg(name: str) -> Callable[[dict], None]:
    return lambda ev: ev["packages"].__setitem__(name, "1.0")


def del_pkg(name: str) -> Callable[[dict], None]:
    return lambda ev: ev["packages"].pop(name)


def set_mode(path: str, mode: str, **kw) -> Callable[[dict], None]:
    def fn(ev: dict) -> None:
        ev["files"][path].update(mode=mode, **kw)

    return fn


def sysctl_bad(key: str, value: str) -> Callable[[dict], None]:
    def fn(ev: dict) -> None:
        edit(ev, "/etc/sysctl.conf", f"{key} = {value}\n")  # read last: overrides sysctl.d

    return fn


def account(fn_user: Callable[[dict], None], name: str = "admin") -> Callable[[dict], None]:
    def fn(ev: dict) -> None:
        fn_user(next(u for u in ev["accounts"] if u["name"] == name))

    return fn


BREAK: dict[str, Callable[[dict], None]] = {
    "accounts-no-empty-password": account(
        lambda u: u.update(password="empty", hash_algorithm="empty")
    ),
    "pam-no-nullok": replace("/etc/pam.d/common-auth", "pam_unix.so\n", "pam_unix.so nullok\n"),
    "sshd-permit-empty-passwords": sshd_line("PermitEmptyPasswords", "yes"),
    "accounts-unique-uid": lambda ev: ev["accounts"].append(user("ops", 1000, "/bin/bash")),
    "accounts-unique-names": lambda ev: ev["accounts"].append(user("admin", 1001, "/bin/bash")),
    "accounts-only-root-uid0": lambda ev: ev["accounts"].append(user("toor", 0, "/bin/bash")),
    "pam-pwquality-enabled": replace(
        "/etc/pam.d/common-password", "password\trequisite\tpam_pwquality.so retry=3\n", ""
    ),
    "pwquality-minlen": replace(
        "/etc/pam.d/common-password",
        "pam_pwquality.so retry=3",
        "pam_pwquality.so retry=3 minlen=6",
    ),
    "pwquality-minclass": replace("/etc/security/pwquality.conf", "minclass = 3", "minclass = 2"),
    "pwquality-retry": replace("/etc/pam.d/common-password", "retry=3", "retry=6"),
    "pwquality-enforce-root": replace(
        "/etc/security/pwquality.conf", "enforce_for_root\n", "# enforce_for_root\n"
    ),
    "login-defs-pass-max-days": replace(
        "/etc/login.defs", "PASS_MAX_DAYS\t90", "PASS_MAX_DAYS\t99999"
    ),
    "login-defs-pass-min-days": replace("/etc/login.defs", "PASS_MIN_DAYS\t1", "PASS_MIN_DAYS\t0"),
    "login-defs-pass-warn-age": replace("/etc/login.defs", "PASS_WARN_AGE\t7", "PASS_WARN_AGE\t3"),
    "users-pass-max-days": account(lambda u: u.update(max_days=99999)),
    "users-pass-min-days": account(lambda u: u.update(min_days=0)),
    "pam-password-history": replace("/etc/pam.d/common-password", "remember=5", "remember=2"),
    "login-defs-encrypt-method": replace(
        "/etc/login.defs", "ENCRYPT_METHOD SHA512", "ENCRYPT_METHOD MD5"
    ),
    "faillock-enabled": replace(
        "/etc/pam.d/common-auth", "auth\trequired\tpam_faillock.so preauth\n", ""
    ),
    "faillock-deny": replace("/etc/security/faillock.conf", "deny = 5", "deny = 10"),
    "faillock-unlock-time": replace(
        "/etc/security/faillock.conf", "unlock_time = 300", "unlock_time = 60"
    ),
    "sshd-max-auth-tries": sshd_line("maxauthtries", "10"),
    "sshd-client-alive-interval": sshd_line("ClientAliveInterval", "0"),
    "sshd-client-alive-count-max": sshd_line("ClientAliveCountMax", "10"),
    "sshd-login-grace-time": sshd_line("LoginGraceTime", "2m"),
    "shell-tmout": replace("/etc/profile.d/99-cloudctl-tmout.sh", "readonly TMOUT\n", ""),
    "pkg-telnet-server-absent": add_pkg("telnetd"),
    "pkg-rsh-server-absent": add_pkg("rsh-server"),
    "pkg-inetd-absent": add_pkg("openbsd-inetd"),
    "no-rhosts-files": lambda ev: ev["files"].__setitem__("/etc/hosts.equiv", f("+\n")),
    "port-telnet-closed": lambda ev: ev["listening"].append(
        {"proto": "tcp", "family": "ipv6", "address": "::", "port": 23}
    ),
    "system-accounts-nologin": account(lambda u: u.update(shell="/bin/bash"), "daemon"),
    "perm-etc-passwd": set_mode("/etc/passwd", "0666"),
    "perm-etc-shadow": set_mode("/etc/shadow", "0644"),
    "perm-etc-group": set_mode("/etc/group", "0644", owner="admin"),
    "perm-etc-gshadow": set_mode("/etc/gshadow", "0640", group="users"),
    "perm-sshd-config": set_mode("/etc/ssh/sshd_config", "0644"),
    "perm-ssh-host-keys": set_mode("/etc/ssh/ssh_host_ed25519_key", "0644"),
    "sshd-permit-root-login": sshd_line("PERMITROOTLOGIN", "yes"),
    "useradd-inactive": replace("/etc/default/useradd", "INACTIVE=35", "INACTIVE=-1"),
    "sudo-no-nopasswd-all": lambda ev: edit(
        ev, "/etc/sudoers.d/ops", "ops ALL=(ALL) NOPASSWD: ALL\n", mode="0440"
    ),
    "su-restricted": replace(
        "/etc/pam.d/su",
        "auth       required   pam_wheel.so",
        "# auth       required   pam_wheel.so",
    ),
    "umask-login-defs": replace("/etc/login.defs", "UMASK\t\t027", "UMASK\t\t022"),
    "umask-profile": lambda ev: edit(ev, "/etc/profile.d/zz-local.sh", "umask 022\n"),
    "world-writable-sticky": lambda ev: ev["special_files"]["world_writable"].append(
        {"path": "/etc/app.conf", "mode": "0666"}
    ),
    "suid-allowlist": lambda ev: ev["special_files"]["suid_sgid"].append(
        {"path": "/usr/local/bin/backdoor", "mode": "4755"}
    ),
    "perm-crontab": set_mode("/etc/crontab", "0644"),
    "mac-enforcing": del_pkg("apparmor"),
    "auditd-installed": del_pkg("auditd"),
    "auditd-enabled": lambda ev: ev["services"]["auditd.service"].update(
        enabled="disabled", active="inactive"
    ),
    "kernel-audit-boot": replace("/proc/cmdline", " audit=1", ""),
    "audit-rules-identity": replace(
        "/etc/audit/rules.d/50-cloudctl-mlps.rules", "-w /etc/shadow -p wa", "-w /etc/shadow -p r"
    ),
    "audit-rules-sudoers": replace(
        "/etc/audit/rules.d/50-cloudctl-mlps.rules", "-w /etc/sudoers.d -p wa -k scope\n", ""
    ),
    "audit-rules-logins": replace(
        "/etc/audit/rules.d/50-cloudctl-mlps.rules",
        "-w /var/log/lastlog -p wa -k logins\n",
        "# -w /var/log/lastlog -p wa -k logins\n",
    ),
    "audit-rules-time": replace(
        "/etc/audit/rules.d/50-cloudctl-mlps.rules", "adjtimex,settimeofday,clock_settime", "open"
    ),
    "audit-rules-modules": replace(
        "/etc/audit/rules.d/50-cloudctl-mlps.rules",
        "init_module,finit_module,delete_module",
        "mount",
    ),
    "rsyslog-enabled": lambda ev: ev["services"]["rsyslog.service"].update(active="failed"),
    "auth-log-configured": replace("/etc/rsyslog.conf", "auth,authpriv.*", "#auth,authpriv.*"),
    "time-sync-enabled": lambda ev: ev["services"].pop("chrony.service"),
    "time-sync-server": replace(
        "/etc/chrony/chrony.conf", "server ntp.example iburst", "# no server"
    ),
    "perm-audit-log-dir": set_mode("/var/log/audit", "0755"),
    "rsyslog-file-mode": replace(
        "/etc/rsyslog.conf", "$FileCreateMode 0640", "$FileCreateMode 0644"
    ),
    "log-retention": replace("/etc/logrotate.d/rsyslog", "rotate 27", "rotate 4"),
    "log-forwarding": replace("/etc/rsyslog.conf", "*.* @@loghost.example:514\n", ""),
    "auditd-disk-full-action": replace(
        "/etc/audit/auditd.conf", "space_left_action = email\n", "space_left_action = IGNORE\n"
    ),
    "auditd-admin-space-left-action": replace(
        "/etc/audit/auditd.conf",
        "admin_space_left_action = single",
        "admin_space_left_action = ignore",
    ),
    "auditd-max-log-file-action": replace(
        "/etc/audit/auditd.conf", "max_log_file_action = keep_logs", "max_log_file_action = ignore"
    ),
    "audit-rules-immutable": lambda ev: ev["files"].__setitem__(
        "/etc/audit/rules.d/zz-cloudctl-finalize.rules", f("-e 1\n")
    ),
    "audit-not-delegated": lambda ev: edit(
        ev, "/etc/sudoers.d/ops", "ops ALL=(root) /usr/sbin/auditctl\n"
    ),
    "no-compilers": add_pkg("gcc"),
    "no-sniffers": add_pkg("tcpdump"),
    "no-x-server": add_pkg("xserver-xorg-core"),
    "svc-avahi-absent": add_pkg("avahi-daemon"),
    "svc-cups-absent": add_pkg("cups"),
    "svc-rpcbind-nfs-absent": add_pkg("rpcbind"),
    "svc-samba-absent": add_pkg("samba"),
    "svc-ftp-absent": add_pkg("vsftpd"),
    "high-risk-ports-closed": lambda ev: ev["listening"].append(
        {"proto": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 6379}
    ),
    "sshd-x11-forwarding": sshd_line("X11Forwarding", "yes"),
    "sysctl-ip-forward": sysctl_bad("net.ipv4.ip_forward", "1"),
    "sysctl-accept-redirects": lambda ev: ev["sysctl"]["net.ipv4.conf.all.accept_redirects"].update(
        value="1"
    ),
    "sysctl-send-redirects": sysctl_bad("net.ipv4.conf.all.send_redirects", "1"),
    "sysctl-source-route": sysctl_bad("net.ipv4.conf.all.accept_source_route", "1"),
    "sysctl-syncookies": sysctl_bad("net.ipv4.tcp_syncookies", "0"),
    "ssh-access-restricted": replace("/etc/ssh/sshd_config", "AllowUsers admin\n", ""),
    "security-updates": lambda ev: ev["updates"].update(count=2, security=["openssl", "libssl3"]),
    "package-signatures": lambda ev: edit(
        ev, "/etc/apt/sources.list.d/local.list", "deb [trusted=yes] file:/var/local-repo ./\n"
    ),
    "sysctl-aslr": sysctl_bad("kernel.randomize_va_space", "0"),
    "sysctl-dmesg-restrict": sysctl_bad("kernel.dmesg_restrict", "0"),
    "aide-installed": del_pkg("aide"),
    "antimalware-present": del_pkg("clamav"),
    "sshd-macs": sshd_line("MACs", "hmac-sha1,hmac-sha2-256"),
    "sshd-ciphers": sshd_line("Ciphers", "aes128-cbc,aes256-ctr"),
    "sshd-kex": sshd_line("KexAlgorithms", "diffie-hellman-group14-sha1"),
    "accounts-strong-hashes": account(lambda u: u.update(hash_algorithm="md5")),
    "shell-histsize": replace(
        "/etc/profile.d/99-cloudctl-histsize.sh", "HISTSIZE=100", "HISTSIZE=5000"
    ),
    "sysctl-suid-dumpable": sysctl_bad("fs.suid_dumpable", "2"),
}


def test_every_automated_control_has_a_failing_case():
    ids = {c.id for c in PROFILE.automated}
    assert ids == set(BREAK), (ids - set(BREAK), set(BREAK) - ids)


@pytest.mark.parametrize("control", [c.id for c in PROFILE.automated])
def test_control_passes_on_compliant_host(control):
    c = PROFILE.control(control)
    r = evaluate_control(c, good_evidence(), PROFILE.defaults(), "good01")
    assert r.verdict == "pass", (r.observed, r.expected, r.note)


@pytest.mark.parametrize("control", [c.id for c in PROFILE.automated])
def test_control_fails_on_broken_host(control):
    c = PROFILE.control(control)
    r = evaluate_control(c, mutated(BREAK[control]), PROFILE.defaults(), "bad01")
    assert r.verdict == "fail", (r.observed, r.expected, r.note)
    assert r.expected


@pytest.mark.parametrize("control", [c.id for c in PROFILE.automated])
def test_breaking_one_control_breaks_no_unrelated_control(control):
    """A mutation must be specific: it may only fail controls about the same thing."""
    ev = mutated(BREAK[control])
    failing = {
        c.id
        for c in PROFILE.automated
        if evaluate_control(c, ev, PROFILE.defaults(), "bad01").verdict != "pass"
    }
    assert control in failing
    related = {
        "faillock-enabled": {"faillock-deny", "faillock-unlock-time"},
        "pam-pwquality-enabled": {
            "pwquality-minlen",
            "pwquality-minclass",
            "pwquality-retry",
            "pwquality-enforce-root",
        },
        "sudo-no-nopasswd-all": set(),
        "accounts-unique-names": {"accounts-unique-uid"},
        "accounts-only-root-uid0": {"accounts-unique-uid"},  # toor shares root's UID
        "port-telnet-closed": {"high-risk-ports-closed"},  # 23 is a high-risk port too
    }.get(control, set())
    assert failing - {control} <= related, failing


def test_container_reports_not_applicable_with_reason():
    ev = good_evidence()
    ev["virtualization"] = {"type": "container", "technology": "systemd-nspawn"}
    for cid in ("mac-enforcing", "kernel-audit-boot"):
        r = evaluate_control(PROFILE.control(cid), ev, PROFILE.defaults(), "c1")
        assert r.verdict == "not_applicable" and "container" in r.note


def test_container_judges_auditd_and_chrony_on_enablement():
    ev = good_evidence()
    ev["virtualization"] = {"type": "container", "technology": "systemd-nspawn"}
    ev["services"]["auditd.service"]["active"] = "failed"
    ev["services"]["chrony.service"]["active"] = "inactive"
    for cid in ("auditd-enabled", "time-sync-enabled"):
        r = evaluate_control(PROFILE.control(cid), ev, PROFILE.defaults(), "c1")
        assert r.verdict == "pass" and "container" in r.note
    ev["virtualization"] = {"type": "none", "technology": ""}
    r = evaluate_control(PROFILE.control("auditd-enabled"), ev, PROFILE.defaults(), "vm1")
    assert r.verdict == "fail"


def test_container_kernel_sysctl_uses_persisted_value_only():
    ev = good_evidence()
    ev["virtualization"] = {"type": "container", "technology": "systemd-nspawn"}
    ev["sysctl"]["kernel.randomize_va_space"] = {"value": "0"}  # the shared kernel's value
    r = evaluate_control(PROFILE.control("sysctl-aslr"), ev, PROFILE.defaults(), "c1")
    assert r.verdict == "pass" and "shared kernel" in r.note
    ev["sysctl"]["net.ipv4.conf.all.accept_redirects"] = {"value": "1"}  # per-namespace: real
    r = evaluate_control(PROFILE.control("sysctl-accept-redirects"), ev, PROFILE.defaults(), "c1")
    assert r.verdict == "fail"


def test_missing_evidence_section_is_error_not_crash():
    ev = good_evidence()
    ev["packages"] = None
    ev["listening"] = None
    ev["files"].pop("/etc/crontab")
    for cid in ("auditd-installed", "high-risk-ports-closed", "perm-crontab"):
        r = evaluate_control(PROFILE.control(cid), ev, PROFILE.defaults(), "x")
        assert r.verdict == "error" and r.note


def test_group_vars_override_thresholds():
    ev = good_evidence()  # PASS_MAX_DAYS 90
    c = PROFILE.control("login-defs-pass-max-days")
    assert evaluate_control(c, ev, PROFILE.resolve_vars({}), "h").verdict == "pass"
    strict = PROFILE.resolve_vars({"baseline_password_max_days": 60})
    r = evaluate_control(c, ev, strict, "h")
    assert r.verdict == "fail" and "≤ 60" in r.expected


def test_redhat_family_uses_its_pam_files():
    ev = good_evidence()
    ev["os"]["family"] = "redhat"
    ev["files"]["/etc/pam.d/system-auth"] = f(
        "auth required pam_faillock.so preauth silent\nauth sufficient pam_unix.so\n"
        "password requisite pam_pwquality.so retry=3\n"
    )
    ev["files"]["/etc/pam.d/password-auth"] = f("auth sufficient pam_unix.so nullok\n")
    r = evaluate_control(PROFILE.control("pam-no-nullok"), ev, PROFILE.defaults(), "el1")
    assert r.verdict == "fail" and "password-auth" in r.observed
    r = evaluate_control(PROFILE.control("faillock-enabled"), ev, PROFILE.defaults(), "el1")
    assert r.verdict == "fail" and "password-auth" in r.observed
    ev["packages"] = {"audit": "3.1"}
    r = evaluate_control(PROFILE.control("auditd-installed"), ev, PROFILE.defaults(), "el1")
    assert r.verdict == "pass"


def test_missing_file_counts_as_not_allowed():
    ev = good_evidence()
    ev["files"]["/var/log/audit"] = MISSING
    r = evaluate_control(PROFILE.control("perm-audit-log-dir"), ev, PROFILE.defaults(), "x")
    assert r.verdict == "fail" and "missing" in r.observed
