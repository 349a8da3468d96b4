"""``cloudctl state``: where the center's shared state lives, its schema version, and the
move from SQLite to PostgreSQL. Thin: parse, call cloudctl.state, render."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from cloudctl.cli.common import DryRunOpt, LangOpt, OutputOpt, column_table, session
from cloudctl.core import audit
from cloudctl.core.errors import InputError, Location
from cloudctl.core.i18n import _
from cloudctl.core.output import OutputFormat, pick, render, stdout
from cloudctl.state import SqliteDB, open_state, open_url, schema
from cloudctl.state.copy import TABLES, copy_state
from cloudctl.state.url import check_url

app = typer.Typer(no_args_is_help=True)

SHOWN = (*TABLES, "audit_records", "state_locks")


@app.command("status")
def status(
    ctx: typer.Context, output: OutputOpt = OutputFormat.table, lang: LangOpt = None
) -> None:
    """Backend, schema version, rows per table, locks held (never a password).

    Exit 0 when the database is reachable and at this cloudctl's version, 1 when it needs
    `state upgrade` (or does not exist yet), 2 when it is unreachable or too new.
    """
    s = session(ctx)
    lg = s.language(lang)
    db = open_state(s.center)
    doc: dict = {
        "backend": db.dialect,
        "where": db.where,
        "cloudctl_schema": schema.CURRENT,
        "db_schema": None,  # "schema" names the document (docs/conventions.md)
        "exists": db.exists(),
        "tables": {},
        "locks": [],
        "audit": "database" if s.center.state_url else str(s.center.audit_log),
    }
    if doc["exists"]:
        conn = db.open_raw()  # read as it is: no upgrade from a status command
        try:
            doc["db_schema"] = db.version(conn)
            if doc["db_schema"] >= 2:
                for t in SHOWN:
                    doc["tables"][t] = int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                doc["locks"] = [
                    {
                        "name": r["name"],
                        "holder": r["holder"],
                        "host": r["host"],
                        "pid": r["pid"],
                        "since": datetime.fromtimestamp(r["since"]).astimezone().isoformat(
                            timespec="seconds"
                        ),
                    }
                    for r in conn.execute("SELECT * FROM state_locks ORDER BY name").fetchall()
                ]
        finally:
            conn.close()
    if output is not OutputFormat.table:
        render(doc, output, schema="cloudctl.state.status/1")
    else:
        con = stdout()
        con.print(f"{pick(lg, '后端', 'backend')}: [bold]{db.dialect}[/] {escape(db.where)}")
        at = doc["db_schema"]
        con.print(
            pick(lg, "结构版本", "schema version")
            + f": {at if at is not None else '-'} (cloudctl {schema.CURRENT})"
        )
        if doc["tables"]:
            table = column_table([pick(lg, "表", "table"), pick(lg, "行数", "rows")])
            for t, n in doc["tables"].items():
                table.add_row(t, str(n))
            con.print(table)
        for lk in doc["locks"]:
            con.print(
                escape(
                    f"lock {lk['name']}: {lk['holder']} on {lk['host']} pid {lk['pid']} "
                    f"since {lk['since']} (if that process is gone, the lock is free)"
                )
            )
    at = doc["db_schema"]
    if at is not None and at > schema.CURRENT:
        raise InputError(schema.too_new_message(at, db.where))
    if at is None or at < schema.CURRENT:
        raise typer.Exit(1)


@app.command("upgrade")
def upgrade(ctx: typer.Context, dry_run: DryRunOpt = False, lang: LangOpt = None) -> None:
    """Bring the schema to this cloudctl's version (every command does so on first use;
    this does it now, and says what it did). A newer schema is refused."""
    s = session(ctx)
    lg = s.language(lang)
    db = open_state(s.center)
    conn = db.open_raw()
    try:
        at = db.version(conn)
        if at > schema.CURRENT:
            raise InputError(schema.too_new_message(at, db.where))
        todo = schema.pending(at)
        if not dry_run:
            # on PostgreSQL the audit intent of this very command (the chain lives in the
            # database) may already have upgraded it: report what this process applied
            db.upgrade(conn)
            todo = list(db.applied)
            if todo:
                s.audit("state.upgrade", {"to": schema.CURRENT, "where": db.where})
    finally:
        conn.close()
    con = stdout()
    if not todo:
        con.print(pick(lg, f"已是最新：版本 {at}", f"up to date: version {at}"))
    for m in todo:
        verb = pick(lg, "将应用" if dry_run else "已应用", "would apply" if dry_run else "applied")
        con.print(f"{verb} {m.version}: {escape(m.name)}")


@app.command("migrate")
def migrate(
    ctx: typer.Context,
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="postgresql://USER@HOST:PORT/DB (password from PGPASSWORD or ~/.pgpass).",
        ),
    ],
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Copy this center's SQLite state and audit log into an empty PostgreSQL database and
    check the counts (exit 1 when they differ). Then set ``state:`` to the URL."""
    s = session(ctx)
    lg = s.language(lang)
    problem = check_url(to, from_file=True, source="the command line")  # it is recorded
    if problem:
        raise InputError(problem, Location("--to"))
    src = open_state(s.center)
    if not isinstance(src, SqliteDB):
        raise InputError(_("this center's state is already in PostgreSQL: nothing to migrate"))
    if not src.exists() and not s.center.audit_log.exists():
        raise InputError(_("this center has no state yet: nothing to copy"), Location(src.where))
    dst = open_url(to)
    report = copy_state(src, dst, audit.FileStore(s.center.audit_log))
    s.audit(
        "state.migrate",
        {"to": dst.where, "tables": {t: n for t, (_a, n) in report.tables.items()}},
        result="ok" if report.ok else "failed",
    )
    doc = {
        "to": dst.where,
        "ok": report.ok,
        "tables": {t: {"source": a, "copied": b} for t, (a, b) in report.tables.items()},
        "audit": {
            "source": report.audit[0],
            "copied": report.audit[1],
            "verified": report.audit_ok,
        },
    }
    if output is not OutputFormat.table:
        render(doc, output, schema="cloudctl.state.migrate/1")
    else:
        con = stdout()
        table = column_table([pick(lg, "表", "table"), "SQLite", "PostgreSQL"])
        for t, (a, b) in report.tables.items():
            table.add_row(t, str(a), str(b) if a == b else f"[red]{b}[/]")
        a, b = report.audit
        table.add_row("audit", str(a), str(b) if a == b else f"[red]{b}[/]")
        con.print(table)
        if report.ok:
            con.print(
                pick(
                    lg,
                    "[green]已复制并核对[/]。下一步：在 cloudctl.yaml 中设置 "
                    f"state: {escape(dst.where)}（不含密码），或设置 CLOUDCTL_STATE_URL",
                    f"[green]copied and checked[/]. Next: set `state: {escape(dst.where)}` in "
                    "cloudctl.yaml (no password), or CLOUDCTL_STATE_URL",
                )
            )
    if not report.ok:
        raise typer.Exit(1)
