"""The center report's capacity chart; the chart machinery itself (matplotlib SVG, text as
paths, stable series ids) is shared by every report and lives in cloudctl.core.charts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cloudctl.core.charts import (  # noqa: F401  (re-exported for the center report)
    CJK_FONTS,
    PALETTE,
    bar_chart,
    cjk_font,
    line_chart,
)


def capacity_chart(fc, lang: str = "zh", keys: Sequence[str] | None = None) -> str:
    """Utilisation of each resource month by month, against 100 % and the planning line."""
    en = lang == "en"
    months = [fc.month(i) for i in range(fc.horizon + 1)]
    x = [datetime(m.year, m.month, 1) for m in months]
    chosen = [
        r
        for r in fc.resources
        if (keys is None and (not r.key.startswith("addr:") or r.plan_by is not None))
        or (keys is not None and r.key in keys)
    ]
    series = [
        {
            "key": r.key.replace(":", "-"),
            "label": _short_label(r, en),
            "values": [round(r.util(i), 2) for i in range(fc.horizon + 1)],
        }
        for r in chosen
    ]
    top = max([100.0, *(max(s["values"]) for s in series)]) * 1.08
    return line_chart(
        "Phase-1 utilisation forecast" if en else "一期资源使用率预测",
        x,
        series,
        lang=lang,
        ylabel="utilisation" if en else "使用率",
        hlines=[
            {"key": "capacity", "label": "phase-1 capacity" if en else "一期容量", "y": 100.0},
            {
                "key": "threshold",
                "label": (
                    f"plan-by line ({100 - fc.headroom * 100:.0f}%)"
                    if en
                    else f"规划警戒线（{100 - fc.headroom * 100:.0f}%）"
                ),
                "y": 100 - fc.headroom * 100,
                "color": "#d9822b",
                "style": ":",
            },
        ],
        ylim=(0, top),
        percent=True,
    )


def _short_label(r, en: bool) -> str:
    """Legend text: a zone's address series by its code, so the legend stays one line."""
    if r.key.startswith("addr:"):
        zone = r.key.removeprefix("addr:")
        return f"private addresses ({zone})" if en else f"私网地址（{zone}）"
    return r.name_en if en else r.name_zh
