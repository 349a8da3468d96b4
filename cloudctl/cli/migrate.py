"""``cloudctl migrate``: plans, waves, resumable runs with rollback, and reports."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from cloudctl.cli.ansible_opts import AcceptNewOpt, ForksOpt
from cloudctl.cli.common import DryRunOpt, LangOpt, OutputOpt, Session, column_table, session
from cloudctl.core.errors import InputError, Location, ValidationFailed
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _
from cloudctl.core.output import (
    Column,
    OutputFormat,
    document,
    esc,
    ident,
    pick,
    render,
    to_json,
    to_yaml,
)
from cloudctl.core.progress import LineProgress
from cloudctl.core.yamlio import display_path
from cloudctl.migrate import report as reports
from cloudctl.migrate import service
from cloudctl.migrate.durations import format_duration
from cloudctl.migrate.model import Step
from cloudctl.migrate.sink import ProgressSink

if TYPE_CHECKING:  # imported where used: `validate` and `plan` need neither (issue 17)
    from rich.progress import Progress

    from cloudctl.migrate.journal import Journal

app = typer.Typer(no_args_is_help=True, help="Migration waves / 应用迁移")

PlanArg = Annotated[
    str | None,
    typer.Argument(help="Plan file or name under migration_plans/ (default: the only one)."),
]
JournalOpt = Annotated[
    Path | None,
    typer.Option(
        "--journal",
        help="SQLite journal file (default: the center's state DB). Share one path for one team.",
    ),
]
InventoryOpt = Annotated[
    list[Path] | None,
    typer.Option(
        "--inventory",
        "-i",
        help="Ansible inventory (default: the center's inventory/hosts/). Repeatable.",
    ),
]
ApproveOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--approve", help="Approve an approval step: SYSTEM:STEP, STEP, or 'all'. Repeatable."
    ),
]

STATUS_STYLE = {
    "done": "green",
    "rolled_back": "bold red",
    "rollback_failed": "bold white on red",
    "blocked": "yellow",
    "cancelled": "yellow",
    "waiting_approval": "cyan",
    "failed": "bold red",
}


def _journal(ctx: typer.Context, path: Path | None, *, read_only: bool = False) -> Journal:
    """The center's journal, or ``--journal``; a reading command never creates the latter:
    a mistyped path to a shared journal must not look like an empty history."""
    if path is not None and read_only and not path.exists():
        raise InputError(
            _("no journal here (a reading command does not create one)"), Location(str(path))
        )
    from cloudctl.migrate.journal import Journal

    return Journal(path or service.default_journal(session(ctx).center))


class RichProgress(ProgressSink):
    """A bar per system with its current step (and Ansible task), lines for what ended."""

    def __init__(self, progress: Progress, lang: str, names: dict[str, str]):
        self.p = progress
        self.lang = lang
        self.names = names
        self.tasks: dict[str, int] = {}
        self.lock = threading.Lock()
        self.t0: dict[tuple[str, int, str], float] = {}

    def _task(self, sid: str, total: int | None = None) -> int:
        if sid not in self.tasks:
            self.tasks[sid] = self.p.add_task(
                f"{sid}", total=total or 1, current="", name=self.names.get(sid, "")
            )
        return self.tasks[sid]

    def system_begin(self, sid, total, done):
        with self.lock:
            t = self._task(sid, total)
            self.p.update(t, total=max(total, 1), completed=done)

    def step_begin(self, sid, index, step: Step, phase, attempt):
        with self.lock:
            self.t0[(sid, index, phase)] = time.monotonic()
            tag = pick(self.lang, "回退 ", "rollback ") if phase == "rollback" else ""
            retry = pick(self.lang, f" 第{attempt}次", f" try {attempt}") if attempt > 1 else ""
            self.p.update(self._task(sid), current=f"{tag}{step.name}{retry}")

    def step_end(self, sid, index, step: Step, phase, status, message):
        with self.lock:
            took = time.monotonic() - self.t0.pop((sid, index, phase), time.monotonic())
            mark = {"ok": "[green]✓[/]", "waiting": "[cyan]…[/]"}.get(status, "[red]✗[/]")
            tag = pick(self.lang, "回退 ", "rollback ") if phase == "rollback" else ""
            line = f"{mark} {sid} {tag}{step.name} ({took:.1f}s)"
            if status not in ("ok",) and message:
                line += f": {message}"
            self.p.console.print(line, markup=True, highlight=False)
            if phase == "forward" and status == "ok":
                self.p.advance(self._task(sid))

    def task(self, sid, text):
        with self.lock:
            t = self._task(sid)
            cur = self.p.tasks[[x.id for x in self.p.tasks].index(t)].fields.get("current", "")
            base = cur.split(" › ")[0]
            self.p.update(t, current=f"{base} › {text}" if text else base)

    lines: LineProgress | None = None

    def system_end(self, sid, status, message):
        with self.lock:
            t = self._task(sid)
            self.p.update(t, current=reports.status_text(status, self.lang))
            if self.lines is not None:  # off a terminal: a line per system, N/M, ETA
                self.lines.step(sid, reports.status_text(status, self.lang))
            if status == "rollback_failed":
                loud = pick(self.lang, "回退失败，需要人工处理", "ROLLBACK FAILED, needs a person")
                self.p.console.print(f"[bold white on red] {sid}: {loud} [/] {message or ''}")
            elif status in ("rolled_back", "blocked", "cancelled", "failed"):
                self.p.console.print(
                    f"[bold red]{sid}: {reports.status_text(status, self.lang)}[/] {message or ''}"
                )


def _wave_size(center, path: Path, wave: str, chosen: list[str]) -> int:
    """Systems the run will take (for N/M and the ETA off a terminal); 0 when unknown."""
    if chosen:
        return len(chosen)
    try:
        w = service.load_checked(center, path).wave(wave)
    except Exception:  # only a progress figure
        return 0
    return len(w.systems) if w is not None else 0


def _progress(lang: str, names: dict[str, str], total: int = 0) -> tuple[Progress, RichProgress]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TextColumn("{task.fields[current]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        refresh_per_second=4,
    )
    sink = RichProgress(progress, lang, names)
    sink.lines = LineProgress(total, pick(lang, "系统", "system"), lang=lang)
    return progress, sink


@contextmanager
def _audit_crash(s: Session, action: str, asked: dict) -> Iterator[None]:
    """Record a failed or interrupted run in the audit log with what was asked, then re-raise."""
    try:
        yield
    except BaseException as e:
        s.audit(action, asked, result=f"error: {e}")
        raise


def _finish(
    s: Session,
    action: str,
    changes: dict,
    res: service.RunResult,
    output: OutputFormat,
    lang: str,
    title: str,
) -> None:
    """Audit how a run ended, print it, and exit 1 unless every system is done."""
    s.audit(action, changes, result=res.status)
    _print_result(res, output, lang, title)
    if res.status != "done":
        raise typer.Exit(1)


def _print_result(res: service.RunResult, output: OutputFormat, lang: str, title: str) -> None:
    rows = [{"system": k, "status": v} for k, v in res.systems.items()]
    data = {"run_id": res.run_id, "status": res.status, "systems": rows}
    if output is OutputFormat.table:
        con = Console()
        for sid, rid in res.already.items():
            con.print(
                pick(
                    lang,
                    f"  {sid}: 已在运行 {rid} 中迁移完成，跳过",
                    f"  {sid}: already migrated by run {rid}, skipped",
                )
            )
        for r in rows:
            style = STATUS_STYLE.get(r["status"], "")
            con.print(
                f"  {r['system']:<24} [{style}]{reports.status_text(r['status'], lang)}[/]"
                if style
                else f"  {r['system']:<24} {r['status']}"
            )
        shown = (
            reports.status_text(res.status, lang)
            if res.status != "paused"
            else pick(lang, "已暂停（待审批）", "paused (waiting for approval)")
        )
        con.print(f"{title} {res.run_id}: [bold]{shown}[/]")
        if res.status != "done":
            con.print(
                pick(
                    lang,
                    f"查看详情: cloudctl migrate status {res.run_id}",
                    f"details: cloudctl migrate status {res.run_id}",
                )
            )
    else:
        render(data, output, schema="cloudctl.migrate.run/1")


@app.command()
def validate(
    ctx: typer.Context,
    plan: PlanArg = None,
    inventory: Annotated[
        Path | None, typer.Option("--inventory", "-i", help="Inventory for host names.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Check plans: references, cycles, wave order, rollbacks, durations (exit 2 on problems)."""
    s = session(ctx)
    lg = s.language(lang)
    files = [service.resolve_plan(s.center, plan)] if plan else service.plan_files(s.center)
    if not files:
        raise InputError(
            _("no plans to validate"), Location(display_path(s.center.migration_plans))
        )
    plans, problems = service.validate_all(s.center, files, inventory)
    for w in (w for p in plans for w in p.warnings):
        typer.echo(
            f"{w.location}: {pick(lg, '警告', 'warning')}: {w.message}"
            if w.location
            else f"{pick(lg, '警告', 'warning')}: {w.message}",
            err=True,
        )
    if problems:
        raise ValidationFailed(
            problems, pick(lg, f"{len(problems)} 个问题", f"{len(problems)} problem(s) found")
        )
    rows = [
        {
            "file": display_path(Path(p.path)),
            "plan": p.name,
            "ok": True,
            "systems": len(p.systems),
            "waves": len(p.waves),
            "warnings": [w.message for w in p.warnings],
        }
        for p in plans
    ]

    def table(_con: Console) -> None:
        for r in rows:
            typer.echo(
                pick(
                    lg,
                    f"{r['file']}: 通过（{r['systems']} 个系统，{r['waves']} 个批次）",
                    f"{r['file']}: ok ({r['systems']} systems, {r['waves']} waves)",
                )
            )

    render(rows, output, table=table, schema="cloudctl.migrate.validate/1")


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    plan: PlanArg = None,
    auto_waves: Annotated[
        bool,
        typer.Option("--auto-waves", help="Compute waves from dependencies and classification."),
    ] = False,
    max_per_wave: Annotated[
        int | None,
        typer.Option(
            "--max-per-wave", min=1, help="With --auto-waves: at most N systems per wave."
        ),
    ] = None,
    parallel: Annotated[
        int | None, typer.Option("--parallel", min=1, help="Systems at once, for the estimate.")
    ] = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Waves with their systems, estimated duration and critical path."""
    s = session(ctx)
    lg = s.language(lang)
    path = service.resolve_plan(s.center, plan)
    p = service.load_checked(s.center, path)
    data = service.wave_table(p, auto_waves, max_per_wave, parallel)

    def table(con: Console) -> None:
        t = column_table(
            (
                pick(lg, "批次", "wave"),
                pick(lg, "系统", "systems"),
                pick(lg, "预计耗时", "estimate"),
                pick(lg, "关键路径", "critical path"),
            ),
            ids=(2,),
            title=pick(
                lg,
                f"{p.title_zh or p.name} 迁移批次（并行 {data['parallel']}）",
                f"{p.title_en or p.name}: waves (parallel {data['parallel']})",
            ),
        )
        for w in data["waves"]:
            names = ", ".join(
                f"{x['name_zh'] if lg != 'en' else (x['name_en'] or x['id'])}" for x in w["systems"]
            )
            crit = " → ".join(w["critical_path"]) + f" ({format_duration(w['critical_path_s'])})"
            t.add_row(
                esc(f"{w['id']}\n{w['name_en'] if lg == 'en' else w['name_zh']}"),
                esc(f"[{w['count']}] {names}"),
                format_duration(w["estimate_s"]),
                esc(crit),
            )
        con.print(t)
        con.print(
            pick(
                lg,
                f"合计预计 {format_duration(data['total_estimate_s'])}",
                f"total estimate {format_duration(data['total_estimate_s'])}",
            )
        )
        if data["unscheduled"]:
            con.print(
                pick(lg, "未排入批次: ", "not in any wave: ") + ", ".join(data["unscheduled"])
            )

    render(data, output, table=table, schema="cloudctl.migrate.plan/1")


@app.command()
def run(
    ctx: typer.Context,
    wave: Annotated[str, typer.Option("--wave", "-w", help="The wave to run.")],
    plan: PlanArg = None,
    systems: Annotated[
        list[str] | None,
        typer.Option(
            "--systems", help="Only these systems of the wave (comma-separated or repeated)."
        ),
    ] = None,
    parallel: Annotated[int, typer.Option("--parallel", "-p", min=1, help="Systems at once.")] = 4,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Start no new system after one fails.")
    ] = False,
    dry_run: DryRunOpt = False,
    inventory: InventoryOpt = None,
    journal: JournalOpt = None,
    approve: ApproveOpt = None,
    again: Annotated[
        bool, typer.Option("--again", help="Also run systems an earlier run already migrated.")
    ] = False,
    forks: ForksOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Run a wave: systems in parallel, steps in order, rollback on failure, all journaled."""
    s = session(ctx)
    lg = s.language(lang)
    path = service.resolve_plan(s.center, plan)
    chosen = [x for item in systems or [] for x in item.split(",") if x]
    j = _journal(ctx, journal) if not dry_run else None
    if dry_run:
        res = service.start_run(
            s.center,
            path,
            wave,
            journal=None,
            systems=chosen,
            parallel=parallel,
            dry_run=True,  # type: ignore[arg-type]
            inventory=inventory,
        )
        if output is not OutputFormat.table:
            render(
                {"wave": wave, "systems": res.schedule},
                output,
                schema="cloudctl.migrate.run-preview/1",
            )
            return
        con = Console()
        con.print(
            pick(
                lg,
                f"[bold]预演[/]（不执行）: 批次 {wave}, 并行 {parallel}",
                f"[bold]dry run[/] (nothing runs): wave {wave}, parallel {parallel}",
            )
        )
        for sysd in res.schedule:
            deps = f" ← {', '.join(sysd['depends_on'])}" if sysd["depends_on"] else ""
            con.print(
                f"[bold]{sysd['id']}[/] {sysd['name_zh'] if lg != 'en' else sysd['name_en']}{deps}"
            )
            for i, st in enumerate(sysd["steps"], 1):
                what = st.get("playbook") or st.get("command") or st.get("duration") or ""
                rb = st.get("rollback")
                rbt = f"  ↩ {rb['name']}" if isinstance(rb, dict) else ""
                bt = (" ⇉ " + ("批量" if lg != "en" else "batch")) if st.get("batch") else ""
                con.print(
                    f"  {i:>2}. {st['name']:<22} {st['kind']:<9} {what}{bt}{rbt}", soft_wrap=True
                )
        return
    p, sink = _progress(lg, {}, _wave_size(s.center, path, wave, chosen))
    with _audit_crash(s, "migrate.run", {"plan": str(path), "wave": wave, "systems": chosen}), p:
        res = service.start_run(
            s.center,
            path,
            wave,
            journal=j,
            systems=chosen,
            parallel=parallel,  # type: ignore[arg-type]
            fail_fast=fail_fast,
            inventory=inventory,
            approvals=approve or (),
            progress=sink,
            again=again,
            forks=forks,
            accept_new_host_keys=accept_new_host_keys,
        )
    changes = service.audit_changes(res, {"plan": str(path), "wave": wave})
    _finish(s, "migrate.run", changes, res, output, lg, pick(lg, "运行", "run"))


@app.command()
def resume(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to go on with (see `migrate history`).")],
    journal: JournalOpt = None,
    approve: ApproveOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Take over a run whose runner was on another host.")
    ] = False,
    forks: ForksOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Go on after a crash, a kill or an approval: finished steps are never run again."""
    s = session(ctx)
    lg = s.language(lang)
    j = _journal(ctx, journal)
    p, sink = _progress(lg, {})
    with _audit_crash(s, "migrate.resume", {"run_id": run_id}), p:
        res = service.resume_run(
            s.center,
            run_id,
            journal=j,
            approvals=approve or (),
            force=force,
            progress=sink,
            forks=forks,
            accept_new_host_keys=accept_new_host_keys,
        )
    changes = service.audit_changes(res)
    _finish(s, "migrate.resume", changes, res, output, lg, pick(lg, "运行", "run"))


@app.command()
def abandon(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="An interrupted or paused run.")],
    journal: JournalOpt = None,
    lang: LangOpt = None,
) -> None:
    """Give up an interrupted or paused run so its wave can be run afresh (undoes nothing)."""
    s = session(ctx)
    lg = s.language(lang)
    run = service.abandon_run(_journal(ctx, journal), run_id)
    s.audit("migrate.abandon", {"run_id": run.run_id, "wave": run.wave, "plan": run.plan_name})
    typer.echo(
        pick(
            lg,
            f"运行 {run.run_id} 已放弃（未做任何回退）",
            f"run {run.run_id} abandoned (nothing undone)",
        )
    )


@app.command()
def rollback(
    ctx: typer.Context,
    system: Annotated[str, typer.Argument(help="System id.")],
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run", help="Roll back what this run did (default: the latest run of the system)."
        ),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    journal: JournalOpt = None,
    forks: ForksOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Undo a system's migration: the rollbacks of its completed steps, newest first."""
    s = session(ctx)
    lg = s.language(lang)
    if not yes:
        if not sys.stdin.isatty():
            raise InputError(
                pick(
                    lg,
                    "回退会改动主机：加 --yes 确认",
                    "rollback changes hosts: add --yes to confirm",
                ),
                Location(system),
            )
        typer.confirm(pick(lg, f"回退系统 {system}？", f"Roll back system {system}?"), abort=True)
    j = _journal(ctx, journal)
    p, sink = _progress(lg, {})
    with _audit_crash(s, "migrate.rollback", {"system": system, "run": run_id}), p:
        res = service.rollback_system(
            s.center,
            system,
            journal=j,
            run_id=run_id,
            progress=sink,
            forks=forks,
            accept_new_host_keys=accept_new_host_keys,
        )
    changes = service.audit_changes(res, {"system": system})
    _finish(s, "migrate.rollback", changes, res, output, lg, pick(lg, "回退", "rollback"))


@app.command()
def status(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="Run id (default: the latest).")] = None,
    journal: JournalOpt = None,
    steps: Annotated[bool, typer.Option("--steps", help="Every step attempt too.")] = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """A run's systems and steps, from the journal."""
    s = session(ctx)
    lg = s.language(lang)
    data = service.run_status(_journal(ctx, journal, read_only=True), run_id)

    def table(con: Console) -> None:
        con.print(
            f"[bold]{data['run_id']}[/] {data['kind']} {data['plan']} / {data['wave']}: "
            f"{reports.status_text(data['status'], lg)} — {data['operator']}@{data['host']} pid "
            f"{data['pid']}, "
            f"{data['started']} → {data['ended'] or '…'}"
        )
        cols = [
            ident("id", pick(lg, "系统", "system")),
            ident("status", pick(lg, "状态", "status"), fmt=lambda v: reports.status_text(v, lg)),
            ident("steps_done", pick(lg, "完成步骤", "steps done"), justify="right"),
            ident("steps_total", "/", justify="right"),
            ident("current", pick(lg, "最近步骤", "last step"), optional=True),
            ident("duration_s", pick(lg, "耗时", "time"), fmt=format_duration),
            Column("message", pick(lg, "说明", "note")),
        ]
        from cloudctl.core.output import table_of

        con.print(table_of(data["systems"], cols))
        if steps:
            scol = [
                ident("system_id", "system"),
                ident("phase", "phase"),
                ident("step_index", "#", justify="right"),
                ident("step_name", "step"),
                ident("attempt", "try", justify="right"),
                ident("status", "status"),
                ident("started", "started", optional=True),
                ident("ended", "ended", optional=True),
                ident("operator", "who", optional=True),
                Column("message", "message"),
            ]
            con.print(table_of(data["steps"], scol))

    render(data, output, table=table, schema="cloudctl.migrate.status/1")


@app.command()
def history(
    ctx: typer.Context,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Only runs of this plan (its name).")
    ] = None,
    last: Annotated[int, typer.Option("--last", "-n", help="How many runs.")] = 20,
    journal: JournalOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Past runs, newest first."""
    lg = session(ctx).language(lang)
    rows = service.history(_journal(ctx, journal, read_only=True), plan, last)
    cols = [
        # the run id (what resume needs) holds the start time: started/kind/plan give way
        ident("run_id", "run"),
        ident("kind", pick(lg, "类型", "kind"), optional=True),
        ident("plan", pick(lg, "计划", "plan"), optional=True),
        ident("wave", pick(lg, "批次", "wave")),
        ident("status", pick(lg, "状态", "status"), fmt=lambda v: reports.status_text(v, lg)),
        ident("operator", pick(lg, "操作人", "operator"), optional=True),
        ident("started", pick(lg, "开始", "started"), optional=True),
        ident("duration_s", pick(lg, "耗时", "time"), fmt=format_duration),
        Column(
            "systems",
            pick(lg, "系统", "systems"),
            fmt=lambda v: esc(", ".join(f"{k} {n}" for k, n in v.items())),
        ),
    ]
    render(
        rows,
        output,
        columns=cols,
        title=pick(lg, "迁移运行记录", "migration runs"),
        schema="cloudctl.migrate.history/1",
    )


REPORT_SCHEMA = "cloudctl.migrate.report/1"


@app.command()
def report(
    ctx: typer.Context,
    plan: PlanArg = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="markdown, html, json, yaml, value or csv.")
    ] = "markdown",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file (default: stdout).")
    ] = None,
    journal: JournalOpt = None,
    output: Annotated[
        OutputFormat | None,
        typer.Option(
            "--output",
            "-o",
            case_sensitive=False,
            help="As every command: json/yaml = -f json/yaml, table = markdown, value/csv = "
            "one row per system.",
        ),
    ] = None,
    lang: LangOpt = None,
) -> None:
    """Progress per wave and overall (done, rolled back, pending, time) for the leadership."""
    s = session(ctx)
    lg = str(s.language(lang))
    path = service.resolve_plan(s.center, plan)
    if output is not None:
        as_fmt = {"table": "markdown", "json": "json", "yaml": "yaml"}.get(output.value)
        if fmt != "markdown" and fmt != as_fmt:
            raise InputError(
                _("--output {output} and --format {fmt} disagree: give one").format(
                    output=output.value, fmt=fmt
                ),
                Location("--output"),
            )
        fmt = as_fmt or output.value
    if fmt not in ("markdown", "md", "html", "json", "yaml", "value", "csv"):
        raise InputError(
            _("unknown report format {fmt!r} (markdown, html, json, yaml)").format(fmt=fmt),
            Location("--format"),
        )
    # the plan is checked as `plan` checks it: a broken plan is an error, not an empty report
    checked = service.load_checked(s.center, path)
    j = _journal(ctx, journal, read_only=True)
    data = reports.leadership_data(
        service.report_data(checked, j),
        checked,
        j.latest_system_states(checked.name),
        reports.load_inputs(s.center),
    )
    if fmt in ("value", "csv"):
        rows = [{"wave": w["id"], **sys_} for w in data["waves"] for sys_ in w["systems"]]
        render(data, fmt, rows=rows)
        return
    if fmt in ("json", "yaml") and not out:
        render(data, fmt, schema=REPORT_SCHEMA)
        return
    if fmt == "json":
        text = to_json(document(REPORT_SCHEMA, data)) + "\n"
    elif fmt == "yaml":
        text = to_yaml(document(REPORT_SCHEMA, data))
    else:
        text = reports.html_report(data, lg) if fmt == "html" else reports.markdown(data, lg)
    if out:
        atomic_write(out, text)
        typer.echo(pick(lg, f"已写入 {out}", f"written: {out}"), err=True)
    else:
        sys.stdout.write(text)


@app.command("lab-seed")
def lab_seed(
    ctx: typer.Context,
    plan: PlanArg = None,
    system: Annotated[
        str | None,
        typer.Option(
            "--system",
            help="The system whose app to install (default: the first of the first wave).",
        ),
    ] = None,
    inventory: InventoryOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
    lang: LangOpt = None,
) -> None:
    """Rehearsal: install a system's app on its lab source host (the pilot's starting point)."""
    s = session(ctx)
    lg = s.language(lang)
    path = service.resolve_plan(s.center, plan)
    with _audit_crash(s, "migrate.lab-seed", {"plan": str(path), "system": system}):
        done = service.seed_rehearsal(s.center, path, system, inventory, accept_new_host_keys)
    s.audit("migrate.lab-seed", done)
    typer.echo(
        pick(
            lg,
            f"{done['host']} 上已部署 {done['unit']}（演练起点）",
            f"{done['unit']} installed on {done['host']} (rehearsal starting point)",
        )
    )
