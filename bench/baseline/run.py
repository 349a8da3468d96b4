"""Benchmark of `cloudctl baseline check` against the lab's SSH hosts, side by side with
the naive way (one Ansible task per control) and peer scanners (OpenSCAP's oscap with the
SCAP Security Guide content for Debian, Lynis), per host and for all hosts.

    .venv/bin/python bench/baseline/run.py [--repeat 3] [--no-peers] [--growth-only]

Runs on the lab as it is: it never changes the lab's host count (issue 17's 1 → 10 → 30
hosts need `cloudctl lab up --hosts 30` first, which this bench does not do). With
--remediate it also remediates 11 of the extra `lab-hostNN` hosts (never the center's own).
Needs root for apt-get (the peer scanners are installed here, on the controller, only).
Figures are wall-clock times of whole commands, the median of --repeat runs. The growth
table (bench/common.py: whole `cloudctl baseline check` processes, median and min–max,
load next to it) goes 1 → 2 → all hosts of the running lab.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT))

sys.path.insert(0, str(PROJECT / "bench"))

from common import growth_table, header, target_table, time_cli  # noqa: E402

from cloudctl.ansible.runner import ansible_env  # noqa: E402
from cloudctl.baseline.catalog import load_profile  # noqa: E402
from cloudctl.lab.api import lab_info  # noqa: E402

SSG = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml"
SSG_PROFILE = "xccdf_org.ssgproject.content_profile_standard"
# host keys checked against the keys `lab up` recorded, as everywhere else
SSH_OPTS = [
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "UserKnownHostsFile=/var/lib/cloudctl/lab/known_hosts",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "BatchMode=yes",
]


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.monotonic()
        out = fn()
        times.append(time.monotonic() - t0)
    return statistics.median(times), out


def make_center(lab) -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    inv = root / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    shutil.copy(lab.inventory, inv / "lab.yml")
    for g in ("lab.yml", "db.yml"):
        src = PROJECT / "inventory/hosts/group_vars" / g
        if src.exists():
            shutil.copy(src, inv / "group_vars" / g)
    (root / "cloudctl.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "bench",
                "policies": str(PROJECT / "policies"),
                "playbooks": str(PROJECT / "playbooks"),
                "evidence": str(PROJECT / "inventory/evidence"),
                "hosts_inventory": "inventory",
                "state": ".cloudctl",
            }
        )
    )
    return root


def cloudctl_check(center: Path, limit: str, updates: bool) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "cloudctl",
        "--center",
        str(center),
        "baseline",
        "check",
        "-l",
        limit,
        "-o",
        "json",
        "--no-store",
    ] + ([] if updates else ["--no-updates"])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode not in (0, 1):
        raise RuntimeError(f"cloudctl failed: {r.stderr[-500:]}")
    doc = json.loads(r.stdout)
    if doc["summary"]["hosts_unreachable"]:
        raise RuntimeError(f"unreachable during the run: {doc['summary']['hosts_unreachable']}")
    return doc


def naive_playbook(path: Path) -> int:
    """One task per automated control, each fetching that control's own evidence."""
    prof = load_profile(PROJECT / "policies")
    tasks = []
    for c in prof.automated:
        chk = c.check if c.check.get("type") not in ("all_of", "any_of") else c.check["checks"][0]
        t = chk["type"]
        name = f"{c.id}"
        if t in ("sshd", "sshd_any"):
            task = {"ansible.builtin.command": "sshd -T", "changed_when": False}
        elif t == "packages":
            task = {
                "ansible.builtin.shell": "dpkg-query -W -f '${Package} ${Status}\\n' || true",
                "changed_when": False,
            }
        elif t == "services":
            task = {
                "ansible.builtin.shell": f"systemctl is-enabled {' '.join(chk['enabled_any'])} || true",  # noqa: E501
                "changed_when": False,
            }
        elif t in ("keyval", "file_regex"):
            path_ = chk.get("path") or (chk.get("paths") or ["/etc/login.defs"])[0]
            task = {"ansible.builtin.stat": {"path": path_.replace("*", "")}}
        elif t == "file_mode":
            task = {"ansible.builtin.stat": {"path": chk["paths"][0]}}
        elif t == "sysctl":
            task = {
                "ansible.builtin.shell": f"cat /etc/sysctl.d/*.conf /etc/sysctl.conf 2>/dev/null; sysctl -n {chk['key']} || true",  # noqa: E501
                "changed_when": False,
            }
        else:
            task = {"ansible.builtin.stat": {"path": "/etc/login.defs"}}
        tasks.append({"name": name, **task})
    play = [
        {
            "name": "naive: one task per control",
            "hosts": "all",
            "gather_facts": False,
            "become": True,
            "tasks": tasks,
        }
    ]
    path.write_text(yaml.safe_dump(play, sort_keys=False))
    return len(tasks)


def naive_run(pb: Path, inventory: Path, limit: str, forks: int) -> None:
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(inventory),
            str(pb),
            "-l",
            limit,
            "-f",
            str(forks),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, **ansible_env()},
        timeout=1800,
    )
    if r.returncode != 0:
        raise RuntimeError("naive playbook failed: " + r.stdout[-600:])


def ensure_peers() -> tuple[bool, bool]:
    need = []
    if not shutil.which("oscap") or not Path(SSG).exists():
        need += ["openscap-scanner", "openscap-utils", "ssg-debian"]
    if not shutil.which("lynis"):
        need.append("lynis")
    if need and os.geteuid() == 0:
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *need],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            timeout=600,
        )
    return bool(shutil.which("oscap-chroot") and Path(SSG).exists()), bool(shutil.which("lynis"))


def oscap_hosts(lab, names: list[str]) -> tuple[int, dict]:
    """Offline scan of each host's root file system, one host at a time (what oscap-chroot
    offers; oscap-ssh is also one host at a time and needs oscap on every host)."""
    results: dict[str, int] = {}
    rules = 0
    for n in names:
        root = lab.dir / "hosts" / n / "merged"
        r = subprocess.run(
            ["oscap-chroot", str(root), "xccdf", "eval", "--profile", SSG_PROFILE, SSG],
            capture_output=True,
            text=True,
            timeout=600,
        )
        verdicts = re.findall(r"^Result\s+(\w+)", r.stdout, re.M)
        for v in verdicts:
            results[v] = results.get(v, 0) + 1
        rules = len(verdicts)
    return rules, results


def lynis_bundle() -> Path:
    b = Path(tempfile.mkdtemp(prefix="lynis-"))
    shutil.copytree("/usr/share/lynis", b / "lynis")
    shutil.copy("/usr/sbin/lynis", b / "lynis" / "lynis")
    if Path("/etc/lynis/default.prf").exists():
        shutil.copy("/etc/lynis/default.prf", b / "lynis" / "default.prf")
    subprocess.run(["tar", "-C", str(b), "-czf", str(b / "lynis.tgz"), "lynis"], check=True)
    return b / "lynis.tgz"


def lynis_host(lab, name: str, bundle: Path) -> int:
    h = lab.hosts[name]
    remote = (
        "sudo rm -rf /tmp/lynis && sudo tar -C /tmp -xzf - && cd /tmp/lynis && "
        "sudo ./lynis audit system --quick --no-colors --no-log --profile default.prf 2>&1 | grep -c '\\['"  # noqa: E501
    )
    with bundle.open("rb") as fh:
        r = subprocess.run(
            [
                "ssh",
                *SSH_OPTS,
                "-i",
                str(h.key_file),
                "-p",
                str(h.port),
                f"{h.user}@127.0.0.1",
                remote,
            ],
            stdin=fh,
            capture_output=True,
            text=True,
            timeout=900,
        )
    return int(r.stdout.strip() or 0)


def growth(center: Path, names: list[str], runs: int) -> None:
    """One `baseline check` of 1, 10, 30 hosts (those the running lab has), whole process."""
    rows = []
    sizes = sorted({k for k in (1, 10, 30) if k <= len(names)} | {len(names)})
    for k in sizes:
        limit = ",".join(names[:k])
        args = ["baseline", "check", "-l", limit, "--no-store", "--no-updates", "-o", "json"]
        t = time_cli(f"check, {k} hosts", args, runs, center, warmup=1, ok=(0, 1))
        rows.append((k, t))
    header("baseline check, whole process, growth with the number of hosts")
    print(growth_table("baseline check --no-updates", rows, unit="hosts"))
    one = rows[0][1]
    for k, t in rows[1:]:
        print(f"  {k} hosts / 1 host: {t.median / one.median:.2f}×")
    if len(names) < 30:
        print(f"  (the lab runs {len(names)} hosts; 30 need `cloudctl lab up --hosts 30`)")
    print(target_table([("baseline check, 1 host (issue-3 target < 2 s)", one, 2.0)]))


def remediate_growth(center: Path, names: list[str]) -> None:
    """`baseline remediate` of 1 and of 10 fresh hosts (never the center's own three: only
    the extra `lab-hostNN`), then the 10 again (converged: nothing to change). Each host is
    remediated once from its fresh state, so each figure is one run."""
    extra = [n for n in names if n.startswith("lab-host")]
    if len(extra) < 11:
        print(f"\n(remediate growth needs 11 extra lab hosts, the lab has {len(extra)}: not run)")
        return
    ten, single = extra[:10], extra[10]
    rows = []
    for label, hosts in (("1 host", [single]), ("10 hosts", ten), ("10 hosts, converged", ten)):
        args = ["baseline", "remediate", "-l", ",".join(hosts), "-o", "json"]
        rows.append((label, time_cli(f"remediate, {label}", args, 1, center, ok=(0, 1))))
    header("baseline remediate, whole process (fresh lab hosts)")
    for label, t in rows:
        print(f"  remediate, {label:<20} {t.text():<28} CPU {t.cpu_median:.1f} s  "
              f"[{t.load_text()}]")  # fmt: skip
    print(f"  10 hosts / 1 host: {rows[1][1].median / rows[0][1].median:.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--growth-only", action="store_true", help="only the 1 → N hosts table")
    ap.add_argument(
        "--remediate",
        action="store_true",
        help="also time `baseline remediate` of 1 and 10 fresh extra lab hosts (changes them)",
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument(
        "--lynis-hosts", type=int, default=0, help="run Lynis on this many hosts (0 = all)"
    )
    args = ap.parse_args()

    lab = lab_info()  # the lab as it runs: its host count is not this bench's to change
    if lab is None:
        raise SystemExit("the lab is not running: `cloudctl lab up` first")
    names = list(lab.hosts)
    one = names[-1]
    center = make_center(lab)
    inventory = center / "inventory"
    n = len(names)
    prof = load_profile(PROJECT / "policies")
    print(
        f"lab: {n} hosts ({', '.join(names)}); catalog: {len(prof.automated)} automated + "
        f"{len(prof.manual)} manual controls; median of {args.repeat} runs"
    )

    growth(center, names, args.repeat)
    if args.remediate:
        remediate_growth(center, names)
    if args.growth_only:
        shutil.rmtree(center, ignore_errors=True)
        return

    rows: list = []
    try:
        for updates in (False, True):
            label = "cloudctl baseline check" + (
                " (with update query)" if updates else " --no-updates"
            )
            t1, _d1 = timed(lambda u=updates: cloudctl_check(center, one, u), args.repeat)
            tn, dn = timed(lambda u=updates: cloudctl_check(center, "lab", u), args.repeat)
            collect = max((h.get("collect_seconds") or 0) for h in dn["hosts"])
            rows.append(
                (label, t1, tn, f"{len(prof.automated)} controls; module on host ≤ {collect:.2f} s")
            )
        cc1 = rows[0][1]
        ccn = rows[0][2]

        pb = center / "naive.yml"
        ntasks = naive_playbook(pb)
        t1, _ = timed(lambda: naive_run(pb, inventory / "lab.yml", one, 20), 1)
        tn, _ = timed(lambda: naive_run(pb, inventory / "lab.yml", "lab", 20), 1)
        rows.append(
            (
                f"naive: {ntasks} Ansible tasks (one per control)",
                t1,
                tn,
                "evidence only, no evaluation",
            )
        )
        naive1, naiven = t1, tn

        if not args.no_peers:
            has_oscap, has_lynis = ensure_peers()
            if has_oscap:
                t1, (rules, _) = timed(lambda: oscap_hosts(lab, [one]), 1)
                tn, (_, res) = timed(lambda: oscap_hosts(lab, names), 1)
                rows.append(
                    (
                        f"OpenSCAP oscap-chroot, ssg-debian11 standard ({rules} rules)",
                        t1,
                        tn,
                        "host by host, offline rootfs; results: "
                        + ", ".join(f"{k} {v}" for k, v in res.items()),
                    )
                )
            if has_lynis:
                bundle = lynis_bundle()
                lyn = names if not args.lynis_hosts else names[: args.lynis_hosts]
                t1, _ = timed(lambda: lynis_host(lab, one, bundle), 1)
                tn, _ = timed(lambda: [lynis_host(lab, x, bundle) for x in lyn], 1)
                note = "host by host over SSH" + (
                    "" if len(lyn) == n else f" ({len(lyn)} of {n} hosts)"
                )
                rows.append(("Lynis audit system --quick", t1, tn, note))

    except RuntimeError as e:  # a host went away mid-run (shared lab): say so, show the rest
        print(f"aborted: {e}")
    if not rows:
        return
    w = max(len(r[0]) for r in rows)
    print(f"\n{'tool':<{w}}  {'1 host':>8}  {f'{n} hosts':>9}  notes")
    for name, a, b, note in rows:
        print(f"{name:<{w}}  {a:>7.2f}s  {b:>8.2f}s  {note}")
    if len(rows) < 3:
        return
    cc1, ccn = rows[0][1], rows[0][2]
    naive1, naiven = rows[2][1], rows[2][2]
    print("\ntargets:")
    print(
        f"  ≥10× faster than one-task-per-control ({n} hosts): {naiven / ccn:.1f}×  (1 host: {naive1 / cc1:.1f}×)"  # noqa: E501
    )
    print(f"  one host end to end < 2 s: {cc1:.2f} s")
    print(f"  {n} hosts < 2× one host: {ccn / cc1:.2f}×")
    oscap_row = next((r for r in rows if r[0].startswith("OpenSCAP")), None)
    if oscap_row:
        print(f"  fleet faster than OpenSCAP host by host: {ccn:.2f} s vs {oscap_row[2]:.2f} s")
    shutil.rmtree(center, ignore_errors=True)


if __name__ == "__main__":
    main()
