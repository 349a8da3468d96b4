"""At 80 columns the values people copy are whole, on one line: prefixes, CIDRs, VLANs,
utilisation, run ids, control ids, paths (issue 14 §1). Prose columns give way instead."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from baseline.fixtures import good_evidence, mutated
from baseline.test_controls import BREAK
from rich.cells import cell_len
from rich.console import Console

from cloudctl.baseline import report
from cloudctl.baseline.catalog import load_profile
from cloudctl.baseline.engine import HostEvidence, evaluate_run
from cloudctl.core.output import Column, FitTable, plain, table_of
from cloudctl.migrate.journal import Journal

ROOT = Path(__file__).resolve().parents[2]
W80 = {"COLUMNS": "80", "LINES": "50"}


def lines_of(text: str) -> list[str]:
    return text.splitlines()


def assert_fits(text: str, width: int = 80) -> None:
    too_wide = [ln for ln in lines_of(text) if cell_len(ln) > width]
    assert not too_wide, too_wide


def on_one_line(text: str, value: str) -> bool:
    """``value`` appears whole on some line (not cut with … nor wrapped)."""
    return any(value in ln for ln in lines_of(text))


@pytest.fixture
def ipam_center(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "cloudctl.yaml", tmp_path / "cloudctl.yaml")
    (tmp_path / "inventory").mkdir()
    shutil.copytree(ROOT / "inventory" / "ipam", tmp_path / "inventory" / "ipam")
    shutil.copy(ROOT / "inventory" / "departments.yaml", tmp_path / "inventory")
    return tmp_path


# ---------------------------------------------------------------------------- ipam show


def rows_of(cli, center: Path, *args: str) -> list[dict]:
    r = cli("--center", str(center), "ipam", "show", *args, "-o", "json")
    return json.loads(r.stdout)["items"]


def assert_rows_whole(text: str, rows: list[dict], keys=("prefix", "vlan", "util")) -> None:
    """Each row's prefix, VLAN and utilisation whole, on the line of its name."""
    for row in rows:
        line = next((ln for ln in lines_of(text) if f" {row['name']} " in ln), None)
        assert line is not None, row["name"]
        for k in keys:
            if row.get(k) is None:
                continue
            shown = f"{row[k]:.1f}%" if k == "util" else str(row[k])
            assert shown in line, (k, shown, line)


def test_ipam_show_zone_keeps_prefixes_vlans_and_utilisation_whole(cli, ipam_center):
    r = cli("--center", str(ipam_center), "ipam", "show", "--zone", "core", env=W80)
    assert r.exit_code == 0, r.output
    assert_fits(r.stdout)
    assert "…" not in r.stdout  # no cell cut short
    rows = rows_of(cli, ipam_center, "--zone", "core")
    assert any(row["prefix"] == "10.20.16.0/24" for row in rows)
    assert any(row["util"] == 100.0 for row in rows)  # the widest utilisation: 100.0%
    assert_rows_whole(r.stdout, rows)


def test_ipam_show_tenant_and_zones(cli, ipam_center):
    r = cli("--center", str(ipam_center), "ipam", "show", "--tenant", "czj", env=W80)
    assert r.exit_code == 0
    assert_fits(r.stdout)
    rows = rows_of(cli, ipam_center, "--tenant", "czj")
    assert len(rows) == 4
    assert_rows_whole(r.stdout, rows)
    r = cli("--center", str(ipam_center), "ipam", "show", env=W80)
    assert_fits(r.stdout)
    zones = json.loads(cli("--center", str(ipam_center), "ipam", "show", "-o", "json").stdout)
    for z in zones["items"]:
        line = next(ln for ln in lines_of(r.stdout) if f" {z['zone']} " in ln)
        assert f"{z['util']:.1f}%" in line and f"{z['size']:,}" in line
        for cidr in z["supernets"]:  # several CIDRs: one a line, each whole
            assert on_one_line(r.stdout, cidr), cidr
    # what did not fit is named, and -c brings it back
    assert "purpose" in r.stdout
    r = cli("--center", str(ipam_center), "ipam", "show", "-c", "zone", "-c", "purpose", env=W80)
    assert all(z["purpose"][:6] in r.stdout for z in zones["items"])


# ----------------------------------------------------------------- migrate history/status


@pytest.fixture
def journal(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "journal.db"
    j = Journal(path)
    ids = []
    for wave, systems in (("pilot", ["xxgk"]), ("wave-2", ["qyjc", "jzsc", "tjcj"])):
        rid = j.create_run(
            kind="run",
            plan_name="xiaogan-2016",
            plan_path=None,
            plan_sha=None,
            wave=wave,
            snapshot=[{"id": s} for s in systems],
            options={},
        )
        for s in systems:
            j.set_system(rid, s, "rolled_back" if wave == "wave-2" else "done")
        j.finish_run(rid, "done")
        ids.append(rid)
    j.close()
    return path, ids


def test_migrate_history_and_status_show_the_run_id_resume_needs(cli, center, journal):
    path, ids = journal
    r = cli("--center", str(center), "migrate", "history", "--journal", str(path), env=W80)
    assert r.exit_code == 0, r.output
    assert_fits(r.stdout)
    for rid in ids:
        assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", rid)
        assert on_one_line(r.stdout, rid), (rid, r.stdout)
    r = cli("--center", str(center), "migrate", "status", ids[1], "--journal", str(path), env=W80)
    assert r.exit_code == 0
    assert on_one_line(r.stdout, ids[1])
    for s in ("qyjc", "jzsc", "tjcj"):
        assert on_one_line(r.stdout, s)


# ----------------------------------------------------------------------- baseline check

PROFILE = load_profile(ROOT / "policies")


def baseline_doc(unreachable: int = 112) -> dict:
    ev = good_evidence()
    for b in ("sshd-permit-root-login", "sshd-max-auth-tries"):
        ev = mutated(
            lambda e, b=b, base=ev: (e.clear(), e.update(json.loads(json.dumps(base))), BREAK[b](e))
        )
    hosts = [
        HostEvidence("legacy-web01", "ok", ev),
        HostEvidence("yun-web01", "ok", ev),
        HostEvidence("yun-db01", "ok", good_evidence()),
    ]
    err = (
        'Task failed: Data could not be sent to remote host "127.0.0.1". Make sure this host '
        "can be reached over ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused"
    )
    hosts += [HostEvidence(f"host-{i:03d}", "unreachable", None, err) for i in range(unreachable)]
    return evaluate_run(PROFILE, hosts, run_id="20261130T093010Z-41e1f4", started_at="2026-11-30")


def terminal_80(doc: dict, lang: str = "zh", **kw) -> str:
    con = Console(record=True, width=80, emoji=False)
    report.terminal(doc, lang, con, **kw)
    return con.export_text()


def test_baseline_summary_first_unreachable_in_one_line_assessed_n_of_m():
    doc = baseline_doc()
    out = terminal_80(doc)
    first = lines_of(out)[0]
    assert "评估 3/115 台" in first  # summary first
    assert out.count("评估 3/115 台") == 2  # and in the conclusion at the end
    assert "评估 3/115 台" in out[out.rindex("不通过的控制项") :]
    unreachable = [ln for ln in lines_of(out) if "无法连接" in ln]
    assert len(unreachable) == 1 and "112 台" in unreachable[0]
    assert out.count("Data could not be sent") == 1  # one reason line, not one per host
    assert len(lines_of(out)) < 150  # was 1,774 lines on the sample
    assert_fits(out)
    en = terminal_80(doc, "en")
    assert "assessed 3 of 115 hosts" in en and "unreachable, not assessed: 112 hosts" in en


def test_baseline_control_ids_and_paths_are_never_split():
    doc = baseline_doc(unreachable=0)
    out = terminal_80(doc)
    failing = {r["control"] for r in doc["results"] if r["verdict"] == "fail"}
    assert failing
    for cid in failing:
        assert on_one_line(out, cid), cid
    for row in doc["items"]:
        assert on_one_line(out, row["unit"]) and on_one_line(out, f"{row['clause']} {row['item']}")
    assert "…" not in out


def test_baseline_failed_only():
    doc = baseline_doc(unreachable=0)
    full, failed = terminal_80(doc), terminal_80(doc, failed_only=True)
    assert "yun-db01" in full and "yun-db01" not in failed  # passes everything
    assert "符合  " not in failed.replace("部分符合", "").replace("不符合", "")
    assert len(lines_of(failed)) < len(lines_of(full))
    for r in doc["results"]:
        if r["verdict"] == "fail":
            assert r["control"] in failed


def test_baseline_report_cli_failed_only_value(cli, tmp_path, project_root):
    """--failed-only and --column reach the listing (value/csv) through the CLI."""
    center = tmp_path / "c"
    center.mkdir()
    shutil.copy(project_root / "cloudctl.yaml", center / "cloudctl.yaml")
    shutil.copytree(project_root / "policies", center / "policies")
    shutil.copytree(
        project_root / "inventory", center / "inventory", ignore=shutil.ignore_patterns("lab.yml")
    )
    ev = good_evidence()
    ev = mutated(lambda e: BREAK["sshd-permit-root-login"](e))
    evidence = tmp_path / "ev.json"
    evidence.write_text(
        json.dumps(
            {
                "schema": "cloudctl.baseline.evidence/1",
                "generated_at": "2026-11-30T09:30:10+00:00",
                "hosts": {"yun-db01": {"status": "ok", "evidence": ev}},
            }
        )
    )
    r = cli(
        "--center",
        str(center),
        "baseline",
        "report",
        str(evidence),
        "--failed-only",
        "-o",
        "value",
        "--column",
        "host",
        "--column",
        "control",
        env=W80,
    )
    assert r.exit_code == 1, r.output  # a control fails
    doc = json.loads(
        cli("--center", str(center), "baseline", "report", str(evidence), "-o", "json").stdout
    )
    failing = [
        f"{x['host']} {x['control']}" for x in doc["results"] if x["verdict"] in ("fail", "error")
    ]
    assert "yun-db01 sshd-permit-root-login" in failing
    assert r.stdout.splitlines() == failing
    assert len(failing) < len(doc["results"])


# -------------------------------------------------------------------------- audit log


def test_audit_log_command_is_one_line(cli, center):
    from cloudctl.core import audit
    from cloudctl.core.center import load_center

    trail = audit.trail_for(
        load_center(center),
        ["--center", ".", "--lang", "en", "lab", "up", "--output", "json"],
    )
    run = trail.begin("lab.up", {})
    trail.end(run, "ok", 0)
    r = cli("--center", str(center), "audit", "log", env=W80)
    assert r.exit_code == 0, r.output
    assert on_one_line(r.stdout, "--lang en lab up --output json")


# ------------------------------------------------------------------------- FitTable


def test_fit_table_never_cuts_ids_drops_optional_then_records():
    rows = [
        {"id": "20261130-092957-b332ed", "prefix": "10.20.16.0/24", "note": "long prose " * 8}
        for _ in range(3)
    ]
    cols = [
        Column("id", "id", kind="id"),
        Column("prefix", "prefix", kind="id"),
        Column("note", "note", optional=True),
    ]
    for width in (80, 50, 40):
        con = Console(record=True, width=width)
        con.print(table_of(rows, cols))
        out = con.export_text()
        assert_fits(out, width)
        assert on_one_line(out, "20261130-092957-b332ed") and on_one_line(out, "10.20.16.0/24")
    con = Console(record=True, width=80)
    con.print(table_of(rows, cols))
    assert "long prose" in con.export_text()  # room for the prose: it wraps
    con = Console(record=True, width=30)  # not even the ids side by side: records
    con.print(table_of(rows, cols))
    out = con.export_text()
    assert on_one_line(out, "20261130-092957-b332ed") and "┃" not in out


def test_fit_table_markup_cells_and_header_wrap():
    t = FitTable(title=plain("t"))
    t.add_column("主机", kind="id")
    for h in ("通过", "不通过", "已豁免", "人工核查", "不适用", "错误", "未评估"):
        t.add_column(h, kind="id", justify="right")
    t.add_column("说明")
    t.add_row("legacy-web01", *["[red]42[/]"] * 7, "prose " * 20)
    con = Console(record=True, width=60)
    con.print(t)
    out = con.export_text()
    assert_fits(out, 60)
    assert on_one_line(out, "legacy-web01") and "42" in out and "[red]" not in out


def test_long_observed_values_are_cut_between_words_never_inside_one():
    obs = (
        "4 (configured, not in effect: /etc/ssh/sshd_config.d/00-cloudctl-mlps.conf changed "
        "at 2026-11-30T09:40:42+0000, after sshd last (re)loaded at 2026-11-30T09:40:22+0000)"
    )
    shown = report.clip(obs, 160)
    assert shown.endswith(" …") and len(shown) <= 162
    kept = shown[:-2].split()
    assert all(word in obs.split() for word in kept)  # every word shown is a whole word
    assert "/etc/ssh/sshd_config.d/00-cloudctl-mlps.conf" in kept
    assert report.clip("short", 160) == "short"
