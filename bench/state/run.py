"""Benchmark of the shared state: SQLite vs PostgreSQL side by side (prints figures).

  .venv/bin/python bench/state/run.py [--step-seconds 0.5] [--appenders 10] [--records 100]

Needs the lab's PostgreSQL (`cloudctl lab up`); every PostgreSQL figure uses a throwaway
database on it (127.0.0.1:5433, so no network latency: add your LAN's round trip per
statement for a remote server).

1. Journal overhead of a 20-system wave: the real executor and journal run 20 systems of
   the sample plan (all their steps, parallel 4) with a step runner that sleeps
   ``--step-seconds`` instead of running Ansible (a real Ansible step takes seconds).
   Overhead = (wall time - the same schedule with free journaling) / wall time.
2. ``--appenders`` processes append ``--records`` audit records each at the same time:
   records/s over all, and the latency of one append (p50, p95).
3. Lock acquire + release, one after another: latency (p50, p95).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cloudctl.lab import postgres  # noqa: E402
from cloudctl.lab.paths import LabPaths  # noqa: E402
from cloudctl.state import SqliteDB, open_url  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1)] if s else float("nan")


# ------------------------------------------------------------------------------ 1. wave


def wave(db, step_seconds: float, systems: int = 20, parallel: int = 4) -> dict:
    from cloudctl.core.center import load_center
    from cloudctl.migrate import service
    from cloudctl.migrate.executor import Executor, StepOutcome, snapshot
    from cloudctl.migrate.journal import Journal

    center = load_center(ROOT)
    plan = service.load_checked(center, service.resolve_plan(center, None))
    ids = [s for s in plan.systems if plan.systems[s].steps][:systems]
    snap = snapshot(plan, ids)
    for d in snap:
        d["depends_on"] = []  # one schedule on both backends: every system can start
    journal = Journal(db)
    busy = [0.0]
    for name in ("step_start", "step_end", "set_system", "completed_steps", "system_states"):
        fn = getattr(journal, name)

        def timed(*a, _fn=fn, **k):
            t0 = time.perf_counter()
            try:
                return _fn(*a, **k)
            finally:
                busy[0] += time.perf_counter() - t0

        setattr(journal, name, timed)

    calls: dict[str, int] = {}

    def runner(run_id, system, step, phase, index, attempt, on_task):
        calls[system.id] = calls.get(system.id, 0) + 1  # approval/wait steps never get here
        time.sleep(step_seconds)
        return StepOutcome("ok")

    t0 = time.perf_counter()
    run_id = journal.create_run(
        kind="run",
        plan_name=plan.name,
        plan_path=None,
        plan_sha=None,
        wave="bench",
        snapshot=snap,
        options={"parallel": parallel},
    )
    run = journal.run(run_id)
    ex = Executor(
        journal=journal, run=run, step_runner=runner, approvals=["all"], sleep=lambda s: None
    )
    statuses = ex.execute()
    journal.finish_run(run_id, "done")
    wall = time.perf_counter() - t0
    steps = [len(d["steps"]) for d in snap]
    # the same schedule with free journaling: systems in order on `parallel` workers, each
    # as long as its steps that ran (approval and wait steps take no time here)
    lanes = [0.0] * parallel
    for n in (calls.get(d["id"], 0) for d in snap):
        i = lanes.index(min(lanes))
        lanes[i] += n * step_seconds
    ideal = max(lanes)
    assert set(statuses.values()) == {"done"}, statuses
    return {
        "systems": len(snap),
        "steps": sum(steps),
        "wall_s": round(wall, 2),
        "ideal_s": round(ideal, 2),
        "overhead_pct": round(100 * (wall - ideal) / wall, 2),
        "journal_busy_s": round(busy[0], 3),
        "journal_ms_per_step": round(1000 * busy[0] / sum(steps), 2),
    }


# ------------------------------------------------------------------------------ 2. audit

APPENDER = """
import json, os, sys, time
from pathlib import Path
from cloudctl.core import audit
from cloudctl.state import SqliteDB, open_url
kind, where, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "file":
    store = audit.FileStore(where)
elif kind == "sqlite":
    from cloudctl.state.audit_store import DbAuditStore
    store = DbAuditStore(SqliteDB(Path(where)))
else:
    from cloudctl.state.audit_store import DbAuditStore
    store = DbAuditStore(open_url(where))
trail = audit.Trail(store)
trail.change("bench.warmup", {})
while time.time() < float(sys.argv[4]):
    time.sleep(0.001)
lat = []
for i in range(n):
    t0 = time.perf_counter()
    trail.change("bench.append", {"i": i})
    lat.append(time.perf_counter() - t0)
print(json.dumps(lat))
"""


def appenders(kind: str, where: str, procs: int, records: int, env: dict) -> dict:
    go = time.time() + 3.0  # every process starts appending at the same moment
    ps = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(APPENDER), kind, where, str(records), str(go)],
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(procs)
    ]
    lat: list[float] = []
    for p in ps:
        out, _ = p.communicate(timeout=600)
        assert p.returncode == 0
        lat += json.loads(out)
    wall = time.time() - go
    return {
        "records": len(lat),
        "records_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(1000 * statistics.median(lat), 2),
        "p95_ms": round(1000 * pct(lat, 95), 2),
    }


# ------------------------------------------------------------------------------ 3. locks


def locks(db, n: int = 200) -> dict:
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        with db.lock(f"bench-{i % 10}", timeout=5, what="bench"):
            pass
        lat.append(time.perf_counter() - t0)
    return {
        "n": n,
        "p50_ms": round(1000 * statistics.median(lat), 2),
        "p95_ms": round(1000 * pct(lat, 95), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--step-seconds", type=float, default=0.5)
    ap.add_argument("--appenders", type=int, default=10)
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    paths = LabPaths.from_env()
    env = {**os.environ, "PGPASSFILE": str(postgres.pgpass_file(paths))}
    os.environ["PGPASSFILE"] = env["PGPASSFILE"]
    out: dict = {"sqlite": {}, "postgresql": {}}
    with tempfile.TemporaryDirectory() as tmp, postgres.fresh_database(paths, "bench") as url:
        sq = SqliteDB(Path(tmp) / "cloudctl.db")
        pg = open_url(url)
        for name, db in (("sqlite", sq), ("postgresql", pg)):
            out[name]["wave"] = wave(db, args.step_seconds)
            db.close()
            print(name, "wave", out[name]["wave"], flush=True)
        out["sqlite"]["audit_file"] = appenders(
            "file", str(Path(tmp) / "audit.log"), args.appenders, args.records, env
        )
        out["sqlite"]["audit_db"] = appenders(
            "sqlite", str(Path(tmp) / "audit.db"), args.appenders, args.records, env
        )
        out["postgresql"]["audit_db"] = appenders("pg", url, args.appenders, args.records, env)
        for name in ("sqlite", "postgresql"):
            print(name, "audit", {k: v for k, v in out[name].items() if k.startswith("audit")})
        out["sqlite"]["lock"] = locks(sq)
        out["postgresql"]["lock"] = locks(pg)
        print("locks", out["sqlite"]["lock"], out["postgresql"]["lock"])
        pg.close()
    print()
    print(f"{'':34} {'SQLite':>18} {'PostgreSQL':>18}")
    rows = [
        ("wave: wall s (ideal)", lambda d: f"{d['wave']['wall_s']} ({d['wave']['ideal_s']})"),
        ("wave: journal overhead %", lambda d: f"{d['wave']['overhead_pct']}"),
        ("wave: journal ms per step", lambda d: f"{d['wave']['journal_ms_per_step']}"),
        ("audit: records/s (10 procs)", lambda d: f"{d['audit_db']['records_per_s']}"),
        (
            "audit: append p50 / p95 ms",
            lambda d: f"{d['audit_db']['p50_ms']} / {d['audit_db']['p95_ms']}",
        ),
        (
            "lock: acquire+release p50/p95 ms",
            lambda d: f"{d['lock']['p50_ms']} / {d['lock']['p95_ms']}",
        ),
    ]
    for label, f in rows:
        print(f"{label:34} {f(out['sqlite']):>18} {f(out['postgresql']):>18}")
    af = out["sqlite"]["audit_file"]
    label = "audit file (flock): rec/s, p50/p95"
    print(f"{label:34} {af['records_per_s']:>8} {af['p50_ms']} / {af['p95_ms']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
