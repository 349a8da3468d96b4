"""The leadership report of a plan's progress: per wave and overall, Markdown or HTML,
in Chinese (default) or English. Department names instead of codes, Chinese labels for
importance, strategy and status, planned (capacity.yaml ``migration.waves``) and actual
(journal) dates per wave, a burn-down and a wave timeline (Gantt) chart, and the systems
in no wave with the reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.core.output import pick
from cloudctl.migrate.durations import format_duration

STATUS_ZH = {
    "done": "已完成",
    "rolled_back": "已回退",
    "rollback_failed": "回退失败",
    "pending": "待迁移",
    "running": "迁移中",
    "rolling_back": "回退中",
    "waiting_approval": "待审批",
    "blocked": "受阻",
    "cancelled": "已取消",
    "failed": "失败",
    "retained": "保留不迁",
}
ORDER = [
    "done",
    "running",
    "waiting_approval",
    "pending",
    "rolled_back",
    "rollback_failed",
    "blocked",
    "cancelled",
    "failed",
    "retained",
]


IMPORTANCE = {
    "general": ("一般", "general"),
    "important": ("重要", "important"),
    "core": ("核心", "core"),
}
COMPLEXITY = {"low": ("低", "low"), "medium": ("中", "medium"), "high": ("高", "high")}
STRATEGY = {
    "rehost": ("直接迁移", "rehost"),
    "replatform": ("平台调整后迁移", "replatform"),
    "refactor": ("改造后迁移", "refactor"),
    "repurchase": ("重新采购", "repurchase"),
    "retire": ("下线停用", "retire"),
    "retain": ("保留不迁", "retain"),
}


def status_text(status: str, lang: str) -> str:
    return STATUS_ZH.get(status, status) if lang != "en" else status.replace("_", " ")


def label(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """A plan value in words: Chinese by default, English with --lang en; unknown values as
    written."""
    pair = table.get(key)
    return key if pair is None else (pair[1] if lang == "en" else pair[0])


def dept_name(s: dict, lang: str) -> str:
    """The department's name (departments.yaml), its code when the file does not name it."""
    name = s.get("department_name_en") if lang == "en" else s.get("department_name_zh")
    return name or s.get("department") or ""


def _counts(counts: dict[str, int], lang: str) -> str:
    keys = sorted(counts, key=lambda k: ORDER.index(k) if k in ORDER else 99)
    return ", ".join(f"{status_text(k, lang)} {counts[k]}" for k in keys) or "-"


def _title(data: dict, lang: str) -> str:
    t = data["title_en"] if lang == "en" else data["title_zh"]
    return t or data["plan"]


def _wave_dates(w: dict, lang: str) -> str:
    planned = " – ".join(x for x in (w.get("planned_start"), w.get("planned_end")) if x) or "-"
    actual = " – ".join(x for x in (w.get("actual_start"), w.get("actual_end")) if x) or "-"
    return f"{planned} | {actual}"


def markdown(data: dict, lang: str = "zh") -> str:
    L = lambda zh, en: pick(lang, zh, en)  # noqa: E731
    total = data["total"] or 1
    done = data["overall"].get("done", 0)
    out = [f"# {_title(data, lang)} — {L('迁移进展报告', 'migration progress report')}", ""]
    out.append(f"{L('生成时间', 'Generated')}: {data['generated_at']}  ")
    out.append(
        f"{L('总体', 'Overall')}: {_counts(data['overall'], lang)} "
        f"({L('完成率', 'completion')} {100 * done / total:.0f}%)"
    )
    out.append("")
    out.append(
        f"| {L('批次', 'Wave')} | {L('计划时间', 'Planned')} | {L('实际时间', 'Actual')} | "
        f"{L('系统数', 'Systems')} | {L('进展', 'Progress')} | {L('耗时', 'Time spent')} |"
    )
    out.append("|---|---|---|---:|---|---:|")
    for w in data["waves"]:
        name = w["name_en"] if lang == "en" else w["name_zh"]
        out.append(
            f"| {name or w['id']} | {_wave_dates(w, lang)} | {len(w['systems'])} | "
            f"{_counts(w['counts'], lang)} | {format_duration(w['duration_s'])} |"
        )
    for w in data["waves"]:
        name = w["name_en"] if lang == "en" else w["name_zh"]
        out += ["", f"## {name or w['id']}", ""]
        out.append(
            f"| {L('系统', 'System')} | {L('部门', 'Department')} | {L('重要性', 'Importance')} | "
            f"{L('方式', 'Strategy')} | {L('状态', 'Status')} | {L('耗时', 'Time')} | "
            f"{L('说明', 'Note')} |"
        )
        out.append("|---|---|---|---|---|---:|---|")
        for s in w["systems"]:
            nm = s["name_en"] if lang == "en" else s["name_zh"]
            note = (s.get("message") or "").replace("|", "/")[:120]
            out.append(
                f"| {nm} (`{s['id']}`) | {dept_name(s, lang)} | "
                f"{label(IMPORTANCE, s['importance'], lang)} | "
                f"{label(STRATEGY, s['strategy'], lang)} | {status_text(s['status'], lang)} | "
                f"{format_duration(s['duration_s'])} | {note} |"
            )
    if data.get("unscheduled"):
        out += ["", f"## {L('未列入任何批次的系统', 'Systems in no wave')}", ""]
        out.append(f"| {L('系统', 'System')} | {L('部门', 'Department')} | {L('原因', 'Reason')} |")
        out.append("|---|---|---|")
        for u in data["unscheduled"]:
            nm = u["name_en"] if lang == "en" else u["name_zh"]
            out.append(f"| {nm} (`{u['id']}`) | {dept_name(u, lang)} | {reason_text(u, lang)} |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- leadership data
@dataclass
class ReportInputs:
    """What the leadership report adds to the journal's figures: department names and the
    waves' planned months. Read by ``load_inputs``; plain data so tests build it by hand."""

    departments: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (zh, en)
    wave_months: dict[str, str] = field(default_factory=dict)  # wave id -> "YYYY-MM"
    months_source: str = ""


def load_inputs(center: Any) -> ReportInputs:
    """departments.yaml (names) and capacity.yaml ``migration.waves`` (planned months);
    a file that is not there gives codes / no planned dates, a broken one is an error."""
    from cloudctl.capacity import load as cap
    from cloudctl.ipam.api import load_departments

    out = ReportInputs()
    if Path(center.departments).is_file():
        out.departments = {d.code: (d.name_zh, d.name_en) for d in load_departments(center)}
    path = cap.config_path(center, None)
    if path.is_file():
        cfg = cap.load_config(path)
        out.wave_months = {k: str(v) for k, v in cfg.wave_months.items()}
        out.months_source = "capacity.yaml migration.waves"
    return out


REASONS = {
    "retain": (
        "保留在原环境，不迁移（迁移策略：保留）",
        "kept where it is, not moved (strategy: retain)",
    ),
    "retire": ("计划下线停用，不迁移", "to be retired, not moved"),
}


def reason_text(u: dict, lang: str) -> str:
    zh, en = REASONS.get(
        u.get("strategy", ""),
        ("尚未排入任何批次（在方案 waves 中安排）", "not scheduled yet (add it to a wave)"),
    )
    return en if lang == "en" else zh


def _month_start(text: str) -> dt.date:
    y, m = (int(x) for x in text.split("-")[:2])
    return dt.date(y, m, 1)


def _add_months(d: dt.date, n: int) -> dt.date:
    i = d.year * 12 + d.month - 1 + n
    return dt.date(i // 12, i % 12 + 1, 1)


def _day(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d") if ts else None


def leadership_data(data: dict, plan: Any, latest: dict[str, dict], inputs: ReportInputs) -> dict:
    """``service.report_data``'s document with what leadership reads: department names per
    system, planned (month of the wave to the next wave's month) and actual (first start to
    last end in the journal) dates per wave, the systems in no wave with the reason, and
    the burn-down's inputs. Pure."""
    deps = inputs.departments
    out = dict(data)
    months = [inputs.wave_months.get(w["id"]) for w in data["waves"]]
    waves = []
    for i, w in enumerate(data["waves"]):
        w = dict(w)
        start = months[i]
        nxt = next((m for m in months[i + 1 :] if m), None)
        w["planned_start"] = start
        w["planned_end"] = (
            (nxt if nxt and nxt > start else str(_add_months(_month_start(start), 2))[:7])
            if start
            else None
        )
        rows = []
        starts, ends, running = [], [], False
        for s in w["systems"]:
            s = dict(s)
            code = s.get("department", "")
            s["department_name_zh"], s["department_name_en"] = deps.get(code, (code, code))
            st = latest.get(s["id"]) or {}
            s["start_date"], s["end_date"] = _day(st.get("started")), _day(st.get("ended"))
            if st.get("started"):
                starts.append(st["started"])
            if st.get("ended"):
                ends.append(st["ended"])
            running = running or s["status"] in ("running", "rolling_back", "waiting_approval")
            rows.append(s)
        w["systems"] = rows
        w["actual_start"] = _day(min(starts)) if starts else None
        all_done = all(r["status"] in ("done", "retained") for r in rows)
        w["actual_end"] = _day(max(ends)) if ends and all_done and not running else None
        w["done"] = sum(1 for r in rows if r["status"] == "done")
        w["state"] = "done" if rows and all_done else "running" if starts else "pending"
        waves.append(w)
    out["waves"] = waves
    in_wave = {sid for w in plan.waves for sid in w.systems}
    out["unscheduled"] = [
        {
            "id": s.id,
            "name_zh": s.name_zh or s.id,
            "name_en": s.name_en or s.id,
            "department": s.department,
            "department_name_zh": deps.get(s.department, (s.department, s.department))[0],
            "department_name_en": deps.get(s.department, (s.department, s.department))[1],
            "importance": s.importance,
            "strategy": s.strategy,
        }
        for s in plan.systems.values()
        if s.id not in in_wave
    ]
    movable = [s for s in plan.systems.values() if s.strategy != "retain"]
    done_at = sorted(
        st["ended"]
        for sid, st in latest.items()
        if st.get("status") == "done" and st.get("ended") and sid in plan.systems
    )
    out["burndown"] = {
        "total": len(movable),
        "waves": [
            {"id": w["id"], "month": w["planned_start"], "systems": len(w["systems"])}
            for w in waves
        ],
        "done_at": [_day(t) for t in done_at],
    }
    out["months_source"] = inputs.months_source
    return out


# --------------------------------------------------------------------------- charts
def burndown(mig: dict, lang: str) -> tuple[str | None, str]:
    """Planned (from the waves' months) and actual (from the journal) systems still to
    move, month by month. ``mig``: total, waves [{month, systems}], done_at [YYYY-MM-DD].
    Returns the chart (None without wave months) and a note. Shared with the center
    report."""
    from cloudctl.capacity.model import Month
    from cloudctl.core import charts

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
    now = Month(dt.datetime.now().year, dt.datetime.now().month)
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
        [dt.datetime(m.year, m.month, 1) for m in months],
        series,
        lang=lang,
        ylabel="systems" if en else "系统数",
        ylim=(0, total * 1.1 + 1),
        step=True,
    )
    return svg, note


def timeline(data: dict, lang: str) -> tuple[str | None, str]:
    """The waves as a Gantt chart: planned window (``planned-<wave>``) and, when the journal
    has runs inside the plan's timeline, the actual span (``actual-<wave>``)."""
    from cloudctl.core import charts

    en = lang == "en"
    waves = [w for w in data["waves"] if w.get("planned_start")]
    if not waves:
        return None, (
            "no wave has a planned month (capacity.yaml migration.waves)"
            if en
            else "各批次没有计划月份（capacity.yaml migration.waves）"
        )
    lo = _add_months(_month_start(min(w["planned_start"] for w in waves)), -3)
    hi = _add_months(_month_start(max(w["planned_end"] for w in waves)), 6)
    rows, outside = [], []
    for w in waves:
        row = {
            "key": w["id"],
            "label": (w["name_en"] if en else w["name_zh"]) or w["id"],
            "planned": (
                dt.datetime.combine(_month_start(w["planned_start"]), dt.time()),
                dt.datetime.combine(_month_start(w["planned_end"]), dt.time()),
            ),
            "actual": None,
        }
        if w.get("actual_start"):
            a0 = dt.date.fromisoformat(w["actual_start"])
            a1 = dt.date.fromisoformat(w["actual_end"]) if w.get("actual_end") else dt.date.today()
            if lo <= a0 <= hi:
                row["actual"] = (
                    dt.datetime.combine(a0, dt.time()),
                    dt.datetime.combine(a1, dt.time()),
                )
            else:
                outside.append(w)
        rows.append(row)
    note = ""
    if outside:
        names = ", ".join((w["name_en"] if en else w["name_zh"]) or w["id"] for w in outside)
        note = (
            f"actual runs outside the plan's timeline (a rehearsal on the lab): {names} — "
            "dates in the table, not drawn"
            if en
            else f"实际执行时间不在方案时间范围内（实验环境演练）：{names}"
            "——日期见下表，未画入时间线"
        )
    svg = charts.gantt_chart(
        "Wave timeline: planned and actual" if en else "迁移批次时间线：计划与实际",
        rows,
        lang=lang,
        labels=("planned" if en else "计划", "actual" if en else "实际"),
        today=dt.datetime.now(),
    )
    return svg, note


# --------------------------------------------------------------------------- HTML
_ENV = None  # built on first use: Jinja costs ~20 ms to import, and only the HTML needs it


def _env():
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _ENV


def html_report(data: dict, lang: str = "zh") -> str:
    """One self-contained page (inline CSS and SVG, no script) that prints on A4.
    ``data``: ``leadership_data``'s document (the plain ``report_data`` one renders too,
    without dates and charts)."""
    en = lang == "en"
    total = data["total"] or 1
    done = data["overall"].get("done", 0)
    charts_: dict[str, str] = {}
    notes: list[str] = []
    if data.get("burndown"):
        svg, note = burndown(data["burndown"], lang)
        if svg:
            charts_["burndown"] = svg
        notes += [note] if note else []
        svg, note = timeline(data, lang)
        if svg:
            charts_["timeline"] = svg
        notes += [note] if note else []
    template = _env().get_template("report.html.j2")
    return template.render(
        d=data,
        en=en,
        lang=lang,
        L=lambda zh, e: e if en else zh,
        title=_title(data, lang),
        pct=100 * done / total,
        done=done,
        charts=charts_,
        notes=notes,
        counts=lambda c: _counts(c, lang),
        status_text=lambda st: status_text(st, lang),
        importance=lambda v: label(IMPORTANCE, v, lang),
        strategy=lambda v: label(STRATEGY, v, lang),
        dept=lambda s: dept_name(s, lang),
        reason=lambda u: reason_text(u, lang),
        duration=format_duration,
    )
