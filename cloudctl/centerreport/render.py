"""The center report as one self-contained HTML page: inline CSS, inline SVG charts (made
by matplotlib, text as paths), no script, no external reference — it opens offline, prints
on A4, and can be mailed as one file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2

from cloudctl.capacity.model import Forecast, forecast_dict
from cloudctl.centerreport import charts
from cloudctl.centerreport.gather import ReportData
from cloudctl.migrate.report import burndown  # the migration report's burn-down, shared

TEMPLATE = Path(__file__).with_name("report.html.j2")


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
    from cloudctl.baseline.engine import CONCLUSION_LABEL

    ctx: dict = {
        "rd": rd,
        "en": en,
        "L": lambda zh, e: e if en else zh,
        "charts": {},
        # a stored run's verdict in words (符合/基本符合/不符合), never its key
        "verdict": lambda c: CONCLUSION_LABEL.get(c, {}).get(lang, c),
    }
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
