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
