"""Benchmark of the live check (``cloudctl domains check --cloud``) on the lab.

    .venv/bin/python bench/domains/run.py [--tenants 45] [--keep] [--reuse]

Makes the sample tenants with ``cloudctl tenant apply`` (names ``dom-b-<code>``, scope
``dom-bench``) plus one VM-like port per network carrying its template groups, then times
the live check of all of them — the bulk read (one list call per resource kind) and the
assessment — next to a naive walk that lists every kind per tenant. Requests are counted on
keystoneauth's Session (cloudctl's RequestCounter). Everything is deleted at the end
(``--keep`` leaves it for a re-run with ``--reuse``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # labkit: the tests' center and wipe helpers

from labkit import add_vm_ports, make_center, wipe_projects  # noqa: E402

from cloudctl.core.center import load_center  # noqa: E402
from cloudctl.domains import service as domains  # noqa: E402
from cloudctl.domains.assess import assess  # noqa: E402
from cloudctl.domains.openstack_reader import read_cloud  # noqa: E402
from cloudctl.domains.tenants import load_context  # noqa: E402
from cloudctl.tenant import service  # noqa: E402
from cloudctl.tenant.apply import execute  # noqa: E402
from cloudctl.tenant.diff import compute_plan  # noqa: E402
from cloudctl.tenant.openstack_adapter import connect  # noqa: E402

PREFIX, SCOPE = "dom-b-", "dom-bench"


def bench_projects(conn) -> list:
    return [p for p in conn.identity.projects() if p.name.startswith(PREFIX)]


def destroy_all(conn) -> None:
    """Delete every dom-b- project and what is in it, straight through the API (the bench's
    tenants were made without an ownership record, so cloudctl's destroy would keep them)."""
    wipe_projects(conn, PREFIX)


def create(center, conn) -> None:
    desired = service.load_desired(center)
    cloud = service.open_cloud(None)
    actual = service.read_state(cloud, desired)
    res = execute(
        compute_plan(desired, actual), cloud.adapter, actual, service.password_store(center),
        parallel=4,
    )  # fmt: skip
    if not res.ok:
        raise SystemExit(f"apply failed: {json.dumps(res.as_dict(), ensure_ascii=False)[:1500]}")
    for p in bench_projects(conn):
        add_vm_ports(conn, p)


def naive_read(conn, counter):
    """What a per-tenant tool does: list every kind once per tenant (project_id filter)."""
    from cloudctl.domains import openstack_reader as rd

    mark = counter.mark()
    t0 = time.perf_counter()
    projects = rd._get_all(conn.identity, "/projects", "projects")
    merged: dict[str, list] = {}
    for p in projects:
        if not p["name"].startswith(PREFIX):
            continue
        q = f"project_id={p['id']}"
        for path, key in (
            ("/security-groups", "security_groups"),
            ("/security-group-rules", "security_group_rules"),
            ("/ports", "ports"),
            ("/networks", "networks"),
            ("/subnets", "subnets"),
            ("/routers", "routers"),
            ("/rbac-policies", "rbac_policies"),
        ):
            merged.setdefault(key, []).extend(rd._get_all(conn.network, f"{path}?{q}", key))
    return len(counter.since(mark)), time.perf_counter() - t0, merged


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tenants", type=int, default=45)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", action="store_true", help="leave the tenants in the lab")
    ap.add_argument("--reuse", action="store_true", help="use tenants a --keep run left")
    args = ap.parse_args()
    os.environ.setdefault("OS_CLIENT_CONFIG_FILE", "/var/lib/cloudctl/lab/clouds.yaml")
    os.environ.setdefault("OS_CLOUD", "lab")
    codes = sorted(p.stem for p in (ROOT / "inventory" / "tenants").glob("[!_]*.yaml"))
    codes = codes[: args.tenants]
    work = Path(tempfile.mkdtemp(prefix="cloudctl-domains-bench-"))
    center = load_center(make_center(work / "center", codes, prefix=PREFIX, scope=SCOPE))
    conn, _ = connect(None)
    if not (args.reuse and len(bench_projects(conn)) >= len(codes)):
        destroy_all(conn)
        t0 = time.perf_counter()
        create(center, conn)
        print(f"setup: {len(codes)} tenants applied + VM ports in {time.perf_counter() - t0:.1f} s")
    ctx = load_context(center)
    bulk = []
    for _ in range(args.runs):
        conn, counter = connect(None)  # a fresh login each run: the token is counted too
        t0 = time.perf_counter()
        snap = read_cloud(conn, counter)
        only = domains.select_tenants(snap, [], PREFIX)
        a = assess(ctx.design, ctx.zones, ctx.plan, snap, only=only)
        bulk.append((len(counter.since(0)), time.perf_counter() - t0, len(a.objects) - 1, a))
    conn, counter = connect(None)
    t0 = time.perf_counter()
    naive_req, _read_s, _merged = naive_read(conn, counter)
    naive_s = time.perf_counter() - t0
    req, secs, tenants, a = min(bulk, key=lambda b: b[1])
    print(f"live check of {tenants} tenants ({len(snap.rules)} rules, {len(snap.ports)} ports):")
    print(f"  bulk (cloudctl)      {req:>5} requests  {secs:6.2f} s  "
          f"(median {statistics.median(b[1] for b in bulk):.2f} s of {args.runs} runs; "
          f"{len(a.findings)} findings)")  # fmt: skip
    print(f"  naive per-tenant walk {naive_req:>4} requests  {naive_s:6.2f} s  (reads only)")
    ok = req <= 20 and secs < 3
    print(f"  target ≤ 20 requests and < 3 s: {'met' if ok else 'NOT met'}")
    out = {
        "tenants": tenants,
        "bulk": {"requests": req, "seconds": round(secs, 3)},
        "naive": {"requests": naive_req, "seconds": round(naive_s, 3)},
        "findings": len(a.findings),
    }
    (ROOT / "bench" / "domains" / "last-run.json").write_text(json.dumps(out, indent=2) + "\n")
    if not args.keep:
        destroy_all(conn)
        left = [p.name for p in bench_projects(conn)]
        print("cleaned up" if not left else f"left behind: {left}")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
