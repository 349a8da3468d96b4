"""Reports of a run: rich terminal summary, JUnit XML for CI, self-contained HTML for the
assessors (Chinese by default, English with --lang en). JSON/YAML are the run document
itself (schema in docs/baseline.md)."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jinja2
from rich.console import Console
from rich.markup import escape as esc
from rich.table import Table

from cloudctl.baseline.engine import CONCLUSION_LABEL, STATUS_LABEL

VERDICT_LABEL = {
    "pass": {"zh": "通过", "en": "pass"},
    "fail": {"zh": "不通过", "en": "fail"},
    "waived": {"zh": "已豁免", "en": "waived"},
    "manual": {"zh": "人工核查", "en": "manual"},
    "not_applicable": {"zh": "不适用", "en": "n/a"},
    "error": {"zh": "错误", "en": "error"},
    "not_evaluated": {"zh": "未评估", "en": "not evaluated"},
}
VERDICT_STYLE = {
    "pass": "green",
    "fail": "bold red",
    "waived": "yellow",
    "manual": "cyan",
    "not_applicable": "dim",
    "error": "magenta",
    "not_evaluated": "dim",
}
STATUS_STYLE = {
    "compliant": "green",
    "partial": "yellow",
    "non_compliant": "bold red",
    "not_applicable": "dim",
    "pending": "cyan",
}


def t(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def _title(meta: dict, lang: str) -> str:
    return meta["title"].get(lang) or meta["title"].get("zh", "")


def terminal(doc: dict, lang: str, console: Console, verbose: bool = False) -> None:
    meta = {c["id"]: c for c in doc["controls"]}
    s = doc["summary"]
    ht = Table(title=t(lang, "主机", "Hosts"), header_style="bold")
    for col in (
        t(lang, "主机", "host"),
        t(lang, "状态", "status"),
        *[VERDICT_LABEL[v][lang] for v in VERDICT_LABEL],
    ):
        ht.add_column(
            col, justify="right" if col not in ("主机", "host", "状态", "status") else "left"
        )
    for h in doc["hosts"]:
        c = h.get("counts") or {}
        status = (
            h["status"]
            if h["status"] == "ok"
            else f"[bold red]{h['status']}[/] {h.get('error', '')[:60]}"
        )
        ht.add_row(
            h["name"],
            status,
            *[f"[{VERDICT_STYLE[v]}]{c.get(v, 0)}[/]" if c.get(v) else "0" for v in VERDICT_LABEL],
        )
    console.print(ht)
    it = Table(
        title=t(
            lang, "测评项（按条款汇总，多主机取最差）", "Clause items (worst case across hosts)"
        ),
        header_style="bold",
    )
    for col in (
        t(lang, "条款", "clause"),
        t(lang, "测评单元", "unit"),
        t(lang, "控制点", "area"),
        t(lang, "结论", "status"),
        t(lang, "控制项", "controls"),
    ):
        it.add_column(col)
    for item in doc["items"]:
        st = item["status"]
        it.add_row(
            f"{item['clause']} {item['item']}",
            item["unit"],
            item["clause_title"].get(lang, ""),
            f"[{STATUS_STYLE[st]}]{STATUS_LABEL[st][lang]}[/]",
            str(len(item["controls"])),
        )
    console.print(it)
    bad = [r for r in doc["results"] if r["verdict"] in ("fail", "error")]
    if bad:
        ft = Table(
            title=t(
                lang, "不通过的控制项（实际值 / 期望值）", "Failing controls (observed / expected)"
            ),
            header_style="bold",
            show_lines=False,
        )
        for col in (
            t(lang, "主机", "host"),
            t(lang, "条款", "clause"),
            t(lang, "控制项", "control"),
            t(lang, "实际", "observed"),
            t(lang, "期望", "expected"),
        ):
            ft.add_column(col, overflow="fold")
        for r in bad:
            m = meta[r["control"]]
            flag = " [bold red]⚠高风险[/]" if m["high_risk"] and r["verdict"] == "fail" else ""
            obs = r["observed"] or r["note"]
            ft.add_row(
                r["host"],
                f"{m['clause']} {m['item']}",
                f"{r['control']}{flag}\n[dim]{_title(m, lang)}[/]",
                (obs[:160] + "…") if len(obs) > 160 and not verbose else obs,
                r["expected"][:120],
            )
        console.print(ft)
    expired = [w for w in doc["waivers"] if w["status"] == "expired"]
    for w in expired:
        console.print(
            t(
                lang,
                f"[yellow]豁免已过期[/]：{w['control']}（{w['hosts']}，{w['expires']} 到期，审批人 {w['approver']}）",  # noqa: E501
                f"[yellow]expired waiver[/]: {w['control']} ({w['hosts']}, expired {w['expires']}, approver {w['approver']})",  # noqa: E501
            )
        )
    for w in doc["waivers"]:
        if not w.get("matched_hosts", True):
            console.print(
                t(
                    lang,
                    f"[yellow]豁免未匹配本次任何主机[/]：{w['control']}（hosts: {esc(w['hosts'])}，"
                    f"{esc(w.get('source', ''))}）",
                    f"[yellow]waiver matches no host of this run[/]: {w['control']} "
                    f"(hosts: {esc(w['hosts'])}, {esc(w.get('source', ''))})",
                )
            )
    for x in s.get("contradictions") or []:
        console.print(
            t(
                lang,
                f"[bold red]证据与自动核查矛盾[/]：{esc(x['host'])} {x['control']}"
                f"（{esc(x['evidence'])}），而 {', '.join(x['contradicted_by'])} 不通过",
                f"[bold red]evidence contradicts the host[/]: {esc(x['host'])} {x['control']} "
                f"({esc(x['evidence'])}) while {', '.join(x['contradicted_by'])} fail(s)",
            )
        )
    for name in s["hosts_unreachable"]:
        console.print(
            t(
                lang,
                f"[bold red]无法连接，未评估[/]：{esc(name)}",
                f"[bold red]unreachable, not assessed[/]: {esc(name)}",
            )
        )
    rate = "—" if s["compliance_rate"] is None else f"{s['compliance_rate']}%"
    concl = s["conclusion_label"][lang]
    console.print(
        t(
            lang,
            f"符合率 {rate}（符合 {s['items']['compliant']} / 部分符合 {s['items']['partial']} / 不符合 {s['items']['non_compliant']} / 不适用 {s['items']['not_applicable']} / 待人工核查 {s['items']['pending']}），"  # noqa: E501
            f"高风险 {len(s['high_risk'])} 项，结论：[bold]{concl}[/]",
            f"compliance rate {rate} (compliant {s['items']['compliant']} / partial {s['items']['partial']} / non-compliant {s['items']['non_compliant']} / n/a {s['items']['not_applicable']} / pending {s['items']['pending']}), "  # noqa: E501
            f"{len(s['high_risk'])} high-risk findings, conclusion: [bold]{concl}[/]",
        )
    )
    if doc.get("run_id"):
        console.print(t(lang, f"[dim]运行编号 {doc['run_id']}[/]", f"[dim]run {doc['run_id']}[/]"))


def junit(doc: dict) -> str:
    meta = {c["id"]: c for c in doc["controls"]}
    suites = ET.Element("testsuites", name=f"cloudctl baseline {doc['profile']['id']}")
    by_host: dict[str, list[dict]] = {}
    for r in doc["results"]:
        by_host.setdefault(r["host"], []).append(r)
    for h in doc["hosts"]:
        rs = by_host.get(h["name"], [])
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=h["name"],
            tests=str(max(len(rs), 1)),
            failures=str(sum(r["verdict"] == "fail" for r in rs)),
            errors=str(sum(r["verdict"] == "error" for r in rs) + (h["status"] != "ok")),
            skipped=str(
                sum(
                    r["verdict"] in ("waived", "manual", "not_applicable", "not_evaluated")
                    for r in rs
                )
            ),
        )
        if h["status"] != "ok":
            tc = ET.SubElement(suite, "testcase", classname=h["name"], name="reachable")
            ET.SubElement(tc, "error", message=h["status"]).text = h.get("error", "")
            continue
        for r in rs:
            m = meta[r["control"]]
            tc = ET.SubElement(
                suite,
                "testcase",
                classname=f"{h['name']}.{m['clause']} {m['item']}",
                name=f"{r['control']}: {m['title'].get('en', '')}",
            )
            msg = f"observed: {r['observed']}; expected: {r['expected']}"
            if r["verdict"] == "fail":
                ET.SubElement(tc, "failure", message=msg[:500], type=m["severity"]).text = r["note"]
            elif r["verdict"] == "error":
                ET.SubElement(tc, "error", message=r["note"][:500])
            elif r["verdict"] in ("waived", "manual", "not_applicable", "not_evaluated"):
                ET.SubElement(tc, "skipped", message=f"{r['verdict']}: {r['note']}"[:500])
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


_HTML = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    (Path(__file__).with_name("report.html.j2")).read_text(encoding="utf-8")
)


def html_report(doc: dict, lang: str, remediation: dict[str, str] | None = None) -> str:
    meta = {c["id"]: c for c in doc["controls"]}
    clauses: dict[str, dict] = {}
    for item in doc["items"]:
        cl = clauses.setdefault(item["clause"], {"title": item["clause_title"], "items": []})
        rows = []
        for cid in item["controls"]:
            for r in doc["results"]:
                if r["control"] == cid:
                    rows.append(r)
        cl["items"].append(
            {"item": item, "controls": [meta[c] for c in item["controls"]], "results": rows}
        )
    return _HTML.render(
        doc=doc,
        lang=lang,
        clauses=clauses,
        meta=meta,
        t=lambda zh, en: t(lang, zh, en),
        VL=VERDICT_LABEL,
        SL=STATUS_LABEL,
        CL=CONCLUSION_LABEL,
        remediation=remediation or {},
        evidence_json=lambda x: json.dumps(x, ensure_ascii=False, indent=1),
        esc=html.escape,
    )
