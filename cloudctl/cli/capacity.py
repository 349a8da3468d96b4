"""``cloudctl capacity``: when phase 1 runs out, what phase 2 (二期机房) needs.
Thin: parse, call cloudctl.capacity, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cloudctl.cli.common import LangOpt, OsCloudOpt, OsConfigOpt, OutputOpt, column_table, session
from cloudctl.core.fileio import atomic_write
from cloudctl.core.output import OutputFormat, pick, render

app = typer.Typer(no_args_is_help=False, help="Capacity planning / 容量规划（二期机房）")


def _num(v: float) -> str:
    return f"{v:,.0f}"


@app.callback(invoke_without_command=True)
def capacity(
    ctx: typer.Context,
    horizon: Annotated[int, typer.Option("--horizon", help="Months to look ahead (1..240).")] = 36,
    headroom: Annotated[
        float | None,
        typer.Option("--headroom", help="Percent kept free at the horizon (default: the file's)."),
    ] = None,
    usage: Annotated[
        str,
        typer.Option(
            "--usage",
            help="auto (the cloud's if it has compute nodes, else the file's), cloud, file.",
        ),
    ] = "auto",
    file: Annotated[
        Path | None, typer.Option("--file", help="Capacity file (default: cloudctl.yaml's).")
    ] = None,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Migration plan (default: the only one).")
    ] = None,
    monthly: Annotated[
        bool, typer.Option("--monthly", help="Also print the month-by-month table.")
    ] = False,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write the forecast chart here (SVG).")
    ] = None,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """When each resource of phase 1 runs out, and what phase 2 needs / 一期何时用尽、二期需要多少.

    Exit 0: nothing runs out within the horizon; 1: something does (phase 2 is needed
    in time); 2: bad input (file:line).
    """
    from cloudctl.capacity import service
    from cloudctl.capacity.model import forecast_dict

    s = session(ctx)
    lg = s.language(lang)
    g = service.gather(
        s.center,
        file=file,
        plan=plan,
        usage=usage,
        cloud=os_cloud,
        config_file=os_config_file,
        lang=str(lg),
    )
    fc = service.run(g, horizon, headroom)
    data = forecast_dict(fc, monthly=True)
    if chart is not None:
        from cloudctl.centerreport.charts import capacity_chart

        atomic_write(chart, capacity_chart(fc, str(lg)) + "\n")
    if output is OutputFormat.table:
        render(data, output, table=lambda con: _draw(con, fc, data, str(lg), monthly, chart))
    else:
        render(data, output, schema="cloudctl.capacity/1")
    if fc.runs_out_within_horizon:
        raise typer.Exit(1)


def _draw(con: Console, fc, data: dict, lg: str, monthly: bool, chart: Path | None) -> None:
    L = lambda zh, en: pick(lg, zh, en)  # noqa: E731
    t = column_table(
        [
            L("资源", "resource"),
            L("一期容量", "phase 1"),
            L("当前在用", "in use"),
            L("当前使用率", "util"),
            f"{data['horizon_end']}",
            L("规划警戒", "plan by"),
            L("用尽月份", "runs out"),
        ],
        title=L(
            f"一期容量预测 {data['start']} → {data['horizon_end']}（{fc.horizon} 个月，"
            f"保留余量 {data['headroom_pct']:g}%）",
            f"phase-1 forecast {data['start']} → {data['horizon_end']} ({fc.horizon} months, "
            f"{data['headroom_pct']:g}% headroom)",
        ),
    )
    for r in data["resources"]:
        out = r["runs_out"]
        t.add_row(
            (r["name_en"] if lg == "en" else r["name_zh"]) + f" ({r['unit']})",
            _num(r["capacity"]),
            _num(r["used_now"]),
            f"{r['util_now_pct']:.0f}%",
            f"{r['util_at_horizon_pct']:.0f}%",
            r["plan_by"] or "-",
            f"[bold red]{out}[/bold red]" if out else L("[green]不会[/green]", "[green]no[/green]"),
        )
    con.print(t)
    p = data["phase2"]
    con.print(
        L(
            f"[bold]二期需要[/bold]（到 {data['horizon_end']}）："
            f"计算服务器 {p['compute_servers']} 台（{p['compute_profile']}；"
            f"按 vCPU {p['compute_for_vcpu']}、按内存 "
            f"{p['compute_for_ram']}，含冗余 {p['spares_per_class']}），存储节点 "
            f"{p['storage_nodes']} 台（{p['storage_profile']}），机柜 {p['racks']} 个，"
            f"功率 {p['total_kw']:g} kW（服务器 {p['server_kw']:g} kW）",
            f"[bold]phase 2 needs[/bold] (by {data['horizon_end']}): {p['compute_servers']} "
            f"compute servers ({p['compute_profile']}; {p['compute_for_vcpu']} for vCPU, "
            f"{p['compute_for_ram']} for RAM, {p['spares_per_class']} spare), "
            f"{p['storage_nodes']} storage nodes ({p['storage_profile']}), {p['racks']} racks, "
            f"{p['total_kw']:g} kW ({p['server_kw']:g} kW servers)",
        )
    )
    if p["public_ips"]:
        con.print(
            L(
                f"公网地址还需 {p['public_ips']} 个（向运营商申请一个 {p['public_block']}）",
                f"public addresses: {p['public_ips']} more (ask the carrier for a "
                f"{p['public_block']})",
            )
        )
    for zone, n in p["private_addresses"].items():
        con.print(
            L(f"安全域 {zone} 私网地址还需 {n} 个", f"zone {zone}: {n} more private addresses")
        )
    src = data["usage_source"]
    con.print(
        L(
            f"[dim]在用量来源：{'云平台实时读取' if src == 'cloud' else 'capacity.yaml 实测值'}；"
            f"计入迁移需求的系统 {data['systems_counted']} 个[/dim]",
            f"[dim]usage from: {'the cloud, live' if src == 'cloud' else 'capacity.yaml'}; "
            f"{data['systems_counted']} systems' demand counted[/dim]",
        )
    )
    for n in data["notes"]:
        con.print(f"[yellow]{n}[/yellow]")
    if chart is not None:
        con.print(L(f"图表：{chart}", f"chart: {chart}"))
    if monthly:
        keys = [r for r in data["resources"]]
        mt = column_table(
            [L("月份", "month"), *[(r["name_en"] if lg == "en" else r["name_zh"]) for r in keys]],
            title=L("逐月使用率", "utilisation month by month"),
        )
        for i in range(fc.horizon + 1):
            cells = []
            for r in keys:
                pct = 100 * r["monthly"][i]["used"] / r["capacity"] if r["capacity"] else 0
                color = "red" if pct > 100 else "yellow" if pct > 100 - data["headroom_pct"] else ""
                cells.append(f"[{color}]{pct:.0f}%[/{color}]" if color else f"{pct:.0f}%")
            mt.add_row(keys[0]["monthly"][i]["month"], *cells)
        con.print(mt)
