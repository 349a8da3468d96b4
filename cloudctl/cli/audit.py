"""``cloudctl audit``: read the audit trail."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudctl.cli.common import OutputOpt, session
from cloudctl.core import audit
from cloudctl.core.output import Column, OutputFormat, render

app = typer.Typer(no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", help="Show the last N records.")] = 20,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Show the last audit records (who, what, when)."""
    recs = audit.read(session(ctx).center.audit_log)[-last:]
    cols = [
        Column("time", "time"),
        Column("user", "user"),
        Column("action", "action"),
        Column("result", "result"),
        Column("command", "command"),
    ]
    render(recs, output, columns=cols, title="audit")
