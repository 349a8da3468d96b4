"""Remediation safety (issue 12) at unit level: never-weaker decisions, PAM only through
pam-auth-update / authselect (the RHEL path is tested here only: the lab has no RHEL
host), per-control isolation in the generated play, the per-pair result table, and the
reporting rules (not evaluated, not assessed, contradicted evidence)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import yaml

from cloudctl.baseline.catalog import load_profile
from cloudctl.baseline.engine import HostEvidence, ManualEvidence, evaluate_run
from cloudctl.baseline.inputs import load_waivers, read_evidence_file
from cloudctl.baseline.remediate import (
    FAILED_MARK,
    PLAYBOOK_TEXT,
    SSHD_RUNTIME_TASK,
    clause_tasks,
    control_tasks,
    main_tasks,
    summarize_events,
)
from cloudctl.core.errors import InputError, ValidationFailed

from .fixtures import good_evidence

ROOT = Path(__file__).resolve().parents[3]
PROFILE = load_profile(ROOT / "policies", "mlps-l3")
REMEDIABLE = [c for c in PROFILE.automated if c.remediable]


def _load(name: str, rel: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


F = _load("mlps_filters", "playbooks/baseline/filter_plugins/mlps.py")
PAM = _load("mlps_pam", "playbooks/baseline/library/mlps_pam.py")
AUDIT_ORDER = [["ignore"], ["syslog", "rotate"], ["email", "exec"], ["suspend", "single", "halt"]]


# --- never weaker -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "current, target, rule, expected",
    [
        ("0640", "0644", {"op": "mode"}, "0640"),  # auditd.conf stays 0640
        ("0600", "0640", {"op": "mode"}, "0600"),  # a stricter file mode is kept
        ("0604", "0640", {"op": "mode"}, "0600"),  # only bits are removed, never added
        ("0666", "0644", {"op": "mode"}, "0644"),
        (None, "0600", {"op": "mode"}, "0600"),  # new file
        ("SUSPEND", "single", {"op": "order", "order": AUDIT_ORDER}, "SUSPEND"),
        ("halt", "single", {"op": "order", "order": AUDIT_ORDER}, "halt"),
        ("ignore", "single", {"op": "order", "order": AUDIT_ORDER}, "single"),
        (  # the check accepts it: untouched although the order ranks it lower
            "email",
            "single",
            {"op": "in", "allowed": ["single", "halt", "suspend", "email", "exec"]},
            "email",
        ),
        ("3", "5", {"op": "le"}, "3"),  # faillock deny 3 stays (5 would be weaker)
        ("10", "5", {"op": "le"}, "5"),
        ("12", "8", {"op": "ge"}, "12"),  # minlen 12 stays
        ("6", "8", {"op": "ge"}, "8"),
        ("0", "300", {"op": "ge", "accept": ["0"]}, "0"),  # unlock_time 0: admin unlocks
        ("0", "600", {"op": "between", "min": 1}, "600"),  # TMOUT/ClientAlive 0 = off
        ("300", "600", {"op": "between", "min": 1}, "300"),
        ("077", "027", {"op": "umask"}, "077"),
        ("022", "027", {"op": "umask"}, "027"),
        ("002", "027", {"op": "umask"}, "027"),
    ],
)
def test_never_weaker_decisions(current, target, rule, expected):
    assert F.mlps_stricter(current, target, rule) == expected


def test_a_setting_that_meets_the_check_is_not_touched():
    assert F.mlps_meets("SYSLOG", {"op": "not_in", "allowed": ["ignore", "rotate"]})
    assert not F.mlps_meets("rotate", {"op": "not_in", "allowed": ["ignore", "rotate"]})
    assert F.mlps_meets("aes256-ctr,aes128-gcm@openssh.com", {"op": "forbid", "pattern": "cbc"})
    assert not F.mlps_meets("aes256-cbc,aes128-ctr", {"op": "forbid", "pattern": "cbc"})
    assert not F.mlps_meets(None, {"op": "le", "value": 5})


def test_keyval_reader_matches_the_files_it_reads():
    conf = "# deny = 3\ndeny = 4\n  unlock_time=600 # comment\n"
    assert F.mlps_keyval(conf, "deny", "=") == "4"
    assert F.mlps_keyval(conf, "unlock_time", "=") == "600"
    assert F.mlps_keyval("PASS_MAX_DAYS\t99999\n#PASS_MAX_DAYS 1\n", "PASS_MAX_DAYS") == "99999"
    assert F.mlps_keyval("admin_space_left_action = SUSPEND\n", "admin_space_left_action", "=")
    assert F.mlps_keyval("x = 1\n", "minlen", "=") is None
    assert F.mlps_sshd_value("permitrootlogin without-password\nport 22\n", "PermitRootLogin") == (
        "without-password"
    )
    assert F.mlps_modes_from_stat("640 /etc/audit/auditd.conf\n") == {
        "/etc/audit/auditd.conf": "0640"
    }


def _tasks(cid: str) -> list[dict]:
    c = PROFILE.control(cid)
    assert c is not None
    return control_tasks(c)


def test_generated_tasks_never_set_a_fixed_mode_on_an_existing_file():
    """Every mode a remediation task sets goes through mlps_stricter (auditd.conf 0640 can
    no longer become 0644)."""
    blocks = [b for bs in clause_tasks(REMEDIABLE).values() for b in bs]
    text = yaml.safe_dump(blocks)
    for block in blocks:
        for t in block.get("block") or []:
            for mod in (
                "ansible.builtin.lineinfile",
                "ansible.builtin.copy",
                "ansible.builtin.file",
            ):
                mode = (t.get(mod) or {}).get("mode")
                if mode is not None:
                    assert "mlps_stricter" in str(mode), (t["name"], mode)
    assert "auditd.conf" in text
    kv = _tasks("auditd-admin-space-left-action")
    assert (
        "mlps_meets" in str(kv[-1]["when"])
        and '"order"' in kv[-1]["ansible.builtin.lineinfile"]["line"]
    )


# --- PAM through the distribution's tools ------------------------------------------------
PAM_CONTROLS = [
    "pam-no-nullok",
    "pam-pwquality-enabled",
    "pam-password-history",
    "faillock-enabled",
]


@pytest.mark.parametrize("cid", PAM_CONTROLS)
def test_pam_controls_never_edit_stack_lines(cid):
    for t in _tasks(cid):
        for mod in ("ansible.builtin.lineinfile", "ansible.builtin.replace"):
            path = str((t.get(mod) or {}).get("path", ""))
            assert "/etc/pam.d" not in path, (cid, t["name"])
    assert any("mlps_pam" in t for t in _tasks(cid))


def _debian_root(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    (root / "usr/share/pam-configs").mkdir(parents=True)
    (root / "usr/sbin").mkdir(parents=True)
    (root / "usr/sbin/pam-auth-update").write_text("")
    (root / "etc/pam.d").mkdir(parents=True)
    (root / "etc/pam.d/common-auth").write_text(
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
        "auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n"
    )
    (root / "etc/pam.d/common-account").write_text("account\trequired\tpam_unix.so\n")
    return root


def _faillock_args() -> dict:
    spec = PROFILE.control("faillock-enabled").remediation["pam"]
    return {**spec["debian"], "features": spec["redhat"]["features"]}


FAILLOCK_STACK = (
    "auth\trequisite\tpam_faillock.so preauth\n"
    "auth\t[success=2 default=ignore]\tpam_unix.so nullok try_first_pass\n"
    "auth\t[default=die]\tpam_faillock.so authfail\n"
    "auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n"
)


def test_pam_auth_update_profiles_enabled_and_verified(tmp_path):
    root = _debian_root(tmp_path)
    calls = []

    def runner(argv):  # what pam-auth-update does with the two profiles
        calls.append(argv)
        (root / "etc/pam.d/common-auth").write_text(FAILLOCK_STACK)
        (root / "etc/pam.d/common-account").write_text(
            "account\trequired\tpam_unix.so\naccount\trequired\tpam_faillock.so\n"
        )
        return 0, "", ""

    res = PAM.apply(_faillock_args(), check=True, root=str(root), runner=runner)
    assert res["changed"] and not calls, "check mode runs nothing"
    assert not (root / "usr/share/pam-configs/cloudctl-faillock").exists()
    res = PAM.apply(_faillock_args(), check=False, root=str(root), runner=runner)
    assert not res.get("failed"), res
    assert calls == [
        ["pam-auth-update", "--enable", "cloudctl-faillock-preauth", "cloudctl-faillock"]
    ]
    assert (
        "pam_faillock.so authfail" in (root / "usr/share/pam-configs/cloudctl-faillock").read_text()
    )
    again = PAM.apply(_faillock_args(), check=False, root=str(root), runner=runner)
    assert again["changed"] is False and len(calls) == 1  # idempotent


def test_pam_auth_update_refusing_local_edits_fails_the_control(tmp_path):
    root = _debian_root(tmp_path)
    res = PAM.apply(_faillock_args(), check=False, root=str(root), runner=lambda a: (0, "", ""))
    assert res["failed"] and "local modifications" in res["msg"]
    assert "pam_faillock.so" not in (root / "etc/pam.d/common-auth").read_text()


def test_profile_initial_variant_is_accepted(tmp_path):
    root = _debian_root(tmp_path)
    unix = PROFILE.control("pam-no-nullok").remediation["pam"]["debian"]["profiles"]
    (root / "etc/pam.d/common-auth").write_text("auth\t[success=1 default=ignore]\tpam_unix.so\n")
    (root / "etc/pam.d/common-account").write_text(
        "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
    )
    for f in ("common-password", "common-session"):
        (root / "etc/pam.d" / f).write_text("")
    missing = PAM.missing_lines(str(root), [unix["cloudctl-unix"]])
    assert all("common-auth" not in m and "common-account" not in m for m in missing), missing


def test_authselect_features_on_the_rhel_family():
    state = {"features": ["with-mdns4"]}
    calls = []

    def runner(argv):
        calls.append(argv)
        if argv[1] == "current":
            return 0, "local " + " ".join(state["features"]), ""
        if argv[1] == "enable-feature":
            state["features"].append(argv[2])
        return 0, "", ""

    args = _faillock_args()
    res = PAM.apply(args, check=True, runner=runner, family="redhat")
    assert res["changed"] and res["enable"] == ["with-faillock"] and len(calls) == 1
    res = PAM.apply(args, check=False, runner=runner, family="redhat")
    assert not res.get("failed") and ["authselect", "apply-changes"] in calls
    assert PAM.apply(args, check=False, runner=runner, family="redhat")["changed"] is False


def test_authselect_not_in_use_fails_instead_of_editing():
    res = PAM.apply(
        _faillock_args(),
        check=False,
        runner=lambda a: (2, "", "No existing configuration detected."),
        family="redhat",
    )
    assert res["failed"] and "never edits PAM stack lines" in res["msg"]


# --- isolation and the result table ---------------------------------------------------------
def test_every_control_is_its_own_block_with_a_rescue_and_handlers_are_forced():
    play = yaml.safe_load(PLAYBOOK_TEXT)[0]
    assert play["force_handlers"] is True and play["roles"] == [{"role": "baseline"}]
    blocks = [b for bs in clause_tasks(REMEDIABLE).values() for b in bs]
    assert len(blocks) == len([c for c in PROFILE.automated if control_tasks(c)])
    for b in blocks:
        assert b["rescue"], b["name"]
    names = [t["name"] for t in main_tasks(REMEDIABLE)]
    assert names.index("Apply handler changes (validated sshd reload) now") < names.index(
        SSHD_RUNTIME_TASK
    )


def _ev(event: str, task: str, host: str = "h1", **res) -> dict:
    return {"event": event, "event_data": {"host": host, "task": task, "res": res}}


def test_result_table_distinguishes_changed_unchanged_failed_skipped():
    events = [
        _ev("runner_on_ok", "8.1.4.5a sshd-macs | sshd MACs", changed=True),
        _ev("runner_on_ok", "8.1.4.10a shell-histsize | HISTSIZE in /etc/profile.d", changed=False),
        _ev("runner_on_failed", "8.1.4.4f aide-installed | packages present: aide",
            msg="No package"),
        _ev("runner_on_ok", f"8.1.4.4f aide-installed | {FAILED_MARK}"),
        _ev("runner_on_skipped", "8.1.4.4c ssh-access-restricted | sshd AllowUsers",
            false_condition="((baseline_ssh_allow_users) | string | length) > 0"),
        _ev("runner_on_skipped", "8.1.4.1d faillock-deny | deny",
            false_condition="not (x | mlps_meets())"),
        _ev("runner_on_ok", "Validating arguments against arg spec 'main' - Remediate"),
        _ev("runner_on_unreachable", "Gathering Facts", host="h2", msg="timed out"),
    ]  # fmt: skip
    targets = {
        c: ["h1", "h2"]
        for c in ("sshd-macs", "shell-histsize", "aide-installed", "ssh-access-restricted",
                  "faillock-deny")
    }  # fmt: skip
    out = summarize_events(events, targets)
    h1 = {c: r["status"] for c, r in out["h1"].items()}
    assert h1 == {
        "sshd-macs": "changed",
        "shell-histsize": "unchanged",
        "aide-installed": "failed",
        "ssh-access-restricted": "skipped",
        "faillock-deny": "unchanged",
    }
    assert "No package" in out["h1"]["aide-installed"]["reason"]
    assert (
        out["h1"]["ssh-access-restricted"]["reason"]
        == "baseline_ssh_allow_users is not set for this host"
    )
    assert all(
        r["status"] == "skipped" and "unreachable" in r["reason"] for r in out["h2"].values()
    )


# --- reporting ----------------------------------------------------------------------------
def run(hosts, **kw):
    return evaluate_run(PROFILE, hosts, run_id="r", started_at="t", **kw)


def test_no_updates_is_not_evaluated_not_an_error():
    ev = good_evidence()
    ev["updates"] = None
    d = run([HostEvidence("h1", "ok", ev)])
    v = {r["control"]: r["verdict"] for r in d["results"]}
    assert v["security-updates"] == "not_evaluated"
    assert d["summary"]["verdicts"]["error"] == 0 and not d["summary"]["failed"]


def test_no_reachable_host_is_not_assessed_never_non_compliant():
    d = run([HostEvidence("h1", "unreachable", None, "timed out")])
    assert d["summary"]["conclusion"] == "not_assessed"
    assert d["summary"]["conclusion_label"]["zh"].startswith("未评估")
    assert d["summary"]["failed"]


def test_evidence_for_every_host_is_flagged_where_the_host_contradicts_it():
    ev = good_evidence()
    good = run([HostEvidence("h1", "ok", ev)])
    assert not any(r["verdict"] == "fail" for r in good["results"])
    ev2 = json.loads(json.dumps(ev))
    for path, f in ev2["files"].items():
        if path.startswith("/etc/ssh/sshd_config") and f.get("content"):
            f["content"] = "\n".join(
                x for x in f["content"].splitlines() if not x.lower().startswith("allow")
            )
    manual = {
        "two-factor-admin": [
            ManualEvidence("two-factor-admin", "pass", hosts="*", source="two-factor.yaml:2")
        ]
    }
    d = run([HostEvidence("ok1", "ok", ev), HostEvidence("open1", "ok", ev2)], manual=manual)
    v = {(r["host"], r["control"]): r["verdict"] for r in d["results"]}
    assert v[("open1", "ssh-access-restricted")] == "fail"
    assert v[("ok1", "two-factor-admin")] == "pass"
    assert v[("open1", "two-factor-admin")] == "error"
    assert d["summary"]["contradictions"] == [
        {
            "host": "open1",
            "control": "two-factor-admin",
            "evidence": "two-factor.yaml:2",
            "contradicted_by": ["ssh-access-restricted"],
        }
    ]


def test_sshd_setting_not_loaded_by_the_running_daemon_fails():
    ev = good_evidence()
    ev["sshd_runtime"] = {"ok": True, "stale": True, "reason": "x.conf changed after reload"}
    v = {r["control"]: r for r in run([HostEvidence("h1", "ok", ev)])["results"]}
    assert v["sshd-permit-root-login"]["verdict"] == "fail"
    assert "not in effect" in v["sshd-permit-root-login"]["observed"]


# --- bad input (11 §7) ---------------------------------------------------------------------
@pytest.fixture
def policies(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path / "policies"


@pytest.mark.parametrize(
    "fname, edit, message",
    [
        ("profile.yaml", lambda t: t + "colour: red\n", "profile: unknown key 'colour'"),
        ("profile.yaml", lambda t: t + "version: 1e999\n", "version"),
        ("8.1.4.3-audit.yaml", lambda t: "note: x\n", "unknown key 'note'"),
        ("8.1.4.3-audit.yaml", lambda t: "note: x\n", "catalog file has no controls"),
        ("8.1.4.3-audit.yaml", lambda t: t + "version: 2\n", "version 2 is not supported"),
        (
            "8.1.4.3-audit.yaml",
            lambda t: t.replace(
                "    severity: high\n", "    severity: high\n    sevrity: low\n", 1
            ),
            "unknown key 'sevrity'",
        ),
    ],
)
def test_catalog_keys_and_version_are_checked(policies, fname, edit, message):
    f = policies / "mlps-l3" / fname
    f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        load_profile(policies, "mlps-l3")
    got = [str(p) for p in e.value.problems]
    assert any(str(f) in g and message in g for g in got), got


@pytest.mark.parametrize(
    "text, message",
    [
        ("waivers: []\nversion: 1e999\n", "version"),
        ("waivers: []\nwaiver: []\n", "unknown key 'waiver'"),
        (
            "waivers:\n  - {hosts: '*', control: aide-installed, justification: j, approver: a,"
            " expires: 2030-01-01, expiry: 2031-01-01}\n",
            "unknown key 'expiry'",
        ),
    ],
)
def test_waiver_keys_and_version_are_checked(tmp_path, text, message):
    p = tmp_path / "waivers.yaml"
    p.write_text(text)
    with pytest.raises(ValidationFailed) as e:
        load_waivers(p, PROFILE)
    assert any(message in str(x) and ":" in str(x) for x in e.value.problems)


def test_a_waiver_for_no_host_of_the_run_is_flagged():
    import datetime as dt

    from cloudctl.baseline.engine import Waiver

    w = Waiver("no-such-host", "aide-installed", "j", "a", dt.date(2030, 1, 1), "w.yaml:3")
    d = run([HostEvidence("h1", "ok", good_evidence())], waivers=[w])
    assert d["waivers"][0]["matched_hosts"] == []


@pytest.mark.parametrize("kind", ["dir", "latin1", "fifo"])
def test_report_input_that_is_not_an_evidence_file(tmp_path, kind):
    import os

    p = tmp_path / "ev"
    if kind == "dir":
        p.mkdir()
    elif kind == "latin1":
        p.write_bytes(b'{"schema": "\xe9"}')
    else:
        os.mkfifo(p)
    with pytest.raises(InputError) as e:
        read_evidence_file(p)
    assert "not" in e.value.message


def test_a_broken_center_profile_does_not_fall_back_to_the_shipped_one(tmp_path):
    from types import SimpleNamespace

    from cloudctl.baseline.service import policies_dir

    (tmp_path / "mlps-l3").mkdir()
    (tmp_path / "mlps-l3" / "profile.yaml").mkdir()  # not a file
    assert policies_dir(SimpleNamespace(policies=tmp_path), "mlps-l3") == tmp_path
    with pytest.raises(InputError):
        load_profile(tmp_path, "mlps-l3")
