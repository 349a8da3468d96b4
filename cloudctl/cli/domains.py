"""``cloudctl domains``: the security-domain design (安全域) — validate, check, matrix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloudctl.cli.common import LangOpt, OsCloudOpt, OsConfigOpt, OutputOpt, session
from cloudctl.core.fileio import atomic_write
from cloudctl.core.output import OutputFormat, pick, render, stderr, stdout
from cloudctl.domains import render as view
from cloudctl.domains import service

app = typer.Typer(no_args_is_help=True)

CloudFlag = Annotated[
    bool, typer.Option("--cloud", help="Check the live cloud (bulk Neutron reads), not files.")
]
ProjectsArg = Annotated[
    list[str] | None,
    typer.Argument(help="With --cloud: project names to assess. Default: every tenant."),
]
PrefixOpt = Annotated[
    str | None,
    typer.Option("--project-prefix", help="With --cloud: assess the projects starting with this."),
]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]


@app.command("validate")
def validate_cmd(ctx: typer.Context, output: OutputOpt = OutputFormat.table, lang: LangOpt = None):
    """Check the design file against the address plan (file:line problems, exit 2)."""
    s = session(ctx)
    lg = s.language(lang)
    c = service.validate(s.center)
    d = c.design
    data = {
        "valid": True,
        "design": d.name,
        "zones": len(d.zones),
        "flows": len(d.flows),
        "services": len(d.services),
        "high_risk_ports": sorted(d.high_risk_ports),
        "waivers": len(d.waivers),
    }
    if output is not OutputFormat.table:
        render(data, output, schema="cloudctl.domains.validate/1")
        return
    stdout().print(
        pick(
            lg,
            f"[green]✓[/] 安全域设计有效：{len(d.zones)} 个安全域，{len(d.flows)} 条允许的流，"
            f"{len(d.services)} 个服务，{len(d.waivers)} 项豁免；其余一律拒绝",
            f"[green]✓[/] design valid: {len(d.zones)} zones, {len(d.flows)} allowed flows, "
            f"{len(d.services)} services, {len(d.waivers)} waivers; everything else denied",
        )
    )


@app.command("check")
def check_cmd(
    ctx: typer.Context,
    projects: ProjectsArg = None,
    cloud: CloudFlag = False,
    prefix: PrefixOpt = None,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    junit: JunitOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Enforce the design: on the desired tenants (files), or with --cloud on the live cloud
    against the level-3 network and cloud clauses. Exit 1 on findings."""
    s = session(ctx)
    lg = s.language(lang)
    if not cloud:
        chk = service.check_offline(s.center)
        open_ = [f for f in chk.findings if not f.waived]
        if output is not OutputFormat.table:
            render(
                {
                    "rules": len(chk.rules),
                    "findings": [f.as_dict() for f in chk.findings],
                    "open": len(open_),
                },
                output,
                schema="cloudctl.domains.check/1",
            )
        else:
            from cloudctl.domains.tenants import findings_to_problems

            for p in findings_to_problems(chk.findings, str(lg)):
                typer.echo(str(p))  # plain lines: file:line must not wrap
            tenants = len({r.tenant for r in chk.rules})
            stdout().print(
                pick(
                    lg,
                    f"{tenants} 个租户的 {len(chk.rules)} 条入方向规则："
                    f"{len(open_)} 项违反安全域设计",
                    f"{len(chk.rules)} ingress rules of {tenants} tenants: "
                    f"{len(open_)} break the zone design",
                ),
                style="red" if open_ else "green",
            )
        raise typer.Exit(1 if open_ else 0)

    live = service.check_live(s.center, os_cloud, os_config_file, projects or [], prefix)
    doc = live.doc
    if junit:
        atomic_write(junit, view.junit(doc))
    if output is not OutputFormat.table:
        render(doc, output)
    else:
        for line in view.finding_lines(live.assessment.findings, str(lg)):
            typer.echo(line)
        from cloudctl.core.output import Column

        render(
            view.clause_rows(doc, str(lg)),
            OutputFormat.table,
            columns=[
                Column("clause", pick(lg, "条款", "clause")),
                Column("title", pick(lg, "要求", "requirement")),
                Column("status", pick(lg, "结论", "result")),
                Column("objects", pick(lg, "不符合的对象", "objects not compliant")),
            ],
        )
        req = live.requests
        n, r, sec = len(doc["objects"]), req.get("requests"), req.get("seconds")
        stderr().print(
            pick(lg, f"[dim]{n} 个测评对象，{r} 次 API 请求，{sec} 秒[/]",
                 f"[dim]{n} objects, {r} API requests, {sec} s[/]")
        )  # fmt: skip
    raise typer.Exit(1 if doc["summary"]["findings"] else 0)


@app.command("matrix")
def matrix_cmd(
    ctx: typer.Context,
    projects: ProjectsArg = None,
    cloud: CloudFlag = False,
    prefix: PrefixOpt = None,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Effective zone × zone × service matrix next to the design; differences exit 1."""
    s = session(ctx)
    lg = s.language(lang)
    if cloud:
        live = service.check_live(s.center, os_cloud, os_config_file, projects or [], prefix)
        m = service.matrix_live(live)
    else:
        m, _chk = service.matrix_offline(s.center)
    if output is not OutputFormat.table:
        render(m.as_dict(), output, schema="cloudctl.domains.matrix/1")
    else:
        for line in view.matrix_lines(m, str(lg)):
            typer.echo(line)
    raise typer.Exit(1 if m.differences else 0)
