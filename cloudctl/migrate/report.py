"""The leadership report of a plan's progress: per wave and overall, Markdown or HTML,
in Chinese (default) or English."""

from __future__ import annotations

import html

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


def status_text(status: str, lang: str) -> str:
    return STATUS_ZH.get(status, status) if lang != "en" else status.replace("_", " ")


def _counts(counts: dict[str, int], lang: str) -> str:
    keys = sorted(counts, key=lambda k: ORDER.index(k) if k in ORDER else 99)
    return ", ".join(f"{status_text(k, lang)} {counts[k]}" for k in keys) or "-"


def _title(data: dict, lang: str) -> str:
    t = data["title_en"] if lang == "en" else data["title_zh"]
    return t or data["plan"]


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
        f"| {L('批次', 'Wave')} | {L('系统数', 'Systems')} | {L('进展', 'Progress')} | "
        f"{L('耗时', 'Time spent')} |"
    )
    out.append("|---|---:|---|---:|")
    for w in data["waves"]:
        name = w["name_en"] if lang == "en" else w["name_zh"]
        out.append(
            f"| {name or w['id']} | {len(w['systems'])} | {_counts(w['counts'], lang)} | "
            f"{format_duration(w['duration_s'])} |"
        )
    for w in data["waves"]:
        name = w["name_en"] if lang == "en" else w["name_zh"]
        out += ["", f"## {name or w['id']}", ""]
        out.append(
            f"| {L('系统', 'System')} | {L('部门', 'Dept.')} | {L('重要性', 'Importance')} | "
            f"{L('方式', 'Strategy')} | {L('状态', 'Status')} | {L('耗时', 'Time')} | "
            f"{L('说明', 'Note')} |"
        )
        out.append("|---|---|---|---|---|---:|---|")
        for s in w["systems"]:
            nm = s["name_en"] if lang == "en" else s["name_zh"]
            note = (s.get("message") or "").replace("|", "/")[:120]
            out.append(
                f"| {nm} (`{s['id']}`) | {s['department']} | {s['importance']} | {s['strategy']} | "
                f"{status_text(s['status'], lang)} | {format_duration(s['duration_s'])} | {note} |"
            )
    return "\n".join(out) + "\n"


_CSS = """body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#f0f3f7}.done{color:#1a7f37}.rolled_back,.rollback_failed,.failed,.blocked{color:#b42318;font-weight:bold}
.pending{color:#666}.bar{background:#e5e7eb;width:300px;height:14px}.bar>div{background:#1a7f37;height:14px}"""


def _row(*cells: str, cell: str = "td") -> str:
    return "<tr>" + "".join(f"<{cell}>{c}</{cell}>" for c in cells) + "</tr>"


def html_report(data: dict, lang: str = "zh") -> str:
    L = lambda zh, en: pick(lang, zh, en)  # noqa: E731
    e = html.escape
    total = data["total"] or 1
    done = data["overall"].get("done", 0)
    pct = 100 * done / total
    parts = [
        "<!doctype html>",
        f'<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">',
        f"<title>{e(_title(data, lang))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(_title(data, lang))} — {L('迁移进展报告', 'migration progress report')}</h1>",
        f"<p>{L('生成时间', 'Generated')}: {e(data['generated_at'])}</p>",
        f"<p>{L('总体', 'Overall')}: {e(_counts(data['overall'], lang))}</p>",
        f'<div class="bar"><div style="width:{pct:.0f}%"></div></div><p>{pct:.0f}%</p>',
        "<table>"
        + _row(
            L("批次", "Wave"),
            L("系统数", "Systems"),
            L("进展", "Progress"),
            L("耗时", "Time spent"),
            cell="th",
        ),
    ]
    for w in data["waves"]:
        name = (w["name_en"] if lang == "en" else w["name_zh"]) or w["id"]
        parts.append(
            _row(
                e(name),
                str(len(w["systems"])),
                e(_counts(w["counts"], lang)),
                format_duration(w["duration_s"]),
            )
        )
    parts.append("</table>")
    for w in data["waves"]:
        name = (w["name_en"] if lang == "en" else w["name_zh"]) or w["id"]
        parts.append(
            f"<h2>{e(name)}</h2><table><tr>"
            + "".join(
                f"<th>{h}</th>"
                for h in (
                    L("系统", "System"),
                    L("部门", "Dept."),
                    L("重要性", "Importance"),
                    L("方式", "Strategy"),
                    L("状态", "Status"),
                    L("耗时", "Time"),
                    L("说明", "Note"),
                )
            )
            + "</tr>"
        )
        for s in w["systems"]:
            nm = s["name_en"] if lang == "en" else s["name_zh"]
            status = f'<span class="{e(s["status"])}">{e(status_text(s["status"], lang))}</span>'
            parts.append(
                _row(
                    f"{e(nm)} <code>{e(s['id'])}</code>",
                    e(s["department"]),
                    e(s["importance"]),
                    e(s["strategy"]),
                    status,
                    format_duration(s["duration_s"]),
                    e((s.get("message") or "")[:200]),
                )
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
