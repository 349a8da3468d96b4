"""The main job, end to end, on the local lab (``./dev demo``).

Each step is a real ``cloudctl`` command run as a subprocess, exactly as an operator would
type it, so the demo doubles as a smoke test of the installed tool.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    title: str
    args: tuple[str, ...]
    ok_codes: tuple[int, ...] = (0,)  # 1 is expected where findings or changes are the point


def steps(reports: Path) -> list[Step]:
    r = str(reports)
    return [
        Step("Start the local lab / 启动本地实验环境", ("lab", "up")),
        Step("Lab status / 实验环境状态", ("lab", "status")),
        Step("Validate the address plan / 校验地址规划", ("ipam", "validate")),
        Step("Address plan utilization / 地址利用率", ("ipam", "show", "--zone", "core")),
        Step("Tenants: plan / 租户变更计划", ("tenant", "plan"), (0, 1)),
        Step("Tenants: apply / 开通租户", ("tenant", "apply", "--auto-approve")),
        Step("Tenants: no drift / 租户漂移检查", ("tenant", "drift")),
        Step("Address plan vs cloud / 地址规划与云上一致性", ("ipam", "drift")),
        Step(
            "Security domains on the live cloud / 安全域现网核查",
            ("domains", "check", "--cloud", "--junit", f"{r}/domains.xml"),
            (0, 1),  # findings are the point where the cloud breaks the design
        ),
        Step(
            "Baseline check (un-hardened hosts) / 等保基线检查",
            ("baseline", "check", "--limit", "lab", "--html", f"{r}/baseline-before.html"),
            (1,),
        ),
        Step(
            "Baseline remediation preview / 整改预演",
            ("baseline", "remediate", "--limit", "lab", "--dry-run"),
        ),
        Step("Baseline remediate / 基线整改", ("baseline", "remediate", "--limit", "lab")),
        Step(
            "Baseline check again / 整改后复查",
            (
                "baseline",
                "check",
                "--limit",
                "lab",
                "--html",
                f"{r}/baseline-after.html",
                "--junit",
                f"{r}/baseline.xml",
            ),
            # Automated controls pass after remediation; the sample's manual backup evidence
            # (no restore test on record) stays a finding, so exit 1 is the honest answer.
            (0, 1),
        ),
        Step("What got better / 整改前后对比", ("baseline", "diff")),
        Step("Migration plan: validate / 迁移方案校验", ("migrate", "validate")),
        Step("Migration plan: waves / 迁移批次", ("migrate", "plan")),
        Step("Seed the legacy app on its lab host / 部署旧系统", ("migrate", "lab-seed")),
        Step(
            "Run the pilot wave / 执行试点批次",
            ("migrate", "run", "--wave", "pilot", "--again"),
        ),
        Step(
            "Migration report / 迁移报告",
            ("migrate", "report", "--format", "html", "--out", f"{r}/migration.html"),
        ),
        Step("Audit trail / 审计记录", ("audit", "log", "--last", "15")),
        Step("Audit chain intact / 审计记录链校验", ("audit", "verify")),
        # Last: the one page for the center's leadership (capacity forecast included).
        Step("Center report (English)", ("--lang", "en", "report", "--out", f"{r}/center-en.html")),
        Step("Center report / 云中心运行情况报告", ("report", "--out", f"{r}/center-zh.html")),
    ]


def main() -> int:
    con = Console()
    reports = ROOT / "reports"
    reports.mkdir(exist_ok=True)
    exe = [sys.executable, "-m", "cloudctl"]
    from cloudctl.lab.paths import LabPaths

    # The tenant steps talk to the lab's cloud the standard way (clouds.yaml + OS_CLOUD).
    env = {
        **os.environ,
        "CLOUDCTL_CENTER": str(ROOT),
        "OS_CLIENT_CONFIG_FILE": str(LabPaths.from_env().clouds_yaml),
        "OS_CLOUD": "lab",
    }
    failed: list[str] = []
    t_all = time.monotonic()
    for st in steps(reports):
        con.print(Rule(f"[bold]{st.title}"))
        con.print(f"[dim]$ cloudctl {shlex.join(st.args)}[/dim]")
        t0 = time.monotonic()
        rc = subprocess.run([*exe, *st.args], env=env, cwd=ROOT, check=False).returncode
        dt = time.monotonic() - t0
        mark = "[green]ok[/green]" if rc in st.ok_codes else f"[red]FAILED (exit {rc})[/red]"
        con.print(f"{mark}  [dim]{dt:.1f} s[/dim]")
        if rc not in st.ok_codes:
            failed.append(st.title)
    con.print(Rule())
    con.print(f"reports in {reports}  ·  total {time.monotonic() - t_all:.0f} s")
    if failed:
        con.print(f"[red]{len(failed)} step(s) failed:[/red] " + "; ".join(failed))
        return 1
    con.print("[green]the main job ran end to end[/green]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
