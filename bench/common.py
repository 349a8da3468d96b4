"""Shared helpers for the benches: time whole ``cloudctl`` processes as a user runs them.

Hyperfine-like: each figure is N runs of one command line in a fresh process (interpreter
start, imports, file reads, exit included), reported as median and min–max, with the
machine's load next to it (the benches run on a shared 2-core machine).

    cold  = the center's parse cache (<center>/.cloudctl/cache) removed before each run:
            the first command after a ``git pull`` or a fresh clone
    warm  = the same command again, cache in place (named "warm" wherever it is printed)

Python's own ``__pycache__`` stays in both: it belongs to the installed program, not to
the center's data.
"""

from __future__ import annotations

import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLOUDCTL = ROOT / ".venv" / "bin" / "cloudctl"


def cloudctl_bin() -> str:
    """The venv's entry point (what a user runs), else the one on PATH."""
    if CLOUDCTL.exists():
        return str(CLOUDCTL)
    return shutil.which("cloudctl") or "cloudctl"


def load() -> str:
    """The 1-minute load average and the core count, e.g. ``load 3.9/2``."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return "load ?"
    return f"load {one:.1f}/{os.cpu_count() or '?'}"


def clear_parse_cache(center: Path) -> None:
    """Forget every parsed file of the center (ipam, migrate, ...): the next run is cold."""
    shutil.rmtree(Path(center) / ".cloudctl" / "cache", ignore_errors=True)


@dataclass
class Timing:
    """Wall seconds of N runs of one command, with peak memory and the load seen."""

    label: str
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user+system CPU seconds, children too
    max_rss_kib: list[int] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else math.nan

    @property
    def lo(self) -> float:
        return min(self.seconds) if self.seconds else math.nan

    @property
    def hi(self) -> float:
        return max(self.seconds) if self.seconds else math.nan

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else math.nan

    @property
    def rss_mib(self) -> float:
        return max(self.max_rss_kib) / 1024 if self.max_rss_kib else math.nan

    def load_text(self) -> str:
        if not self.loads:
            return "load ?"
        return f"load {min(self.loads):.1f}–{max(self.loads):.1f}/{os.cpu_count() or '?'}"

    def text(self) -> str:
        """``1.23 s (1.10–1.40, n=5)``."""
        if not self.seconds:
            return "—"
        n = len(self.seconds)
        if self.hi < 1:
            ms = [f"{v * 1000:.0f}" for v in (self.median, self.lo, self.hi)]
            return f"{ms[0]} ms ({ms[1]}–{ms[2]} ms, n={n})"
        return f"{self.median:.2f} s ({self.lo:.2f}–{self.hi:.2f} s, n={n})"


def secs(v: float) -> str:
    if math.isnan(v):
        return "—"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


LAST_CPU = [0.0]


def run_once(
    argv: Sequence[str], cwd: Path | None = None, env: dict | None = None, ok=(0,)
) -> tuple[float, int, int, str]:
    """One process: (wall seconds, exit code, max RSS KiB, stdout+stderr tail); its CPU
    seconds (user+system, its waited-for children included) in ``LAST_CPU[0]``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = b""
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    LAST_CPU[0] = usage.ru_utime + usage.ru_stime
    proc.returncode = os.waitstatus_to_exitcode(status)
    tail = out.decode("utf-8", "replace")[-2000:]
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return wall, proc.returncode, usage.ru_maxrss, tail


def time_cli(
    label: str,
    args: Sequence[str] | Callable[[int], Sequence[str]],
    runs: int = 5,
    center: Path | None = None,
    cold: bool = False,
    warmup: int = 0,
    before: Callable[[], None] | None = None,
    ok=(0,),
    env: dict | None = None,
) -> Timing:
    """Run ``cloudctl [--center C] --lang en ARGS`` ``runs`` times in fresh processes.

    ``cold``: clear the center's parse cache before every run. ``warmup``: runs first,
    not counted (warm figures). ``before``: called before each run, untimed (reset state).
    ``args`` may be a function of the run number (0, 1, ...; warm-up runs first), for
    commands that must differ each time (a new allocation's name).
    """
    base = [cloudctl_bin()]
    if center is not None:
        base += ["--center", str(center)]
    base += ["--lang", "en"]

    def argv(i: int) -> list[str]:
        return base + list(args(i) if callable(args) else args)

    t = Timing(label)
    for i in range(warmup):
        if before:
            before()
        run_once(argv(i), env=env, ok=ok)
    for i in range(warmup, warmup + runs):
        if before:
            before()
        if cold and center is not None:
            clear_parse_cache(center)
        t.loads.append(os.getloadavg()[0])
        wall, code, rss, _ = run_once(argv(i), env=env, ok=ok)
        t.seconds.append(wall)
        t.cpu.append(LAST_CPU[0])
        t.codes.append(code)
        t.max_rss_kib.append(rss)
    return t


def verdict(value: float, target: float) -> str:
    """``ok`` or how far a figure misses its target (seconds and ratio)."""
    if math.isnan(value):
        return "not run"
    if value <= target:
        return "ok"
    return f"MISSED by {secs(value - target)} ({value / target:.1f}× the target)"


def target_table(rows: Sequence[tuple[str, Timing, float]]) -> str:
    """Figures side by side with their targets: (what, timing, target seconds)."""
    head = ("work", "median (min–max, n)", "CPU s", "peak RSS", "target", "verdict", "load")
    lines = [head]
    for what, t, target in rows:
        lines.append(
            (
                what,
                t.text(),
                f"{t.cpu_median:.2f}" if t.cpu else "—",
                f"{t.rss_mib:.0f} MiB" if t.max_rss_kib else "—",
                f"≤ {secs(target)}",
                verdict(t.median, target),
                t.load_text(),
            )
        )
    return _render(lines)


def slope(n1: float, t1: float, n2: float, t2: float) -> float:
    """The exponent k in t ∝ n^k between two sizes (log-log slope)."""
    if min(n1, t1, n2, t2) <= 0 or n1 == n2:
        return math.nan
    return math.log(t2 / t1) / math.log(n2 / n1)


def complexity(k: float) -> str:
    """A plain name for a measured growth exponent. Whole-process times carry a fixed
    start-up cost, so small sizes show less than their true exponent: read the largest step."""
    if math.isnan(k):
        return "?"
    if k < 0.3:
        return "flat (fixed cost dominates)"
    if k < 0.8:
        return "sublinear"
    if k < 1.2:
        return "linear (n or n log n)"
    if k < 1.6:
        return "worse than n log n"
    return "quadratic or worse"


def growth_table(what: str, rows: Sequence[tuple[int, Timing]], unit: str = "n") -> str:
    """Cost against size (1×, 10×, 100× ...): the ratio to the first row, the exponent k of
    each step, and k of the work beyond the smallest run (t - t₁, which takes the start-up
    cost out). The stated class comes from the last step of the latter."""
    lines = [(unit, "×", what, "ratio to 1×", "k (t∝n^k)", "k of t−t₁", "load")]
    base_n, base_t = rows[0][0], rows[0][1].median
    prev: tuple[int, float] | None = None
    last_k = last_marginal = math.nan
    for n, t in rows:
        k = slope(prev[0], prev[1], n, t.median) if prev else math.nan
        marginal = math.nan
        if prev and prev[0] != base_n:
            marginal = slope(prev[0], prev[1] - base_t, n, t.median - base_t)
        if prev:
            last_k = k
            last_marginal = marginal
        lines.append(
            (
                f"{n:,}",
                f"{n / base_n:.3g}×",
                t.text(),
                f"{t.median / base_t:.2f}×" if base_t else "—",
                "" if math.isnan(k) else f"{k:.2f}",
                "" if math.isnan(marginal) else f"{marginal:.2f}",
                t.load_text(),
            )
        )
        prev = (n, t.median)
    stated = last_marginal if not math.isnan(last_marginal) else last_k
    return (
        _render(lines)
        + f"\n  growth class ({what}): {complexity(stated)}"
        + ("" if math.isnan(last_marginal) else " — from the work beyond the 1× run")
    )


def _render(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for j, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def header(title: str) -> None:
    print(f"\n== {title}  [{load()}, {time.strftime('%Y-%m-%d %H:%M')}]", flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
