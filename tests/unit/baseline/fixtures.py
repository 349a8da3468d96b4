"""Synthetic evidence of a compliant Debian host (what mlps_evidence returns), and helpers
to break it one control at a time."""

from __future__ import annotations

import copy
from typing import Any


def f(
    content: str | None = None,
    mode: str = "0644",
    owner: str = "root",
    group: str = "root",
    kind: str = "file",
) -> dict:
    d: dict[str, Any] = {
        "exists": True,
        "mode": mode,
        "uid": 0,
        "gid": 0,
        "owner": owner,
        "group": group,
        "size": len(content or ""),
        "mtime": 0,
        "type": kind,
    }
    if content is not None:
        d["content"] = content
    return d


MISSING = {"exists": False}

SSHD_CONFIG = """\
# hardened
Include /etc/ssh/sshd_config.d/*.conf
PermitRootLogin no
PermitEmptyPasswords no
MaxAuthTries 4
ClientAliveInterval 600
ClientAliveCountMax 3
LoginGraceTime 60
X11Forwarding no
AllowUsers admin
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com
KexAlgorithms curve25519-sha256,diffie-hellman-group16-sha512
"""

AUDIT_RULES = """\
-w /etc/passwd -p wa -k identity
-w /etc/shadow -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/gshadow -p wa -k identity
-w /etc/security/opasswd -p wa -k identity
-w /etc/sudoers -p wa -k scope
-w /etc/sudoers.d -p wa -k scope
-w /var/log/lastlog -p wa -k logins
-w /var/run/faillock -p wa -k logins
-w /var/log/wtmp -p wa -k session
-w /var/log/btmp -p wa -k session
-a always,exit -F arch=b64 -S adjtimex,settimeofday,clock_settime -k time-change
-w /etc/localtime -p wa -k time-change
-a always,exit -F arch=b64 -S init_module,finit_module,delete_module -k modules
"""

SYSCTL = """\
net.ipv4.ip_forward = 0
net.ipv4.conf.all.accept_redirects = 0
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.all.accept_source_route = 0
net.ipv4.tcp_syncookies = 1
kernel.randomize_va_space = 2
kernel.dmesg_restrict = 1
fs.suid_dumpable = 0
"""


def user(
    name: str,
    uid: int,
    shell: str = "/usr/sbin/nologin",
    password: str = "locked",
    alg: str | None = None,
    max_days: int | None = 99999,
    min_days: int | None = 0,
) -> dict:
    return {
        "name": name,
        "uid": uid,
        "gid": uid,
        "home": f"/home/{name}" if uid >= 1000 else "/",
        "shell": shell,
        "passwd_field": "x",
        "password": password,
        "hash_algorithm": alg,
        "last_change": 20000,
        "min_days": min_days,
        "max_days": max_days,
        "warn_days": 7,
        "inactive_days": None,
        "expire_date": None,
        "in_shadow": True,
        "rhosts": False,
        "history_files": [],
    }


def good_evidence() -> dict:
    files = {
        "/etc/os-release": f(
            'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n'
        ),
        "/etc/ssh/sshd_config": f(SSHD_CONFIG, mode="0600"),
        "/etc/pam.d/common-password": f(
            "password\trequisite\tpam_pwquality.so retry=3\n"
            "password\trequired\tpam_pwhistory.so remember=5 use_authtok\n"
            "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt\n"  # noqa: E501
            "password\trequisite\tpam_deny.so\n"
        ),
        "/etc/pam.d/common-auth": f(
            "auth\trequired\tpam_faillock.so preauth\n"
            "auth\t[success=2 default=ignore]\tpam_unix.so\n"
            "auth\t[default=die]\tpam_faillock.so authfail\n"
            "auth\trequisite\tpam_deny.so\n"
            "auth\trequired\tpam_permit.so\n"
        ),
        "/etc/pam.d/common-account": f(
            "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
            "account\trequired\tpam_faillock.so\n"
        ),
        "/etc/pam.d/su": f(
            "auth       sufficient pam_rootok.so\n"
            "auth       required   pam_wheel.so use_uid group=sudo\n"
            "@include common-auth\n"
        ),
        "/etc/security/pwquality.conf": f(
            "# minlen = 9\nminlen = 8\nminclass = 3\nenforce_for_root\n"
        ),
        "/etc/security/faillock.conf": f("deny = 5\nunlock_time = 300\n"),
        "/etc/login.defs": f(
            "#\tPASS_MAX_DAYS\tMaximum number of days\nPASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\n"
            "PASS_WARN_AGE\t7\nENCRYPT_METHOD SHA512\nUMASK\t\t027\n"
        ),
        "/etc/default/useradd": f("SHELL=/bin/sh\nINACTIVE=35\n"),
        "/etc/profile": f("if [ -d /etc/profile.d ]; then :; fi\numask 027\n"),
        "/etc/profile.d/99-cloudctl-tmout.sh": f("TMOUT=600\nreadonly TMOUT\nexport TMOUT\n"),
        "/etc/profile.d/99-cloudctl-histsize.sh": f("HISTSIZE=100\nexport HISTSIZE\n"),
        "/etc/sysctl.d/99-zz-cloudctl-mlps.conf": f(SYSCTL),
        "/etc/audit/rules.d/50-cloudctl-mlps.rules": f(AUDIT_RULES, mode="0640"),
        "/etc/audit/rules.d/zz-cloudctl-finalize.rules": f("-e 2\n", mode="0640"),
        "/etc/audit/auditd.conf": f(
            "max_log_file_action = keep_logs\nspace_left_action = email\nadmin_space_left_action = single\n"  # noqa: E501
        ),
        "/etc/rsyslog.conf": f(
            "$FileCreateMode 0640\nauth,authpriv.*\t\t\t/var/log/auth.log\n*.* @@loghost.example:514\n"  # noqa: E501
        ),
        "/etc/logrotate.conf": f("weekly\nrotate 4\n"),
        "/etc/logrotate.d/rsyslog": f(
            "/var/log/syslog\n/var/log/auth.log\n{\n\trotate 27\n\tweekly\n}\n"
        ),
        "/etc/chrony/chrony.conf": f("server ntp.example iburst\n"),
        "/etc/sudoers": f(
            "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n", mode="0440"
        ),
        "/etc/apt/sources.list": f("deb http://deb.debian.org/debian bookworm main\n"),
        "/etc/passwd": f("root:x:0:0:root:/root:/bin/bash\n"),
        "/etc/group": f("root:x:0:\n"),
        "/etc/shadow": f(None, mode="0640", group="shadow"),
        "/etc/gshadow": f(None, mode="0640", group="shadow"),
        "/etc/ssh/ssh_host_ed25519_key": f(None, mode="0600"),
        "/etc/ssh/ssh_host_rsa_key": MISSING,
        "/etc/ssh/ssh_host_ecdsa_key": MISSING,
        "/etc/crontab": f(None, mode="0600"),
        "/var/log/audit": f(None, mode="0700", kind="dir"),
        "/proc/cmdline": f("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro audit=1\n"),
        "/sys/kernel/security/apparmor": f(None, kind="dir"),
        "/sys/fs/selinux/enforce": MISSING,
        "/etc/hosts.equiv": MISSING,
    }
    return {
        "schema": 1,
        "collector": "mlps_evidence",
        "collected_at": "2026-11-26T10:00:00+0000",
        "hostname": "good01",
        "os": {
            "id": "debian",
            "id_like": "",
            "version_id": "12",
            "pretty_name": "Debian 12",
            "family": "debian",
        },
        "virtualization": {"type": "none", "technology": ""},
        "files": files,
        "packages": {
            "auditd": "1:3.0.9-1",
            "rsyslog": "8.2302",
            "aide": "0.18",
            "apparmor": "3.0.8",
            "clamav": "1.0.3",
            "libpam-pwquality": "1.4.5",
            "openssh-server": "1:9.2p1",
        },
        "services": {
            "auditd.service": {"enabled": "enabled", "active": "active"},
            "rsyslog.service": {"enabled": "enabled", "active": "active"},
            "chrony.service": {"enabled": "enabled", "active": "active"},
            "ssh.service": {"enabled": "enabled", "active": "active"},
        },
        "sshd": {"ok": False, "error": "test: parse the files"},
        "listening": [{"proto": "tcp", "family": "ipv4", "address": "0.0.0.0", "port": 22}],
        "sysctl": {
            "net.ipv4.ip_forward": {"value": "0"},
            "net.ipv4.conf.all.accept_redirects": {"value": "0"},
            "net.ipv4.conf.all.send_redirects": {"value": "0"},
            "net.ipv4.conf.all.accept_source_route": {"value": "0"},
            "net.ipv4.tcp_syncookies": {"value": "1"},
            "kernel.randomize_va_space": {"value": "2"},
            "kernel.dmesg_restrict": {"value": "1"},
            "fs.suid_dumpable": {"value": "0"},
        },
        "accounts": [
            user("root", 0, "/bin/bash", "set", "sha512", 90, 1),
            user("daemon", 1),
            user("sync", 4, "/bin/sync"),
            user("admin", 1000, "/bin/bash", "set", "yescrypt", 90, 1),
        ],
        "groups": [],
        "special_files": {
            "suid_sgid": [{"path": "/usr/bin/passwd", "mode": "4755"}],
            "world_writable": [],
        },
        "updates": {"ok": True, "count": 0, "security": [], "packages": []},
        "profile_vars": {},
        "errors": [],
    }


def edit(ev: dict, path: str, content: str, **kw: Any) -> None:
    ev["files"][path] = f(content, **kw)


def mutated(fn) -> dict:
    ev = copy.deepcopy(good_evidence())
    fn(ev)
    return ev
