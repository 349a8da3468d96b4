"""``cloudctl schema``: the JSON Schema of each file kind, for editors (YAML language server)
and for checking one file the way cloudctl reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cloudctl.cli.common import LangOpt, OutputOpt, session
from cloudctl.core.errors import InputError, Location, ValidationFailed
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _
from cloudctl.core.output import OutputFormat, pick, render

app = typer.Typer(no_args_is_help=True)


def _chosen(kind: str | None) -> dict:
    from cloudctl.schemas import kinds

    known = kinds()
    if kind is None:
        return known
    if kind not in known:
        raise InputError(
            _("unknown kind {kind!r} (known: {names})").format(kind=kind, names=", ".join(known)),
            Location("KIND"),
        )
    return {kind: known[kind]}


def schema_text(kind: str) -> str:
    """The published text of one kind's schema (schemas/<kind>.json)."""
    from cloudctl.core.schema import json_schema

    model, _files = _chosen(kind)[kind]
    return json.dumps(json_schema(model, kind), ensure_ascii=False, indent=2) + "\n"


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Argument(help="One kind (default: all).")] = None,
    out: Annotated[Path, typer.Option("--out", "-O", help="Directory for <kind>.json.")] = Path(
        "schemas"
    ),
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Write the JSON Schema of each file kind (tenant, address-plan, waivers, …) to DIR."""
    lg = session(ctx).language(lang)
    written = []
    for k in _chosen(kind):
        target = out / f"{k}.json"
        atomic_write(target, schema_text(k))
        written.append({"kind": k, "path": str(target)})
        if output is OutputFormat.table:
            typer.echo(pick(lg, f"已写入 {target}", f"written: {target}"))
    if output is not OutputFormat.table:
        render({"written": written}, output, rows=written, schema="cloudctl.schema.export/1")


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="The file kind (see `schema export`).")],
    files: Annotated[list[Path], typer.Argument(help="Files to check.")],
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Check files against their kind's schema (shape only): file:line problems, exit 2."""
    from cloudctl.core.schema import check
    from cloudctl.core.yamlio import display_path, load_yaml

    lg = session(ctx).language(lang)
    model, _files = _chosen(kind)[kind]
    problems = []
    rows = []
    for f in files:
        _obj, probs = check(model, load_yaml(f), display_path(f))
        problems.extend(probs)
        rows.append({"file": display_path(f), "ok": not probs, "problems": [str(p) for p in probs]})
    if output is not OutputFormat.table:
        # the document first, whatever it says; problems still end with the input-error code
        render({"kind": kind, "files": rows}, output, rows=rows, schema="cloudctl.schema.check/1")
        raise typer.Exit(2 if problems else 0)
    if problems:
        raise ValidationFailed(
            problems, pick(lg, f"{len(problems)} 个问题", f"{len(problems)} problem(s) found")
        )
    typer.echo(
        pick(lg, f"{len(files)} 个文件符合 {kind} 结构", f"{len(files)} file(s) match {kind}")
    )
