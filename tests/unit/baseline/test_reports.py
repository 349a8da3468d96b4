"""Reports, history and the CLI on an evidence file (no hosts needed)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from cloudctl.baseline import report, store
from cloudctl.baseline.catalog import load_profile
from cloudctl.baseline.engine import HostEvidence, evaluate_run

from .fixtures import good_evidence, mutated
from .test_controls import BREAK

ROOT = Path(__file__).resolve().parents[3]
PROFILE = load_profile(ROOT / "policies")


def doc(run_id="r1", broken=("sshd-permit-root-login",)):
    ev = good_evidence()
    for b in broken:
        ev = mutated(
            lambda e, b=b, base=ev: (e.clear(), e.update(json.loads(json.dumps(base))), BREAK[b](e))
        )
    return evaluate_run(
        PROFILE,
        [HostEvidence("yun-db01", "ok", ev), HostEvidence("ghost", "unreachable", None, "refused")],
        run_id=run_id,
        started_at=f"2026-11-26T10:00:0{run_id[-1]}",
    )


def test_junit_counts_failures_and_unreachable():
    x = ET.fromstring(report.junit(doc()).split("\n", 1)[1])
    suites = {s.get("name"): s for s in x.iter("testsuite")}
    assert suites["yun-db01"].get("failures") == "1"
    assert suites["ghost"].get("errors") == "1"
    fails = [tc.get("name") for tc in x.iter("testcase") if tc.find("failure") is not None]
    assert fails == ["sshd-permit-root-login: root cannot log in over SSH"]


def test_html_is_self_contained_and_bilingual():
    d = doc()
    zh = report.html_report(d, "zh", {"sshd-permit-root-login": "- lineinfile: ..."})
    en = report.html_report(d, "en")
    assert "禁止 root 远程登录" in zh and "整改建议" in zh and "8.1.4.2" in zh
    assert "root cannot log in over SSH" in en and "remediation" in en
    assert "<script src" not in zh and "<link" not in zh
    assert "cloudctl baseline remediate --control sshd-permit-root-login" in zh


def test_terminal_summary_shows_observed_and_expected():
    con = Console(record=True, width=200)
    report.terminal(doc(), "en", con)
    out = con.export_text()
    assert "sshd-permit-root-login" in out and "yes" in out and "permitrootlogin = no" in out
    assert "unreachable" in out and "conclusion" in out


def test_store_runs_and_diff(tmp_path):
    db = tmp_path / "state.db"
    store.save_run(db, doc("r1", broken=("sshd-permit-root-login",)), "check")
    store.save_run(db, doc("r2", broken=("sshd-macs",)), "check")
    runs = store.list_runs(db)
    assert [r["run_id"] for r in runs] == ["r2", "r1"]
    a, b = store.latest_two(db)
    d = store.diff_runs(store.load_run(db, a), store.load_run(db, b))
    assert [(x["control"], x["before"], x["after"]) for x in d["better"]] == [
        ("sshd-permit-root-login", "fail", "pass")
    ]
    assert [(x["control"], x["before"], x["after"]) for x in d["worse"]] == [
        ("sshd-macs", "pass", "fail")
    ]


def write_evidence(path: Path, ev: dict) -> None:
    path.write_text(
        json.dumps(
            {
                "schema": "cloudctl.baseline.evidence/1",
                "generated_at": "t",
                "hosts": {
                    "yun-db01": {"status": "ok", "evidence": ev},
                    "ghost": {"status": "unreachable", "error": "port 9 refused"},
                },
            }
        )
    )


def test_cli_report_formats_and_exit_code(cli, center, tmp_path):
    shutil.copytree(ROOT / "policies", center / "policies")
    ev_file = tmp_path / "ev.json"
    write_evidence(ev_file, mutated(BREAK["shell-tmout"]))
    html, junit = tmp_path / "r.html", tmp_path / "r.xml"
    r = cli(
        "--center",
        str(center),
        "baseline",
        "report",
        str(ev_file),
        "-o",
        "json",
        "--html",
        str(html),
        "--junit",
        str(junit),
        "--store",
    )
    assert r.exit_code == 1, r.output
    d = json.loads(r.stdout)
    assert d["schema"] == "cloudctl.baseline.run/1"
    assert {x["control"] for x in d["results"] if x["verdict"] == "fail"} == {"shell-tmout"}
    assert d["summary"]["hosts_unreachable"] == ["ghost"]
    assert html.read_text().startswith("<!DOCTYPE html>") and junit.exists()
    r = cli("--center", str(center), "baseline", "runs", "-o", "json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["items"]) == 1


def test_cli_rejects_bad_waivers_with_file_and_line(cli, center, tmp_path):
    shutil.copytree(ROOT / "policies", center / "policies")
    (center / "policies/waivers.yaml").write_text(
        "waivers:\n  - hosts: '*'\n    control: no-such-control\n    justification: x\n"
        "    approver: y\n    expires: 2027-01-01\n  - hosts: '*'\n    control: sshd-macs\n"
    )
    ev_file = tmp_path / "ev.json"
    write_evidence(ev_file, good_evidence())
    r = cli("--center", str(center), "baseline", "report", str(ev_file))
    assert r.exit_code == 2 and "Traceback" not in r.stderr
    from cloudctl.baseline.inputs import load_waivers
    from cloudctl.core.errors import ValidationFailed

    try:
        load_waivers(center / "policies/waivers.yaml", PROFILE)
    except ValidationFailed as e:
        msgs = [str(p) for p in e.problems]
    assert any(m.endswith("waivers.yaml:3: unknown control 'no-such-control'") for m in msgs), msgs
    assert any(
        m.endswith("waivers.yaml:7: waiver misses justification, approver, expires") for m in msgs
    )


def test_remediation_role_is_in_sync_with_the_catalog():
    from cloudctl.baseline.remediate import role_files
    from cloudctl.baseline.role import differences

    files = role_files(PROFILE, [c for c in PROFILE.automated if c.remediable])
    assert differences(ROOT / "playbooks/baseline", files) == [], (
        "run `cloudctl baseline playbook` after editing the catalog"
    )


def test_every_remediation_block_is_tagged_with_its_control():
    from cloudctl.baseline.remediate import clause_tasks, label, task_control

    remediable = [c for c in PROFILE.automated if c.remediable]
    blocks = {b["tags"][0]: b for bs in clause_tasks(remediable).values() for b in bs}
    assert set(blocks) == {c.id for c in remediable}
    for c in remediable:
        b = blocks[c.id]
        assert b["tags"] == [c.id, f"{c.clause}_{c.item}", c.unit]
        for task in [*b["block"], *b["rescue"]]:
            assert task["name"].startswith(label(c) + " | ")
            assert task_control(task["name"])[0] == c.id


def test_remediation_diffs_accept_every_shape_ansible_reports():
    """Ansible reports ``diff`` as a dict, a list of dicts, or per loop item; a dict
    must not be iterated into its keys (that crashed the dry-run summary)."""
    from cloudctl.baseline.service import _diff_list

    one = {"before": "a", "after": "b"}
    assert _diff_list(one) == [one]
    assert _diff_list([one, "noise", one]) == [one, one]
    assert _diff_list(None) == []
    assert _diff_list("text") == []


@pytest.mark.parametrize(
    "hosts, message",
    [
        ([], "holds no hosts"),
        ({}, "holds no hosts"),
        ({"yun-db01": "ok"}, "host 'yun-db01': expected"),
        ({"yun-db01": {"status": "ok", "evidence": "x"}}, "host 'yun-db01': expected"),
    ],
)
def test_cli_rejects_evidence_of_the_wrong_shape(cli, center, tmp_path, hosts, message):
    shutil.copytree(ROOT / "policies", center / "policies")
    ev_file = tmp_path / "ev.json"
    ev_file.write_text(json.dumps({"schema": "cloudctl.baseline.evidence/1", "hosts": hosts}))
    r = cli("--center", str(center), "baseline", "report", str(ev_file))
    assert r.exit_code == 2 and message in r.output, r.output
