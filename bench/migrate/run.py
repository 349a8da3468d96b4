"""Benchmark of `cloudctl migrate` (prints figures; not a test).

  .venv/bin/python bench/migrate/run.py [--systems 2000 --deps 5000] [--skip-ansible]

0. Whole process, as a user runs it (bench/common.py): `cloudctl migrate validate` and
   `migrate plan` of a generated 2,000-system / 5,000-dependency plan in a generated
   center (departments, address plan, 4,000 inventory hosts, the shipped playbooks),
   cold (no parse cache) and warm, against the target (≤ 1 s cold); growth 20→200→2,000.
1. In process: validate + plan of a generated plan (2,000 systems, 5,000 dependencies, one step
   template), file loading included — against the naive way (pure-Python YAML loader,
   cycle check by a DFS from every system).
2. A wave of 10 independent systems whose one step sleeps 2 s, run by the real executor
   and ansible-runner with --parallel 1, 5 and 10. The step runs on localhost with
   ansible_connection=local (no SSH), so only the runner and Ansible's own cost are added.
3. Fixed cost of one Ansible step, and where it goes.
4. The shipped pre-check of 10 systems on the lab's real hosts (if the lab runs): one
   ansible-playbook per system against one run for all of them (`batch: true`).
5. Real waves on the lab (`--only lab-waves`, issue 17): 1, 10 and 20 systems moved by the
   shipped runbooks (rehost-web; rehost-web-with-db with an SQLite database each), every
   step `batch: true`, `--parallel n`, sharing legacy-web01 → yun-web01 (→ yun-db01) with
   their own units, directories and ports (lab-apps.yml installs them before every run,
   untimed). Each run against the critical path (the median of one system alone), with the
   CPU used by the controller and inside the lab hosts and the seconds of every step.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))  # labkit: the lab migration center

from common import Timing, clear_parse_cache, growth_table, header, target_table, time_cli  # noqa: E402, I001
from common import cloudctl_bin, run_once, secs  # noqa: E402
from labkit import make_migration_center  # noqa: E402

from cloudctl.core.errors import ConflictError  # noqa: E402

TEMPLATE = """version: 1
kind: step-template
name: rehost
params:
  unit: {description: unit}
  port: {default: 8080}
steps:
  - {name: precheck, kind: check, playbook: migration/precheck.yml,
     vars: {source: "${source}", unit: "${unit}"}, timeout: 3m, estimate: 30s}
  - {name: backup, playbook: migration/backup.yml, vars: {source: "${source}"},
     rollback: none, estimate: 5m}
  - {name: sync, playbook: migration/sync-data.yml,
     vars: {source: "${source}", target: "${target}"}, estimate: 20m,
     rollback: {name: clean, playbook: migration/cleanup-target.yml, vars: {target: "${target}"}}}
  - {name: cutover, playbook: migration/cutover.yml,
     vars: {target: "${target}", port: "${port}"}, estimate: 2m,
     rollback: {name: back, playbook: migration/rollback-cutover.yml, vars: {source: "${source}"}}}
  - {name: verify, kind: check, playbook: migration/verify.yml,
     vars: {target: "${target}"}, estimate: 1m}
"""


def generate_plan(d: Path, n: int, n_deps: int, seed: int = 7) -> Path:
    rnd = random.Random(seed)
    (d / "templates").mkdir(parents=True, exist_ok=True)
    (d / "templates" / "rehost.yaml").write_text(TEMPLATE)
    deps: dict[int, set[int]] = {i: set() for i in range(n)}
    added = 0
    while added < n_deps:
        a, b = rnd.randrange(n), rnd.randrange(n)
        if a == b:
            continue
        lo, hi = min(a, b), max(a, b)  # edges only from later to earlier: a DAG
        if lo not in deps[hi]:
            deps[hi].add(lo)
            added += 1
    imps = ["general", "important", "core"]
    lines = ["version: 1", "name: generated", "systems:"]
    for i in range(n):
        dl = ", ".join(f"s{j:04d}" for j in sorted(deps[i]))
        lines += [
            f"  - id: s{i:04d}",
            f"    name_zh: 系统{i}",
            f"    department: d{i % 45}",
            f"    classification: {{importance: {imps[rnd.randrange(3)]}, complexity: medium}}",
            f"    source_hosts: [old{i:04d}]",
            f"    target: {{tenant: d{i % 45}, network: d{i % 45}-app, hosts: [new{i:04d}]}}",
            f"    depends_on: [{dl}]" if dl else "    depends_on: []",
            "    data: {size: 20GiB, sync: rsync}",
            "    downtime: {window: 周六 22:00-06:00, max: 8h}",
            "    template: rehost",
            f"    params: {{unit: app{i}}}",
        ]
    p = d / "generated.yaml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def make_plan_center(c: Path, n: int, n_deps: int) -> Path:
    """A center the generated plan fully resolves in: 45 departments with one network
    each, 2n inventory hosts, the shipped playbooks."""
    (c / "migration_plans").mkdir(parents=True)
    generate_plan(c / "migration_plans", n, n_deps)
    inv = c / "inventory"
    (inv / "ipam" / "prefixes").mkdir(parents=True)
    (inv / "hosts").mkdir(parents=True)
    (inv / "departments.yaml").write_text(
        "departments:\n" + "".join(f"  - {{code: d{i}, kind: department}}\n" for i in range(45))
    )
    (inv / "ipam" / "vrfs.yaml").write_text("vrfs:\n  - {name: gov, rd: '65010:100'}\n")
    (inv / "ipam" / "zones.yaml").write_text(
        "zones:\n  - {name: core, vrf: gov, supernets: [10.0.0.0/8], vlans: 1-4094}\n"
    )
    (inv / "ipam" / "prefixes" / "apps.yaml").write_text(
        "zone: core\nprefixes:\n"
        + "".join(
            f"  - {{name: d{i}-app, prefix: 10.{i}.0.0/24, tenant: d{i}}}\n" for i in range(45)
        )
    )
    hosts = "".join(f"    old{i:04d}: {{}}\n    new{i:04d}: {{}}\n" for i in range(n))
    (inv / "hosts" / "bench.yml").write_text("all:\n  hosts:\n" + hosts)
    (c / "cloudctl.yaml").write_text(f"name: bench\nplaybooks: {ROOT / 'playbooks'}\n")
    return c


def bench_plan_cli(n: int, n_deps: int, runs: int = 5) -> None:
    """Whole `cloudctl` processes: cold (parse cache removed) and warm."""
    sizes = sorted({max(2, n // 100), max(2, n // 10), n})
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            deps = n_deps * size // n
            c = make_plan_center(Path(tmp) / f"c{size}", size, deps)
            val = ["migrate", "validate", "generated"]
            pln = ["migrate", "plan", "generated", "--auto-waves", "--max-per-wave", "200"]
            pln += ["--parallel", "10"]
            r = {
                "validate_cold": time_cli("validate, cold", val, runs, c, cold=True),
                "plan_cold": time_cli("plan, cold", pln, runs, c, cold=True),
                "validate_warm": time_cli("validate, warm", val, runs, c, warmup=1),
                "plan_warm": time_cli("plan, warm", pln, runs, c, warmup=1),
            }
            both = Timing("validate then plan, cold")
            for _ in range(runs):
                clear_parse_cache(c)
                both.loads.append(os.getloadavg()[0])
                base = [cloudctl_bin(), "--center", str(c), "--lang", "en"]
                t1, _, m1, _ = run_once(base + val)
                t2, _, m2, _ = run_once(base + pln)
                both.seconds.append(t1 + t2)
                both.max_rss_kib.append(max(m1, m2))
            r["both_cold"] = both
            rows[size] = r
    big = rows[n]
    header(f"migrate validate + plan, {n:,} systems / {n_deps:,} dependencies, whole process")
    print(
        target_table(
            [
                ("migrate validate, cold (no parse cache)", big["validate_cold"], 1.0),
                ("migrate plan, cold (no parse cache)", big["plan_cold"], 1.0),
                ("validate then plan, cold (two processes)", big["both_cold"], 1.0),
                ("migrate validate, warm", big["validate_warm"], 1.0),
                ("migrate plan, warm", big["plan_warm"], 1.0),
            ]
        )
    )
    for key, what in [("validate_cold", "validate, cold"), ("plan_warm", "plan, warm")]:
        header(f"growth: migrate {what}")
        print(growth_table(what, [(k, v[key]) for k, v in rows.items()], unit="systems"))


def bench_plan(n: int, n_deps: int) -> None:
    from cloudctl.migrate import graph, model
    from cloudctl.migrate.service import wave_table
    from cloudctl.migrate.validate import References, validate

    with tempfile.TemporaryDirectory() as tmp:
        path = generate_plan(Path(tmp), n, n_deps)
        refs = References(
            tenants={f"d{i}" for i in range(45)},
            networks={f"d{i}": {f"d{i}-app"} for i in range(45)},
            hosts={f"old{i:04d}" for i in range(n)} | {f"new{i:04d}" for i in range(n)},
            playbook_exists=lambda rel: (ROOT / "playbooks" / rel).is_file(),
        )

        def once(cache):
            t0 = time.perf_counter()
            plan = model.load_plan(path, cache_dir=cache)
            t1 = time.perf_counter()
            probs = validate(plan, refs)
            t2 = time.perf_counter()
            table = wave_table(plan, True, 200, 10)
            t3 = time.perf_counter()
            assert not probs, probs[:3]
            return (t3 - t0, t1 - t0, t2 - t1, t3 - t2), plan, table

        from cloudctl.core import yamlio

        def cold_once():
            yamlio._SCALAR_TAGS.clear()  # a new process would start without it
            return once(None)[0]

        cold = min(cold_once() for _ in range(3))
        cache = Path(tmp) / "cache"
        once(cache)  # fills the parse cache
        warm_runs = [once(cache) for _ in range(3)]
        warm = min(r[0] for r in warm_runs)
        _, plan, table = warm_runs[0]
        edges = sum(len(s.depends_on) for s in plan.systems.values())
        print(
            f"[1] plan of {len(plan.systems)} systems, {edges} dependencies, "
            f"{sum(len(s.steps) for s in plan.systems.values())} steps "
            f"({path.stat().st_size / 1e6:.1f} MB YAML); references (tenants, networks, hosts) in "
            "memory"
        )
        for label, (tot, load, val, pl) in (
            ("first read (YAML parsed)", cold),
            ("plan unchanged since (parse cache)", warm),
        ):
            print(
                f"    cloudctl, {label}: load {load:.3f}s + validate {val:.3f}s + "
                f"auto-waves/estimates {pl:.3f}s "
                f"= {tot:.3f}s (target < 1 s: {'met' if tot < 1 else 'NOT met'})"
            )
        print(f"    {len(table['waves'])} waves computed")

        # the naive way: pure-Python YAML loader; cycle check by a DFS from every system
        import yaml

        t0 = time.perf_counter()
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        t1 = time.perf_counter()
        deps = {s["id"]: s.get("depends_on") or [] for s in raw["systems"]}
        sample = list(deps)[:200]
        for start in sample:
            seen, stack = set(), [start]
            while stack:
                x = stack.pop()
                for d in deps[x]:
                    if d == start:
                        raise SystemExit("cycle?")
                    if d not in seen:
                        seen.add(d)
                        stack.append(d)
        t2 = time.perf_counter()
        naive = (t1 - t0) + (t2 - t1) * len(deps) / len(sample)
        print(
            f"    naive:    pure-Python YAML load {t1 - t0:.3f}s + DFS per system "
            f"~{(t2 - t1) * len(deps) / len(sample):.3f}s "
            f"(extrapolated from {len(sample)}) = ~{naive:.2f}s, before any template expansion"
        )
        # cycle detection on the same graph with one back edge closing a long chain
        d2 = graph.edges(plan.systems)
        top = max(d2, key=lambda k: (len(d2[k]), k))
        chain = [top]
        while d2[chain[-1]]:
            chain.append(d2[chain[-1]][0])
        d2[chain[-1]] = [*d2[chain[-1]], top]
        t0 = time.perf_counter()
        cyc = graph.find_cycles(d2)
        print(
            f"    one back edge added: cycle found in {time.perf_counter() - t0:.3f}s "
            f"(path of {len(cyc[0]) - 1} systems: {' → '.join(cyc[0][:4])} …)"
        )


SLEEP_PLAYBOOK = """---
- name: A step that takes 2 s
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Work
      ansible.builtin.command: sleep {{ seconds | default(2) }}
      changed_when: false
"""

SLEEP_BATCH_PLAYBOOK = """---
- name: A step that takes 2 s, for every system of the batch at once
  hosts: "{{ migrate_batch | default('localhost') }}"
  gather_facts: false
  tasks:
    - name: Work
      ansible.builtin.command: sleep {{ seconds | default(2) }}
      changed_when: false
"""

NOOP_PLAYBOOK = """---
- name: Nothing
  hosts: "{{ target | default('localhost') }}"
  gather_facts: false
  tasks:
    - name: One trivial task
      ansible.builtin.ping:
"""


def make_center(d: Path, n: int) -> Path:
    c = d / "center"
    (c / "playbooks" / "bench").mkdir(parents=True)
    (c / "migration_plans").mkdir()
    shutil.copy(ROOT / "inventory" / "departments.yaml", d / "departments.yaml")
    (c / "cloudctl.yaml").write_text(
        f"name: bench\ndepartments: {d / 'departments.yaml'}\naddress_plan: "
        f"{ROOT / 'inventory' / 'ipam'}\n"
    )
    (c / "playbooks" / "bench" / "sleep.yml").write_text(SLEEP_PLAYBOOK)
    (c / "playbooks" / "bench" / "noop.yml").write_text(NOOP_PLAYBOOK)
    (c / "playbooks" / "bench" / "sleep-batch.yml").write_text(SLEEP_BATCH_PLAYBOOK)
    inv = c / "inventory" / "hosts"
    inv.mkdir(parents=True)
    (inv / "local.yml").write_text(
        "all:\n  hosts:\n    localhost: {ansible_connection: local, ansible_python_interpreter: "
        + sys.executable
        + "}\n"
    )
    systems = "\n".join(
        f"  - {{id: app{i:02d}, name_zh: 应用{i}, department: dzzwb, strategy: retain, "
        f"steps: [{{name: work, kind: check, playbook: bench/sleep.yml}}]}}"
        for i in range(n)
    )
    (c / "migration_plans" / "bench.yaml").write_text(
        f"version: 1\nname: bench\nsystems:\n{systems}\nwaves:\n  - {{id: w, systems: "
        f"[{', '.join(f'app{i:02d}' for i in range(n))}]}}\n"
    )
    (c / "migration_plans" / "bench-batch.yaml").write_text(
        (c / "migration_plans" / "bench.yaml")
        .read_text()
        .replace("name: bench\n", "name: bench-batch\n")
        .replace("playbook: bench/sleep.yml}", "playbook: bench/sleep-batch.yml, batch: true}")
    )
    return c


def bench_wave(n: int = 10) -> None:
    from cloudctl.core.center import load_center
    from cloudctl.migrate import service
    from cloudctl.migrate.journal import Journal

    with tempfile.TemporaryDirectory() as tmp:
        c = make_center(Path(tmp), n)
        center = load_center(c)
        plan = c / "migration_plans" / "bench.yaml"
        # retained systems are skipped by `run`: make them movers for the bench
        plan.write_text(plan.read_text().replace("strategy: retain", "strategy: retire"))
        bplan = c / "migration_plans" / "bench-batch.yaml"
        bplan.write_text(bplan.read_text().replace("strategy: retain", "strategy: retire"))
        # one system alone = the wave's critical path (all systems are independent)
        results = {}
        for par, ids in (("crit", ["app00"]), (1, None), (5, None), (10, None)):
            j = Journal(Path(tmp) / f"j-{par}.db")
            t0 = time.perf_counter()
            try:
                res = service.start_run(
                    center, plan, "w", journal=j, systems=ids, parallel=1 if par == "crit" else par
                )
            except ConflictError as e:
                raise SystemExit(str(e)) from None
            results[par] = time.perf_counter() - t0
            assert res.status == "done", res
        for par in (1, 5, 10):  # the same wave with the step marked `batch: true`
            j = Journal(Path(tmp) / f"jb-{par}.db")
            t0 = time.perf_counter()
            res = service.start_run(center, bplan, "w", journal=j, parallel=par)
            results[f"b{par}"] = time.perf_counter() - t0
            assert res.status == "done", res
        crit = results["crit"]
        print(
            f"[2] wave of {n} independent systems, one 2 s step each (localhost, "
            "ansible_connection=local, 2 CPU cores)"
        )
        print(
            f"    critical path (one system alone): {crit:.1f}s  (2 s of work + {crit - 2:.1f}s "
            "runner cost)"
        )
        for par in (1, 5, 10):
            ideal = crit * -(-n // par)
            print(
                f"    --parallel {par:<2}: {results[par]:5.1f}s  = {results[par] / crit:4.2f}× "
                "critical path; "
                f"ideal for {par} slots {ideal:.1f}s ({results[par] / ideal:4.2f}× ideal)"
            )
        for par in (1, 5, 10):
            r = results[f"b{par}"]
            print(
                f"    batch: true, --parallel {par:<2}: {r:5.1f}s  = {r / crit:4.2f}× critical "
                f"path (one ansible-playbook per {par} system{'s' if par > 1 else ''} at the step)"
            )
        print(
            "    target, batched step: --parallel 10 = "
            f"{results['b10'] / crit:.2f}× ({'met' if results['b10'] / crit <= 1.5 else 'NOT met'})"
        )
        print(
            "    target 'parallel within 1.5× of the critical path': --parallel 10 = "
            f"{results[10] / crit:.2f}× "
            f"({'met' if results[10] / crit <= 1.5 else 'NOT met'}); "
            "--parallel 5 must run 2 rounds "
            "(10 systems / 5 slots)"
        )


def bench_wave_growth(sizes: list[int], runs: int) -> None:
    """Whole `cloudctl migrate run` processes: a wave of n independent systems (one 2 s
    step each, `batch: true`, localhost) with --parallel n, against the critical path (one
    system alone, the same command). Every run is shown: the target holds for each."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            c = make_center(Path(tmp) / f"w{n}", n)
            bplan = c / "migration_plans" / "bench-batch.yaml"
            bplan.write_text(bplan.read_text().replace("strategy: retain", "strategy: retire"))
            journals = iter(range(10_000))

            def cmd(i: int, n=n, c=c, systems=None, journals=journals):
                j = c / f"j{next(journals)}.db"
                extra = ["--systems", systems] if systems else []
                return ["migrate", "run", "bench-batch", "-w", "w", "-p", str(n),
                        "--journal", str(j), *extra]  # fmt: skip

            crit = time_cli("one system", lambda i: cmd(i, systems="app00"), runs, c)
            wave = time_cli(f"wave of {n}", cmd, runs, c)
            rows.append((n, crit, wave))
    header("migrate wave, whole process: n independent 2 s systems, --parallel n, batch: true")
    lines = []
    for n, crit, wave in rows:
        ratios = [w / crit.median for w in wave.seconds]
        worst = max(ratios)
        lines.append(
            f"  {n:>3} systems: wave {wave.text()}, critical path {crit.text()}; "
            f"each run / critical path: {', '.join(f'{r:.2f}×' for r in ratios)} "
            f"(target ≤ 1.5× in every run: {'met' if worst <= 1.5 else 'NOT met'}) "
            f"[{wave.load_text()}]"
        )
    print("\n".join(lines))
    print(growth_table("wave, --parallel n", [(n, w) for n, _, w in rows], unit="systems"))


def bench_step_cost(lab_host: str | None) -> None:
    from cloudctl.ansible.runner import ansible_env, run_playbook

    with tempfile.TemporaryDirectory() as tmp:
        c = make_center(Path(tmp), 1)
        inv = c / "inventory" / "hosts"
        pb = c / "playbooks" / "bench" / "noop.yml"
        env = {**ansible_env()}
        t0 = time.perf_counter()
        import ansible_runner  # noqa: F401

        imp = time.perf_counter() - t0
        pb_bin = str(Path(sys.executable).parent / "ansible-playbook")

        def best(cmd):
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                subprocess.run(cmd, capture_output=True, env=env, check=True)
                ts.append(time.perf_counter() - t0)
            return min(ts)

        start = best([pb_bin, "--version"])
        direct = best([pb_bin, "-i", str(inv), str(pb)])
        runs = []
        for i in range(3):
            t0 = time.perf_counter()
            r = run_playbook(pb, inv, artifacts_root=Path(tmp) / "art", ident=f"n{i}")
            runs.append(time.perf_counter() - t0)
            assert r.ok
        step = min(runs)
        print("[3] fixed cost of one Ansible step (one trivial task)")
        print(f"    import ansible_runner (once per cloudctl process): {imp:.2f}s")
        print(f"    ansible-playbook --version (Python start + Ansible imports): {start:.2f}s")
        print(f"    ansible-playbook, 1 task on localhost directly: {direct:.2f}s")
        print(
            f"    the same through ansible-runner (events, artifacts): {step:.2f}s "
            f"(target < 1.5 s: {'met' if step < 1.5 else 'NOT met'})"
        )
        print(
            f"      → process start + imports {start:.2f}s, inventory/play/task "
            f"{max(direct - start, 0):.2f}s, "
            f"runner's event files + pexpect {max(step - direct, 0):.2f}s"
        )
        if lab_host:
            from cloudctl.lab.api import lab_info

            info = lab_info()
            if info and lab_host in info.hosts and Path(info.inventory).exists():
                ssh_runs = []
                for i in range(3):
                    t0 = time.perf_counter()
                    r = run_playbook(
                        pb,
                        info.inventory,
                        artifacts_root=Path(tmp) / "art",
                        ident=f"s{i}",
                        extravars={"target": lab_host},
                    )
                    ssh_runs.append(time.perf_counter() - t0)
                if r.ok:
                    print(
                        f"    1 task over SSH on lab host {lab_host}: first {ssh_runs[0]:.2f}s, "
                        "warm "
                        f"(ControlPersist) {min(ssh_runs[1:]):.2f}s"
                    )
            else:
                print("    (lab not running: SSH figure skipped)")


def bench_precheck(n: int = 10) -> None:
    """The shipped pre-check (playbooks/migration/precheck.yml) of n systems on the lab's
    real hosts over SSH: one ansible-playbook per system against one for all (batch: true)."""
    import json

    from cloudctl.core.center import load_center
    from cloudctl.lab.api import lab_info
    from cloudctl.migrate import service
    from cloudctl.migrate.journal import Journal

    info = lab_info()
    if not info or len(info.hosts) < 2 or not Path(info.inventory).exists():
        print("[4] (lab not running: shipped pre-check on real hosts skipped)")
        return
    hosts = list(info.hosts)
    with tempfile.TemporaryDirectory() as tmp:
        c = make_center(Path(tmp), 1)
        shutil.copytree(ROOT / "playbooks" / "migration", c / "playbooks" / "migration")
        ids = [f"sys{i:02d}" for i in range(n)]

        def plan(name: str, batch: bool) -> Path:
            rows = []
            for i, sid in enumerate(ids):
                v = {  # read-only: a unit every host runs, /etc as "data", a free port
                    "source": hosts[i % len(hosts)],
                    "target": hosts[(i + 1) % len(hosts)],
                    "unit": "systemd-journald.service",
                    "data_dir": "/etc",
                    "port": 1,
                    "min_free_mb": 1,
                }
                rows.append(
                    f"  - {{id: {sid}, name_zh: 系统{i}, department: dzzwb, strategy: retire, "
                    f"steps: [{{name: precheck, kind: check, playbook: migration/precheck.yml, "
                    f"batch: {str(batch).lower()}, vars: {json.dumps(v)}}}]}}"
                )
            p = c / "migration_plans" / f"{name}.yaml"
            p.write_text(
                f"version: 1\nname: {name}\nsystems:\n"
                + "\n".join(rows)
                + f"\nwaves:\n  - {{id: w, systems: [{', '.join(ids)}]}}\n"
            )
            return p

        center = load_center(c)
        inv = [Path(info.inventory)]
        times: dict[str, float] = {}
        for label, p, par, only in (
            ("warm-up", plan("alone", False), 1, ids[:1]),
            ("one system", plan("alone", False), 1, ids[:1]),
            ("--parallel 1", plan("alone", False), 1, None),
            ("--parallel 10", plan("alone", False), 10, None),
            ("--parallel 10, batch: true", plan("batched", True), 10, None),
        ):
            j = Journal(Path(tmp) / f"j-{len(times)}.db")
            t0 = time.perf_counter()
            res = service.start_run(
                center, p, "w", journal=j, parallel=par, systems=only, inventory=inv
            )
            times[label] = time.perf_counter() - t0
            if res.status != "done":
                raise SystemExit(f"[4] pre-check run failed: {res}")
        one = times["one system"]
        print(
            "[4] the shipped pre-check (precheck.yml: one command on the source, one on the "
            f"target, over SSH) of {n} systems on {len(hosts)} lab hosts"
        )
        for label in ("one system", "--parallel 1", "--parallel 10", "--parallel 10, batch: true"):
            print(f"    {label:<27}: {times[label]:5.1f}s = {times[label] / one:4.2f}× one system")


LAB_TEMPLATES = {"web": "rehost-web", "db": "rehost-web-with-db"}
LAB_SOURCE, LAB_TARGET, LAB_DB = "legacy-web01", "yun-web01", "yun-db01"


def lab_app(i: int) -> dict:
    """Bench system i's app: its own unit, directories, port and database (the systems
    share the lab's 3 hosts)."""
    sid = f"bw{i:02d}"
    return {
        "id": sid,
        "unit": f"{sid}-web",
        "app_dir": f"/opt/{sid}",
        "data_dir": f"/srv/{sid}/data",
        "port": 8300 + i,
        "service_name": f"{sid}.bench.xiaogan.gov.cn",
        "db_path": f"/srv/{sid}/db/app.sqlite",
    }


def make_lab_center(d: Path, n: int, lab_inventory: Path) -> Path:
    """A copy of the sample center (templates, address plan, departments, inventory + the
    lab's lab.yml, the shipped playbooks) with one plan per shipped runbook: n systems
    moving legacy-web01 → yun-web01 (databases → yun-db01), all in wave `w`."""
    c = make_migration_center(d, lab_inventory)
    for key, tpl in LAB_TEMPLATES.items():
        rows = []
        for i in range(1, n + 1):
            a = lab_app(i)
            params = (
                f"unit: {a['unit']}, app_dir: {a['app_dir']}, data_dir: {a['data_dir']}, "
                f"port: {a['port']}, service_name: {a['service_name']}, min_free_mb: 10"
            )
            if key == "db":
                params += f", db_source: {LAB_SOURCE}, db_target: {LAB_DB}, db_path: {a['db_path']}"
            rows.append(
                f"  - id: {a['id']}\n    name_zh: 基准系统{i}\n    department: dzzwb\n"
                f"    classification: {{importance: general, complexity: low}}\n"
                f"    source_hosts: [{LAB_SOURCE}]\n"
                f"    target: {{tenant: dzzwb, network: dzzwb-web, hosts: [{LAB_TARGET}]}}\n"
                f"    template: {tpl}\n    params: {{{params}}}\n"
            )
        ids = ", ".join(lab_app(i)["id"] for i in range(1, n + 1))
        (c / "migration_plans" / f"labwave-{key}.yaml").write_text(
            f"version: 1\nname: labwave-{key}\nsystems:\n{''.join(rows)}"
            f"waves:\n  - {{id: w, systems: [{ids}]}}\n"
        )
    return c


def lab_reset_apps(c: Path, n: int) -> None:
    """Untimed, before every wave: targets emptied, the n apps serving on the source."""
    from cloudctl.ansible.runner import run_playbook
    from cloudctl.core.center import load_center
    from cloudctl.migrate import service
    from cloudctl.migrate.runbook import failure_message

    center = load_center(c)
    runner = service.step_runner_for(center, None)
    Path(runner.extravars["migrate_names_file"]).parent.mkdir(parents=True, exist_ok=True)
    res = run_playbook(
        Path(__file__).with_name("lab-apps.yml"),
        runner.inventory,
        artifacts_root=c / ".cloudctl" / "artifacts" / "bench-seed",
        extravars={
            "apps": [lab_app(i) for i in range(1, n + 1)],
            "source": LAB_SOURCE,
            "targets": [LAB_TARGET, LAB_DB],
            "names_file": runner.extravars["migrate_names_file"],
        },
        ssh_trust=runner.ssh_trust,
    )
    if not res.ok:
        raise SystemExit(f"lab seed failed: {failure_message(res.events) or res.status}")


def lab_hosts_cpu() -> float:
    """CPU seconds used so far inside the lab's hosts (every process under a
    systemd-nspawn, with its waited-for children): the remote half of a step's cost
    (module runs, ssh sessions), which the controller's rusage does not see."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[int, float, str]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        f = raw[raw.rindex(")") + 2 :].split()
        # fields after comm: state ppid ... utime(12) stime(13) cutime(14) cstime(15)
        procs[int(d.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / tick, comm)
    roots = {pid for pid, (_pp, _c, comm) in procs.items() if comm == "systemd-nspawn"}
    total = 0.0
    for pid, (_ppid, cpu, _comm) in procs.items():
        p, seen = pid, 0
        while p in procs and p not in roots and seen < 64:
            p, seen = procs[p][0], seen + 1
        if p in roots and pid not in roots:
            total += cpu
    return total


def step_times(journal: Path) -> dict[str, tuple[float, int]]:
    """Per forward step of the journal's run: wall seconds (the slowest system's) and the
    number of ansible-playbook runs it took (1 when the whole wave went as one batch)."""
    import sqlite3

    con = sqlite3.connect(journal)
    rows = con.execute(
        "SELECT step_name, MAX(ended - started), COUNT(DISTINCT artifact) FROM migrate_steps "
        "WHERE phase = 'forward' AND status = 'ok' GROUP BY step_index, step_name "
        "ORDER BY step_index"
    ).fetchall()
    con.close()
    return {name: (float(t or 0), int(k)) for name, t, k in rows}


def bench_lab_waves(sizes: list[int], runs: int, templates: list[str]) -> None:
    """Real waves on the lab (issue 17): n systems, each a real app with its data (and its
    SQLite database for rehost-web-with-db), moved by the shipped runbook, every step
    `batch: true`, `--parallel n`; each run of n against the critical path = the median of
    one system alone through the same command. Whole `cloudctl migrate run` processes."""
    from cloudctl.lab.api import lab_info

    info = lab_info()
    if not info or not {LAB_SOURCE, LAB_TARGET, LAB_DB} <= set(info.hosts):
        print("[lab waves] (lab not running: skipped)")
        return
    from cloudctl.lab.api import reset_host

    top = max(sizes)
    results: dict[str, list[tuple[int, Timing, dict[str, float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        c = make_lab_center(Path(tmp), top, Path(info.inventory))
        for key in templates:
            rows = []
            for n in sizes:
                journals: list[Path] = []
                ids = ",".join(lab_app(i)["id"] for i in range(1, n + 1))

                def cmd(i: int, n=n, ids=ids, journals=journals, key=key):
                    j = c / f"j-{key}-{n}-{i}.db"
                    journals.append(j)
                    return ["migrate", "run", f"labwave-{key}", "-w", "w", "-p", str(n),
                            "--systems", ids, "--approve", "all", "--journal", str(j)]  # fmt: skip

                remote: list[float] = []
                mark: list[float] = []

                def before(n=n, remote=remote, mark=mark):
                    if mark:  # the previous run's CPU inside the lab hosts
                        remote.append(lab_hosts_cpu() - mark.pop())
                    lab_reset_apps(c, n)
                    mark.append(lab_hosts_cpu())

                t = time_cli(f"{key} wave of {n}", cmd, runs, c, before=before)
                remote.append(lab_hosts_cpu() - mark.pop())
                t.remote_cpu = remote  # type: ignore[attr-defined]
                rows.append((n, t, step_times(journals[-1])))
                print(
                    f"    [{LAB_TEMPLATES[key]}] {n:>2} systems: {t.text()}, CPU controller "
                    f"{t.cpu_median:.1f} s + lab hosts {statistics.median(remote):.1f} s "
                    f"[{t.load_text()}]"
                )
            results[key] = rows
    for h in (LAB_SOURCE, LAB_TARGET, LAB_DB):
        reset_host(h)
    for key, rows in results.items():
        header(
            f"migrate wave on the lab, whole process: the shipped {LAB_TEMPLATES[key]}, every "
            "step batch: true, --parallel n (legacy-web01 → yun-web01"
            + (", databases → yun-db01)" if key == "db" else ")")
        )
        crit = next(t for n, t, _ in rows if n == 1) if rows[0][0] == 1 else rows[0][1]
        for n, t, _steps in rows:
            ratios = [w / crit.median for w in t.seconds]
            worst = max(ratios)
            print(
                f"  {n:>3} systems: wave {t.text()}, CPU {t.cpu_median:.1f} s controller + "
                f"{statistics.median(t.remote_cpu):.1f} s lab hosts; critical path "
                f"(1 system) {secs(crit.median)}; each run / critical path: "
                f"{', '.join(f'{r:.2f}×' for r in ratios)} (target ≤ 1.5× in every run: "
                f"{'met' if worst <= 1.5 else f'NOT met, worst {worst:.2f}×'}) [{t.load_text()}]"
            )
        names = list(rows[-1][2])
        print(
            "  where the time goes: seconds per step (slowest system) in the last run "
            "[ansible-playbook runs it took]:"
        )
        print("    " + f"{'systems':>8} " + " ".join(f"{x[:12]:>12}" for x in names))
        for n, _t, steps in rows:
            cells = []
            for x in names:
                sec, k = steps.get(x, (0.0, 0))
                cells.append(f"{sec:>7.1f} [{k:>2}]")
            print("    " + f"{n:>8} " + " ".join(cells))
        print(growth_table("wave, --parallel n", [(n, t) for n, t, _ in rows], unit="systems"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--systems", type=int, default=2000)
    ap.add_argument("--deps", type=int, default=5000)
    ap.add_argument("--skip-ansible", action="store_true")
    ap.add_argument(
        "--only",
        choices=["cli", "plan", "wave", "waves", "step", "precheck", "lab-waves"],
        help="run one part only",
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lab-host", default="yun-web01")
    ap.add_argument("--lab-sizes", default="1,10,20", help="lab waves: systems per wave")
    ap.add_argument(
        "--lab-runbooks", default="web,db", help="lab waves: web (rehost-web), db (with-db)"
    )
    a = ap.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (figures scale with it)")
    if a.only in (None, "cli"):
        bench_plan_cli(a.systems, a.deps, a.runs)
    if a.only in (None, "plan"):
        bench_plan(a.systems, a.deps)
    if not a.skip_ansible and a.only in (None, "wave"):
        bench_wave()
    if not a.skip_ansible and a.only in (None, "waves"):
        bench_wave_growth([1, 10, 20], a.runs)
    if not a.skip_ansible and a.only in (None, "step"):
        bench_step_cost(a.lab_host)
    if not a.skip_ansible and a.only in (None, "precheck"):
        bench_precheck()
    if not a.skip_ansible and a.only in (None, "lab-waves"):
        sizes = [int(x) for x in a.lab_sizes.split(",")]
        bench_lab_waves(sizes, a.runs, a.lab_runbooks.split(","))


if __name__ == "__main__":
    main()
