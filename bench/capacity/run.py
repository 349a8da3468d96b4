"""How long capacity planning and the center report take (sample center, no cloud), and
the pure forecast at scale: 2,000 systems over 240 months.

    .venv/bin/python bench/capacity/run.py
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(fn, n: int = 3) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    os.environ.pop("OS_CLOUD", None)
    from cloudctl.capacity import service
    from cloudctl.capacity.model import CapacityInputs, SystemDemand, forecast
    from cloudctl.centerreport.gather import gather
    from cloudctl.centerreport.render import render_html
    from cloudctl.core.center import load_center

    center = load_center(ROOT)
    t_gather, g = timed(lambda: service.gather(center, usage="file"))
    t_fc, _ = timed(lambda: service.run(g, 36))
    cfg = g.inputs.config
    demands = [
        SystemDemand(f"s{i}", "", "", "w", cfg.as_of.plus(i % 60), vcpu=8, ram_gb=16, disk_gb=200)
        for i in range(2000)
    ]
    big = CapacityInputs(cfg, demands, g.inputs.zones, g.inputs.public, dict(cfg.usage), "file")
    t_big, _ = timed(lambda: forecast(big, 240))
    t_report, rd = timed(lambda: gather(center, lang="zh", usage="file"), 1)
    t_render, html = timed(lambda: render_html(rd), 1)
    print(f"load {os.getloadavg()[0]:.1f}")
    print(f"capacity inputs (capacity.yaml, address plan, migration plan): {t_gather:.3f} s")
    print(f"forecast, sample, 36 months:                                   {t_fc * 1000:.2f} ms")
    print(f"forecast, 2,000 systems, 240 months:                           {t_big * 1000:.1f} ms")
    print(
        f"center report: gather {t_report:.2f} s, render with 4 charts {t_render:.2f} s, "
        f"{len(html) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
