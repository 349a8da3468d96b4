"""Terminal and JUnit views of domain results (the JSON/YAML go through core.output)."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from cloudctl.domains.assess import CLAUSES, STATUS_LABEL
from cloudctl.domains.matrix import Matrix
from cloudctl.domains.model import Finding

MARK = {"ok": "✓", "extra": "!", "unused": "·", "none": ""}
_SHORT = {"internet": "inet", "extranet": "extra", "secmgmt": "secm", "(unplanned)": "unpl"}


def _short(z: str) -> str:
    return _SHORT.get(z, z[:6])


def matrix_lines(m: Matrix, lang: str = "zh", width: int = 80) -> list[str]:
    """The zone × zone grid in plain text that fits ``width`` columns, then the differences
    (one per line, cut to the width) and a legend."""
    zones = m.zones
    head = "from\\to" if lang == "en" else "源\\目的"
    cw = 7
    lines = [f"{head:<8}" + "".join(f"{_short(z):>{cw}}" for z in zones)]
    for s in zones:
        row = f"{_short(s):<8}"
        for d in zones:
            c = m.cells.get((s, d))
            row += f"{MARK[c.state] if c else '':>{cw}}"
        lines.append(row)
    lines.append("")
    if lang == "en":
        lines.append("✓ open within the design   ! open beyond the design   · designed, not open")
    else:
        lines.append("✓ 实际开放且符合设计   ! 超出设计（差异）   · 设计允许但未开放")
    for c in m.differences:
        extra = ", ".join(sorted(c.extra))
        allowed = ", ".join(c.design) or ("nothing" if lang == "en" else "无")
        text = (
            f"! {c.src}→{c.dst}: open {extra}; design allows {allowed}"
            if lang == "en"
            else f"! {c.src}→{c.dst}: 实际开放 {extra}；设计允许 {allowed}"
        )
        lines.append(text if len(text) <= width else text[: width - 1] + "…")
    return lines


def finding_lines(findings: list[Finding], lang: str = "zh") -> list[str]:
    out = []
    for f in findings:
        where = f"{f.location}: " if f.location else ""
        tag = " [waived]" if f.waived and lang == "en" else (" [已豁免]" if f.waived else "")
        out.append(f"{where}{f.obj}: {f.clause} {f.control} ({f.severity}){tag}: {f.text(lang)}")
    return out


def clause_rows(doc: dict, lang: str = "zh") -> list[dict]:
    rows = []
    for it in doc["items"]:
        bad = [o for o, s in it["per_host"].items() if s != "compliant" and o != "platform"]
        rows.append(
            {
                "clause": it["clause"],
                "title": it["clause_title"][lang],
                "status": STATUS_LABEL[it["status"]][lang],
                "objects": ", ".join(bad[:4]) + (f" +{len(bad) - 4}" if len(bad) > 4 else ""),
            }
        )
    return rows


def junit(doc: dict) -> str:
    """One testsuite per clause, one testcase per (object, control); fail = failure."""
    suites = []
    for clause in CLAUSES:
        cases = [r for r in doc["results"] if r["clause"] == clause]
        fails = sum(1 for r in cases if r["verdict"] == "fail")
        body = []
        for r in cases:
            name = quoteattr(f"{r['host']}: {r['control']}")
            inner = ""
            if r["verdict"] == "fail":
                text = "\n".join(e["text"] for e in r["evidence"])
                inner = f"<failure message={quoteattr(r['observed'])}>{escape(text)}</failure>"
            elif r["verdict"] == "waived":
                inner = f"<skipped message={quoteattr('waived')}/>"
            body.append(f'    <testcase classname="{clause}" name={name}>{inner}</testcase>')
        suites.append(
            f'  <testsuite name="{clause}" tests="{len(cases)}" failures="{fails}">\n'
            + "\n".join(body)
            + "\n  </testsuite>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<testsuites>\n'
        + "\n".join(suites)
        + ("\n</testsuites>\n")
    )
