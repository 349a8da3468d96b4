"""``cloudctl report``: the center report for leadership, one self-contained HTML page.
Thin: parse, call cloudctl.centerreport, write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloudctl.cli.common import LangOpt, OsCloudOpt, OsConfigOpt, OutputOpt, session
from cloudctl.core.fileio import atomic_write
from cloudctl.core.output import OutputFormat, pick, render, stdout

app = typer.Typer(no_args_is_help=False, help="The center report / 云中心运行情况报告")


@app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default: reports/center-<lang>.html)."),
    ] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Capacity forecast months.")] = 36,
    usage: Annotated[
        str, typer.Option("--usage", help="Capacity usage: auto, cloud or file.")
    ] = "auto",
    plan: Annotated[str | None, typer.Option("--plan", help="Migration plan.")] = None,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Write the center report (addresses, tenants, compliance, migration, capacity) /
    生成云中心运行情况报告（单个 HTML 文件，离线可看，A4 打印）.

    Exit 0 when written (a section without data says why on the page), 2 on bad input.
    """
    from cloudctl.centerreport.gather import gather
    from cloudctl.centerreport.render import render_html

    s = session(ctx)
    lg = str(s.language(lang))
    rd = gather(
        s.center,
        lang=lg,
        plan=plan,
        horizon=horizon,
        usage=usage,
        cloud=os_cloud,
        config_file=os_config_file,
    )
    target = out or s.center.root / "reports" / f"center-{lg}.html"
    atomic_write(target, render_html(rd))
    summary = {
        "report": str(target),
        "sections": {k: (v.ok, v.reason) for k, v in rd.sections.items()},
    }
    if output is not OutputFormat.table:
        render(
            {
                "report": str(target),
                "sections": {k: {"ok": v.ok, "reason": v.reason} for k, v in rd.sections.items()},
            },
            output,
            schema="cloudctl.report/1",
        )
        return
    con = stdout()
    for key, (ok, reason) in summary["sections"].items():
        mark = "[green]✓[/green]" if ok else "[yellow]–[/yellow]"
        con.print(f"{mark} {key}" + (f"  [dim]{reason}[/dim]" if reason else ""))
    con.print(pick(lg, f"云中心报告：{target}", f"center report: {target}"))
