"""Charts as inline SVG for every report (center, baseline, migration), drawn by
matplotlib's SVG backend with every glyph turned into a path (``svg.fonttype = path``):
the page needs no font when it is viewed, printed or archived, on any machine of a
government network. Chinese labels need a CJK font when the
chart is *made* (Debian ``fonts-noto-cjk``, installed by ./dev).

Each data series carries an SVG id (``gid``) chosen here — ``series-<key>``, ``bar-<key>``,
``line-capacity``, ``planned-<wave>``, ``heatmap-effective`` — so tests and other tools can
find what a chart shows.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

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
    date_format: str = "%Y-%m",
    size: tuple[float, float] = (7.2, 3.0),
) -> str:
    """Lines over a shared x axis. ``series``: {key, label, values} (None = gap);
    ``hlines``: {key, label, y, style}."""
    ctx, fig = _figure(lang, *size)
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

        lo, hi = min(x), max(x)
        span = hi - lo
        if date_format == "%Y-%m" and span < timedelta(days=62):
            # months as labels would repeat one month on every tick ("2026-11, 2026-11")
            date_format = "%m-%d %H:%M" if span < timedelta(days=2) else "%m-%d"
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
        ax.xaxis.set_major_formatter(mdates.DateFormatter(date_format))
        if span < timedelta(days=2):  # runs of one day: a margin around them, not 1970
            pad = max(span / 10, timedelta(minutes=30))
            ax.set_xlim(lo - pad, hi + pad)
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


def gantt_chart(
    title: str,
    rows: Sequence[dict],
    *,
    lang: str = "zh",
    labels: tuple[str, str] = ("planned", "actual"),
    today: datetime | None = None,
) -> str:
    """A timeline: one row per {key, label, planned: (start, end), actual: (start, end) |
    None}; the planned bar wide and pale, the actual bar narrow on top of it. Bars carry the
    ids ``planned-<key>`` and ``actual-<key>``."""
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    ctx, fig = _figure(lang, h=0.42 * max(3, len(rows)) + 1.0)
    ax = fig.add_subplot()
    names = [r["label"] for r in rows]
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        p0, p1 = r["planned"]
        (bar,) = ax.barh(
            y, mdates.date2num(p1) - mdates.date2num(p0), left=mdates.date2num(p0),
            height=0.62, color="#c9d9ee", edgecolor="#1f5fa8", linewidth=0.8,
        )  # fmt: skip
        bar.set_gid(f"planned-{r['key']}")
        if r.get("actual"):
            a0, a1 = r["actual"]
            width = max(mdates.date2num(a1) - mdates.date2num(a0), 2.0)  # a day's run shows
            (act,) = ax.barh(
                y, width, left=mdates.date2num(a0), height=0.26,
                color=r.get("color", "#d9822b"),
            )  # fmt: skip
            act.set_gid(f"actual-{r['key']}")
    ax.set_yticks(range(len(rows)), names[::-1])
    ax.xaxis_date()
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=9))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.grid(axis="y", visible=False)
    if today is not None:
        lo, hi = ax.get_xlim()
        if lo <= mdates.date2num(today) <= hi:
            ax.axvline(today, color="#c0392b", linestyle=":", linewidth=1).set_gid("line-today")
    ax.set_title(title, loc="left", fontsize=10, fontweight="bold")
    fig.legend(
        handles=[
            Patch(facecolor="#c9d9ee", edgecolor="#1f5fa8", label=labels[0]),
            Patch(facecolor="#d9822b", label=labels[1]),
        ],
        loc="outside lower center", ncols=2, fontsize=7.5, frameon=False,
    )  # fmt: skip
    return _done(ctx, fig, title)


#: heatmap cell states, in colour order: nothing, designed only, open within, open beyond
HEAT_STATES = ("none", "unused", "ok", "extra")
HEAT_COLORS = ("#ffffff", "#e3e9f1", "#8cc7a1", "#d9534f")


def heatmap_pair(
    title: str,
    zones: Sequence[str],
    design: dict[tuple[str, str], int],
    effective: dict[tuple[str, str], tuple[str, int]],
    *,
    lang: str = "zh",
    titles: tuple[str, str] = ("design", "effective"),
    legend: Sequence[str] = ("none", "designed, not open", "open within", "open beyond"),
    axis: tuple[str, str] = ("from", "to"),
) -> str:
    """Two zone × zone grids side by side: what the design allows (services per cell) and
    what the rules open (state colour + services per cell). The grids carry the ids
    ``heatmap-design`` / ``heatmap-effective``; each cell open beyond the design a
    rectangle ``extra-<from>-<to>``."""
    import numpy as np
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.patches import Patch, Rectangle

    n = len(zones)
    side = 0.34 * n + 1.6
    ctx, fig = _figure(lang, w=max(7.2, 2 * side), h=side + 0.7)
    axes = fig.subplots(1, 2)
    dmax = max([1, *design.values()])
    dgrid = np.array([[design.get((s, d), 0) for d in zones] for s in zones], dtype=float)
    egrid = np.array(
        [[HEAT_STATES.index(effective.get((s, d), ("none", 0))[0]) for d in zones] for s in zones],
        dtype=float,
    )
    blues = LinearSegmentedColormap.from_list("design", ["#ffffff", "#1f5fa8"])
    m1 = axes[0].pcolormesh(dgrid, cmap=blues, vmin=0, vmax=dmax, edgecolors="#cccccc",
                            linewidth=0.4)  # fmt: skip
    m1.set_gid("heatmap-design")
    m2 = axes[1].pcolormesh(egrid, cmap=ListedColormap(HEAT_COLORS), vmin=-0.5, vmax=3.5,
                            edgecolors="#cccccc", linewidth=0.4)  # fmt: skip
    m2.set_gid("heatmap-effective")
    for ax, sub in ((axes[0], titles[0]), (axes[1], titles[1])):
        ax.set_xticks([i + 0.5 for i in range(n)], list(zones), rotation=90, fontsize=7)
        ax.set_yticks([i + 0.5 for i in range(n)], list(zones), fontsize=7)
        ax.invert_yaxis()
        ax.set_aspect("equal")
        ax.grid(False)
        ax.tick_params(length=0)
        ax.set_title(sub, fontsize=9)
        ax.set_xlabel(axis[1], fontsize=7.5)
        ax.set_ylabel(axis[0], fontsize=7.5)
        for sp in ax.spines.values():
            sp.set_visible(False)
    for i, s in enumerate(zones):
        for j, d in enumerate(zones):
            k = design.get((s, d), 0)
            if k:
                axes[0].text(j + 0.5, i + 0.5, str(k), ha="center", va="center", fontsize=6.5,
                             color="#ffffff" if k > dmax / 2 else "#12406f")  # fmt: skip
            state, cnt = effective.get((s, d), ("none", 0))
            if cnt:
                axes[1].text(j + 0.5, i + 0.5, str(cnt), ha="center", va="center", fontsize=6.5)
            if state == "extra":
                r = Rectangle((j, i), 1, 1, fill=False, edgecolor="#8b0000", linewidth=1.2)
                r.set_gid(f"extra-{s}-{d}")
                axes[1].add_patch(r)
    fig.suptitle(title, x=0.02, ha="left", fontsize=10, fontweight="bold")
    fig.legend(
        handles=[Patch(facecolor=c, edgecolor="#999999", label=lb)
                 for c, lb in zip(HEAT_COLORS, legend, strict=True)],
        loc="outside lower center", ncols=4, fontsize=7.5, frameon=False,
    )  # fmt: skip
    return _done(ctx, fig, title)
