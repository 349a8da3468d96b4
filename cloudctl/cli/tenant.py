"""``cloudctl tenant``: department tenants on OpenStack — validate, plan, apply, drift, destroy."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, NamedTuple, NoReturn

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cloudctl.cli.common import DryRunOpt, LangOpt, OsCloudOpt, OsConfigOpt, OutputOpt, session
from cloudctl.core.errors import (
    CloudctlError,
    ConflictError,
    InputError,
    Location,
    ValidationFailed,
)
from cloudctl.core.fileio import atomic_write, display_path, read_input
from cloudctl.core.i18n import _
from cloudctl.core.output import OutputFormat, current_lang, pick, render, stderr, stdout
from cloudctl.core.progress import LineProgress
from cloudctl.tenant import guards, planfile, service
from cloudctl.tenant.apply import ApplyResult, Recorder, execute
from cloudctl.tenant.desired import CODE_RE, TenantSettings
from cloudctl.tenant.diff import Plan, drift_items
from cloudctl.tenant.model import ActualState, DesiredState
from cloudctl.tenant.render import print_drift, print_findings, print_plan

app = typer.Typer(no_args_is_help=True)

PLAN_SCHEMA = "cloudctl.tenant.plan/1"  # plan, apply --dry-run, destroy --dry-run, apply (empty)
RESULT_SCHEMA = "cloudctl.tenant.result/1"  # what apply or destroy did


NamesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Tenant codes (department codes, e.g. czj rsj). Default: all.", show_default=False
    ),
]
PruneOpt = Annotated[
    bool, typer.Option("--prune", help="Also delete managed resources no longer desired.")
]
AllowProjectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-destroy-project",
        help="With --prune: a tenant (code) whose file is gone may be deleted whole. Repeat "
        "for each; without it a plan that deletes a whole tenant is refused.",
        show_default=False,
    ),
]
AllowMassOpt = Annotated[
    bool,
    typer.Option(
        "--allow-mass-delete",
        help="Go ahead without typed confirmation when the plan deletes a large share of "
        "what cloudctl manages (see docs/tenant.md).",
    ),
]

DetailedExitOpt = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Terraform's exit codes: 0 no changes, 1 error, 2 changes (or findings).",
    ),
]


def _exit_code(changed: bool, detailed: bool) -> int:
    """cloudctl's convention (1 = changes or drift) or, with --detailed-exitcode,
    Terraform's (2 = changes; every error is 1: see CloudctlGroup.invoke)."""
    if not changed:
        return 0
    return 2 if detailed else 1


def _isatty() -> bool:
    """Whether a person can answer (tests replace this)."""
    return sys.stdin.isatty()


def _problems_or_raise(plan: Plan) -> None:
    if plan.problems:
        raise ValidationFailed(
            plan.problems,
            _("{len} conflict(s): nothing was changed").format(len=len(plan.problems)),
        )


class _Planned(NamedTuple):
    """What plan, apply and drift start from; ``t0`` is when reading the cloud began."""

    desired: DesiredState
    cloud: service.Cloud
    plan: Plan
    actual: ActualState
    t0: float


def _load_desired(s, names: list[str] | None, lg) -> DesiredState:
    """The desired tenants, refused when a security-group rule breaks the zone design
    (policies/security-domains.yaml): nothing the design forbids is ever created."""
    from cloudctl.domains.tenants import design_problems

    desired = service.load_desired(s.center, names or ())
    problems = design_problems(s.center, desired, str(lg))
    if problems:
        raise ValidationFailed(
            problems,
            pick(
                lg,
                f"{len(problems)} 条安全组规则违反安全域设计",
                f"{len(problems)} rule(s) break the zone design",
            ),
        )
    return desired


def _plan_from_files(
    s, names: list[str] | None, os_cloud: str | None, os_config_file: str | None, prune: bool
) -> _Planned:
    """Validate the tenant files, then read the cloud and plan; stop on conflicts."""
    desired = _load_desired(s, names, s.language())
    cloud = service.open_cloud(os_cloud, os_config_file)
    return _replan(s, desired, cloud, names, prune)


def _replan(s, desired: DesiredState, cloud, names: list[str] | None, prune: bool) -> _Planned:
    """Read the cloud and the ownership record, plan; stop on conflicts."""
    t0 = time.perf_counter()
    plan, actual = service.plan_tenants(cloud, desired, names or (), prune, s.center)
    _problems_or_raise(plan)
    return _Planned(desired, cloud, plan, actual, t0)


def _lock(s, desired: DesiredState, cloud, names: list[str] | None):
    """Named tenants lock those tenants; no names (may prune anything) locks the cloud."""
    return service.change_lock(
        s.center, cloud, names or list(desired.tenants), whole_cloud=not names
    )


def _refuse_blocking(plan: Plan, lg) -> None:
    """Duplicates apply cannot resolve: refuse before any change, naming every id."""
    if plan.blocking:
        raise ConflictError(
            pick(
                lg,
                "存在同名的受管资源，未做任何变更：",
                "duplicate managed resources, nothing was changed: ",
            )
            + "; ".join(f"{f.tenant}: {f.message}" for f in plan.blocking)
        )


def _guard_deletions(
    plan: Plan, actual: ActualState, scope: str, allowed: list[str], allow_mass: bool, lg
) -> None:
    """Whole tenants need their code named; a mass deletion needs typed confirmation
    (even with --auto-approve) unless --allow-mass-delete; off a TTY it is refused."""
    d = guards.deletions(plan, actual, scope)
    missing = guards.unapproved_projects(d, allowed)
    if missing:
        which = ", ".join(f"{code} ({n} resources)" for code, n in missing)
        flags = " ".join(f"--allow-destroy-project {code}" for code, _ in missing)
        raise InputError(
            pick(
                lg,
                f"计划将整体删除 {len(missing)} 个租户：{which}；确认请加 {flags}。未做任何变更",
                f"the plan deletes {len(missing)} whole tenant(s): {which}; name each to go "
                f"ahead: {flags}. Nothing was changed",
            )
        )
    if not d.mass or allow_mass:
        return
    msg = pick(
        lg,
        f"计划删除 {d.deletes} 个资源，占 cloudctl 在本范围内管理的 {d.managed} 个资源的 "
        f"{d.share:.0%}",
        f"the plan deletes {d.deletes} resources, {d.share:.0%} of the {d.managed} that "
        "cloudctl manages in this scope",
    )
    if not _isatty():
        raise InputError(
            msg
            + pick(
                lg,
                "：非交互方式运行，确认请加 --allow-mass-delete。未做任何变更",
                ": not interactive; add --allow-mass-delete to go ahead. Nothing was changed",
            )
        )
    want = f"delete {d.deletes}"
    typed = typer.prompt(msg + pick(lg, f"。请输入 '{want}' 确认", f". Type '{want}' to go ahead"))
    if typed.strip() != want:
        stdout().print(pick(lg, "已取消，未做任何变更。", "Cancelled; nothing changed."))
        raise typer.Exit(1)


def _preflight(s, plan: Plan, actual: ActualState, cloud, lg) -> None:
    """Everything that could stop the run half-way is checked before the first change:
    passwords of new users, and anything that would make a delete fail (HTTP 409)."""
    service.check_passwords(plan, service.password_store(s.center))
    blockers = guards.destroy_blockers(
        plan.changes, actual, service.ports_before_deletes(cloud, plan, actual)
    )
    if blockers:
        raise ConflictError(
            pick(
                lg,
                "删除会失败，未删除任何资源：",
                "deletes would fail; nothing was deleted: ",
            )
            + "; ".join(blockers)
        )


def _stats(cloud: service.Cloud, t0: float) -> dict:
    """The ``requests`` block of a report: API calls so far and seconds since ``t0``."""
    return {**cloud.counter.summary(), "seconds": round(time.perf_counter() - t0, 2)}


def _print_stats(stats: dict) -> None:
    """The request count and time, dim on stderr so stdout stays the plan or result."""
    stderr().print(
        f"[dim]{stats['requests']} API requests ({stats['writes']} writes), {stats['seconds']} s[/]"
    )


def _show_plan(plan: Plan, lg, details: bool | None = None) -> None:
    """The plan and its findings on stdout; by default a plan of more than 200 changes
    is shown one line per change."""
    if details is None:
        details = len(plan.changes) <= 200
    print_plan(plan, stdout(), lg, details=details)
    print_findings(plan, stdout(), lg)


def _stop_for_dry_run(plan: Plan, output: OutputFormat) -> NoReturn:
    """End a --dry-run: other formats than the table get the plan; exit 1 if it would change."""
    if output is not OutputFormat.table:
        render({**plan.as_dict(), "dry_run": True}, output, schema=PLAN_SCHEMA)
    raise typer.Exit(0 if plan.empty else 1)


@app.command("validate")
def validate(
    ctx: typer.Context,
    names: NamesArg = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Check tenant files, the address plan references and SG templates (no cloud call)."""
    s = session(ctx)
    lg = s.language(lang)
    desired = _load_desired(s, names, lg)
    rows = [
        {
            "tenant": t.code,
            "name": t.name_zh,
            "networks": len(t.networks),
            "subnets": [sn.allocation for sn in t.subnets],
            "security_groups": [g.template for g in t.security_groups],
            "users": len(t.users),
            "file": t.file,
        }
        for t in desired.tenants.values()
    ]
    if output is not OutputFormat.table:
        render({"valid": True, "tenants": rows}, output, schema="cloudctl.tenant.validate/1")
        return
    stdout().print(
        pick(
            lg,
            f"[green]✓[/] {len(rows)} 个租户文件有效（地址引用、安全组模板、配额均已校验）",
            f"[green]✓[/] {len(rows)} tenant file(s) valid "
            "(address plan, SG templates, quotas checked)",
        )
    )


@app.command("plan")
def plan_cmd(
    ctx: typer.Context,
    names: NamesArg = None,
    prune: PruneOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Also save the plan to FILE (JSON, mode 0600) for `tenant apply FILE`, which "
            "applies exactly it or refuses if the cloud or the files changed since.",
            show_default=False,
        ),
    ] = None,
    detailed_exitcode: DetailedExitOpt = False,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    compact: Annotated[bool, typer.Option("--compact", help="One line per change.")] = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Compare desired and actual state (exit 0: no changes, 1: changes, 2: error;
    with --detailed-exitcode 0: no changes, 1: error, 2: changes)."""
    s = session(ctx)
    lg = s.language(lang)
    files = _input_files(s) if out is not None else {}
    planned = _plan_from_files(s, names, os_cloud, os_config_file, prune)
    plan, cloud = planned.plan, planned.cloud
    stats = _stats(cloud, planned.t0)
    if out is not None:
        _save_plan(out, planned, files, names, prune)
    if output is not OutputFormat.table:
        render({**plan.as_dict(), "requests": stats}, output, schema=PLAN_SCHEMA)
    else:
        _show_plan(plan, lg, details=not compact)
        if out is not None:
            shown = display_path(out)
            stdout().print(
                pick(
                    lg,
                    f"计划已保存到 {shown}；按此计划执行：cloudctl tenant apply {shown}",
                    f"Plan saved to {shown}; apply exactly it with: cloudctl tenant apply {shown}",
                ),
                markup=False,
            )
        _print_stats(stats)
    raise typer.Exit(_exit_code(not plan.empty or bool(plan.findings), detailed_exitcode))


def _input_files(s) -> dict[str, bytes]:
    """The files a tenant plan is computed from, by path (relative to the center when
    inside it): tenant files, security-group templates, the address plan, departments,
    the zone design. A saved plan holds their hashes."""
    from cloudctl.ipam.model import plan_files

    c = s.center
    paths = [p for p in sorted(c.tenants.glob("*.yaml")) if p.is_file()]
    paths += [p for p in sorted(service.templates_dir(c).glob("*.yaml")) if p.is_file()]
    paths += [p for p in plan_files(c.address_plan) if p.is_file()]
    paths += [p for p in (c.departments, c.policies / "security-domains.yaml") if p.is_file()]
    out: dict[str, bytes] = {}
    for p in paths:
        try:
            key = str(p.resolve().relative_to(c.root.resolve()))
        except ValueError:
            key = str(p.resolve())
        out[key] = read_input(p)
    return out


def _save_plan(
    out: Path, planned: _Planned, files: dict[str, bytes], names: list[str] | None, prune: bool
) -> None:
    """Write the reviewed plan with the fingerprints ``apply FILE`` checks (mode 0600:
    it names users; it holds no password)."""
    from cloudctl import __version__

    desired, plan = planned.desired, planned.plan
    doc = planfile.build(
        plan,
        names=names,
        prune=prune,
        cloud=planned.cloud.key,
        files=planfile.file_hashes(files),
        desired=planfile.desired_sha256(desired),
        state=planfile.state_fingerprint(desired, planned.actual, plan.tenants, not names),
        version=__version__,
        created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
    )
    atomic_write(out, planfile.dumps(doc), mode=0o600)


def _progress(total: int):
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr(),
        transient=True,
        disable=not sys.stderr.isatty(),
    )


def _run(plan: Plan, s, cloud, actual, parallel: int, action: str) -> ApplyResult:
    total = len(plan.changes)
    rec: Recorder = service.recorder(s.center, cloud)
    # off a terminal (CI logs): a line per tenant finished, with N/M and an ETA
    per_tenant = {t: len(cs) for t, cs in plan.by_tenant().items()}
    seen: dict[str, list[bool]] = {}
    lg = current_lang()
    lines = LineProgress(len(per_tenant), pick(lg, "租户", "tenant"), lang=lg)

    def on_change(r, prog, task) -> None:
        prog.advance(task)
        if not r.skipped:  # every cloud write is on the record as it happens: a killed
            s.audit(  # apply leaves what it had done, not only its intent
                f"tenant.{action}.write",
                {
                    "tenant": r.change.tenant,
                    "change": f"{r.change.action} {r.change.kind} {r.change.name}",
                    **({"error": r.error} if r.error else {}),
                },
                result="ok" if r.ok else "failed",
            )
        oks = seen.setdefault(r.change.tenant, [])
        oks.append(r.ok)
        if len(oks) == per_tenant.get(r.change.tenant):
            lines.step(
                r.change.tenant,
                "ok" if all(oks) else pick(current_lang(), "失败", "failed"),
            )

    with _progress(total) as prog:
        task = prog.add_task(action, total=total)
        result = execute(
            plan,
            cloud.adapter,
            actual,
            service.password_store(s.center),
            parallel=parallel,
            on_change=lambda r: on_change(r, prog, task),
            recorder=rec,
        )
    return result


def _finish(result: ApplyResult, lg, output: OutputFormat, stats: dict) -> None:
    """Report what apply or destroy did; exit 2 when a tenant failed part-way."""
    _report(result, lg, output, stats)
    if not result.ok:
        raise typer.Exit(2)


def _report(result: ApplyResult, lg, output: OutputFormat, stats: dict) -> None:
    if output is not OutputFormat.table:
        render({**result.as_dict(), "requests": stats}, output, schema=RESULT_SCHEMA)
        return
    con = stdout()
    for t in result.tenants:
        if t.failed:
            f = t.failed
            con.print(
                f"[bold red]✗ {t.tenant}[/]: {f.change.action} {f.change.kind} {f.change.name}: "
                f"{f.error}"
            )
            skipped = [r for r in t.results if r.skipped]
            con.print(
                pick(
                    lg,
                    f"    已完成 {t.done} 项，未执行 {len(skipped)} 项；修复后再次 apply 即可收敛",
                    f"    {t.done} done, {len(skipped)} not run; apply again to converge",
                )
            )
    c = result.counts()
    msg = pick(
        lg,
        f"完成 {c['done']} 项变更，{c['failed_tenants']} 个租户失败",
        f"Applied {c['done']} change(s); {c['failed_tenants']} tenant(s) failed",
    )
    con.print(("[bold green]" if result.ok else "[bold red]") + msg + "[/]")
    _print_stats(stats)


def _confirm(auto_approve: bool, lg, question_zh: str, question_en: str) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise InputError(
            pick(
                lg,
                "非交互方式运行：确认执行请加 --auto-approve（destroy 用 --yes）",
                "not interactive: pass --auto-approve (--yes for destroy) to go ahead",
            )
        )
    if not typer.confirm(pick(lg, question_zh, question_en), default=False):
        stdout().print(pick(lg, "已取消，未做任何变更。", "Cancelled; nothing changed."))
        raise typer.Exit(1)


PlanFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--plan",
        help="Apply exactly this saved plan (`tenant plan --out FILE`); refused if the cloud, "
        "the files or the cloud identity changed since. `tenant apply FILE` is the same when "
        "FILE is no tenant code (e.g. czj.plan, ./plan).",
        show_default=False,
    ),
]


@app.command("apply")
def apply_cmd(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None,
        typer.Argument(
            help="Tenant codes (department codes, e.g. czj rsj; default: all), or one saved "
            "plan file (an argument that is no tenant code: czj.plan, ./plan).",
            show_default=False,
        ),
    ] = None,
    plan_file: PlanFileOpt = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", "-y", help="Do not ask before applying.")
    ] = False,
    prune: PruneOpt = False,
    allow_destroy_project: AllowProjectOpt = None,
    allow_mass_delete: AllowMassOpt = False,
    parallel: Annotated[
        int, typer.Option("--parallel", "-p", min=1, max=32, help="Tenants worked on at once.")
    ] = 4,
    dry_run: DryRunOpt = False,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Show the plan, ask, then create/update (and with --prune delete) in dependency order.

    Holds the lock of the named tenants (of the cloud without names) from reading the
    cloud to the last write, so a second operator waits and then plans afresh."""
    s = session(ctx)
    lg = s.language(lang)
    opts = _ApplyOpts(
        auto_approve, allow_destroy_project or [], allow_mass_delete, parallel, dry_run, output
    )
    saved_path = _saved_plan_arg(names, plan_file, prune, lg)
    if saved_path is not None:
        _apply_saved(s, lg, saved_path, opts, os_cloud, os_config_file)
        return
    desired = _load_desired(s, names, lg)
    cloud = service.open_cloud(os_cloud, os_config_file)
    if dry_run:
        plan = _replan(s, desired, cloud, names, prune).plan
        if output is OutputFormat.table:
            _show_plan(plan, lg)
        _stop_for_dry_run(plan, output)
    with _lock(s, desired, cloud, names):
        planned = _replan(s, desired, cloud, names, prune)
        result = _converge(s, lg, planned, opts)
    if result is not None:
        _audit_apply(s, lg, opts, result, _stats(cloud, planned.t0), prune)


class _ApplyOpts(NamedTuple):
    auto_approve: bool
    allow_destroy_project: list[str]
    allow_mass_delete: bool
    parallel: int
    dry_run: bool
    output: OutputFormat


def _converge(s, lg, planned: _Planned, o: _ApplyOpts) -> ApplyResult | None:
    """From a plan read inside the lock: show it, guard, ask, run (None: nothing to run)."""
    _desired, cloud, plan, actual, t0 = planned
    if o.output is OutputFormat.table:
        _show_plan(plan, lg)
    _refuse_blocking(plan, lg)
    _guard_deletions(
        plan, actual, planned.desired.scope, o.allow_destroy_project, o.allow_mass_delete, lg
    )
    if plan.empty:
        _adopt(s, cloud, plan, lg, o.output)
        if o.output is not OutputFormat.table:
            render(
                {**plan.as_dict(), "applied": None, "requests": _stats(cloud, t0)},
                o.output,
                schema=PLAN_SCHEMA,
            )
        return None
    _preflight(s, plan, actual, cloud, lg)
    _confirm(o.auto_approve, lg, "执行以上变更？", "Apply these changes?")
    _adopt(s, cloud, plan, lg, o.output)
    return _run(plan, s, cloud, actual, o.parallel, "apply")


def _audit_apply(
    s, lg, o: _ApplyOpts, result: ApplyResult, stats: dict, prune: bool, **extra
) -> None:
    """The change record of an apply, then the report (exit 2 when a tenant failed)."""
    s.audit(
        "tenant.apply",
        changes=[
            {
                "tenant": r.change.tenant,
                "change": f"{r.change.action} {r.change.kind} {r.change.name}",
                "ok": r.ok,
                **({"error": r.error} if r.error else {}),
            }
            for t in result.tenants
            for r in t.results
            if not r.skipped
        ],
        result="ok" if result.ok else "partial",
        requests=stats,
        prune=prune,
        **extra,
    )
    _finish(result, lg, o.output, stats)


def _saved_plan_arg(
    names: list[str] | None, plan_file: Path | None, prune: bool, lg
) -> Path | None:
    """``apply FILE`` / ``apply --plan FILE``: the saved plan's path, else None. Tenant
    codes match ``[a-z][a-z0-9]{1,23}``, so an argument that does not is a file."""
    files = [n for n in names or [] if not CODE_RE.match(n)]
    if plan_file is None and not files:
        return None
    if (plan_file is not None and names) or len(names or []) > 1:
        raise InputError(
            pick(
                lg,
                "保存的计划已包含租户范围：计划文件之外不要再给租户代码（或两个计划文件）",
                "a saved plan has its own tenants: give the plan file alone, no tenant codes "
                "(and one plan file)",
            )
        )
    if prune:
        raise InputError(
            pick(
                lg,
                "--prune 在保存计划时决定（tenant plan --prune --out FILE），执行时不能再给",
                "--prune is decided when the plan is saved (tenant plan --prune --out FILE), "
                "not when it is applied",
            )
        )
    return plan_file if plan_file is not None else Path(files[0])


def _refuse_saved(path: Path, mismatches: list[planfile.Mismatch], lg) -> NoReturn:
    raise ConflictError(
        pick(
            lg,
            "保存的计划已不成立，未做任何变更（请重新 tenant plan --out）：",
            "the saved plan no longer holds, nothing was changed (plan again with "
            "`tenant plan --out`): ",
        )
        + "; ".join(str(m) for m in mismatches),
        Location(display_path(path)),
    )


def _apply_saved(s, lg, path: Path, o: _ApplyOpts, os_cloud, os_config_file) -> None:
    """Apply exactly a saved plan: the files, the cloud identity and (inside the lock) the
    cloud state must fingerprint as when it was saved, and the plan computed now must
    equal the saved changes; otherwise refuse (exit 2) naming what changed."""
    from cloudctl import __version__

    saved = planfile.load(read_input(path), display_path(path))
    names, prune = saved.names, saved.prune
    files = planfile.file_hashes(_input_files(s))
    early = planfile.check_files(saved, version=__version__, files=files)
    if early:
        _refuse_saved(path, early, lg)
    desired = _load_desired(s, names, lg)
    cloud = service.open_cloud(os_cloud, os_config_file)
    early = planfile.check_target(saved, cloud=cloud.key, desired=planfile.desired_sha256(desired))
    if early:
        _refuse_saved(path, early, lg)
    with _lock(s, desired, cloud, names):
        planned = _replan(s, desired, cloud, names, prune)
        state = planfile.state_fingerprint(desired, planned.actual, planned.plan.tenants, not names)
        late = planfile.check_state(saved, state) or planfile.check_plan(saved, planned.plan)
        if late:
            _refuse_saved(path, late, lg)
        if o.dry_run:
            if o.output is OutputFormat.table:
                _show_plan(planned.plan, lg)
                stdout().print(
                    pick(lg, "保存的计划仍然成立。", "The saved plan still holds."), markup=False
                )
            _stop_for_dry_run(planned.plan, o.output)
        result = _converge(s, lg, planned, o)
    if result is not None:
        plan_ref = {"path": str(path), "sha256": saved.sha256}
        _audit_apply(s, lg, o, result, _stats(cloud, planned.t0), prune, plan_file=plan_ref)


def _adopt(s, cloud, plan: Plan, lg, output: OutputFormat) -> None:
    """Record what matches the desired state exactly but has no record (made before the
    ownership record existed, or by a run killed between create and record)."""
    if not plan.adoptions:
        return
    n = service.ownership_store(s.center).record_many(cloud.key, plan.adoptions)
    s.audit(
        "tenant.adopt",
        changes=[f"{k} {name} {i}" for k, i, name, _t in plan.adoptions],
        how="matches the desired state",
    )
    if output is OutputFormat.table:
        stdout().print(
            pick(
                lg,
                f"已将 {n} 个与期望状态完全一致的资源登记为 cloudctl 创建（升级前创建）",
                f"Recorded {n} resource(s) that match the desired state exactly as "
                "cloudctl's (made before the ownership record)",
            )
        )


@app.command("adopt")
def adopt_cmd(
    ctx: typer.Context,
    names: NamesArg = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    dry_run: DryRunOpt = False,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Take over resources made before the ownership record: every resource of the
    tenant files that carries cloudctl's marker and has a desired name (check them first)."""
    s = session(ctx)
    lg = s.language(lang)
    desired = service.load_desired(s.center, names or ())
    cloud = service.open_cloud(os_cloud, os_config_file)
    with _lock(s, desired, cloud, names):
        plan, _actual = service.plan_tenants(cloud, desired, names or (), False, s.center)
        _refuse_blocking(plan, lg)
        items = [*plan.adoptions, *plan.unrecorded]
        rows = [{"tenant": t, "kind": k, "name": n, "id": i} for k, i, n, t in items]
        if output is not OutputFormat.table:
            render({"adopt": rows, "dry_run": dry_run}, output, schema="cloudctl.tenant.adopt/1")
        else:
            for r in rows:
                stdout().print(f"  + {r['kind']} {r['name']} ({r['id']})", markup=False)
            stdout().print(
                pick(lg, f"待登记 {len(rows)} 个资源", f"{len(rows)} resource(s) to record")
            )
        if not items or dry_run:
            raise typer.Exit(0 if not items else 1)
        _confirm(
            yes,
            lg,
            "确认以上资源由 cloudctl 管理（之后可被 --prune/destroy 删除）？",
            "Record these as cloudctl's (--prune and destroy may then delete them)?",
        )
        n = service.ownership_store(s.center).record_many(cloud.key, items)
    s.audit("tenant.adopt", changes=[f"{k} {nm} {i}" for k, i, nm, _t in items], how="adopt")
    if output is OutputFormat.table:
        stdout().print(pick(lg, f"已登记 {n} 个资源", f"Recorded {n} resource(s)"))


@app.command("drift")
def drift_cmd(
    ctx: typer.Context,
    names: NamesArg = None,
    detailed_exitcode: DetailedExitOpt = False,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Read-only: out-of-band changes on managed resources; wide-open rules flagged (exit 1;
    with --detailed-exitcode: 2 on drift, 1 on error)."""
    s = session(ctx)
    lg = s.language(lang)
    desired, cloud, plan, actual, _t0 = _plan_from_files(
        s, names, os_cloud, os_config_file, prune=False
    )
    items = drift_items(plan, actual, desired)
    stats = cloud.counter.summary()
    if stats["writes"]:
        raise CloudctlError(
            _("internal: drift made {stats} write call(s)").format(stats=stats["writes"])
        )
    if output is not OutputFormat.table:
        render(
            {"drift": [i.as_dict() for i in items], "requests": stats},
            output,
            schema="cloudctl.tenant.drift/1",
        )
    else:
        print_drift(items, stdout(), lg)
    raise typer.Exit(_exit_code(bool(items), detailed_exitcode))


@app.command("destroy")
def destroy_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Tenant code (department code).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    dry_run: DryRunOpt = False,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Delete what cloudctl created of one tenant, in reverse order (default SG and quotas
    too); every precondition is checked first: a blocked destroy deletes nothing."""
    s = session(ctx)
    lg = s.language(lang)
    settings = TenantSettings.from_center_settings(s.center.settings)
    cloud = service.open_cloud(os_cloud, os_config_file)
    with service.change_lock(s.center, cloud, [name], whole_cloud=True):
        t0 = time.perf_counter()
        plan, actual, _kept = service.destroy_plan(cloud, settings, name, s.center)
        n = sum(1 for c in plan.changes if c.action == "delete" and c.kind != "quota")
        if output is OutputFormat.table:
            print_plan(plan, stdout(), lg, details=False)
            stdout().print(
                pick(
                    lg,
                    f"租户 {name}：将删除 {n} 个资源",
                    f"tenant {name}: {n} resource(s) will be deleted",
                ),
                markup=False,
            )
        _preflight(s, plan, actual, cloud, lg)
        if dry_run:
            _stop_for_dry_run(plan, output)
        _confirm(
            yes,
            lg,
            f"删除租户 {name} 的以上资源？此操作不可恢复",
            f"Destroy these resources of tenant {name}? This cannot be undone",
        )
        result = _run(plan, s, cloud, actual, 1, "destroy")
    stats = _stats(cloud, t0)
    s.audit(
        "tenant.destroy",
        changes=[
            f"{r.change.action} {r.change.kind} {r.change.name}"
            for t in result.tenants
            for r in t.results
            if r.ok
        ],
        result="ok" if result.ok else "partial",
        tenant=name,
        requests=stats,
    )
    _finish(result, lg, output, stats)
