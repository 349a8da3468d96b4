"""The leadership migration report rendered by Debian's headless Chromium: the sample
center's plan and journal, and a small center whose first wave really ran (Ansible on the
controller) this month — screenshots, no console messages, A4 pages, the charts' series."""

from __future__ import annotations

import datetime as dt
import os
import re
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
    print_pdf,
    screenshot,
    self_contained,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_chromium

MARKER = """---
- name: Touch or remove a marker on the controller
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Marker
      ansible.builtin.file:
        path: "{{ marker }}"
        state: "{{ state }}"
"""


def run(env: dict, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "cloudctl", *args], env=env, capture_output=True,
                       text=True, timeout=600, check=False)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def month(offset: int) -> str:
    t = dt.date.today()
    i = t.year * 12 + t.month - 1 + offset
    return f"{i // 12:04d}-{i % 12 + 1:02d}"


def small_center(root: Path) -> Path:
    """Two waves planned around this month, a retained system and an unscheduled one."""
    (root / "migration_plans").mkdir(parents=True)
    (root / "inventory" / "hosts").mkdir(parents=True)
    (root / "playbooks" / "t").mkdir(parents=True)
    (root / "playbooks" / "t" / "marker.yml").write_text(MARKER)
    (root / "inventory" / "hosts" / "local.yml").write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, "
        f"ansible_python_interpreter: {sys.executable}}}\n"
    )
    (root / "cloudctl.yaml").write_text(
        f"name: t\ndepartments: {ROOT / 'inventory/departments.yaml'}\n"
        f"address_plan: {ROOT / 'inventory/ipam'}\ncapacity: capacity.yaml\n"
    )
    cap = yaml.safe_load((ROOT / "capacity.yaml").read_text())
    cap["migration"]["waves"] = {"w1": month(-1), "w2": month(1)}
    (root / "capacity.yaml").write_text(yaml.safe_dump(cap, allow_unicode=True))
    marks = root / "markers"
    marks.mkdir()

    def system(sid, dept, importance, strategy, steps=True):
        text = (f"  - id: {sid}\n    name_zh: 系统{sid}\n    name_en: system {sid}\n"
                f"    department: {dept}\n    classification: {{importance: {importance}}}\n"
                f"    strategy: {strategy}\n    source_hosts: [localhost]\n")  # fmt: skip
        if steps:
            text += (
                f"    target: {{tenant: {dept}, network: {dept}-app, hosts: [localhost]}}\n"
                "    steps:\n"
                f"      - {{name: one, playbook: t/marker.yml, vars: {{marker: '{marks}/{sid}', "
                f"state: touch}}, rollback: {{name: undo, playbook: t/marker.yml, vars: "
                f"{{marker: '{marks}/{sid}', state: absent}}}}}}\n"
            )
        return text

    systems = (
        system("a1", "czj", "core", "rehost")
        + system("a2", "rsj", "important", "replatform")
        + system("b1", "dzzwb", "general", "rehost")
        + system("keep", "sfj", "general", "retain", steps=False)
        + system("later", "czj", "general", "rehost")
    )
    (root / "migration_plans" / "t.yaml").write_text(
        "version: 1\nkind: migration-plan\nname: t\ntitle_zh: 报告测试方案\n"
        "title_en: report test plan\nsystems:\n" + systems + "waves:\n"
        "  - {id: w1, name_zh: 第一批, name_en: wave 1, systems: [a1, a2]}\n"
        "  - {id: w2, name_zh: 第二批, name_en: wave 2, systems: [b1]}\n"
    )
    return root


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("migration-report")
    made = {}
    env = {**os.environ, "CLOUDCTL_CENTER": str(ROOT)}
    for lang in ("zh", "en"):  # the sample center: its plan and journal, read only
        made[f"sample-{lang}"] = out / f"migration-sample-{lang}.html"
        run(env, "--lang", lang, "migrate", "report", "-f", "html", "--out",
            str(made[f"sample-{lang}"]))  # fmt: skip
    root = small_center(out / "center")
    env = {**os.environ, "CLOUDCTL_CENTER": str(root)}
    run(env, "migrate", "run", "t", "--wave", "w1")
    for lang in ("zh", "en"):
        made[f"run-{lang}"] = out / f"migration-run-{lang}.html"
        run(env, "--lang", lang, "migrate", "report", "t", "-f", "html", "--out",
            str(made[f"run-{lang}"]))  # fmt: skip
    return made


NAMES = ["sample-zh", "sample-en", "run-zh", "run-en"]


@pytest.mark.parametrize("name", NAMES)
def test_screenshot_and_no_console_messages(reports, name, tmp_path):
    png, msgs = screenshot(tmp_path, reports[name], f"migration-{name}", "1100,2600")
    assert png.stat().st_size > 50_000
    assert msgs == []


@pytest.mark.parametrize("name", NAMES)
def test_prints_on_a4(reports, name, tmp_path):
    pdf, msgs = print_pdf(tmp_path, reports[name], f"migration-{name}")
    assert assert_a4(pdf) >= 1
    assert msgs == []
    self_contained(reports[name].read_text())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sample_charts_hold_every_wave_and_names_not_codes(reports, lang):
    from cloudctl.migrate.model import load_plan

    html = reports[f"sample-{lang}"].read_text()
    en = lang == "en"
    burn = chart_by_title(
        html, "Migration burn-down: systems still to move" if en else "迁移燃尽图：待迁移系统数"
    )
    assert "series-planned" in ids(burn)
    gantt = chart_by_title(
        html, "Wave timeline: planned and actual" if en else "迁移批次时间线：计划与实际"
    )
    plan = load_plan(ROOT / "migration_plans/xiaogan-2016.yaml")
    assert {f"planned-{w.id}" for w in plan.waves} <= ids(gantt)
    assert ("Municipal Finance Bureau" if en else "市财政局") in html
    assert ">czj<" not in html and "<td>czj</td>" not in html
    assert ("kept where it is, not moved" if en else "保留在原环境，不迁移") in html


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_real_run_this_month_draws_the_actual_series(reports, lang):
    html = reports[f"run-{lang}"].read_text()
    en = lang == "en"
    burn = ids(chart_by_title(
        html, "Migration burn-down: systems still to move" if en else "迁移燃尽图：待迁移系统数"
    ))  # fmt: skip
    assert {"series-planned", "series-actual"} <= burn
    gantt = ids(chart_by_title(
        html, "Wave timeline: planned and actual" if en else "迁移批次时间线：计划与实际"
    ))  # fmt: skip
    assert {"planned-w1", "planned-w2", "actual-w1"} <= gantt and "actual-w2" not in gantt
    today = dt.date.today().isoformat()
    row = re.search(r"<tr><td>(wave 1|第一批)</td>.*?</tr>", html, re.S).group(0)
    assert f"{month(-1)} – {month(1)}" in row and f"{today} – {today}" in row
    table = html[html.index('id="unscheduled-table"') :]
    assert ("not scheduled yet" if en else "尚未排入任何批次") in table
    assert ("(strategy: retain)" if en else "（迁移策略：保留）") in table
    assert ">核心<" in html if not en else ">core<" in html
