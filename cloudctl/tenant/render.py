"""Terminal views of plans, drift and apply results (Terraform-like, coloured by rich)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from cloudctl.core.output import Lang, pick
from cloudctl.tenant.diff import Change, DriftItem, Plan

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red")}


def _v(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, default=str)


def _change_lines(c: Change, con: Console, indent: str = "  ", details: bool = True) -> None:
    sym, color = SYMBOL[c.action]
    line = Text(indent)
    line.append(f"{sym} {c.kind} ", style=f"bold {color}")
    line.append(c.name, style=color)
    if c.reason and c.action != "create":
        line.append(f"   # {c.reason}", style="dim")
    con.print(line)
    if c.warning:
        con.print(Text(f"{indent}    !! {c.warning}", style="bold white on red"))
    if not details:
        return
    for attr, (old, new) in c.attrs.items():
        if c.action == "create":
            con.print(f"{indent}    [dim]{escape(attr)}:[/] {escape(_v(new))}")
        else:
            old_s, new_s = escape(_v(old)), escape(_v(new))
            con.print(f"{indent}    {escape(attr)}: [red]{old_s}[/] → [green]{new_s}[/]")


def print_plan(plan: Plan, con: Console, lang: Lang | str, details: bool = True) -> None:
    for note in plan.notes:
        con.print(f"[cyan]note:[/] {escape(note)}")
    for tenant, changes in plan.by_tenant().items():
        con.print(f"[bold]# {escape(tenant)}[/]")
        for c in changes:
            _change_lines(c, con, details=details)
    if plan.pruneable:
        con.print(
            "[bold]"
            + pick(
                lang,
                "# 受管但已不在期望状态中的资源（加 --prune 才删除）：",
                "# managed but no longer desired (deleted only with --prune):",
            )
            + "[/]"
        )
        for c in plan.pruneable:
            _change_lines(c, con, details=False)
    if plan.warnings:
        con.print(
            "[bold red]"
            + pick(
                lang,
                "# 高危：非 cloudctl 管理的安全组中存在对全网开放的规则（需人工处理）：",
                "# DANGER: wide-open rules in security groups cloudctl does not manage "
                "(fix by hand):",
            )
            + "[/]"
        )
        for c in plan.warnings:
            con.print(Text(f"  !! {c.name}   ({c.tenant})", style="bold white on red"))
    n = plan.counts()
    if plan.empty:
        con.print(
            "[bold green]"
            + pick(
                lang,
                "无变更：云上状态与期望一致。",
                "No changes. The cloud matches the desired state.",
            )
            + "[/]"
        )
    else:
        con.print(
            pick(
                lang,
                f"[bold]计划：[green]新增 {n['create']}[/]，[yellow]修改 {n['update']}[/]，"
                f"[red]删除 {n['delete']}[/]。[/]",
                f"[bold]Plan: [green]{n['create']} to add[/], [yellow]{n['update']} to change[/], "
                f"[red]{n['delete']} to destroy[/].[/]",
            )
        )


def print_findings(plan: Plan, con: Console, lang: Lang | str) -> None:
    """Ownership findings: duplicates and resources that only claim cloudctl's marker."""
    if plan.findings:
        con.print(
            "[bold red]"
            + pick(
                lang,
                "# 需人工处理：同名资源，或带 cloudctl 标记但非其创建的资源（不会删除）：",
                "# needs a person: duplicates, or resources claiming cloudctl's marker that "
                "cloudctl did not create (never deleted):",
            )
            + "[/]"
        )
        for f in plan.findings:
            con.print(Text(f"  !! {f.tenant} {f.kind} {f.name}: {f.message}", style="bold red"))
    if plan.adoptions:
        con.print(
            pick(
                lang,
                f"[cyan]note:[/] {len(plan.adoptions)} 个与期望完全一致、尚未登记的资源将在 apply "
                "时登记为 cloudctl 创建",
                f"[cyan]note:[/] {len(plan.adoptions)} resource(s) match the desired state "
                "but are not in the ownership record: apply records them",
            )
        )


WHAT_ZH = {
    "duplicate": "同名重复",
    "not-created-by-cloudctl": "带标记但非 cloudctl 创建",
    "changed": "被改动",
    "missing": "缺失",
    "unexpected": "多出（带外添加）",
    "not-desired": "受管但不在期望中",
    "wide-open": "对全网开放",
}


def print_drift(items: list[DriftItem], con: Console, lang: Lang | str) -> None:
    if not items:
        con.print(
            "[bold green]"
            + pick(lang, "无漂移：受管资源与期望一致。", "No drift: managed resources match.")
            + "[/]"
        )
        return
    for it in items:
        what = pick(lang, WHAT_ZH.get(it.what, it.what), it.what)
        style = "bold red" if it.what in ("unexpected", "wide-open") or it.warning else "yellow"
        con.print(
            f"[{style}]{escape(it.tenant)}[/] {escape(it.kind)} [bold]{escape(it.name)}[/]: "
            f"[{style}]{escape(what)}[/]"
        )
        for attr, (old, new) in it.attrs.items():
            con.print(
                f"    {escape(attr)}: "
                + pick(lang, "云上", "actual")
                + f" [red]{escape(_v(old))}[/] / "
                + pick(lang, "期望", "desired")
                + f" [green]{escape(_v(new))}[/]"
            )
        if it.warning:
            con.print(Text(f"    !! {it.warning}", style="bold white on red"))
    wide = sum(1 for i in items if i.warning.startswith("WIDE OPEN"))
    con.print(
        pick(
            lang,
            f"[bold]漂移 {len(items)} 处[/]"
            + (f"，其中 [bold red]{wide} 条对全网开放的规则[/]" if wide else ""),
            f"[bold]{len(items)} drift item(s)[/]"
            + (f", [bold red]{wide} wide-open rule(s)[/]" if wide else ""),
        )
    )
