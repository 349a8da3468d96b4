"""The leadership migration report: department names, Chinese labels, planned and actual
dates per wave, burn-down and timeline charts, the systems in no wave with the reason."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re
import shutil
from pathlib import Path

from cloudctl.core.center import load_center
from cloudctl.migrate import report
from cloudctl.migrate.model import load_plan
from cloudctl.migrate.service import report_data

ROOT = Path(__file__).resolve().parents[3]
PLAN = load_plan(ROOT / "migration_plans/xiaogan-2016.yaml")


def _ts(*a: int) -> float:
    return dt.datetime(*a, tzinfo=dt.UTC).timestamp()


class FakeJournal:
    """The one journal read the report makes (the journal itself is tested elsewhere)."""

    def __init__(self, latest: dict[str, dict]):
        self.latest = latest

    def latest_system_states(self, plan_name: str) -> dict[str, dict]:
        return self.latest


LATEST = {
    "xxgk": {"status": "done", "started": _ts(2016, 7, 12, 10), "ended": _ts(2016, 7, 12, 11),
             "run_id": "r1", "message": None},
    "qyjc": {"status": "done", "started": _ts(2016, 10, 20, 9), "ended": _ts(2016, 10, 20, 10),
             "run_id": "r2", "message": None},
    "jzsc": {"status": "rolled_back", "started": _ts(2016, 10, 21, 9),
             "ended": _ts(2016, 10, 21, 10), "run_id": "r2", "message": "verify failed"},
}  # fmt: skip


def data(latest=LATEST, inputs=None):
    inputs = inputs or report.load_inputs(load_center(ROOT))
    return report.leadership_data(report_data(PLAN, FakeJournal(latest)), PLAN, latest, inputs)


def test_planned_and_actual_dates_per_wave():
    d = data()
    w = {x["id"]: x for x in d["waves"]}
    assert (w["pilot"]["planned_start"], w["pilot"]["planned_end"]) == ("2016-07", "2016-10")
    assert (w["wave-4"]["planned_start"], w["wave-4"]["planned_end"]) == ("2017-09", "2017-11")
    assert (w["pilot"]["actual_start"], w["pilot"]["actual_end"]) == ("2016-07-12", "2016-07-12")
    assert w["pilot"]["state"] == "done" and w["pilot"]["done"] == 1
    # wave 2 started, not finished: an actual start, no actual end yet
    assert (w["wave-2"]["actual_start"], w["wave-2"]["actual_end"]) == ("2016-10-20", None)
    assert w["wave-2"]["state"] == "running"
    assert w["wave-3"]["actual_start"] is None and w["wave-3"]["state"] == "pending"


def test_department_names_and_chinese_labels_not_codes():
    d = data()
    zh, en = report.html_report(d, "zh"), report.html_report(d, "en")
    row = re.search(r"<tr><td>政府信息公开平台 <code>xxgk</code></td>.*?</tr>", zh, re.S).group(0)
    assert "<td>市电子政务办</td>" in row and ">一般<" in row and ">直接迁移<" in row
    assert ">已完成<" in row and ">2016-07-12<" in row
    assert ">核心<" in zh and ">平台调整后迁移<" in zh and ">已回退<" in zh
    assert "dzzwb</td>" not in zh and ">rehost<" not in zh and ">core<" not in zh
    row = re.search(r"<tr><td>Government information disclosure platform.*?</tr>", en, re.S)
    assert "E-Government Office" in row.group(0) or "e-government" in row.group(0).lower()
    assert ">rehost<" in en and ">core<" in en and ">rolled back<" in en
    md = report.markdown(d, "zh")
    assert "| 市电子政务办 | 一般 | 直接迁移 | 已完成 |" in md


def test_systems_in_no_wave_are_listed_with_the_reason():
    d = data()
    assert [u["id"] for u in d["unscheduled"]] == ["sqjz"]
    zh, en = report.html_report(d, "zh"), report.html_report(d, "en")
    table = zh[zh.index('id="unscheduled-table"') :]
    assert "社区矫正管理系统" in table and "市司法局" in table
    assert "保留在原环境，不迁移（迁移策略：保留）" in table
    assert "kept where it is, not moved (strategy: retain)" in en
    assert "not scheduled yet" in report.reason_text({"strategy": "rehost"}, "en")


def _ids(svg: str) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', svg))


def _chart(html: str, title: str) -> str:
    for svg in re.findall(r"<svg.*?</svg>", html, re.S):
        if f"<title>{title}</title>" in svg:
            return svg
    raise AssertionError(f"no chart {title!r}")


def test_burndown_and_timeline_hold_the_expected_series():
    html = report.html_report(data(), "en")
    burn = _ids(_chart(html, "Migration burn-down: systems still to move"))
    assert {"series-planned", "series-actual"} <= burn
    gantt = _ids(_chart(html, "Wave timeline: planned and actual"))
    assert {f"planned-{w.id}" for w in PLAN.waves} <= gantt
    assert {"actual-pilot", "actual-wave-2"} <= gantt and "actual-wave-3" not in gantt
    assert "<text" not in html  # chart text is paths


def test_a_lab_rehearsal_outside_the_plans_years_is_said_not_drawn():
    late = {
        "xxgk": {**LATEST["xxgk"], "started": _ts(2026, 11, 30, 9), "ended": _ts(2026, 11, 30, 9)}
    }
    html = report.html_report(data(late), "en")
    gantt = _ids(_chart(html, "Wave timeline: planned and actual"))
    assert "planned-pilot" in gantt and "actual-pilot" not in gantt
    text = html_lib.unescape(html)
    assert "actual runs outside the plan's timeline (a rehearsal on the lab): wave 1: pilot" in text
    assert ">2026-11-30 – 2026-11-30<" in html  # the dates are still in the wave table


def test_without_planned_months_the_report_says_so(cli, sample_center, tmp_path):
    out = tmp_path / "m.html"
    args = ["--center", str(sample_center), "--lang", "en", "migrate", "report", "-f", "html"]
    r = cli(*args, "--out", str(out))
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert "No wave has a planned month" in page and "<svg" not in page
    assert "Municipal" in page  # department names from departments.yaml all the same
    shutil.copy(ROOT / "capacity.yaml", sample_center / "capacity.yaml")
    r = cli(*args, "--out", str(out))
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert 'id="planned-wave-4"' in page and 'id="series-planned"' in page
    assert "2017-09 – 2017-11" in page
