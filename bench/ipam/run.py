"""Benchmark of ``cloudctl ipam``: validate and allocate on plans of 1k, 10k and 100k prefixes,
side by side with the naive pairwise overlap check.

    .venv/bin/python bench/ipam/run.py                 # 1k, 10k, 100k
    .venv/bin/python bench/ipam/run.py --sizes 1000 10000 --naive-budget 5

What is timed (each on the same generated plan, in one process):
  parse      YAML → model, cold (no cache; libyaml)                   — once
  load       YAML → model from the content-keyed parse cache (warm)   — what a CLI run pays
  validate   every rule, O(n log n) sort + sweep, on the loaded model
  naive      the pairwise overlap check, O(n²), on the same integers; stopped after
             --naive-budget seconds and extrapolated from the pairs it did (marked "~")
  alloc      first-fit decision on the loaded plan (median of 20)
  alloc e2e  service.allocate: lock, warm load, validate, decide, splice the file, atomic
             write (median of 5; the edited file is re-parsed on the next load)
Targets (issue 2): validate 100k < 2 s, allocate < 100 ms at 100k, 10k→100k growth ≲ 12×.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from genplan import tenant_codes, write_plan

from cloudctl.core.center import load_center
from cloudctl.ipam import service
from cloudctl.ipam.allocate import AllocationRequest, plan_allocation
from cloudctl.ipam.model import load_plan
from cloudctl.ipam.validate import validate_plan


def naive_overlaps(
    rows: list[tuple[str, int, int, bool]], budget: float
) -> tuple[float, bool, int]:
    """Every pair in the same VRF: does one overlap the other without being its container?
    Returns (seconds, extrapolated?, conflicts found)."""
    n = len(rows)
    total_pairs = n * (n - 1) // 2
    done = 0
    conflicts = 0
    start = time.perf_counter()
    deadline = start + budget
    for i in range(n):
        vrf_a, first_a, last_a, cont_a = rows[i]
        for j in range(i + 1, n):
            vrf_b, first_b, last_b, cont_b = rows[j]
            if vrf_a == vrf_b and first_a <= last_b and first_b <= last_a:
                a_holds_b = first_a <= first_b and last_b <= last_a and cont_a
                b_holds_a = first_b <= first_a and last_a <= last_b and cont_b
                if not (a_holds_b or b_holds_a) or (first_a == first_b and last_a == last_b):
                    conflicts += 1
        done += n - i - 1
        if time.perf_counter() > deadline:
            elapsed = time.perf_counter() - start
            return elapsed * total_pairs / max(done, 1), True, conflicts
    return time.perf_counter() - start, False, conflicts


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_size(n: int, budget: float, work: Path) -> dict:
    root = work / f"plan-{n}"
    center_dir = work / f"center-{n}"
    center_dir.mkdir()
    facts = write_plan(center_dir / "inventory" / "ipam", n)
    (center_dir / "cloudctl.yaml").write_text("name: bench\n", encoding="utf-8")
    deps = "departments:\n" + "".join(
        f"  - {{code: {t}, kind: department}}\n" for t in tenant_codes(n)
    )
    (center_dir / "inventory" / "departments.yaml").write_text(deps, encoding="utf-8")
    center = load_center(center_dir)
    root = center.address_plan
    cache = service.cache_dir(center)
    tenants = tenant_codes(n)

    gc.collect()
    with service.quiet_gc():
        t0 = time.perf_counter()
        plan = load_plan(root, cache)
        parse = time.perf_counter() - t0
        loads = []
        for _ in range(3):
            t0 = time.perf_counter()
            plan = load_plan(root, cache)
            loads.append(time.perf_counter() - t0)
        vals = []
        for _ in range(3):
            t0 = time.perf_counter()
            problems = validate_plan(plan, tenants)
            vals.append(time.perf_counter() - t0)
    assert not problems, problems[:3]
    load_s, validate_s = min(loads), min(vals)

    rows = [(p.vrf, p.first, p.last, p.status == "container") for p in plan.prefixes]
    naive_s, extrapolated, conflicts = naive_overlaps(rows, budget)
    assert extrapolated or conflicts == 0

    # allocation decision: 20 /26 allocations inside the last tenant's container
    last = tenants[-1]
    decisions = []
    for i in range(20):
        req = AllocationRequest(
            zone="core",
            tenant=last,
            prefixlen=26,
            name=f"{last}-b{i}",
            within=f"{last}-block",
            vlan=None,
        )
        t0 = time.perf_counter()
        plan_allocation(plan, req, set(tenants))
        decisions.append(time.perf_counter() - t0)
    whole = []
    for i in range(3):
        req = AllocationRequest(zone="core", tenant=None, prefixlen=24, name=f"z-{i}", vlan=None)
        t0 = time.perf_counter()
        plan_allocation(plan, req, set(tenants))
        whole.append(time.perf_counter() - t0)

    e2e = []
    for i in range(5):
        req = AllocationRequest(
            zone="core",
            tenant=last,
            prefixlen=26,
            name=f"{last}-e{i}",
            within=f"{last}-block",
            vlan=None,
        )
        t0 = time.perf_counter()
        res = service.allocate(center, req)
        e2e.append(time.perf_counter() - t0)
        assert res.created
    return {
        "n": facts["prefixes"],
        "files": facts["files"],
        "parse": parse,
        "load": load_s,
        "validate": validate_s,
        "cloudctl": load_s + validate_s,
        "naive": naive_s,
        "naive_extrapolated": extrapolated,
        "alloc_ms": median_ms(decisions),
        "alloc_zone_ms": median_ms(whole),
        "alloc_e2e_ms": median_ms(e2e),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument(
        "--naive-budget", type=float, default=20.0, help="seconds per size for the naive check"
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cloudctl-bench-ipam-"))
    results = []
    try:
        for n in args.sizes:
            print(f"… {n:,} prefixes", file=sys.stderr, flush=True)
            results.append(bench_size(n, args.naive_budget, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def s(v: float, approx: bool = False) -> str:
        return ("~" if approx else "") + (f"{v:.3f}s" if v < 100 else f"{v:,.0f}s")

    head = (
        f"{'prefixes':>9} {'parse(cold)':>12} {'load(warm)':>11} {'validate':>9} {'cloudctl':>9} "
        f"{'naive O(n²)':>12} {'ratio':>9} {'alloc':>8} {'alloc/zone':>11} {'alloc e2e':>10}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        ratio = r["naive"] / r["cloudctl"] if r["cloudctl"] else float("nan")
        print(
            f"{r['n']:>9,} {s(r['parse']):>12} {s(r['load']):>11} {s(r['validate']):>9} "
            f"{s(r['cloudctl']):>9} {s(r['naive'], r['naive_extrapolated']):>12} {ratio:>8,.0f}× "
            f"{r['alloc_ms']:>6.1f}ms {r['alloc_zone_ms']:>9.1f}ms {r['alloc_e2e_ms']:>8.0f}ms"
        )
    by_n = {r["n"]: r for r in results}
    if 10000 in by_n and 100000 in by_n:
        a, b = by_n[10000], by_n[100000]
        print(
            f"growth 10k→100k: validate {b['validate'] / a['validate']:.1f}×, "
            f"load+validate {b['cloudctl'] / a['cloudctl']:.1f}×, "
            f"naive {b['naive'] / a['naive']:.0f}× (target ≲ 12×)"
        )
    if 100000 in by_n:
        b = by_n[100000]
        print(
            f"targets at 100k: load+validate {b['cloudctl']:.2f}s "
            f"(< 2 s: {'yes' if b['cloudctl'] < 2 else 'NO'}), "
            f"allocate decision {b['alloc_ms']:.1f} ms "
            f"(< 100 ms: {'yes' if b['alloc_ms'] < 100 else 'NO'}), "
            f"allocate end to end {b['alloc_e2e_ms']:.0f} ms"
        )
    print(
        "cloudctl = load(warm) + validate. 'parse(cold)' is the first read of a plan\n"
        "(PyYAML + libyaml); "
        "later runs read the content-keyed cache under .cloudctl/cache/ipam. '~' = extrapolated\n"
        "from the pairs done within the budget (n(n-1)/2 pairs in total)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
