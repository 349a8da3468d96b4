"""The evidence module against a fake root: derived facts only, never a password hash."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
spec = importlib.util.spec_from_file_location(
    "mlps_evidence", ROOT / "playbooks/baseline/library/mlps_evidence.py"
)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)

HASH = "$6$saltsalt$" + "x" * 86


def make_root(tmp: Path) -> Path:
    r = tmp / "root"
    (r / "etc/ssh/sshd_config.d").mkdir(parents=True)
    (r / "etc/pam.d").mkdir(parents=True)
    (r / "var/lib/dpkg").mkdir(parents=True)
    (r / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\n')
    (r / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n"
        "ghost:x:1001:1001::/home/ghost:/bin/bash\nold:x:1002:1002::/home/old:/bin/bash\n"
    )
    (r / "etc/shadow").write_text(
        f"root:!*:19000:0:99999:7:::\nadmin:{HASH}:19000:1:90:7:::\nghost::19000::::::\nold:$1$ab$cdef:19000:0:99999:7:::\n"
    )
    (r / "etc/shadow").chmod(0o640)
    (r / "etc/ssh/sshd_config").write_text("Include /etc/ssh/sshd_config.d/*.conf\n")
    (r / "etc/ssh/sshd_config.d/a.conf").write_text("PermitRootLogin no\n")
    (r / "etc/pam.d/common-auth").write_text("auth required pam_unix.so\n")
    (r / "var/lib/dpkg/status").write_text(
        "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2\n\n"
        "Package: telnetd\nStatus: deinstall ok config-files\nVersion: 0.17\n"
    )
    (r / "home/admin").mkdir(parents=True)
    (r / "home/admin/.rhosts").write_text("+ +\n")
    (r / "tmp").mkdir()
    (r / "tmp").chmod(0o777)  # world-writable without sticky bit
    return r


def test_collect_from_fake_root(tmp_path):
    root = make_root(tmp_path)
    ev = mod.Collector(str(root), run_commands=False).collect()
    assert ev["os"]["family"] == "debian"
    assert ev["files"]["/etc/ssh/sshd_config.d/a.conf"]["content"] == "PermitRootLogin no\n"
    assert "content" not in ev["files"]["/etc/shadow"]
    assert ev["files"]["/etc/shadow"]["mode"] == "0640"
    users = {u["name"]: u for u in ev["accounts"]}
    assert users["root"]["password"] == "locked"
    assert users["admin"]["password"] == "set" and users["admin"]["hash_algorithm"] == "sha512"
    assert users["admin"]["max_days"] == 90 and users["admin"]["rhosts"] is True
    assert users["ghost"]["password"] == "empty"
    assert users["old"]["hash_algorithm"] == "md5"
    assert ev["packages"] == {"openssh-server": "1:9.2"}
    assert any(w["path"] == "/tmp" for w in ev["special_files"]["world_writable"])


def test_no_password_hash_leaves_the_host(tmp_path):
    ev = mod.Collector(str(make_root(tmp_path)), run_commands=False).collect()
    text = json.dumps(ev)
    assert HASH not in text and "saltsalt" not in text and "$1$ab" not in text


def test_evidence_evaluates_end_to_end(tmp_path):
    from cloudctl.baseline.catalog import load_profile
    from cloudctl.baseline.engine import HostEvidence, evaluate_run

    ev = mod.Collector(str(make_root(tmp_path)), run_commands=False).collect()
    ev["profile_vars"] = {}
    d = evaluate_run(load_profile(ROOT / "policies"), [HostEvidence("fake", "ok", ev)])
    v = {r["control"]: r["verdict"] for r in d["results"]}
    assert v["sshd-permit-root-login"] == "pass"  # from the Include'd drop-in
    assert v["accounts-no-empty-password"] == "fail"
    assert v["accounts-strong-hashes"] == "fail"
    assert v["no-rhosts-files"] == "fail"
    assert v["pkg-telnet-server-absent"] == "pass"  # only config files left: not installed
    assert v["high-risk-ports-closed"] == "error"  # no /proc/net from a fake root


def _systemctl_answers(calls):
    def run(argv, timeout=20):
        calls.append(argv)
        if "list-unit-files" in argv:
            named = argv[5:]
            out = "".join(f"{u} enabled enabled\n" for u in named if u == "ssh.service")
            return {"rc": 0 if out or not named else 1, "out": out, "err": ""}
        return {"rc": 0, "out": "ssh.service loaded active running OpenSSH\n", "err": ""}

    return run


def test_named_units_only_are_asked_about():
    calls = []
    c = mod.Collector("/", units=["ssh.service", "auditd.service"])
    c.run = _systemctl_answers(calls)
    svcs = c.services()
    assert calls[0][:2] == ["systemctl", "list-unit-files"]
    assert calls[0][-2:] == ["ssh.service", "auditd.service"]
    assert svcs["ssh.service"] == {"enabled": "enabled", "active": "active", "sub": "running"}
    assert "auditd.service" not in svcs and not c.errors


def test_no_named_unit_installed_is_an_answer_not_an_error():
    c = mod.Collector("/", units=["auditd.service"])
    c.run = _systemctl_answers([])
    assert "auditd.service" not in c.services()
    assert c.errors == []


def test_without_names_every_unit_file_is_listed():
    calls = []
    c = mod.Collector("/")
    c.run = _systemctl_answers(calls)
    c.services()
    assert calls[0][-1] == "--no-pager"


def test_arguments_are_checked_like_ansible_would():
    p, errors = mod.parse_args(
        json.dumps(
            {
                "check_updates": "false",
                "units": ["ssh.service"],
                "max_file_bytes": "1024",
                "_ansible_check_mode": True,
            }
        )
    )
    assert errors == []
    assert p["check_updates"] is False and p["units"] == ["ssh.service"]
    assert p["max_file_bytes"] == 1024 and p["root"] == "/" and p["profile_vars"] == {}


def test_bad_arguments_fail_the_task_with_a_message(capsys):
    _, errors = mod.parse_args({"unitz": [], "max_file_bytes": True, "profile_vars": "x"})
    assert "unsupported parameters: unitz" in errors
    assert any(e.startswith("max_file_bytes: expected int") for e in errors)
    assert any(e.startswith("profile_vars: expected dict") for e in errors)
    try:
        mod.main('{"run_commands": "maybe"}')
    except SystemExit as e:
        assert e.code == 1
    else:
        raise AssertionError("main() accepted a bad argument")
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True and "run_commands" in out["msg"]


def test_module_is_sent_without_the_ansiballz_wrapper():
    """Ansible picks the module style from markers in the source; keep it JSONARGS."""
    src = (ROOT / "playbooks/baseline/library/mlps_evidence.py").read_bytes()
    from ansible.executor.module_common import NEW_STYLE_PYTHON_MODULE_RE, REPLACER_JSONARGS

    assert REPLACER_JSONARGS in src and not NEW_STYLE_PYTHON_MODULE_RE.search(src)
