"""``cloudctl baseline``: MLPS level-3 host baseline — check, report, remediate, history."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from cloudctl.baseline import report as rep
from cloudctl.baseline import service as svc
from cloudctl.baseline import store
from cloudctl.baseline.remediate import task_control
from cloudctl.cli.ansible_opts import AcceptNewOpt, ForksOpt, use_ansible_options
from cloudctl.cli.common import DryRunOpt, LangOpt, OutputOpt, column_table, session
from cloudctl.core.errors import InputError
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _
from cloudctl.core.output import Column, OutputFormat, ident, pick, render, stderr, stdout
from cloudctl.core.progress import LineProgress
from cloudctl.state import open_state

if TYPE_CHECKING:
    from cloudctl.core.center import Center

REMEDIATE_SCHEMA = "cloudctl.baseline.remediate/1"
app = typer.Typer(
    no_args_is_help=True, help="等保三级主机基线：核查、报告、整改 (MLPS level-3 baseline)."
)

LimitOpt = Annotated[str | None, typer.Option("--limit", "-l", help="Ansible host pattern.")]
InvOpt = Annotated[
    list[str] | None,
    typer.Option("--inventory", "-i", help="Inventory path (repeatable); default: the center's."),
]
ProfileOpt = Annotated[str, typer.Option("--profile", help="Catalog profile under policies/.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Write the HTML report here.")]
FailedOnlyOpt = Annotated[
    bool,
    typer.Option(
        "--failed-only", help="Only what failed: hosts, clause items and controls that fail."
    ),
]
RESULT_KEYS = ("host", "control", "verdict", "observed", "expected")
RESULT_COLUMNS = [
    ident("host"),
    ident("control"),
    ident("verdict"),
    Column("observed", "observed"),
    Column("expected", "expected"),
]
ControlOpt = Annotated[
    list[str] | None, typer.Option("--control", "-c", help="Only this control (repeatable).")
]


def _emit(
    ctx: typer.Context,
    doc: dict,
    output: OutputFormat,
    lang: str,
    junit: Path | None,
    html: Path | None,
    inputs: svc.Inputs | None = None,
    failed_only: bool = False,
    header: dict | None = None,
) -> None:
    """Write the JUnit/HTML files asked for, render the report, exit 1 when anything failed.

    ``value``/``csv``/``-c`` list one row per host and control (``--failed-only``: the
    failing ones); json/yaml are the whole run document. ``header``: the assessor
    report's header options (system, level, scope, assessor, appendix)."""
    if junit:
        atomic_write(junit, rep.junit(doc))
    if html:
        snippets = svc.remediation_snippets(inputs.profile) if inputs else {}
        context = rep.gather_context(
            session(ctx).center, doc, inputs.profile if inputs else None, **(header or {})
        )
        atomic_write(html, rep.html_report(doc, lang, snippets, context))
    listing = [
        {k: r.get(k) for k in RESULT_KEYS}
        for r in doc["results"]
        if not failed_only or r["verdict"] in ("fail", "error")
    ]
    render(
        doc,
        output,
        table=lambda con: rep.terminal(doc, lang, con, failed_only=failed_only),
        rows=listing,
        columns=RESULT_COLUMNS,
    )
    if output is OutputFormat.table:
        for label, p in (("JUnit", junit), ("HTML", html)):
            if p:
                stdout().print(f"[dim]{label}: {p}[/]")
    if doc["summary"]["failed"]:
        raise typer.Exit(1)


def _host_count(invs: list[Path], limit: str | None) -> int | None:
    """How many hosts the run will reach (for N/M and the ETA); None when unknown."""
    try:
        from ansible.inventory.manager import InventoryManager
        from ansible.parsing.dataloader import DataLoader

        im = InventoryManager(loader=DataLoader(), sources=[str(p) for p in invs])
        if limit:
            im.subset(limit)
        return len(im.get_hosts("all")) or None
    except Exception:  # only a progress figure: never fail the run for it
        return None


def _progress(lang: str, total_hint: str, total: int | None = None):
    """A spinner on a terminal; off one (CI logs) a line per host with N/M and an ETA."""
    con = stderr()
    status = con.status(
        pick(lang, f"正在采集证据（{total_hint}）…", f"collecting evidence ({total_hint})…")
    )
    lines = LineProgress(total or 0, pick(lang, "主机", "host"), lang=lang)
    done: list[str] = []

    def on_event(ev: dict) -> None:
        data = ev.get("event_data") or {}
        if (
            ev.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable")
            and data.get("task") == "Gather the baseline evidence"
        ):
            done.append(data.get("host", "?"))
            lines.total = max(lines.total, len(done))
            kind = {"runner_on_ok": "ok", "runner_on_failed": "failed"}.get(
                ev["event"], pick(lang, "无法连接", "unreachable")
            )
            lines.step(data.get("host", "?"), kind)
            status.update(
                pick(lang, f"已采集 {len(done)} 台主机…", f"{len(done)} hosts collected…")
            )

    return status, on_event


def _control_lines(lang: str, targets: dict[str, list[str]]):
    """Off a terminal: a line per control remediated (the role's tasks are named
    ``<clause><item> <control id> | …``), with N/M and an ETA. Returns the event handler
    and a finish."""
    lines = LineProgress(len(targets), pick(lang, "控制项", "control"), lang=lang)
    current: list[str] = []

    def on_event(ev: dict) -> None:
        if ev.get("event") != "playbook_on_task_start":
            return
        cid = task_control(str((ev.get("event_data") or {}).get("task", "")))[0]
        if cid in targets and cid not in current:
            if current:
                lines.step(current[-1])
            current.append(cid)

    def finish() -> None:
        if current:
            lines.step(current[-1])

    return on_event, finish


def _collect_and_evaluate(
    center: Center,
    lang: str,
    inputs: svc.Inputs,
    invs: list[Path],
    run_id: str,
    limit: str | None,
    controls: list[str] | None,
    check_updates: bool | None,
) -> tuple[Path, dict]:
    """Gather evidence from the hosts under a progress line, then judge it.

    Returns the evidence file and the result document.
    """
    status, on_event = _progress(lang, limit or "all", _host_count(invs, limit))
    with status:
        evidence_file, _ = svc.collect(
            center,
            invs,
            limit=limit,
            run_id=run_id,
            check_updates=check_updates,
            service_units=inputs.profile.service_units(),
            on_event=on_event,
        )
    return evidence_file, svc.evaluate_file(center, evidence_file, inputs, run_id, controls)


def _check_controls(inputs: svc.Inputs, controls: list[str] | None) -> list[str] | None:
    if not controls:
        return None
    unknown = [c for c in controls if inputs.profile.control(c) is None]
    if unknown:
        raise InputError(
            _("unknown control(s): {unknown} (see `cloudctl baseline controls`)").format(
                unknown=", ".join(unknown)
            )
        )
    return list(controls)


@app.command("check")
def check(
    ctx: typer.Context,
    limit: LimitOpt = None,
    inventory: InvOpt = None,
    profile: ProfileOpt = "mlps-l3",
    control: ControlOpt = None,
    output: OutputOpt = OutputFormat.table,
    junit: JunitOpt = None,
    html: HtmlOpt = None,
    lang: LangOpt = None,
    no_updates: Annotated[
        bool, typer.Option("--no-updates", help="Skip the (slow) pending-update query.")
    ] = False,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record the run in the state DB.")
    ] = False,
    forks: ForksOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
    failed_only: FailedOnlyOpt = False,
) -> None:
    """Check hosts against the baseline (read-only). Exit 1 when anything fails."""
    s = session(ctx)
    lg = str(s.language(lang))
    center = s.center
    use_ansible_options(ctx, center, forks, accept_new_host_keys)
    inputs = svc.load_inputs(center, profile)
    controls = _check_controls(inputs, control)
    invs = svc.inventories(center, inventory)
    run_id = svc.new_run_id()
    t0 = time.monotonic()
    evidence_file, doc = _collect_and_evaluate(
        center,
        lg,
        inputs,
        invs,
        run_id,
        limit,
        controls,
        check_updates=False if no_updates else None,
    )
    doc["evidence_file"] = str(evidence_file)
    doc["elapsed_seconds"] = round(time.monotonic() - t0, 2)
    if not no_store:
        store.save_run(open_state(center), doc, source="check")
    _emit(ctx, doc, output, lg, junit, html, inputs, failed_only)


@app.command("report")
def report_cmd(
    ctx: typer.Context,
    evidence: Annotated[
        Path, typer.Argument(help="Evidence file written by playbooks/baseline/check.yml.")
    ],
    profile: ProfileOpt = "mlps-l3",
    output: OutputOpt = OutputFormat.table,
    junit: JunitOpt = None,
    html: HtmlOpt = None,
    lang: LangOpt = None,
    store_run: Annotated[
        bool, typer.Option("--store", help="Also record it in the run history.")
    ] = False,
    failed_only: FailedOnlyOpt = False,
    system: Annotated[
        str | None, typer.Option("--system", help="Assessed system (default: the center's name).")
    ] = None,
    assessor: Annotated[
        str | None, typer.Option("--assessor", help="Assessor named in the HTML header.")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="Protection level text (default: level 3).")
    ] = None,
    scope: Annotated[
        str | None, typer.Option("--scope", help="Scope text (default: the hosts assessed).")
    ] = None,
    appendix: Annotated[
        str,
        typer.Option(
            "--appendix",
            help="HTML per-host appendix: full, findings (failing/waived only) or auto "
            "(full up to 10 hosts).",
        ),
    ] = "auto",
    cloud_assessment: Annotated[
        Path | None,
        typer.Option(
            "--cloud-assessment",
            help="Merge a `cloudctl domains check --cloud -o json` document: the platform "
            "and each tenant as assessed objects in the JSON, JUnit and HTML.",
        ),
    ] = None,
    cloud_matrix: Annotated[
        Path | None,
        typer.Option(
            "--cloud-matrix",
            help="With --cloud-assessment: `cloudctl domains matrix --cloud -o json`, shown "
            "as a heatmap next to the design.",
        ),
    ] = None,
) -> None:
    """Turn an evidence file (plain ansible-playbook run) into every report format."""
    s = session(ctx)
    lg = str(s.language(lang))
    if appendix not in ("auto", "full", "findings"):
        raise InputError(
            _("--appendix {appendix!r}: expected auto, full or findings").format(appendix=appendix)
        )
    if cloud_matrix and not cloud_assessment:
        raise InputError(_("--cloud-matrix needs --cloud-assessment"))
    inputs = svc.load_inputs(s.center, profile)
    doc = svc.evaluate_file(s.center, evidence, inputs, "")
    doc["evidence_file"] = str(evidence)
    # named by its content: the same evidence gives the same document (and stored run)
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    doc["run_id"] = f"report-{digest[:12]}"
    if store_run:
        store.save_run(open_state(s.center), doc, source="report")
    if cloud_assessment:
        doc = rep.merge_cloud(
            doc,
            rep.read_json_document(cloud_assessment),
            rep.read_json_document(cloud_matrix) if cloud_matrix else None,
        )
    header = {"system": system, "assessor": assessor, "level": level, "scope": scope,
              "appendix": appendix}  # fmt: skip
    _emit(ctx, doc, output, lg, junit, html, inputs, failed_only, header)


@app.command("remediate")
def remediate_cmd(
    ctx: typer.Context,
    limit: LimitOpt = None,
    inventory: InvOpt = None,
    profile: ProfileOpt = "mlps-l3",
    control: ControlOpt = None,
    dry_run: DryRunOpt = False,
    all_controls: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Run every remediable control, passing ones too (proves idempotency: expect no change).",  # noqa: E501
        ),
    ] = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
    forks: ForksOpt = None,
    accept_new_host_keys: AcceptNewOpt = False,
) -> None:
    """Fix the failing controls only (per-control tags); --dry-run = check mode with diff."""
    s = session(ctx)
    lg = str(s.language(lang))
    center = s.center
    use_ansible_options(ctx, center, forks, accept_new_host_keys)
    inputs = svc.load_inputs(center, profile)
    controls = _check_controls(inputs, control)
    invs = svc.inventories(center, inventory)
    run_id = svc.new_run_id()
    _evidence_file, doc = _collect_and_evaluate(
        center, lg, inputs, invs, run_id, limit, controls, check_updates=False
    )
    targets: dict[str, list[str]] = {}
    advice_only = []
    for r in doc["results"]:
        if r["verdict"] != "fail" and not (all_controls and r["verdict"] in ("pass", "waived")):
            continue
        c = inputs.profile.control(r["control"])
        if c is not None and c.remediable:
            targets.setdefault(c.id, []).append(r["host"])
        elif r["verdict"] == "fail":
            advice_only.append(r)
    unreachable = doc["summary"]["hosts_unreachable"]
    if not targets:
        result = {
            "run_id": run_id,
            "dry_run": dry_run,
            "targets": {},
            "changed": {},
            "failed": [],
            "results": {},
            "advice_only": advice_only,
            "unreachable": unreachable,
        }
        s.audit(
            "baseline.remediate", {"dry_run": dry_run, "targets": {}, "changed": {}}, result="noop"
        )

        def nothing(con) -> None:
            con.print(pick(lg, "没有可自动整改的不通过项。", "Nothing to remediate automatically."))
            _print_unreachable(con, lg, unreachable, doc)

        render(result, output, table=nothing, schema=REMEDIATE_SCHEMA)
        raise typer.Exit(1 if unreachable else 0)
    with stderr().status(
        pick(
            lg,
            f"正在{'预演' if dry_run else '执行'}整改 {len(targets)} 个控制项…",
            f"{'previewing' if dry_run else 'applying'} {len(targets)} controls…",
        )
    ):
        on_event, finish = _control_lines(lg, targets)
        out = svc.remediate(
            center,
            invs,
            inputs,
            targets,
            limit=limit,
            dry_run=dry_run,
            run_id=run_id,
            on_event=on_event,
        )
        finish()
    if out.stale_role:  # the committed role is behind the catalog: say so, never run it
        stderr().print(
            pick(
                lg,
                f"注意：roles/baseline 有 {len(out.stale_role)} 个文件与基线目录不一致，"
                "本次使用由目录生成的角色；请运行 cloudctl baseline playbook 更新。",
                f"note: {len(out.stale_role)} file(s) of roles/baseline differ from the catalog; "
                "this run used a role generated from the catalog. Run `cloudctl baseline "
                "playbook` to update it.",
            )
        )
    failed_pairs = [
        {"host": h, "control": cid, "reason": row.get("reason", "")}
        for h, rows in out.results.items()
        for cid, row in rows.items()
        if row["status"] == "failed"
    ]
    result = {
        "run_id": run_id,
        "dry_run": dry_run,
        "targets": targets,
        "results": out.results,
        "changed": out.changed,
        # check mode never fails the run: what could not be previewed is listed, not failed
        "failed": [] if dry_run else out.failed,
        "failed_controls": [] if dry_run else failed_pairs,
        "preview_problems": failed_pairs if dry_run else [],
        "diffs": out.diffs if dry_run else [],
        "advice_only": [{"host": r["host"], "control": r["control"]} for r in advice_only],
        "unreachable": unreachable,
        "playbook": str(out.playbook),
        "seconds": round(out.seconds, 2),
    }
    s.audit(
        "baseline.remediate",
        {
            "dry_run": dry_run,
            "limit": limit,
            "targets": targets,
            "changed": out.changed,
            "failed": result["failed_controls"],
            "playbook": str(out.playbook),
        },
        result="failed" if result["failed_controls"] else ("dry-run" if dry_run else "ok"),
    )

    def table(con) -> None:
        t = column_table(
            (pick(lg, "控制项", "control"), pick(lg, "主机", "host"), pick(lg, "结果", "result")),
            ids=(0, 1),
            title=pick(
                lg,
                "整改预演（检查模式）" if dry_run else "整改结果",
                "remediation preview (check mode)" if dry_run else "remediation",
            ),
        )
        for host, rows in sorted(out.results.items()):
            for cid, row in sorted(rows.items()):
                t.add_row(escape(cid), escape(host), _status_text(row, lg, dry_run))
        con.print(t)
        if dry_run:
            for d in out.diffs[:40]:
                dd = d["diff"]
                if dd.get("before") != dd.get("after") and (dd.get("before") or dd.get("after")):
                    con.print(
                        f"[bold]{escape(d['host'])}[/] {escape(d['task'])} "
                        f"[dim]{escape(str(dd.get('after_header') or dd.get('before_header') or ''))}[/]"  # noqa: E501
                    )
        counts: dict[str, int] = {}
        for rows in out.results.values():
            for row in rows.values():
                counts[row["status"]] = counts.get(row["status"], 0) + 1
        con.print(
            pick(
                lg,
                f"{'将变更' if dry_run else '已变更'} {counts.get('changed', 0)}，无需变更 "
                f"{counts.get('unchanged', 0)}，失败 {counts.get('failed', 0)}，跳过 "
                f"{counts.get('skipped', 0)}（主机×控制项），耗时 {out.seconds:.1f} 秒",
                f"{'would change' if dry_run else 'changed'} {counts.get('changed', 0)}, "
                f"unchanged {counts.get('unchanged', 0)}, failed {counts.get('failed', 0)}, "
                f"skipped {counts.get('skipped', 0)} host×control pairs in {out.seconds:.1f} s",
            )
        )
        if advice_only:
            con.print(
                pick(
                    lg,
                    f"另有 {len(advice_only)} 项需人工整改（见报告中的整改建议）。",
                    f"{len(advice_only)} more need manual work (see the report's advice).",
                )
            )
        _print_unreachable(con, lg, unreachable, doc)

    render(result, output, table=table, schema=REMEDIATE_SCHEMA)
    if result["failed_controls"] or unreachable:
        raise typer.Exit(1)


_STATUS = {
    "changed": ("green", "已变更", "changed"),
    "unchanged": ("dim", "无需变更", "unchanged"),
    "failed": ("bold red", "失败", "failed"),
    "skipped": ("yellow", "跳过", "skipped"),
}


def _status_text(row: dict, lg: str, dry_run: bool) -> str:
    style, zh, en = _STATUS.get(row["status"], ("", row["status"], row["status"]))
    if dry_run and row["status"] == "changed":
        zh, en = "将变更", "would change"
    if dry_run and row["status"] == "failed":
        zh, en = "无法预演", "preview failed"
    text = pick(lg, zh, en)
    if row.get("reason"):
        text += f": {row['reason']}"
    return f"[{style}]{escape(text)}[/]"


def _print_unreachable(con, lg: str, unreachable: list[str], doc: dict) -> None:
    """Hosts that could not be reached were neither checked nor remediated: say so."""
    errors = {h["name"]: h.get("error", "") for h in doc.get("hosts", [])}
    for h in unreachable:
        con.print(
            f"[bold red]{pick(lg, '主机不可达，未核查也未整改', 'host unreachable, not checked or remediated')}"  # noqa: E501
            f"[/] {escape(h)} [dim]{escape(str(errors.get(h, ''))[:160])}[/]"
        )


@app.command("runs")
def runs_cmd(
    ctx: typer.Context,
    last: Annotated[int, typer.Option("--last", "-n")] = 20,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """List stored baseline runs."""
    s = session(ctx)
    lg = str(s.language(lang))
    rows = store.list_runs(open_state(s.center), last)

    def table(con) -> None:
        t = column_table(
            (
                "run",
                pick(lg, "时间", "time"),
                pick(lg, "来源", "source"),
                pick(lg, "主机", "hosts"),
                pick(lg, "通过", "pass"),
                pick(lg, "不通过", "fail"),
                pick(lg, "符合率", "rate"),
                pick(lg, "结论", "conclusion"),
            ),
            ids=(0, 1, 3, 4, 5, 6),
            optional=(1, 2),  # the run id holds the time
            right=(3, 4, 5, 6),
        )
        for r in rows:
            t.add_row(
                escape(r["run_id"]),
                r["started_at"][:19],
                escape(r["source"]),
                str(r["hosts"]),
                str(r["verdicts"].get("pass", 0)),
                str(r["verdicts"].get("fail", 0)),
                "—" if r["compliance_rate"] is None else f"{r['compliance_rate']}%",
                rep.CONCLUSION_LABEL.get(r["conclusion"] or "", {}).get(lg, r["conclusion"] or ""),
            )
        con.print(t)

    render(rows, output, table=table, schema="cloudctl.baseline.runs/1")


@app.command("diff")
def diff_cmd(
    ctx: typer.Context,
    run_a: Annotated[
        str | None, typer.Argument(help="Older run (default: the one before the latest).")
    ] = None,
    run_b: Annotated[str | None, typer.Argument(help="Newer run (default: the latest).")] = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """What got better or worse between two runs. Exit 1 when something got worse."""
    s = session(ctx)
    lg = str(s.language(lang))
    db = open_state(s.center)
    if not run_a or not run_b:
        a_id, b_id = store.latest_two(db)
        run_a, run_b = run_a or a_id, run_b or b_id
    d = store.diff_runs(store.load_run(db, run_a), store.load_run(db, run_b))

    def table(con) -> None:
        con.print(
            f"{d['run_a']} → {d['run_b']}: {pick(lg, '符合率', 'rate')} {d['rate_a']}% → {d['rate_b']}%"  # noqa: E501
        )
        for key, title, style in (
            ("better", pick(lg, "改善", "better"), "green"),
            ("worse", pick(lg, "变差", "worse"), "bold red"),
            ("changed", pick(lg, "其他变化", "other changes"), "yellow"),
        ):
            if not d[key]:
                continue
            t = column_table(
                (
                    pick(lg, "主机", "host"),
                    pick(lg, "控制项", "control"),
                    pick(lg, "之前", "before"),
                    pick(lg, "之后", "after"),
                    pick(lg, "实际", "observed"),
                ),
                ids=(0, 1),
                title=f"[{style}]{title} ({len(d[key])})[/]",
            )
            for r in d[key]:
                t.add_row(
                    *(escape(str(r[k])) for k in ("host", "control", "before", "after")),
                    escape(str(r["observed"])[:80]),
                )
            con.print(t)
        if not (d["better"] or d["worse"] or d["changed"]):
            con.print(pick(lg, "两次运行结果相同。", "No differences."))

    render(d, output, table=table, schema="cloudctl.baseline.diff/1")
    if d["worse"]:
        raise typer.Exit(1)


@app.command("controls")
def controls_cmd(
    ctx: typer.Context,
    profile: ProfileOpt = "mlps-l3",
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """List the catalog's controls (validates the catalog and the waivers)."""
    s = session(ctx)
    lg = str(s.language(lang))
    inputs = svc.load_inputs(s.center, profile)
    from cloudctl.baseline.engine import control_meta

    rows = [control_meta(c) for c in inputs.profile.controls]

    def table(con) -> None:
        t = column_table(
            (
                "id",
                pick(lg, "条款", "clause"),
                pick(lg, "单元", "unit"),
                pick(lg, "标题", "title"),
                pick(lg, "级别", "severity"),
                pick(lg, "方式", "kind"),
                pick(lg, "高风险", "high risk"),
            ),
            ids=(0, 1, 2),
            optional=(4, 5, 6),
            title=f"{inputs.profile.title.get(lg, '')}: "
            f"{len(inputs.profile.automated)} {pick(lg, '自动', 'automated')} + "
            f"{len(inputs.profile.manual)} {pick(lg, '人工', 'manual')}",
        )
        for r in rows:
            t.add_row(
                escape(r["id"]),
                f"{r['clause']} {r['item']}",
                escape(r["unit"]),
                escape(r["title"].get(lg, "")),
                escape(r["severity"]),
                escape(r["kind"]),
                escape(r["high_risk"] or ""),
            )
        con.print(t)

    render(rows, output, table=table, schema="cloudctl.baseline.controls/1")


@app.command("playbook")
def playbook_cmd(
    ctx: typer.Context,
    profile: ProfileOpt = "mlps-l3",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory (default: playbooks/baseline; role: roles/baseline)"),
    ] = None,
) -> None:
    """Regenerate the remediation role (roles/baseline) and its playbook from the catalog."""
    s = session(ctx)
    inputs = svc.load_inputs(s.center, profile)
    from cloudctl.baseline.remediate import role_files
    from cloudctl.baseline.role import write_role

    target = out or (s.center.playbooks / "baseline")
    files = role_files(inputs.profile, [c for c in inputs.profile.automated if c.remediable])
    changed = write_role(target, files)
    s.audit("baseline.playbook", {"written": str(target), "changed": changed})
    stdout().print(str(target / "remediate.yml"))
