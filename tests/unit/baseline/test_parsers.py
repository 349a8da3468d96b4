"""The tricky parts: effective sshd values, PAM stacks, shell start-up files, sysctl order."""

from __future__ import annotations

from cloudctl.baseline import parsers as P

from .fixtures import f


def files(**kw: str) -> dict:
    return {path.replace("__", "/").replace("_DOT_", "."): f(text) for path, text in kw.items()}


def sshd(main: str, **dropins: str) -> dict:
    fs = {"/etc/ssh/sshd_config": f(main)}
    for name, text in dropins.items():
        fs[f"/etc/ssh/sshd_config.d/{name}.conf"] = f(text)
    return {"files": fs, "sshd": {"ok": False, "error": "x"}}


def test_sshd_first_match_wins_and_keywords_are_case_insensitive():
    ev = sshd("PermitRootLogin no\npermitrootlogin yes\n")
    s, _m, how = P.sshd_effective(ev, "PermitRootLogin")
    assert s.value == "no" and s.source == "/etc/ssh/sshd_config:1" and how == "parsed"


def test_sshd_include_is_read_where_it_stands_in_lexical_order():
    ev = sshd(
        "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n",
        **{"50-cloud": "PermitRootLogin yes\n", "10-first": "MaxAuthTries 3\n"},
    )
    assert P.sshd_effective(ev, "permitrootlogin")[0].value == "yes"
    assert P.sshd_effective(ev, "maxauthtries")[0].value == "3"
    # an Include after the setting comes too late
    ev = sshd(
        "PermitRootLogin no\nInclude sshd_config.d/*.conf\n",
        **{"50-cloud": "PermitRootLogin yes\n"},
    )
    assert P.sshd_effective(ev, "permitrootlogin")[0].value == "no"


def test_sshd_comments_equals_sign_and_defaults():
    ev = sshd("#PermitRootLogin no\nMaxAuthTries=3 # three\nLoginGraceTime 1m30s\n")
    assert P.sshd_effective(ev, "permitrootlogin")[0].source == "OpenSSH default"
    assert P.sshd_effective(ev, "maxauthtries")[0].value == "3"
    assert P.sshd_effective(ev, "logingracetime")[0].value == "90"


def test_sshd_match_block_values_are_reported_separately():
    ev = sshd(
        "PermitRootLogin no\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\nMatch all\nX11Forwarding no\n"  # noqa: E501
    )
    s, matches, _ = P.sshd_effective(ev, "permitrootlogin")
    assert s.value == "no"
    assert matches[0][0] == "Address 10.0.0.0/8" and matches[0][1].value == "yes"
    assert P.sshd_effective(ev, "x11forwarding")[0].value == "no"


def test_sshd_T_output_is_preferred():
    ev = sshd("PermitRootLogin no\n")
    ev["sshd"] = {"ok": True, "config": {"permitrootlogin": "yes", "logingracetime": "120"}}
    s, _m, how = P.sshd_effective(ev, "PermitRootLogin")
    assert (s.value, how) == ("yes", "sshd -T")


def test_sshd_allowusers_accumulates():
    ev = sshd("AllowUsers admin\nAllowUsers ops@10.1.0.0/16\n")
    assert P.sshd_effective(ev, "allowusers")[0].value == "admin ops@10.1.0.0/16"


def test_pam_include_substack_and_bracket_controls():
    fs = {
        "/etc/pam.d/sshd": f(
            "@include common-auth\nauth substack password-auth\naccount include system-x\n"
        ),
        "/etc/pam.d/common-auth": f(
            "auth [success=1 default=ignore] pam_unix.so nullok\n# auth required pam_x.so\n"
        ),
        "/etc/pam.d/password-auth": f(
            "auth required /usr/lib/security/pam_faillock.so preauth\npassword required pam_y.so\n"
        ),
        "/etc/pam.d/system-x": f("account required pam_z.so\n"),
    }
    stack = P.parse_pam(fs, "sshd")
    assert [(e.type, e.module) for e in stack] == [
        ("auth", "pam_unix.so"),
        ("auth", "pam_faillock.so"),
        ("account", "pam_z.so"),
    ]
    assert stack[0].control == "[success=1 default=ignore]" and stack[0].arg("nullok") == ""
    assert stack[1].arg("preauth") == "" and stack[1].arg("deny") is None


def test_pam_include_loop_terminates():
    fs = {
        "/etc/pam.d/a": f("@include b\n"),
        "/etc/pam.d/b": f("@include a\nauth required pam_x.so\n"),
    }
    assert len(P.parse_pam(fs, "a")) > 0


def test_keyvals_last_wins_and_comments():
    fs = {
        "/etc/login.defs": f("PASS_MAX_DAYS 99999\n#PASS_MAX_DAYS 30\nPASS_MAX_DAYS 90 # policy\n")
    }
    kv = P.keyvals(fs, "/etc/login.defs")
    assert kv["PASS_MAX_DAYS"].value == "90" and kv["PASS_MAX_DAYS"].source.endswith(":3")


def test_shell_var_readonly_freezes_the_first_value():
    fs = {
        "/etc/profile": f("TMOUT=300\nreadonly TMOUT\nexport TMOUT\n"),
        "/etc/profile.d/zz.sh": f("TMOUT=0\n"),
    }
    sv = P.shell_var(fs, "TMOUT")
    assert (sv.value, sv.readonly, sv.exported) == ("300", True, True)
    fs["/etc/profile"] = f("TMOUT=300\nexport TMOUT\n")
    assert P.shell_var(fs, "TMOUT").value == "0"  # not readonly: the later file wins
    fs = {"/etc/profile.d/t.sh": f("declare -rx TMOUT=600\n")}
    sv = P.shell_var(fs, "TMOUT")
    assert (sv.value, sv.readonly, sv.exported) == ("600", True, True)


def test_sysctl_order_same_name_in_etc_wins_and_sysctl_conf_last():
    fs = {
        "/usr/lib/sysctl.d/50-default.conf": f("net.ipv4.ip_forward = 1\nkernel.x = 1\n"),
        "/etc/sysctl.d/50-default.conf": f("kernel.x = 2\n"),
        "/etc/sysctl.d/10-a.conf": f("net/ipv4/tcp_syncookies=1\n"),
        "/etc/sysctl.conf": f("# comment\n; other\n-net.ipv4.ip_forward = 0\n"),
    }
    p = P.sysctl_persisted(fs)
    assert p["kernel.x"].value == "2"  # /usr/lib copy is shadowed by /etc's file of the same name
    assert p["net.ipv4.ip_forward"].value == "0"
    assert p["net.ipv4.tcp_syncookies"].value == "1"


def test_logrotate_blocks_use_global_defaults():
    fs = {
        "/etc/logrotate.conf": f("monthly\nrotate 2\n"),
        "/etc/logrotate.d/rsyslog": f(
            "/var/log/syslog\n/var/log/auth.log\n{\n  daily\n  rotate 200\n}\n/var/log/x {\n}\n"
        ),
    }
    blocks = P.logrotate_days(fs, "/etc/logrotate.d/rsyslog")
    assert [b[1] for b in blocks] == [200, 62]
    assert blocks[0][0].startswith("/var/log/syslog")


def test_audit_rules_prefer_rules_d():
    fs = {
        "/etc/audit/audit.rules": f("-e 2\n"),
        "/etc/audit/rules.d/a.rules": f("-D\n# c\n-w /x -p wa\n"),
    }
    assert [r.value for r in P.audit_rules(fs)] == ["-D", "-w /x -p wa"]
