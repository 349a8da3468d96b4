"""Benchmark of the lab: how long `lab up` takes in each situation, reset-host against the
naive way (unpack a fresh copy of the image), and the memory the lab uses.

    .venv/bin/python bench/lab/bench_lab.py            # uses (and leaves running) the lab
    .venv/bin/python bench/lab/bench_lab.py --fresh    # also a first `up` on an empty cache
                                                       # (stops the lab for ~3 minutes)

Changes the running lab: restarts it, resets host yun-db01. Prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cloudctl.lab import image, manager, procs
from cloudctl.lab.api import ensure_lab, lab_down, reset_host
from cloudctl.lab.paths import LabPaths

ROOT = Path(__file__).resolve().parents[2]
HOST = "yun-db01"


class StepTimes:
    """A reporter that keeps the time of each step of `ensure`."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, float]] = []

    @contextlib.contextmanager
    def step(self, zh: str, en: str) -> Iterator[None]:
        t0 = time.monotonic()
        yield
        self.steps.append((en, time.monotonic() - t0))

    def note(self, zh: str, en: str) -> None:
        pass


def timed(fn, *a, **kw) -> float:
    t0 = time.monotonic()
    fn(*a, **kw)
    return time.monotonic() - t0


def kill_everything(paths: LabPaths) -> None:
    recs = list(manager.records(paths).values())
    for pid in {r.pid for r in recs if procs.is_running(r)} | set(procs.owned_pids(paths.root)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    while any(procs.is_running(r) for r in recs):
        time.sleep(0.05)


def naive_copy(paths: LabPaths) -> float:
    """What a host reset costs without overlays: unpack the cached image again."""
    with tempfile.TemporaryDirectory(dir=paths.root) as d:
        t0 = time.monotonic()
        subprocess.run(
            ["tar", "--numeric-owner", "-C", d, "-I", "zstd -q", "-xf", str(image.tarball(paths))],
            check=True,
        )
        return time.monotonic() - t0


def fresh_up() -> list[tuple[str, float]]:
    """A first `up` with empty cache and lab dirs (the machine's own lab is stopped meanwhile)."""
    lab_down()
    saved = {k: os.environ.get(k) for k in ("CLOUDCTL_LAB_DIR", "CLOUDCTL_CACHE_DIR")}
    tmp = Path(tempfile.mkdtemp(prefix="cloudctl-bench-", dir="/var/tmp"))
    os.environ["CLOUDCTL_LAB_DIR"] = str(tmp / "lab")
    os.environ["CLOUDCTL_CACHE_DIR"] = str(tmp / "cache")
    rep = StepTimes()
    try:
        t0 = time.monotonic()
        manager.ensure(None, 3, (), rep)
        rep.steps.append(("TOTAL first up (empty cache)", time.monotonic() - t0))
        st = manager.status(deep=False)
        rep.steps.append((f"memory then: {st['memory_mib']:.0f} MiB", 0.0))
        lab_down(purge=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    return rep.steps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", action="store_true", help="also time a first up on an empty cache")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    paths = LabPaths.from_env()
    rows: list[tuple[str, str]] = []

    fresh = fresh_up() if args.fresh else []
    ensure_lab(center=ROOT)
    running = [timed(ensure_lab, center=ROOT) for _ in range(args.repeat)]
    rows.append(("up on a running lab (median)", f"{statistics.median(running):.2f} s"))
    t_status = [timed(manager.status) for _ in range(args.repeat)]
    rows.append(
        ("status with real API calls + SSH (median)", f"{statistics.median(t_status):.2f} s")
    )
    resets = [timed(reset_host, HOST) for _ in range(args.repeat)]
    rows.append(("reset-host: overlay (median)", f"{statistics.median(resets):.2f} s"))
    rows.append(("  naive: unpack a fresh image copy (no boot)", f"{naive_copy(paths):.2f} s"))
    lab_down()
    rows.append(("up from stopped (data kept)", f"{timed(ensure_lab, center=ROOT):.2f} s"))
    kill_everything(paths)
    rows.append(
        ("up after kill -9 of everything (recovery)", f"{timed(ensure_lab, center=ROOT):.2f} s")
    )
    st = manager.status()
    for r in st["services"] + st["hosts"]:
        rows.append((f"  RSS {r['name']}", f"{r['rss_mib']:.0f} MiB"))
    rows.append(
        (
            f"memory, {len(st['services'])} services + {len(st['hosts'])} hosts",
            f"{st['memory_mib']:.0f} MiB",
        )
    )
    for name, secs in fresh:
        rows.append((f"fresh: {name}", f"{secs:.1f} s" if secs else ""))

    width = max(len(a) for a, _ in rows)
    print(f"{'cloudctl lab benchmark':<{width}}  result")
    for a, b in rows:
        print(f"{a:<{width}}  {b}")


if __name__ == "__main__":
    main()
