"""Center report pieces without the lab: burn-down series, a missing source becomes a
labelled gap instead of a failed page, the security-domain slot."""

from __future__ import annotations

import re
from pathlib import Path

from cloudctl.centerreport import gather as g
from cloudctl.centerreport.render import burndown, render_html
from cloudctl.core.center import load_center

ROOT = Path(__file__).resolve().parents[3]


def _mig(done_at: list[str]) -> dict:
    return {
        "total": 10,
        "done": len(done_at),
        "waves": [
            {"id": "a", "month": "2016-07", "systems": 4, "done": 0},
            {"id": "b", "month": "2016-09", "systems": 6, "done": 0},
        ],
        "done_at": done_at,
    }


def _path_ys(svg: str, gid: str) -> int:
    grp = svg[svg.index(f'id="{gid}"') :]
    d = re.search(r'\sd="([^"]+)"', grp).group(1)
    return len(re.findall(r"[ML]", d))


def test_burndown_has_the_planned_series_and_no_actual_without_runs():
    svg, note = burndown(_mig([]), "en")
    assert 'id="series-planned"' in svg and 'id="series-actual"' not in svg
    assert note == ""
    # 2016-06 … 2016-11: six months, drawn as a step line
    assert _path_ys(svg, "series-planned") >= 6


def test_runs_outside_the_plans_timeline_are_said_not_drawn():
    svg, note = burndown(_mig(["2026-11-30"]), "en")
    assert "outside the plan's timeline" in note
    assert 'id="series-actual"' not in svg


def test_runs_inside_the_timeline_draw_the_actual_series():
    svg, _ = burndown(_mig(["2016-07-20", "2016-08-02"]), "zh")
    assert 'id="series-actual"' in svg


def _center_without_capacity(tmp_path: Path) -> Path:
    """The sample address plan, departments and tenants; a capacity file that is missing."""
    c = tmp_path / "c"
    c.mkdir()
    (c / "cloudctl.yaml").write_text(
        f"name: t\naddress_plan: {ROOT / 'inventory/ipam'}\n"
        f"departments: {ROOT / 'inventory/departments.yaml'}\n"
        f"tenants: {ROOT / 'inventory/tenants'}\ncapacity: missing.yaml\n"
    )
    return c


def test_a_broken_source_is_a_labelled_gap(tmp_path):
    c = _center_without_capacity(tmp_path)
    rd = g.gather(load_center(c), lang="en", usage="file")
    assert rd.sections["addresses"].ok
    assert not rd.sections["capacity"].ok
    assert "missing.yaml" in rd.sections["capacity"].reason
    assert not rd.sections["migration"].ok
    html = render_html(rd)
    assert "No forecast" in html and 'id="domains-gap"' in html
    assert html.count("<svg") == 1  # only the address chart had data


def _runs(times: list[str], conclusion: str = "non_compliant") -> list[dict]:
    return [
        {"run_id": f"r{i}", "started_at": t, "hosts": 3, "rate": 20.0 + i,
         "conclusion": conclusion, "failed": 9}
        for i, t in enumerate(times)
    ]  # fmt: skip


def test_compliance_runs_of_one_day_are_labelled_by_time_not_by_a_repeated_month():
    from cloudctl.centerreport.render import compliance_chart

    svg = compliance_chart(
        _runs(["2026-11-30T09:30:00+00:00", "2026-11-30T11:05:00+00:00",
               "2026-11-30T13:46:00+00:00"]),
        "zh",
    )  # fmt: skip
    assert svg is not None
    labels = re.findall(r"<!-- ([0-9:\- ]+) -->", svg)
    assert any(re.fullmatch(r"11-30 \d\d:\d\d", x.strip()) for x in labels), labels
    assert not any(x.strip() == "2026-11" for x in labels), labels


def test_stored_runs_show_their_verdict_in_words(tmp_path):
    c = _center_without_capacity(tmp_path)
    for lang, word in (("zh", "不符合"), ("en", "non-compliant")):
        rd = g.gather(load_center(c), lang=lang, usage="file")
        runs = _runs(["2026-11-30T09:30:00+00:00"])
        rd.sections["compliance"] = g.Section("compliance", True, {"runs": runs})
        html = render_html(rd)
        assert f">{word}</td>" in html and "non_compliant" not in html
