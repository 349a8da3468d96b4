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


def conclusion_line(doc: dict, lang: str) -> str:
    """The verdict in one line, saying on how many hosts it rests ("assessed N of M")."""
    s = doc["summary"]
    n, m = _assessed(doc), len(doc["hosts"])
    rate = "—" if s["compliance_rate"] is None else f"{s['compliance_rate']}%"
    i = s["items"]
    concl = s["conclusion_label"][lang]
    risk = len(s["high_risk"])
    return t(
        lang,
        f"评估 {n}/{m} 台主机，符合率 {rate}（符合 {i['compliant']} / 部分符合 {i['partial']} / "
        f"不符合 {i['non_compliant']} / 不适用 {i['not_applicable']} / 待人工核查 "
        f"{i['pending']}），高风险 {risk} 项，结论：[bold]{concl}[/]"
        + (f"（仅基于已评估的 {n} 台）" if n < m else ""),
        f"assessed {n} of {m} hosts, compliance rate {rate} (compliant {i['compliant']} / "
        f"partial {i['partial']} / non-compliant {i['non_compliant']} / n/a "
        f"{i['not_applicable']} / pending {i['pending']}), {risk} high-risk findings, "
        f"conclusion: [bold]{concl}[/]" + (f" (on the {n} assessed only)" if n < m else ""),
    )


def _assessed(doc: dict) -> int:
    return sum(1 for h in doc["hosts"] if h["status"] == "ok")


def clip(text: str, limit: int) -> str:
    """At most about ``limit`` characters, cut between words or list items, never inside
    one (a path, a time stamp, an algorithm name stays whole or goes)."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = max(head.rfind(" "), head.rfind(","))
    return (head[: cut + 1] if cut > limit // 2 else head).rstrip() + " …"


def compact_names(names: list[str], limit: int = 24) -> str:
    """Host names on one line: the first ``limit``, then how many more."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} … (+{len(names) - limit})"


def _first_line(text: str, width: int = 100) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


def terminal(
    doc: dict, lang: str, console: Console, verbose: bool = False, failed_only: bool = False
) -> None:
    """Summary first; unreachable hosts as one line with a count; tables whose ids are never
    cut (FitTable); failing controls grouped by control; the conclusion last, with
    "assessed N of M". ``failed_only``: only what failed (hosts, clause items, controls)."""
    from cloudctl.core.output import FitTable

    meta = {c["id"]: c for c in doc["controls"]}
    s = doc["summary"]
    hosts = doc["hosts"]
    unreachable = [h for h in hosts if h["status"] == "unreachable"]
    profile = esc(str((doc.get("profile") or {}).get("id", "")))
    console.print(
        t(lang, f"[bold]基线核查 {profile}[/]：", f"[bold]baseline check {profile}[/]: ")
        + conclusion_line(doc, lang)
    )
    if unreachable:
        reasons: dict[str, int] = {}
        for h in unreachable:
            key = _first_line(h.get("error", ""))
            reasons[key] = reasons.get(key, 0) + 1
        console.print(
            t(
                lang,
                f"[bold red]无法连接，未评估 {len(unreachable)} 台[/]：",
                f"[bold red]unreachable, not assessed: {len(unreachable)} hosts[/]: ",
            )
            + esc(compact_names([h["name"] for h in unreachable]))
        )
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1])[:3]:
            console.print(f"  [dim]{count} × {esc(reason)}[/]")

    shown_hosts = [h for h in hosts if h["status"] != "unreachable"]
    if failed_only:
        shown_hosts = [
            h
            for h in shown_hosts
            if h["status"] != "ok"
            or (h.get("counts") or {}).get("fail")
            or (h.get("counts") or {}).get("error")
        ]
    if shown_hosts:
        ht = FitTable(title=t(lang, "主机", "Hosts"))
        ht.add_column(t(lang, "主机", "host"), kind="id")
        ht.add_column(t(lang, "状态", "status"), kind="id")
        for v in VERDICT_LABEL:
            ht.add_column(VERDICT_LABEL[v][lang], kind="id", justify="right")
        broken = any(h["status"] != "ok" for h in shown_hosts)
        if broken:
            ht.add_column(t(lang, "说明", "note"))
        for h in shown_hosts:
            c = h.get("counts") or {}
            status = h["status"] if h["status"] == "ok" else f"[bold red]{esc(h['status'])}[/]"
            cells = [esc(h["name"]), status]
            cells += [
                f"[{VERDICT_STYLE[v]}]{c.get(v, 0)}[/]" if c.get(v) else "0" for v in VERDICT_LABEL
            ]
            if broken:
                cells.append(esc(_first_line(h.get("error", ""), 200)))
            ht.add_row(*cells)
        console.print(ht)

    items = doc["items"]
    if failed_only:
        items = [i for i in items if i["status"] in ("non_compliant", "partial")]
    if items:
        it = FitTable(
            title=t(
                lang, "测评项（按条款汇总，多主机取最差）", "Clause items (worst case across hosts)"
            )
        )
        it.add_column(t(lang, "条款", "clause"), kind="id")
        it.add_column(t(lang, "测评单元", "unit"), kind="id")
        it.add_column(t(lang, "控制点", "area"))
        it.add_column(t(lang, "结论", "status"), kind="id")
        it.add_column(t(lang, "控制项", "controls"), kind="id", justify="right")
        for item in items:
            st = item["status"]
            it.add_row(
                f"{item['clause']} {item['item']}",
                esc(item["unit"]),
                esc(item["clause_title"].get(lang, "")),
                f"[{STATUS_STYLE[st]}]{STATUS_LABEL[st][lang]}[/]",
                str(len(item["controls"])),
            )
        console.print(it)

    bad = [r for r in doc["results"] if r["verdict"] in ("fail", "error")]
    if bad:
        n_bad = len({r["control"] for r in bad})
        console.print(
            t(
                lang,
                f"[bold]不通过的控制项[/]（{n_bad} 项；实际值 / 期望值）",
                f"[bold]Failing controls[/] ({n_bad}; observed / expected)",
            )
        )
        by_control: dict[str, list[dict]] = {}
        for r in bad:
            by_control.setdefault(r["control"], []).append(r)
        for cid, rs in by_control.items():
            m = meta[cid]
            risky = m["high_risk"] and any(r["verdict"] == "fail" for r in rs)
            flag = t(lang, " [bold red]⚠高风险[/]", " [bold red]⚠high risk[/]") if risky else ""
            console.print(
                f"[bold]{esc(cid)}[/]{flag}  {m['clause']} {m['item']}  "
                f"[dim]{esc(_title(m, lang))}[/]"
            )
            observed: dict[str, list[str]] = {}
            for r in rs:
                obs = r["observed"] or r["note"] or ""
                if not verbose:
                    obs = clip(obs, 160)
                observed.setdefault(obs, []).append(r["host"])
            for obs, names in observed.items():
                console.print(f"  {esc(', '.join(names))}: {esc(obs)}")
            console.print(
                f"  [dim]{t(lang, '期望', 'expected')}:[/] {esc(clip(rs[0]['expected'], 160))}"
            )

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
    console.print(conclusion_line(doc, lang))
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
