"""Reports of a run: rich terminal summary, JUnit XML for CI, self-contained HTML for the
assessors (Chinese by default, English with --lang en). JSON/YAML are the run document
itself (schema in docs/baseline.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from rich.console import Console
from rich.markup import escape as esc

from cloudctl.baseline.engine import STATUS_LABEL
from cloudctl.core import i18n
from cloudctl.core.errors import CloudctlError
from cloudctl.core.i18n import _

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
                obs = i18n.tr(r["observed"] or r["note"] or "", lang)
                if not verbose:
                    obs = clip(obs, 160)
                observed.setdefault(obs, []).append(r["host"])
            for obs, names in observed.items():
                console.print(f"  {esc(', '.join(names))}: {esc(obs)}")
            console.print(
                f"  [dim]{t(lang, '期望', 'expected')}:[/] "
                f"{esc(clip(i18n.tr(rs[0]['expected'], lang), 160))}"
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
    if doc.get("cloud_assessment"):
        suites.extend(cloud_junit_suites(doc["cloud_assessment"]))
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


# --------------------------------------------------------------------------- assessor HTML
#
# The HTML report is what an assessor signs: header block (system, level, scope, dates,
# people, tool/catalog versions, sha256 of the evidence), the conclusion and the host ×
# control-unit matrix first, then summaries per unit and per failing control (readable at
# 100+ hosts), the trend of stored runs, the cloud assessment when given, and per-host
# appendices with the raw evidence (shown in print: a print-only copy of every <details>).

#: GB/T 28448-2019 methods (测评方法): 访谈 interview, 核查 examine, 测试 test.
METHOD_LABEL = {
    "访谈": {"zh": "访谈", "en": "interview"},
    "核查": {"zh": "核查", "en": "examine"},
    "测试": {"zh": "测试", "en": "test"},
}
#: Check types whose evidence comes from exercising the running system (测试): the sshd
#: daemon's effective configuration (``sshd -T``) and a handshake against the running
#: daemon, the sockets actually listening, the package manager's simulated upgrade. Every
#: other automated check reads configuration, the account database, live kernel values or
#: the package inventory (核查). Manual controls take the method of their evidence record.
TEST_CHECKS = frozenset({"sshd", "sshd_any", "ports", "updates"})
APPENDIX_FULL_MAX_HOSTS = 10  # "auto": every result per host up to here, findings beyond


def check_methods(check: dict) -> list[str]:
    """The GB/T 28448 method(s) of one automated check (composites: of their parts)."""
    kind = check.get("type", "")
    if kind in ("all_of", "any_of"):
        out: list[str] = []
        for sub in check.get("checks") or []:
            out += [m for m in check_methods(sub) if m not in out]
        return sorted(out, key=list(METHOD_LABEL).index) or ["核查"]
    return ["测试"] if kind in TEST_CHECKS else ["核查"]


def control_methods(profile) -> dict[str, list[str]]:
    """control id -> its methods, in GB/T 28448 order (访谈, 核查, 测试)."""
    out: dict[str, list[str]] = {}
    for c in profile.controls:
        if c.kind == "manual":
            text = str((c.evidence or {}).get("method") or "访谈")
            ms = [m for m in METHOD_LABEL if m in text] or ["访谈"]
        else:
            ms = check_methods(c.check)
        out[c.id] = ms
    return out


@dataclass
class ReportContext:
    """Everything the assessor report shows beyond the run document. Built by
    ``gather_context`` (files, the state store); plain data, so tests build it by hand."""

    system: str = ""
    level: str = ""
    scope: str = ""
    assessor: str = ""
    operator: str = ""
    generated_at: str = ""
    tool: str = ""
    catalog: str = ""
    catalog_sha256: str = ""
    evidence_file: str = ""
    evidence_sha256: str = ""
    methods: dict[str, list[str]] = field(default_factory=dict)
    trend: list[dict] = field(default_factory=list)  # stored runs, oldest first
    appendix: str = "auto"  # auto | full | findings
    cloud: dict | None = None  # cloudctl.domains.assessment/1 (+ "matrix")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def catalog_sha256(profile) -> str:
    """One digest over the profile and its catalog files (what the controls said)."""
    h = hashlib.sha256()
    folder = Path(profile.path).parent
    for p in sorted(folder.glob("*.yaml")):
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def gather_context(
    center,
    doc: dict,
    profile=None,
    *,
    system: str | None = None,
    level: str | None = None,
    scope: str | None = None,
    assessor: str | None = None,
    appendix: str = "auto",
    cloud: dict | None = None,
    trend_runs: int = 30,
) -> ReportContext:
    """Read what the header and the trend need: the center's name, the evidence file's
    digest, the catalog's digest, stored runs (read only; none when there is no state)."""
    import getpass
    import socket

    from cloudctl import __version__

    ctx = ReportContext(
        system=system or getattr(center, "name", "") or "",
        level=level or "",
        scope=scope or "",
        assessor=assessor or "",
        operator=f"{getpass.getuser()}@{socket.gethostname()}",
        generated_at=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %z"),
        tool=f"cloudctl {__version__}",
        appendix=appendix,
        cloud=cloud,
    )
    if profile is not None:
        ctx.catalog = f"{profile.id} ({len(profile.controls)} controls, {profile.standard})"
        ctx.catalog_sha256 = catalog_sha256(profile)
        ctx.methods = control_methods(profile)
    ev = doc.get("evidence_file")
    if ev and Path(ev).is_file():
        ctx.evidence_file = str(ev)
        ctx.evidence_sha256 = sha256_file(ev)
    if center is not None:
        try:
            from cloudctl.baseline.store import list_runs
            from cloudctl.state import open_state

            db = open_state(center)
            runs = list_runs(db, trend_runs) if db.exists() else []
        except CloudctlError:
            runs = []  # the trend is extra: an unreadable store never blocks the report
        ctx.trend = sorted(runs, key=lambda r: r["started_at"])
    return ctx


def _with_current(trend: list[dict], doc: dict) -> list[dict]:
    """The stored runs plus this run when it is not stored (``report`` without --store)."""
    if not doc.get("started_at") or any(r.get("run_id") == doc.get("run_id") for r in trend):
        return list(trend)
    s = doc["summary"]
    cur = {
        "run_id": doc.get("run_id") or "",
        "started_at": doc["started_at"],
        "hosts": s["hosts"],
        "compliance_rate": s["compliance_rate"],
        "conclusion": s["conclusion"],
        "failed": s["failed"],
        "current": True,
    }
    return sorted([*trend, cur], key=lambda r: r["started_at"])


def trend_chart(runs: list[dict], lang: str) -> str | None:
    """Compliance rate of the stored runs over time (``series-compliance``)."""
    from cloudctl.core import charts

    pts = [
        (when, r)
        for r in runs
        if r.get("compliance_rate") is not None and (when := _parse_time(r.get("started_at")))
    ]
    if not pts:
        return None
    x = [when for when, _ in pts]
    short = (max(x) - min(x)) < dt.timedelta(days=60)
    return charts.line_chart(
        t(lang, "基线符合率趋势（历次检查）", "Baseline compliance, stored runs"),
        x,
        [
            {
                "key": "compliance",
                "label": t(lang, "符合率", "compliance rate"),
                "values": [r["compliance_rate"] for _, r in pts],
                "marker": "o",
            }
        ],
        lang=lang,
        ylim=(0, 105),
        percent=True,
        date_format="%m-%d %H:%M" if short else "%Y-%m-%d",
        size=(7.2, 2.6),
        hlines=[
            {"key": "compliant", "label": t(lang, "符合（>90%）", "compliant (>90 %)"), "y": 90.0,
             "color": "#2e8b57", "style": ":"},
            {"key": "basic", "label": t(lang, "基本符合（≥60%）", "basically compliant (≥60 %)"),
             "y": 60.0, "color": "#d9822b", "style": ":"},
        ],
    )  # fmt: skip


def _parse_time(text: str | None) -> dt.datetime | None:
    """A run's start as naive UTC; None when it has no usable time (not drawn)."""
    try:
        d = dt.datetime.fromisoformat(str(text or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo is None else d.astimezone(dt.UTC).replace(tzinfo=None)


# status symbols of the matrix (colour carries it on screen, the symbol in black and white)
STATUS_MARK = {
    "compliant": "✓",
    "partial": "◐",
    "non_compliant": "✗",
    "pending": "?",
    "not_applicable": "–",
}


def _matrix_rows(units: list[dict], hosts: list[str], group_above: int) -> list[dict]:
    """One row per host; beyond ``group_above`` hosts, hosts with the same status in every
    unit share one row (a fleet of 120 alike hosts is a handful of rows)."""
    rows: list[dict] = []
    index: dict[tuple, dict] = {}
    for h in hosts:
        vec = tuple(u["per_host"].get(h, "not_applicable") for u in units)
        if len(hosts) > group_above and vec in index:
            index[vec]["hosts"].append(h)
            continue
        row = {"hosts": [h], "cells": list(vec)}
        index.setdefault(vec, row)
        rows.append(row)
    bad = {"non_compliant": 3, "partial": 2, "pending": 1}
    if len(hosts) > group_above:
        rows.sort(key=lambda r: (-sum(bad.get(c, 0) for c in r["cells"]), r["hosts"][0]))
    return rows


def _clause_groups(units: list[dict]) -> list[dict]:
    groups: list[dict] = []
    for u in units:
        if groups and groups[-1]["clause"] == u["clause"]:
            groups[-1]["span"] += 1
        else:
            groups.append({"clause": u["clause"], "title": u["clause_title"], "span": 1})
    return groups


def _failing_controls(doc: dict) -> list[dict]:
    """Failing controls with the hosts they fail on and their distinct observed values
    (one row per control, not one per host)."""
    meta = {c["id"]: c for c in doc["controls"]}
    by: dict[str, dict] = {}
    for r in doc["results"]:
        if r["verdict"] not in ("fail", "error"):
            continue
        x = by.setdefault(
            r["control"], {"control": meta[r["control"]], "hosts": [], "observed": {}, "n": 0}
        )
        x["hosts"].append(r["host"])
        x["expected"] = r["expected"]
        obs = r["observed"] or r["note"] or ""
        x["observed"].setdefault(obs, []).append(r["host"])
    order = {c["id"]: i for i, c in enumerate(doc["controls"])}
    out = sorted(
        by.values(),
        key=lambda x: (not x["control"]["high_risk"], -len(x["hosts"]), order[x["control"]["id"]]),
    )
    for x in out:
        x["observed"] = sorted(x["observed"].items(), key=lambda kv: -len(kv[1]))
    return out


def _unreachable(doc: dict) -> dict:
    hosts = [h for h in doc["hosts"] if h["status"] != "ok"]
    reasons: dict[str, list[str]] = {}
    for h in hosts:
        reasons.setdefault(_first_line(h.get("error", ""), 160) or h["status"], []).append(
            h["name"]
        )
    return {
        "names": [h["name"] for h in hosts],
        "reasons": sorted(reasons.items(), key=lambda kv: -len(kv[1])),
    }


def _unit_counts(units: list[dict]) -> list[dict]:
    out = []
    for u in units:
        c: dict[str, int] = {}
        for st in u["per_host"].values():
            c[st] = c.get(st, 0) + 1
        out.append({**u, "counts": c})
    return out


def read_json_document(path: str | Path) -> dict:
    """A JSON document given on the command line: ``file:line: what is wrong`` when it is
    missing, not JSON or not an object."""
    import json

    from cloudctl.core.errors import InputError, Location

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(
            _("cannot read {path}: {error}").format(path=p, error=e.__class__.__name__),
            Location(str(p)),
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            _("not JSON: {msg}").format(msg=e.msg), Location(str(p), e.lineno)
        ) from None
    if not isinstance(data, dict):
        raise InputError(_("expected a JSON object (a cloudctl document)"), Location(str(p), 1))
    return data


def merge_cloud(doc: dict, cloud: dict, matrix: dict | None = None) -> dict:
    """The run document with the cloud assessment (``cloudctl.domains.assessment/1``: the
    platform and each tenant as assessed objects) under ``cloud_assessment``, counted in
    the summary: open cloud findings fail the run (exit 1) like failing host controls."""
    from cloudctl.core.errors import InputError

    if not isinstance(cloud, dict) or cloud.get("schema") != "cloudctl.domains.assessment/1":
        raise InputError(
            _(
                "the cloud assessment is not a cloudctl.domains.assessment/1 document "
                "(write one with `cloudctl domains check --cloud -o json`)"
            )
        )
    for key in ("objects", "results", "items", "summary"):
        if key not in cloud:
            raise InputError(_("the cloud assessment has no {key!r}").format(key=key))
    if matrix is not None and not (
        isinstance(matrix.get("zones"), list) and isinstance(matrix.get("cells"), list)
    ):
        raise InputError(
            _(
                "the cloud matrix is not a cloudctl.domains.matrix/1 document (write "
                "one with `cloudctl domains matrix --cloud -o json`)"
            )
        )
    merged = dict(doc)
    ca = dict(cloud)
    if matrix is not None:
        ca["matrix"] = matrix
    merged["cloud_assessment"] = ca
    s = dict(doc["summary"])
    cs = cloud["summary"]
    s["cloud"] = {
        "objects": len(cloud["objects"]),
        "status": cs.get("status"),
        "findings": cs.get("findings", 0),
        "high": cs.get("high", 0),
        "matrix_differences": (ca.get("matrix") or {}).get("differences"),
    }
    s["failed"] = bool(s["failed"] or cs.get("findings"))
    merged["summary"] = s
    return merged


def cloud_junit_suites(cloud: dict) -> list[ET.Element]:
    """One testsuite per cloud object (platform, tenants), one testcase per control: the
    same shape as the host suites, so CI counts both alike."""
    suites = []
    by_obj: dict[str, list[dict]] = {}
    for r in cloud["results"]:
        by_obj.setdefault(r["host"], []).append(r)
    titles = {c["id"]: c.get("title", {}) for c in cloud.get("controls", [])}
    for o in cloud["objects"]:
        rs = by_obj.get(o["name"], [])
        suite = ET.Element(
            "testsuite",
            name=f"cloud:{o['name']}",
            tests=str(len(rs)),
            failures=str(sum(r["verdict"] == "fail" for r in rs)),
            errors="0",
            skipped=str(sum(r["verdict"] == "waived" for r in rs)),
        )
        for r in rs:
            tc = ET.SubElement(
                suite,
                "testcase",
                classname=f"cloud.{o['name']}.{r['clause']}",
                name=f"{r['control']}: {titles.get(r['control'], {}).get('en', '')}",
            )
            if r["verdict"] == "fail":
                ET.SubElement(
                    tc, "failure", message=(r.get("observed") or "")[:500]
                ).text = "\n".join(e.get("text", "") for e in r.get("evidence") or [])
            elif r["verdict"] == "waived":
                ET.SubElement(tc, "skipped", message="waived")
        suites.append(suite)
    return suites


def heatmap(matrix: dict, lang: str) -> str | None:
    """The design next to the effective matrix (``cloudctl.domains.matrix/1``)."""
    from cloudctl.core import charts

    zones = matrix.get("zones") or []
    if not zones:
        return None
    design = {(c["from"], c["to"]): len(c.get("design") or []) for c in matrix["cells"]}
    effective = {
        (c["from"], c["to"]): (c["state"], len(c.get("effective") or [])) for c in matrix["cells"]
    }
    return charts.heatmap_pair(
        t(lang, "安全域访问矩阵：设计与实际", "Zone matrix: design and effective"),
        zones,
        design,
        effective,
        lang=lang,
        titles=(
            t(lang, "设计允许的服务数", "services the design allows"),
            t(lang, "安全组实际开放", "what the rules open"),
        ),
        legend=(
            t(lang, "不通", "closed"),
            t(lang, "设计允许、未开放", "designed, not open"),
            t(lang, "开放且符合设计", "open within the design"),
            t(lang, "超出设计（差异）", "open beyond the design"),
        ),
        axis=(t(lang, "源安全域", "from zone"), t(lang, "目的安全域", "to zone")),
    )


def host_anchor(name: str) -> str:
    return "host-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def html_report(
    doc: dict,
    lang: str,
    remediation: dict[str, str] | None = None,
    context: ReportContext | None = None,
) -> str:
    """The assessor report as one self-contained page (inline CSS and SVG, no script)."""
    ctx = context or ReportContext()
    meta = {c["id"]: c for c in doc["controls"]}
    units = _unit_counts(doc["items"])
    assessed = [h["name"] for h in doc["hosts"] if h["status"] == "ok"]
    n_assessed = len(assessed)
    appendix = ctx.appendix
    if appendix == "auto":
        appendix = "full" if n_assessed <= APPENDIX_FULL_MAX_HOSTS else "findings"
    by_host: dict[str, list[dict]] = {}
    for r in doc["results"]:
        by_host.setdefault(r["host"], []).append(r)
    shown = ("fail", "error", "waived") if appendix == "findings" else None
    appendices: list[dict] = []
    same: dict[str, dict] = {}
    for h in doc["hosts"]:
        if h["status"] != "ok":
            continue
        rs = by_host.get(h["name"], [])
        listed = [r for r in rs if shown is None or r["verdict"] in shown]
        if shown is not None:
            # a fleet of clones: hosts whose listed results and evidence are the same word
            # for word share one appendix entry (every host keeps its anchor)
            key = json.dumps([{k: v for k, v in r.items() if k != "host"} for r in listed],
                             sort_keys=True, default=str)  # fmt: skip
            if key in same:
                same[key]["hosts"].append(h["name"])
                continue
        entry = {
            "host": h,
            "hosts": [h["name"]],
            "results": listed,
            "hidden": 0 if shown is None else sum(r["verdict"] not in shown for r in rs),
        }
        if shown is not None:
            same[key] = entry
        appendices.append(entry)
    methods = ctx.methods or {
        c["id"]: (["访谈"] if c["kind"] == "manual" else ["核查"]) for c in doc["controls"]
    }
    trend = _with_current(ctx.trend, doc)
    cloud = doc.get("cloud_assessment") or ctx.cloud
    cloud_view = None
    if cloud:
        cunits = cloud["items"]
        objs = [o["name"] for o in cloud["objects"]]
        cloud_view = {
            "doc": cloud,
            "units": _unit_counts(cunits),
            "groups": _clause_groups(cunits),
            "rows": _matrix_rows(cunits, objs, 12),
            "heatmap": heatmap(cloud["matrix"], lang) if cloud.get("matrix") else None,
            "findings": [f for f in cloud.get("findings") or [] if not f.get("waiver")],
        }
    manual_pending = [
        c for c in doc["controls"]
        if c["kind"] == "manual"
        and any(r["control"] == c["id"] and r["verdict"] == "manual" for r in doc["results"])
    ]  # fmt: skip
    css = (Path(__file__).with_name("report.css")).read_text(encoding="utf-8")
    return _ENV.get_template("report.html.j2").render(
        doc=doc,
        s=doc["summary"],
        lang=lang,
        ctx=ctx,
        css=css,
        meta=meta,
        units=units,
        groups=_clause_groups(doc["items"]),
        matrix=_matrix_rows(doc["items"], assessed, 20),
        n_assessed=n_assessed,
        unreachable=_unreachable(doc),
        failing=_failing_controls(doc),
        appendices=appendices,
        appendix=appendix,
        methods=methods,
        ML=METHOD_LABEL,
        method_counts={
            m: sum(m in methods.get(c["id"], []) for c in doc["controls"]) for m in METHOD_LABEL
        },
        trend=trend,
        trend_svg=trend_chart(trend, lang),
        cloud=cloud_view,
        manual_pending=manual_pending,
        t=lambda zh, en: t(lang, zh, en),
        tr=lambda text: i18n.tr(text, lang),  # observed/expected: English msgids in the doc
        VL=VERDICT_LABEL,
        SL=STATUS_LABEL,
        MARK=STATUS_MARK,
        remediation=remediation or {},
        compact=compact_names,
        conclusion_text=conclusion_line(doc, lang).replace("[bold]", "").replace("[/]", ""),
        anchor=host_anchor,
    )  # fmt: skip
