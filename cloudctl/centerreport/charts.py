"""Charts as inline SVG, drawn by matplotlib's SVG backend with every glyph turned into a
path (``svg.fonttype = path``): the page needs no font when it is viewed, printed or
archived, on any machine of a government network. Chinese labels need a CJK font when the
chart is *made* (Debian ``fonts-noto-cjk``, installed by ./dev).

Each data series carries an SVG id (``gid``) chosen here — ``series-<key>``, ``bar-<key>``,
``line-capacity`` — so tests and other tools can find what a chart shows.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime

from cloudctl.core.errors import ExternalError

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")
PALETTE = ["#1f5fa8", "#d9822b", "#2e8b57", "#a23b72", "#6b6b6b", "#8c564b", "#17becf", "#bcbd22"]


def _mpl():
    import matplotlib
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    return matplotlib, Figure


def cjk_font() -> str | None:
    """The first CJK font matplotlib can find, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def _rc(lang: str) -> dict:
    fam = ["DejaVu Sans"]
    if lang != "en":
        font = cjk_font()
        if font is None:
            raise ExternalError(
                "no CJK font for Chinese chart labels: install Debian's fonts-noto-cjk "
                "(./dev setup does), or use --lang en"
            )
        fam = [font, "DejaVu Sans"]
    return {
        "svg.fonttype": "path",
        "svg.hashsalt": "cloudctl",  # stable ids: the same data gives the same file
        "font.family": fam,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.color": "#dddddd",
        "grid.linewidth": 0.6,
        "axes.edgecolor": "#888888",
        "axes.unicode_minus": False,
    }


def _svg(fig, title: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Title": title})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # scale with the page: drop the fixed size, keep the viewBox
    text = re.sub(
        r'<svg([^>]*?) width="[^"]+" height="[^"]+"',
        rf'<svg\1 class="chart" role="img" aria-label="{_esc(title)}"',
        text,
        count=1,
    )
    return text


def _esc(s: str) -> str:
    return s.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def _figure(lang: str, w: float = 7.2, h: float = 3.0):
    matplotlib, Figure = _mpl()
    ctx = matplotlib.rc_context(_rc(lang))
    ctx.__enter__()
    fig = Figure(figsize=(w, h), layout="constrained")
    return ctx, fig


def _done(ctx, fig, title: str) -> str:
    try:
        return _svg(fig, title)
    finally:
        ctx.__exit__(None, None, None)


# --------------------------------------------------------------------------- charts


def line_chart(
    title: str,
    x: Sequence,
    series: Sequence[dict],
    *,
    lang: str = "zh",
    ylabel: str = "",
    hlines: Sequence[dict] = (),
    ylim: tuple[float, float] | None = None,
    step: bool = False,
    percent: bool = False,
) -> str:
    """Lines over a shared x axis. ``series``: {key, label, values} (None = gap);
    ``hlines``: {key, label, y, style}."""
    ctx, fig = _figure(lang)
    ax = fig.add_subplot()
    for i, s in enumerate(series):
        kw = {"drawstyle": "steps-post"} if step else {}
        (ln,) = ax.plot(
            list(x),
            [float("nan") if v is None else v for v in s["values"]],
            label=s["label"],
            color=s.get("color", PALETTE[i % len(PALETTE)]),
            linewidth=s.get("width", 1.8),
            linestyle=s.get("style", "-"),
            marker=s.get("marker"),
            markersize=3.5,
            **kw,
        )
        ln.set_gid(f"series-{s['key']}")
    for h in hlines:
        ln = ax.axhline(
            h["y"],
            color=h.get("color", "#c0392b"),
            linestyle=h.get("style", "--"),
            linewidth=1.1,
            label=h["label"],
        )
        ln.set_gid(f"line-{h['key']}")
    if ylim:
        ax.set_ylim(*ylim)
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _p: f"{v:.0f}%")
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    if x and isinstance(next(iter(x)), datetime):
        import matplotlib.dates as mdates

        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    n = len(series) + len(hlines)
    # below the plot: long labels never squeeze the axes
    fig.legend(loc="outside lower center", ncols=min(4, n), fontsize=7.5, frameon=False)
    return _done(ctx, fig, title)


def bar_chart(
    title: str,
    bars: Sequence[dict],
    *,
    lang: str = "zh",
    xlabel: str = "",
    limit: float | None = None,
    percent: bool = True,
) -> str:
    """Horizontal bars, one per {key, label, value}, with the value written at the end."""
    ctx, fig = _figure(lang, h=0.32 * max(3, len(bars)) + 0.8)
    ax = fig.add_subplot()
    labels = [b["label"] for b in bars][::-1]
    vals = [b["value"] for b in bars][::-1]
    colors = (
        ["#c0392b" if v >= 90 else "#d9822b" if v >= 70 else PALETTE[0] for v in vals]
        if percent
        else [PALETTE[0]] * len(vals)
    )
    rects = ax.barh(labels, vals, color=colors, height=0.6)
    for r, b in zip(rects, list(bars)[::-1], strict=True):
        r.set_gid(f"bar-{b['key']}")
        ax.annotate(
            f"{b['value']:.1f}%" if percent else f"{b['value']:g}",
            (r.get_width(), r.get_y() + r.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
        )
    if limit is not None:
        ax.axvline(limit, color="#c0392b", linestyle="--", linewidth=1).set_gid("line-limit")
    if percent:
        ax.set_xlim(0, max(100.0, max(vals, default=0) * 1.12))
        ax.xaxis.set_major_formatter(lambda v, _p: f"{v:.0f}%")
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    return _done(ctx, fig, title)


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
