"""Benchmark of the lab: how long `lab up` takes in each situation, reset-host against the
naive way (unpack a fresh copy of the image), and the memory the lab uses.

    .venv/bin/python bench/lab/bench_lab.py            # uses (and leaves running) the lab
    .venv/bin/python bench/lab/bench_lab.py --fresh    # also build everything on an empty
                                                       # cache (in a temp dir, ~2-3 minutes)

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cloudctl.lab import image, manager, procs, services
from cloudctl.lab.api import ensure_lab, lab_down, reset_host
from cloudctl.lab.model import wanted_services
from cloudctl.lab.paths import LabPaths

ROOT = Path(__file__).resolve().parents[2]
HOST = "yun-db01"


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


def fresh_pieces() -> list[tuple[str, float]]:
    """The slow part of a first `up` on an empty cache, measured without touching the running
    lab (no ports): the services' venv and the host image (built side by side, as `up` does)
    and the four databases. Starting on prepared data is the "up from stopped" row."""
    saved = {k: os.environ.get(k) for k in ("CLOUDCTL_LAB_DIR", "CLOUDCTL_CACHE_DIR")}
    tmp = Path(tempfile.mkdtemp(prefix="cloudctl-bench-", dir="/var/tmp"))
    os.environ["CLOUDCTL_LAB_DIR"] = str(tmp / "lab")
    os.environ["CLOUDCTL_CACHE_DIR"] = str(tmp / "cache")
    out: list[tuple[str, float]] = []
    try:
        paths = LabPaths.from_env()
        t0 = time.monotonic()
        with ThreadPoolExecutor(max_workers=1) as pool:
            img = pool.submit(image.ensure_lower, paths)
            venv = services.ensure_venv(paths)
            out.append(("services' venv from PyPI (lock file)", time.monotonic() - t0))
            img.result()
            out.append(("host image: debootstrap + repo + pack + unpack", time.monotonic() - t0))
        t1 = time.monotonic()
        wanted = wanted_services(())
        pw = services.load_secrets(paths)
        services.write_configs(paths, venv, wanted, pw)
        with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
            jobs = [
                pool.submit(services.init_database, paths, venv, s.name, pw["admin"])
                for s in wanted
            ]
            for j in jobs:
                j.result()
        out.append(("four databases (parallel)", time.monotonic() - t1))
        out.append(("build + databases", time.monotonic() - t0))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fresh", action="store_true", help="also time a first up on an empty cache")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    paths = LabPaths.from_env()
    rows: list[tuple[str, str]] = []

    fresh = fresh_pieces() if args.fresh else []
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
    from_stopped = timed(ensure_lab, center=ROOT)
    rows.append(("up from stopped (data kept)", f"{from_stopped:.2f} s"))
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
        rows.append((f"empty cache: {name}", f"{secs:.1f} s"))
    if fresh:
        first = fresh[-1][1] + from_stopped
        rows.append(("first up on an empty cache (build + databases + start)", f"{first:.0f} s"))

    width = max(len(a) for a, _ in rows)
    print(f"{'cloudctl lab benchmark':<{width}}  result")
    for a, b in rows:
        print(f"{a:<{width}}  {b}")


if __name__ == "__main__":
    main()
