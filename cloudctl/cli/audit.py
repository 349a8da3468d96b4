"""``cloudctl audit``: read the audit trail and check its chain."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from cloudctl.cli.common import LangOpt, OutputOpt, session
from cloudctl.core import audit, i18n
from cloudctl.core.output import Column, OutputFormat, pick, render, stdout

app = typer.Typer(no_args_is_help=True)


def _col(key: str, header: str, kind: str = "id", optional: bool = False) -> Column:
    """A column whose text is data, never rich markup."""
    return Column(
        key,
        header,
        fmt=lambda v: "" if v is None else escape(str(v)),
        kind=kind,
        optional=optional,
    )


def _log_view(rows: list[dict]):
    """Two lines per run: the ids (sequence, time, user, action, result, changes) on one,
    the command whole on the next, never squeezed into a narrow column."""

    def draw(con) -> None:
        from cloudctl.core.output import plain

        for r in rows:
            n = r.get("changes")
            head = [
                f"#{r.get('seq', '')}",
                str(r.get("time") or ""),
                str(r.get("user") or ""),
                str(r.get("action") or ""),
                str(r.get("result") or ""),
            ] + ([f"changes={n}"] if n else [])
            style = "" if r.get("result") == "ok" else "yellow"
            con.print(plain("  ".join(head), style))
            con.print(plain("    " + str(r.get("command") or ""), "dim"))

    return draw


@app.command("log")
def log(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n", help="Show the last N rows.")] = 20,
    every: Annotated[
        bool,
        typer.Option("--records", help="Every record (intent, change, outcome), not one per run."),
    ] = False,
    output: OutputOpt = OutputFormat.table,
) -> None:
    """Who ran which changing command, when, and how it ended (one row per run).

    A run with an intent but no outcome was killed: its result is ``interrupted``.
    """
    recs = [r for _loc, r in audit.records(audit.store_for(session(ctx).center))]
    if every:
        rows = [
            {**r, "user": audit.display_user(r), "kind": r.get("kind", "legacy")}
            for r in (recs[-last:] if last > 0 else [])
        ]
        cols = [
            _col("seq", "seq"),
            _col("time", "time", optional=True),
            _col("kind", "kind", optional=True),
            _col("run", "run"),
            _col("action", "action"),
            _col("result", "result"),
            _col("user", "user", optional=True),
        ]
        render(rows, output, columns=cols, title="audit", schema="cloudctl.audit.records/1")
        return
    rows = audit.runs(recs)[-last:] if last > 0 else []
    cols = [
        _col("seq", "#"),
        _col("time", "time"),
        _col("user", "user"),
        _col("action", "action"),
        _col("result", "result"),
        _col("changes", "changes", optional=True),
        _col("command", "command", kind="text"),
    ]
    render(
        rows,
        output,
        columns=cols,
        title="audit",
        schema="cloudctl.audit.log/1",
        table=_log_view(rows),
    )


@app.command("verify")
def verify(
    ctx: typer.Context,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Check the hash chain: exit 0 intact, 1 with the first broken record as file:line.

    Runs that were started but never ended (killed) are warnings, not breaks.
    """
    s = session(ctx)
    lg = s.language(lang)
    store = audit.store_for(s.center)
    v = audit.verify(store.lines(), store.head(), store.end(), running=audit.process_running)
    if output is not OutputFormat.table:
        render(v.as_dict(), output, schema="cloudctl.audit.verify/1")
    else:
        con = stdout()
        if v.broken is not None:
            b = v.broken  # the JSON keeps the English msgid; people read it in --lang
            text = i18n.tr(b.message, lg)
            con.print(
                f"[bold red]{escape(f'{b.location}: {text}' if b.location else text)}[/]",
                soft_wrap=True,
            )
            con.print(
                pick(
                    lg,
                    "审计记录链已断开：以上是第一条被改动、删除或调换的记录",
                    "the audit chain is broken: above is the first record changed, "
                    "removed or moved",
                )
            )
        else:
            head = f" (seq {v.head.seq}, {v.head.hash[:16]})" if v.head else ""
            con.print(
                pick(
                    lg,
                    f"[green]审计记录链完整[/]：{v.chained} 条链上记录{head}",
                    f"[green]audit chain intact[/]: {v.chained} chained record(s){head}",
                )
            )
        for note in v.notes:
            con.print(f"[yellow]![/] {escape(i18n.tr(note, lg))}")
        for r in v.interrupted:
            con.print(
                "[yellow]![/] "
                + escape(
                    pick(
                        lg,
                        f"{store.where}:{r.get('line')}: 未结束的运行（中断）：{r.get('action')} "
                        f"{r.get('time')} {r.get('user')} pid {r.get('pid')}",
                        f"{store.where}:{r.get('line')}: interrupted run (no outcome): "
                        f"{r.get('action')} {r.get('time')} {r.get('user')} pid {r.get('pid')}",
                    )
                ),
                soft_wrap=True,
            )
    if not v.ok:
        raise typer.Exit(1)
