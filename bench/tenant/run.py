"""Benchmark of ``cloudctl tenant`` against the lab, side by side with openstack.cloud.

    .venv/bin/python bench/tenant/run.py [--tenants 45] [--ansible-tenants 10] [--no-ansible]

Counts real HTTP requests (keystoneauth's Session is wrapped, in cloudctl's process and, via
a ``sitecustomize`` in the Ansible venv, in every Ansible module process) and wall time for:
apply of the sample tenants from empty, a no-op plan, a no-op apply — then, as a user runs
them, whole ``cloudctl tenant plan`` / ``tenant drift`` processes (bench/common.py: N runs,
median and min–max, against the target of issue 17: no-op plan of 45 tenants ≤ 3 s) — and the same
tenants created / re-run by the openstack.cloud collection (the ``ansible`` package from
PyPI in its own venv). Names get a ``b-`` (cloudctl) or ``a-`` (Ansible) prefix; everything
is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # labkit: the tests' center and wipe helpers

from common import cloudctl_bin, growth_table, header, target_table, time_cli  # noqa: E402
from labkit import make_center, wipe_projects  # noqa: E402

from cloudctl.core.center import load_center  # noqa: E402
from cloudctl.tenant import service  # noqa: E402
from cloudctl.tenant.apply import execute  # noqa: E402
from cloudctl.tenant.diff import compute_plan  # noqa: E402

ANSIBLE_VENV = Path(os.environ.get("CLOUDCTL_BENCH_VENV", "/var/cache/cloudctl/bench/ansible-venv"))
SITECUSTOMIZE = """
import os, time
_log = os.environ.get("BENCH_REQUEST_LOG")
if _log:
    try:
        from keystoneauth1 import session as _s
        _orig = _s.Session.request
        def _counted(self, url, method, *a, **kw):
            try:
                return _orig(self, url, method, *a, **kw)
            finally:
                with open(_log, "a") as fh:
                    fh.write(f"{method} {url}\\n")
        _s.Session.request = _counted
    except Exception:
        pass
"""


def wait_for_cloud(timeout: float = 300) -> None:
    """The lab may be restarted under us (it is shared while being developed): wait."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            for url in ("http://127.0.0.1:5000/v3", "http://127.0.0.1:9696/"):
                urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)


class Interrupted(Exception):
    """The cloud went away in the middle of a measurement (not a cloudctl failure)."""


def measure(label: str, fn, attempts: int = 3, reset=None):
    for attempt in range(1, attempts + 1):
        wait_for_cloud()
        try:
            return _measure_once(label, fn)
        except Interrupted as e:
            print(f"  {label}: the lab went away ({e}); attempt {attempt} discarded", flush=True)
            if reset:
                wait_for_cloud()
                reset()
    raise SystemExit(f"{label}: gave up after {attempts} attempts")


def _measure_once(label: str, fn):
    cloud = service.open_cloud(None)
    t0 = time.perf_counter()
    extra = fn(cloud)
    secs = time.perf_counter() - t0
    s = cloud.counter.summary()
    row = {
        "what": label,
        "requests": s["requests"],
        "writes": s["writes"],
        "seconds": round(secs, 2),
    }
    if extra:
        row.update(extra)
    print(
        f"  {label:<38} {s['requests']:>6} req ({s['writes']:>5} writes) {secs:>8.2f} s", flush=True
    )
    return row


def apply_desired(cloud, center, desired, parallel: int) -> dict:
    """cloudctl's own apply of ``desired`` (what ``tenant apply`` does, in process); an
    unreachable cloud is an interruption to retry, any other failure ends the bench."""
    recorded = service.ownership_store(center).ids(cloud.key)
    actual = service.read_state(cloud, desired, recorded=recorded)
    plan = compute_plan(desired, actual)
    res = execute(
        plan,
        cloud.adapter,
        actual,
        service.password_store(center),
        parallel=parallel,
        recorder=service.recorder(center, cloud),
    )
    if not res.ok:
        errors = [t.failed.error for t in res.tenants if t.failed]
        if any("unreachable" in e for e in errors):
            raise Interrupted(errors[0][:200])
        raise SystemExit(f"apply failed: {json.dumps(res.as_dict(), ensure_ascii=False)[:2000]}")
    return {"changes": len(plan.changes)}


def whole_process(center_dir: Path, runs: int) -> None:
    """``cloudctl tenant plan`` and ``tenant drift`` as a user runs them (no-op: nothing to
    change, no drift), with the request count of one run of each from the audit trail."""
    wait_for_cloud()
    plan = time_cli("tenant plan (no-op)", ["tenant", "plan"], runs, center_dir, warmup=1)
    drift = time_cli("tenant drift", ["tenant", "drift"], runs, center_dir, warmup=1, ok=(0, 1))
    header("tenant, whole process (lab)")
    print(
        target_table(
            [("cloudctl tenant plan, no-op", plan, 3.0), ("cloudctl tenant drift", drift, 3.0)]
        )
    )
    print("  (drift has no target of its own in issue 17; shown against the plan's)")


def destroy_all(center, desired_prefix: str, cloud=None) -> None:
    """Every managed tenant of the bench scope (cloudctl's own destroy)."""
    from cloudctl.tenant.desired import TenantSettings
    from cloudctl.tenant.diff import Plan, destroy_changes

    settings = TenantSettings.from_center_settings(center.settings)
    cloud = cloud or service.open_cloud(None)
    actual = cloud.adapter.read_actual(domain="default", quota_projects=lambda ps: [])
    actual.recorded = service.ownership_store(center).ids(cloud.key)  # only what it created
    changes = []
    for p in actual.projects:
        if p.managed and p.scope == settings.scope:
            ch, _kept = destroy_changes(p.name.removeprefix(desired_prefix), p, actual)
            changes.extend(ch)
    if changes:
        execute(
            Plan(changes=changes),
            cloud.adapter,
            actual,
            service.password_store(center),
            recorder=service.recorder(center, cloud),
        )


# -------------------------------------------------------------------------- growth
def _requests_of(center_dir: Path, command: str) -> int:
    """Requests one whole ``tenant plan``/``drift`` process made (its own ``-o json``)."""
    p = subprocess.run(
        [cloudctl_bin(), "--center", str(center_dir), "--lang", "en", "tenant", command,
         "-o", "json"],
        capture_output=True, text=True,
    )  # fmt: skip
    doc = json.loads(p.stdout)
    return int((doc.get("requests") or {}).get("requests", -1))


def growth(sizes: list[int], runs: int, parallel: int) -> int:
    """45 → 200 → 500 projects on the lab (issue 17): one cloud grown step by step
    (bench/tenant/growth.py), a whole-process no-op ``tenant plan`` and ``tenant drift`` at
    each size with their request counts; everything deleted at the end."""
    import growth as gen  # bench/tenant/growth.py

    if not os.environ.get("OS_CLOUD"):
        from cloudctl.lab.api import ensure_lab

        os.environ.update(ensure_lab(center=ROOT).env())
    work = Path(tempfile.mkdtemp(prefix="cloudctl-bench-growth-"))
    root = work / "center"
    root.mkdir()
    center = load_center(gen.write_center(root, sizes[0], prefix="g-", scope="bench-growth"))
    destroy_all(center, "g-")
    rows = []
    try:
        for n in sizes:
            center = load_center(gen.write_center(root, n, prefix="g-", scope="bench-growth"))
            desired = service.load_desired(center)

            def apply(cloud, desired=desired, center=center):
                return apply_desired(cloud, center, desired, parallel)

            print(f"{n} tenants:", flush=True)
            measure(f"apply up to {n} tenants", apply)
            plan_t = time_cli(f"plan {n}", ["tenant", "plan"], runs, root, warmup=1)
            drift_t = time_cli(f"drift {n}", ["tenant", "drift"], runs, root, warmup=1, ok=(0, 1))
            rows.append((n, plan_t, drift_t, _requests_of(root, "plan"),
                         _requests_of(root, "drift")))  # fmt: skip
            print(f"  plan {plan_t.text()}  drift {drift_t.text()}", flush=True)
    finally:
        print("deleting the bench tenants…", flush=True)
        destroy_all(load_center(root), "g-")
        shutil.rmtree(work, ignore_errors=True)
    header("tenant growth on the lab, whole process (no-op plan / drift)")
    print(target_table([(f"tenant plan, no-op, {n} tenants", p, 3.0) for n, p, *_ in rows]))
    print("  (the issue's target, ≤ 3 s, is for the 45 sample tenants; shown for every size)")
    for what, i in (("tenant plan (no-op)", 1), ("tenant drift", 2)):
        header(f"growth: {what}")
        print(growth_table(what, [(r[0], r[i]) for r in rows], unit="tenants"))
    header("requests of one whole process")
    for n, _p, _d, rp, rd in rows:
        print(f"  {n:>4} tenants: plan {rp:>5} requests, drift {rd:>5} requests")
    return 0


# ------------------------------------------------------------------------- ansible
def ensure_ansible_venv() -> Path:
    py = ANSIBLE_VENV / "bin" / "python"
    if not (ANSIBLE_VENV / ".complete").exists():
        print(f"  building {ANSIBLE_VENV} (ansible + openstacksdk from PyPI)…", flush=True)
        ANSIBLE_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(ANSIBLE_VENV)], check=True)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "ansible", "openstacksdk"], check=True
        )
        (ANSIBLE_VENV / ".complete").write_text("ok\n")
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return py


def ansible_versions(py: Path) -> str:
    out = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.metadata as m; print(m.version('ansible'), "
            "m.version('ansible-core'), m.version('openstacksdk'))",
        ],
        capture_output=True,
        text=True,
    ).stdout.split()
    coll = ANSIBLE_VENV.glob(
        "lib/python*/site-packages/ansible_collections/openstack/cloud/MANIFEST.json"
    )
    cver = next((json.loads(p.read_text())["collection_info"]["version"] for p in coll), "?")
    return f"ansible {out[0]} (core {out[1]}), openstack.cloud {cver}, openstacksdk {out[2]}"


def playbook_vars(desired, password: str) -> dict:
    """The same desired state, flattened into loop lists for openstack.cloud modules."""
    v = {
        k: []
        for k in (
            "projects",
            "users",
            "grants",
            "networks",
            "subnets",
            "routers",
            "sec_groups",
            "rules",
            "quotas",
        )
    }
    for t in desired.tenants.values():
        v["projects"].append({"name": t.project, "description": t.description})
        for n in t.networks:
            v["networks"].append({"name": n.name, "project": t.project})
            for s in n.subnets:
                v["subnets"].append(
                    {
                        "name": s.name,
                        "network": n.name,
                        "project": t.project,
                        "cidr": s.cidr,
                        "gateway_ip": s.gateway_ip,
                        "pool_start": s.allocation_pools[0][0],
                        "pool_end": s.allocation_pools[0][1],
                        "dns": list(s.dns_nameservers),
                    }
                )
        if t.router:
            v["routers"].append(
                {
                    "name": t.router.name,
                    "project": t.project,
                    "interfaces": list(t.router.interfaces),
                }
            )
        for g in t.security_groups:
            v["sec_groups"].append(
                {"name": g.name, "project": t.project, "description": g.description}
            )
            for r in g.rules:
                if r.direction != "ingress":
                    continue  # Neutron's default egress rules exist already
                rule = {
                    "group": g.name,
                    "project": t.project,
                    "protocol": r.protocol or "any",
                    "min": r.port_min,
                    "max": r.port_max,
                }
                if r.remote_group:
                    rule["remote_group"] = r.remote_group
                else:
                    rule["prefix"] = r.remote_ip_prefix
                v["rules"].append(rule)
        q = {"name": t.project}
        for svc in ("network", "compute", "volume"):
            for k, val in t.quotas.get(svc, {}).items():
                q[
                    {
                        "network": "networks",
                        "subnet": "subnets",
                        "port": "ports",
                        "router": "routers",
                        "security_group": "security_groups",
                        "security_group_rule": "security_group_rules",
                    }.get(k, k)
                    if svc == "network"
                    else k
                ] = val
        v["quotas"].append(q)
        for u in t.users:
            v["users"].append({"name": u.name, "project": t.project, "description": u.description})
            for role in u.roles:
                v["grants"].append({"user": u.name, "role": role, "project": t.project})
    v["password"] = password
    return v


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars_files: [vars.yml]
  module_defaults:
    group/openstack.cloud.openstack: {cloud: "{{ lookup('env', 'OS_CLOUD') }}"}
  tasks:
    - openstack.cloud.project:
        name: "{{ item.name }}"
        description: "{{ item.description }}"
        domain: default
      loop: "{{ projects }}"
    - openstack.cloud.network: {name: "{{ item.name }}", project: "{{ item.project }}"}
      loop: "{{ networks }}"
    - openstack.cloud.subnet:
        name: "{{ item.name }}"
        network: "{{ item.network }}"
        project: "{{ item.project }}"
        cidr: "{{ item.cidr }}"
        gateway_ip: "{{ item.gateway_ip }}"
        allocation_pool_start: "{{ item.pool_start }}"
        allocation_pool_end: "{{ item.pool_end }}"
        dns_nameservers: "{{ item.dns }}"
      loop: "{{ subnets }}"
    - openstack.cloud.router:
        name: "{{ item.name }}"
        project: "{{ item.project }}"
        interfaces: "{{ item.interfaces }}"
      loop: "{{ routers }}"
    - openstack.cloud.security_group:
        name: "{{ item.name }}"
        project: "{{ item.project }}"
        description: "{{ item.description }}"
      loop: "{{ sec_groups }}"
    - openstack.cloud.security_group_rule:
        security_group: "{{ item.group }}"
        project: "{{ item.project }}"
        protocol: "{{ item.protocol }}"
        port_range_min: "{{ item.min | default(omit, true) }}"
        port_range_max: "{{ item.max | default(omit, true) }}"
        remote_ip_prefix: "{{ item.prefix | default(omit) }}"
        remote_group: "{{ item.remote_group | default(omit) }}"
      loop: "{{ rules }}"
    - openstack.cloud.quota: "{{ item }}"
      loop: "{{ quotas }}"
    - openstack.cloud.identity_user:
        name: "{{ item.name }}"
        password: "{{ password }}"
        update_password: on_create
        default_project: "{{ item.project }}"
        description: "{{ item.description }}"
        domain: default
      loop: "{{ users }}"
      no_log: true
    - openstack.cloud.role_assignment:
        user: "{{ item.user }}"
        role: "{{ item.role }}"
        project: "{{ item.project }}"
      loop: "{{ grants }}"
"""


def run_ansible(py: Path, workdir: Path, label: str, check: bool = False, reset=None) -> dict:
    """One playbook run; discarded and repeated (up to 3 times) when the lab went away."""
    for attempt in range(1, 4):
        wait_for_cloud()
        row, out = _run_ansible_once(py, workdir, label, check)
        if "Unable to establish connection" not in out:
            return row
        print(f"  {label}: the lab went away; attempt {attempt} discarded", flush=True)
        if reset:
            wait_for_cloud()
            reset()
    raise SystemExit(f"{label}: gave up after 3 attempts")


def _run_ansible_once(py: Path, workdir: Path, label: str, check: bool) -> tuple[dict, str]:
    log = workdir / f"requests-{label}.log"
    log.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_REQUEST_LOG": str(log),
        "ANSIBLE_PYTHON_INTERPRETER": str(py),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    cmd = [str(py.parent / "ansible-playbook"), "-i", "localhost,", "-c", "local", "site.yml"]
    if check:
        cmd.append("--check")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    n = len(log.read_text().splitlines()) if log.exists() else 0
    writes = sum(
        1
        for line in (log.read_text().splitlines() if log.exists() else [])
        if line.split()[0] in ("POST", "PUT", "PATCH", "DELETE") and "/auth/tokens" not in line
    )
    recap = [ln for ln in p.stdout.splitlines() if "localhost" in ln and "ok=" in ln]
    print(
        f"  {label:<38} {n:>6} req ({writes:>5} writes) {secs:>8.2f} s   rc={p.returncode} "
        f"{recap[-1].split(':', 1)[-1].strip() if recap else ''}",
        flush=True,
    )
    if p.returncode and not check and "Unable to establish connection" not in p.stdout:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-2000:])
    row = {
        "what": label,
        "requests": n,
        "writes": writes,
        "seconds": round(secs, 2),
        "rc": p.returncode,
    }
    return row, p.stdout + p.stderr


def wipe_prefix(prefix: str) -> None:
    """Delete what the Ansible run made (it carries no cloudctl marker)."""
    import openstack

    wipe_projects(openstack.connect(), prefix)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--tenants", type=int, default=45)
    ap.add_argument("--ansible-tenants", type=int, default=10)
    ap.add_argument("--no-ansible", action="store_true")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--runs", type=int, default=5, help="whole-process runs per figure")
    ap.add_argument(
        "--reuse-cloudctl",
        action="store_true",
        help="take cloudctl's figures from the last run (bench/tenant/last-run.json)",
    )
    ap.add_argument(
        "--growth",
        type=int,
        nargs="+",
        metavar="N",
        help="only the growth table: grow one cloud to each N tenants (e.g. 45 200 500)",
    )
    args = ap.parse_args()
    if args.growth:
        return growth(args.growth, min(args.runs, 3), args.parallel)

    if not os.environ.get("OS_CLOUD"):
        from cloudctl.lab.api import ensure_lab

        os.environ.update(ensure_lab(center=ROOT).env())
    all_codes = sorted(
        p.stem
        for p in (ROOT / "inventory" / "tenants").glob("*.yaml")
        if not p.name.startswith("_")
    )
    codes = all_codes[: args.tenants]
    work = Path(tempfile.mkdtemp(prefix="cloudctl-bench-"))
    center = load_center(make_center(work / "center", codes, prefix="b-", scope="bench"))
    rows = []
    print(f"cloudctl: {len(codes)} tenants (prefix b-), parallel {args.parallel}", flush=True)
    destroy_all(center, "b-")
    desired = service.load_desired(center)

    def apply(cloud):
        return apply_desired(cloud, center, desired, args.parallel)

    def noop_plan(cloud):
        plan, _ = service.plan_tenants(cloud, desired, center=center)
        assert plan.empty, [(c.action, c.kind, c.name) for c in plan.changes][:10]
        return {"changes": 0}

    last = ROOT / "bench" / "tenant" / "last-run.json"
    if args.reuse_cloudctl and last.exists():
        rows = json.loads(last.read_text())["cloudctl"]
        for r in rows:
            print(
                f"  {r['what']:<38} {r['requests']:>6} req ({r['writes']:>5} writes) "
                f"{r['seconds']:>8.2f} s   (from the last run)"
            )
    else:
        rows.append(
            measure("cloudctl apply (from empty)", apply, reset=lambda: destroy_all(center, "b-"))
        )
        rows.append(measure("cloudctl plan (no-op)", noop_plan))
        rows.append(measure("cloudctl apply (no-op)", apply))
        whole_process(center.root, args.runs)
        rows.append(measure("cloudctl destroy (all)", lambda c: destroy_all(center, "b-", c)))
    result = {"cloudctl": rows, "tenants": len(codes)}

    if not args.no_ansible:
        py = ensure_ansible_venv()
        n = min(args.ansible_tenants, len(codes))
        acodes = codes[:n]
        print(f"openstack.cloud: {n} tenants (prefix a-); {ansible_versions(py)}", flush=True)
        acenter = load_center(
            make_center(work / "acenter", acodes, prefix="a-", scope="bench-ansible")
        )
        adesired = service.load_desired(acenter)
        awork = work / "ansible"
        awork.mkdir()
        (awork / "site.yml").write_text(PLAYBOOK)
        import secrets

        (awork / "vars.yml").write_text(
            yaml.safe_dump(playbook_vars(adesired, secrets.token_urlsafe(16)))
        )
        os.chmod(awork / "vars.yml", 0o600)
        wipe_prefix("a-")
        arows = [
            run_ansible(py, awork, "ansible create", reset=lambda: wipe_prefix("a-")),
            run_ansible(py, awork, "ansible re-run (no-op)"),
            run_ansible(py, awork, "ansible --check", check=True),
        ]
        wipe_prefix("a-")
        result["ansible"] = {"tenants": n, "rows": arows, "versions": ansible_versions(py)}
        scale = len(codes) / n
        c = {r["what"]: r for r in rows}
        a = {r["what"]: r for r in arows}
        print(
            f"\nSide by side (Ansible figures scaled ×{scale:.1f} from {n} to "
            f"{len(codes)} tenants, "
            "linear: it works item by item):"
        )
        for mine, theirs in (
            ("cloudctl apply (from empty)", "ansible create"),
            ("cloudctl plan (no-op)", "ansible re-run (no-op)"),
            ("cloudctl apply (no-op)", "ansible re-run (no-op)"),
        ):
            ar, asec = a[theirs]["requests"] * scale, a[theirs]["seconds"] * scale
            cr, csec = c[mine]["requests"], c[mine]["seconds"]
            print(
                f"  {mine:<28} {cr:>6} req {csec:>7.2f} s | {theirs:<24} ~{ar:>7.0f} req "
                f"~{asec:>7.1f} s | {ar / max(cr, 1):>6.1f}× fewer req, "
                f"{asec / max(csec, 0.01):>6.1f}× faster"
            )
    out = ROOT / "bench" / "tenant" / "last-run.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)
    print(f"\n(figures saved to {out.relative_to(ROOT)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
