"""Reports, history and the CLI on an evidence file (no hosts needed)."""

from __future__ import annotations

import json
import re
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
    r = cli("--center", str(center), "--lang", "en", "baseline", "report", str(ev_file))
    assert r.exit_code == 2 and message in r.output, r.output


# --------------------------------------------------------------------------- assessor report
def fleet_doc(good=60, tmout=40, root_login=15, down=5, run_id="fleet"):
    """A 120-host run: three kinds of host and some unreachable ones."""
    hosts = []
    kinds = ((good, None, "web"), (tmout, "shell-tmout", "app"),
             (root_login, "sshd-permit-root-login", "db"))  # fmt: skip
    for n, broken, prefix in kinds:
        ev = good_evidence() if broken is None else mutated(BREAK[broken])
        hosts += [HostEvidence(f"{prefix}-{i:03d}", "ok", ev) for i in range(n)]
    hosts += [
        HostEvidence(f"down-{i:02d}", "unreachable", None, "ssh: connect to host port 22: refused")
        for i in range(down)
    ]
    return evaluate_run(PROFILE, hosts, run_id=run_id, started_at="2026-11-26T10:00:00")


def test_a_120_host_report_is_summary_tables_not_a_row_per_host_and_control():
    d = fleet_doc()
    assert len(d["results"]) > 12_000  # what a row-per-result report would print
    html = report.html_report(
        d, "en", context=report.ReportContext(methods=report.control_methods(PROFILE))
    )
    rows = html.count('class="mrow"')
    assert rows == 3  # 115 hosts, three kinds: one matrix row per kind
    assert html.count("<tr") < 600
    assert len(html) < 1_500_000
    assert "assessed 115 of 120 hosts" in html
    # the appendix lists only what failed (115 > 10 hosts) and says how many it leaves out;
    # clones share an entry, and every host link still lands on its host's entry
    assert "Many hosts (115)" in html
    assert html.count('class="appendix-host"') == 3
    targets = set(re.findall(r'href="#(host-[^"]+)"', html))
    assert len(targets) >= 15 and targets <= set(re.findall(r'id="(host-[^"]+)"', html))
    assert len(set(re.findall(r'id="(host-[^"]+)"', html))) == 115
    # unreachable hosts: listed once, counted in the conclusion, nowhere else
    for i in range(5):
        assert html.count(f"down-{i:02d}") == 1
    assert "5 × ssh: connect to host port 22: refused" in html
    zh = report.html_report(d, "zh")
    assert "评估 115/120 台主机" in zh and "（仅基于已评估的 115 台）" in zh


def test_small_runs_get_every_result_in_the_appendix_and_evidence_prints():
    html = report.html_report(doc(), "zh", context=report.ReportContext(appendix="auto"))
    appendix = html[html.index('id="appendix"') :]
    n_results = len(doc()["results"])
    assert appendix.count("<tr><td><b>") == n_results  # one host assessed, every control
    # every evidence block collapsed on screen has a print-only copy, shown by the print CSS
    screen = re.findall(r'<details class="screen-only"><summary>[^<]*</summary><pre>(.*?)</pre>',
                        html, re.S)  # fmt: skip
    printed = re.findall(r'<pre class="print-only">(.*?)</pre>', html, re.S)
    assert screen and screen == printed
    css = (ROOT / "cloudctl/baseline/report.css").read_text()
    media = css[css.index("@media print") :]
    assert "details.screen-only { display: none; }" in media
    assert ".print-only { display: block; }" in media
    assert "size: A4" in css


def test_methods_follow_gbt_28448_per_check_type():
    m = report.control_methods(PROFILE)
    assert set(m) == {c.id for c in PROFILE.controls}
    assert m["sshd-permit-root-login"] == ["测试"]  # sshd -T + handshake with the daemon
    assert m["security-updates"] == ["测试"]  # simulated upgrade
    assert m["perm-sshd-config"] == ["核查"]  # reading a file's mode
    assert m["two-factor-admin"] == ["访谈", "核查"]  # its evidence record's method
    rsyslog = next(c for c in PROFILE.controls if c.check.get("type") == "all_of")
    assert m[rsyslog.id] == ["核查"]
    html = report.html_report(doc(), "zh", context=report.ReportContext(methods=m))
    cells = set(re.findall(r"<td>([^<]*)</td>", html))
    assert "自动" not in cells and "人工" not in cells  # no "automatic" pseudo-method
    assert {"核查", "测试", "访谈/核查"} <= cells
    en = report.html_report(doc(), "en", context=report.ReportContext(methods=m))
    assert "interview/examine" in en and ">test<" in en


def test_header_block_via_the_cli(cli, center, tmp_path):
    import hashlib

    shutil.copytree(ROOT / "policies", center / "policies")
    ev_file = tmp_path / "ev.json"
    write_evidence(ev_file, good_evidence())
    html = tmp_path / "r.html"
    args = ["--center", str(center), "baseline", "report", str(ev_file), "--html", str(html)]
    r = cli(*args, "--assessor", "测评师 王工", "--level", "第三级（S3A3G3）")
    assert r.exit_code == 1, r.output  # ghost is unreachable
    text = html.read_text()
    header = text[text.index('id="header-block"') : text.index("</table>")]
    assert "test-center" in header  # the system defaults to cloudctl.yaml's name
    assert "测评师 王工" in header and "第三级（S3A3G3）" in header
    assert hashlib.sha256(ev_file.read_bytes()).hexdigest() in header
    assert report.catalog_sha256(PROFILE) in header
    from cloudctl import __version__

    assert f"cloudctl {__version__}" in header
    r = cli(*args, "--system", "孝感市政务外网门户", "--appendix", "bogus")
    assert r.exit_code == 2 and "--appendix" in r.output


def test_trend_chart_draws_the_stored_runs(tmp_path):
    db = tmp_path / "state.db"
    for i, broken in enumerate((("sshd-permit-root-login", "sshd-macs"), ("sshd-macs",), ())):
        store.save_run(db, doc(f"r{i + 1}", broken=broken), "check")
    runs = sorted(store.list_runs(db), key=lambda r: r["started_at"])
    html = report.html_report(doc("r3", broken=()), "en", context=report.ReportContext(trend=runs))
    svg = html[html.index("<svg") : html.index("</svg>")]
    grp = svg[svg.index('id="series-compliance"') :]
    d = re.search(r'\sd="([^"]+)"', grp).group(1)
    assert len(re.findall(r"[ML]", d)) == 3  # three stored runs, the current one among them
    assert 'id="line-compliant"' in svg and 'id="line-basic"' in svg


def _cloud(tmp_path):
    from domains.test_assess import CASES, TODAY, base

    from cloudctl.core.center import load_center
    from cloudctl.domains.assess import assess, document
    from cloudctl.domains.matrix import effective_matrix
    from cloudctl.domains.tenants import load_context

    ctx = load_context(load_center(ROOT))
    snap = base()
    CASES["8.1.3.2"](snap)  # ssh from 0.0.0.0/1 into the core
    a = assess(ctx.design, ctx.zones, ctx.plan, snap, today=TODAY)
    cdoc = document(a, ctx.design, today=TODAY)
    m = {"schema": "cloudctl.domains.matrix/1",
         **effective_matrix(ctx.design, ctx.zones, a.rules).as_dict()}  # fmt: skip
    (tmp_path / "cloud.json").write_text(json.dumps(cdoc, ensure_ascii=False))
    (tmp_path / "matrix.json").write_text(json.dumps(m))
    return cdoc, m


def test_cloud_assessment_joins_the_json_junit_and_html(cli, center, tmp_path):
    cdoc, _m = _cloud(tmp_path)
    shutil.copytree(ROOT / "policies", center / "policies")
    ev_file = tmp_path / "ev.json"
    ev_file.write_text(json.dumps({
        "schema": "cloudctl.baseline.evidence/1", "generated_at": "t",
        "hosts": {"yun-db01": {"status": "ok", "evidence": good_evidence()}},
    }))  # fmt: skip
    html, junit = tmp_path / "r.html", tmp_path / "r.xml"
    args = ["--center", str(center), "--lang", "en", "baseline", "report", str(ev_file)]
    r = cli(*args, "-o", "json", "--html", str(html), "--junit", str(junit),
            "--cloud-assessment", str(tmp_path / "cloud.json"),
            "--cloud-matrix", str(tmp_path / "matrix.json"))  # fmt: skip
    assert r.exit_code == 1, r.output  # the cloud's findings fail the run
    d = json.loads(r.stdout)
    ca = d["cloud_assessment"]
    assert [o["name"] for o in ca["objects"]] == ["platform", "dom-a", "dom-b"]
    assert d["summary"]["cloud"]["findings"] == cdoc["summary"]["findings"] > 0
    assert d["summary"]["cloud"]["matrix_differences"] > 0
    x = ET.fromstring(junit.read_text().split("\n", 1)[1])
    suites = {s.get("name"): s for s in x.iter("testsuite")}
    assert {"yun-db01", "cloud:platform", "cloud:dom-a", "cloud:dom-b"} <= set(suites)
    assert int(suites["cloud:dom-a"].get("failures")) > 0
    assert suites["cloud:dom-b"].get("failures") == "0"
    page = html.read_text()
    assert 'id="cloud-matrix"' in page and "Cloud platform and tenants" in page
    heat = page[page.index('id="zone-heatmap"') :]
    heat = heat[: heat.index("</svg>")]
    assert 'id="heatmap-design"' in heat and 'id="heatmap-effective"' in heat
    assert 'id="extra-internet-core"' in heat  # the breach is a difference cell
    # a broken or foreign document is an input error with its place, not a crash
    (tmp_path / "bad.json").write_text('{"schema": "cloudctl.domains.assessment/1",\n  oops}')
    r = cli(*args, "--cloud-assessment", str(tmp_path / "bad.json"))
    assert r.exit_code == 2 and "bad.json:2: not JSON" in r.output, r.output
    (tmp_path / "other.json").write_text('{"schema": "cloudctl.baseline.run/1"}')
    r = cli(*args, "--cloud-assessment", str(tmp_path / "other.json"))
    assert r.exit_code == 2 and "not a cloudctl.domains.assessment/1" in r.output
