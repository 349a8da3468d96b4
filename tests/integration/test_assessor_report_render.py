"""The baseline assessor report, made from the lab's real hosts and the lab's real cloud,
rendered by Debian's headless Chromium: screenshots, no console messages, A4 pages with
the raw evidence printed, the charts' series; and the same at 120 hosts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from chromium import (
    assert_a4,
    chart_by_title,
    ids,
    needs_chromium,
    pdf_glyph_text,
    print_pdf,
    screenshot,
    self_contained,
)
from labkit import add_vm_ports, wipe_projects

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "rep-it-"
pytestmark = needs_chromium


def run(env: dict, *args: str, ok=(0, 1)) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "cloudctl", *args], env=env, capture_output=True,
                       text=True, timeout=600, check=False)  # fmt: skip
    assert r.returncode in ok, r.stderr[-3000:]
    return r


@pytest.fixture(scope="module")
def made(lab, sdk, tmp_path_factory) -> dict:
    """A center of its own on the lab: the three lab hosts checked (stored: the trend), the
    tenant czj applied under rep-it- with a hand-made SSH rule from 0.0.0.0/1, the cloud
    assessed and its matrix read; then the assessor report in both languages, and one of a
    synthetic 120-host evidence file made from the lab's real evidence."""
    out = tmp_path_factory.mktemp("assessor")
    root = out / "center"
    (root / "tenants").mkdir(parents=True)
    (root / "inventory").mkdir()
    shutil.copy(lab.inventory, root / "inventory" / "lab.yml")
    shutil.copytree(ROOT / "inventory/hosts/group_vars", root / "inventory/group_vars")
    for code in ("czj", "_defaults"):
        shutil.copy(ROOT / "inventory/tenants" / f"{code}.yaml", root / "tenants")
    cfg = {
        "name": "孝感市电子政务云计算中心（报告测试）",
        "address_plan": str(ROOT / "inventory/ipam"),
        "departments": str(ROOT / "inventory/departments.yaml"),
        "tenants": "tenants",
        "policies": str(ROOT / "policies"),
        "playbooks": str(ROOT / "playbooks"),
        "evidence": str(ROOT / "inventory/evidence"),
        "hosts_inventory": "inventory",
        "state": ".cloudctl",
        "tenant": {"name_prefix": PREFIX, "scope": "rep-it"},
    }
    (root / "cloudctl.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    env = {**os.environ, **lab.env(), "CLOUDCTL_CENTER": str(root)}
    wipe_projects(sdk, PREFIX)
    run(env, "tenant", "apply", "czj", "--auto-approve", ok=(0,))
    proj = sdk.identity.find_project(PREFIX + "czj")
    add_vm_ports(sdk, proj)
    app = sdk.network.find_security_group(f"{PREFIX}czj-app", project_id=proj.id)
    sdk.network.create_security_group_rule(
        security_group_id=app.id, direction="ingress", ethertype="IPv4",
        protocol="tcp", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/1",
    )  # fmt: skip
    cloud, matrix = out / "cloud.json", out / "matrix.json"
    for verb, target in (("check", cloud), ("matrix", matrix)):
        r = run(env, "domains", verb, "--cloud", "--project-prefix", PREFIX, "-o", "json")
        target.write_text(r.stdout)
    wipe_projects(sdk, PREFIX)

    r = run(env, "baseline", "check", "-l", "lab", "--no-updates", "-o", "json")
    evidence = Path(json.loads(r.stdout)["evidence_file"])
    reports = {}
    for lang in ("zh", "en"):
        html = out / f"assessor-{lang}.html"
        run(env, "--lang", lang, "baseline", "report", str(evidence), "--store",
            "--html", str(html), "--junit", str(out / "assessor.xml"),
            "--assessor", "测评师 王工" if lang == "zh" else "Assessor Wang",
            "--cloud-assessment", str(cloud), "--cloud-matrix", str(matrix))  # fmt: skip
        reports[lang] = html

    ev = json.loads(evidence.read_text())
    real = [h for h in ev["hosts"].values() if h.get("status") == "ok"]
    hosts = {f"gov-{i:03d}": real[i % len(real)] for i in range(115)}
    hosts |= {f"off-{i}": {"status": "unreachable", "error": "ssh: connection refused"}
              for i in range(5)}  # fmt: skip
    big = out / "fleet-120.evidence.json"
    big.write_text(json.dumps({**ev, "hosts": hosts}))
    reports["fleet"] = out / "assessor-fleet.html"
    run(env, "--lang", "en", "baseline", "report", str(big), "--html", str(reports["fleet"]))
    return {"reports": reports, "evidence": evidence, "junit": out / "assessor.xml",
            "matrix": json.loads(matrix.read_text())}  # fmt: skip


@pytest.mark.parametrize("name", ["zh", "en", "fleet"])
def test_screenshot_and_no_console_messages(made, name, tmp_path):
    png, msgs = screenshot(tmp_path, made["reports"][name], f"assessor-{name}", "1100,3200")
    assert png.stat().st_size > 100_000
    assert msgs == []


@pytest.mark.parametrize("name", ["zh", "en", "fleet"])
def test_prints_on_a4_with_the_raw_evidence(made, name, tmp_path):
    page = made["reports"][name]
    pdf, msgs = print_pdf(tmp_path, page, f"assessor-{name}")
    pages = assert_a4(pdf)
    assert msgs == []
    html = page.read_text()
    # evidence lines that exist only inside the evidence blocks (screen + print copy)
    blocks = re.findall(r'<pre class="print-only">(.*?)</pre>', html, re.S)
    lines = {ln.strip() for b in blocks for ln in b.splitlines()}
    only = [ln for ln in lines if ln.isascii() and 12 < len(ln) < 70 and "&" not in ln
            and html.count(ln) == 2 * sum(b.count(ln) for b in blocks)]  # fmt: skip
    assert only, "no evidence line to look for"
    text = "".join("".join(t.split()) for t in pdf_glyph_text(pdf))
    found = [ln for ln in only if "".join(ln.split()) in text]
    assert len(found) >= min(5, len(only)), (len(found), len(only), only[:5])
    if name == "fleet":
        assert pages < 60  # 115 hosts: summaries and failing controls, not 13,000 rows


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_self_contained_and_header_conclusion_matrix_first(made, lang):
    html = made["reports"][lang].read_text()
    self_contained(html)
    parts = ("header-block", "toc", "conclusion", "matrix", "units", "findings", "trend",
             "cloud", "appendix")  # fmt: skip
    order = [html.index(f'id="{x}"') for x in parts]
    assert order == sorted(order)
    import hashlib

    assert hashlib.sha256(made["evidence"].read_bytes()).hexdigest() in html
    n = len(re.findall(r'<tr class="mrow">', html))
    assert n == 3  # one row per lab host
    assert ("评估 3/3 台主机" if lang == "zh" else "assessed 3 of 3 hosts") in html


def test_the_fleet_report_counts_unreachable_hosts_once(made):
    html = made["reports"]["fleet"].read_text()
    assert "assessed 115 of 120 hosts" in html
    for i in range(5):
        assert html.count(f"off-{i}") == 1
    assert len(re.findall(r'<tr class="mrow">', html)) <= 3  # three kinds of host


def test_cloud_objects_and_heatmap(made):
    html = made["reports"]["en"].read_text()
    cloud = html[html.index('id="cloud-matrix"') :]
    assert f">{PREFIX}czj<" in cloud or f"{PREFIX}czj" in cloud
    heat = chart_by_title(html, "Zone matrix: design and effective")
    got = ids(heat)
    assert {"heatmap-design", "heatmap-effective"} <= got
    extra = {
        f"extra-{c['from']}-{c['to']}" for c in made["matrix"]["cells"] if c["state"] == "extra"
    }
    assert extra and extra == {i for i in got if i.startswith("extra-")}
    assert "extra-internet-core" in extra  # the hand-made 22 from 0.0.0.0/1
    junit = made["junit"].read_text()
    assert f'name="cloud:{PREFIX}czj"' in junit and 'name="cloud:platform"' in junit


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_trend_chart_holds_the_stored_runs(made, lang):
    html = made["reports"][lang].read_text()
    title = "基线符合率趋势（历次检查）" if lang == "zh" else "Baseline compliance, stored runs"
    chart = chart_by_title(html, title)
    assert {"series-compliance", "line-compliant", "line-basic"} <= ids(chart)
