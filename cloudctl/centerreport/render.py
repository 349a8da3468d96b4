"""The center report as one self-contained HTML page: inline CSS, inline SVG charts (made
by matplotlib, text as paths), no script, no external reference — it opens offline, prints
on A4, and can be mailed as one file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from cloudctl.capacity.model import Forecast, Month, forecast_dict
from cloudctl.centerreport import charts
from cloudctl.centerreport.gather import ReportData

TEMPLATE = Path(__file__).with_name("report.html.j2")


def _month_dt(m: Month) -> datetime:
    return datetime(m.year, m.month, 1)


def burndown(mig: dict, lang: str) -> tuple[str | None, str]:
    """Planned (from the waves' months) and actual (from the journal) systems still to
    move, month by month. Returns the chart (None without wave months) and a note."""
    en = lang == "en"
    dated = [(Month.parse(w["month"]), w) for w in mig["waves"] if w["month"]]
    if not dated:
        return None, (
            "no wave has a month (capacity.yaml migration.waves)"
            if en
            else "各批次没有计划月份（capacity.yaml migration.waves）"
        )
    first = min(m for m, _ in dated).plus(-1)
    last = max(m for m, _ in dated).plus(2)
    months = [first.plus(i) for i in range(last.minus(first) + 1)]
    total = mig["total"]
    planned = []
    for m in months:
        moved = sum(w["systems"] for wm, w in dated if wm <= m)
        planned.append(max(0, total - moved))
    done = [Month.parse(d[:7]) for d in mig["done_at"]]
    inside = [d for d in done if first <= d <= last]
    actual: list[float | None] = []
    now = Month(datetime.now().year, datetime.now().month)
    for m in months:
        actual.append(total - sum(1 for d in inside if d <= m) if m <= now else None)
    note = ""
    outside = len(done) - len(inside)
    if outside:
        note = (
            f"{outside} system(s) moved outside the plan's timeline (a rehearsal on the lab, "
            f"{mig['done_at'][-1]}): counted in the totals, not drawn"
            if en
            else f"{outside} 个系统的迁移记录不在方案时间范围内"
            f"（实验环境演练，{mig['done_at'][-1]}）：计入完成数，未画入燃尽图"
        )
    series = [
        {
            "key": "planned",
            "label": "planned" if en else "计划剩余",
            "values": planned,
            "color": "#1f5fa8",
        }
    ]
    if any(v is not None for v in actual) and inside:
        series.append(
            {
                "key": "actual",
                "label": "actual" if en else "实际剩余",
                "values": actual,
                "color": "#d9822b",
                "marker": "o",
            }
        )
    svg = charts.line_chart(
        "Migration burn-down: systems still to move" if en else "迁移燃尽图：待迁移系统数",
        [_month_dt(m) for m in months],
        series,
        lang=lang,
        ylabel="systems" if en else "系统数",
        ylim=(0, total * 1.1 + 1),
        step=True,
    )
    return svg, note


def compliance_chart(runs: list[dict], lang: str) -> str | None:
    pts = [r for r in runs if r["rate"] is not None]
    if not pts:
        return None
    en = lang == "en"
    x = [datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")) for r in pts]
    return charts.line_chart(
        "Baseline compliance, stored runs" if en else "等保基线符合率（历次检查）",
        x,
        [
            {
                "key": "compliance",
                "label": "compliance rate" if en else "符合率",
                "values": [r["rate"] for r in pts],
                "marker": "o",
            }
        ],
        lang=lang,
        ylim=(0, 105),
        percent=True,
    )


def address_chart(rows: list[dict], lang: str) -> str:
    en = lang == "en"
    return charts.bar_chart(
        "Address utilisation per security zone" if en else "各安全域地址使用率",
        [
            {
                "key": r["zone"],
                "label": f"{r['name_en'] if en else r['name_zh']} ({r['zone']})",
                "value": r["util"],
            }
            for r in rows
        ],
        lang=lang,
    )


def render_html(rd: ReportData) -> str:
    lang = rd.lang
    en = lang == "en"
    ctx: dict = {"rd": rd, "en": en, "L": lambda zh, e: e if en else zh, "charts": {}}
    s = rd.sections
    if s["addresses"].ok:
        ctx["charts"]["addresses"] = address_chart(s["addresses"].data, lang)
    cap = s["capacity"]
    if cap.ok:
        fc: Forecast = cap.data
        ctx["capacity"] = forecast_dict(fc, monthly=False)
        ctx["charts"]["capacity"] = charts.capacity_chart(fc, lang)
        first = min(
            (r for r in fc.resources if r.runs_out is not None),
            key=lambda r: r.runs_out or 0,
            default=None,
        )
        ctx["first_out"] = (
            {"name": first.name_en if en else first.name_zh, "month": str(fc.month(first.runs_out))}
            if first and first.runs_out is not None
            else None
        )
    if s["migration"].ok:
        svg, note = burndown(s["migration"].data, lang)
        ctx["charts"]["burndown"] = svg
        ctx["burndown_note"] = note
    if s["compliance"].ok:
        ctx["charts"]["compliance"] = compliance_chart(s["compliance"].data["runs"], lang)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["n"] = lambda v, d=0: "-" if v is None else f"{v:,.{d}f}"
    return env.get_template(TEMPLATE.name).render(**ctx)
