"""A whole run: evidence of every host -> results, waivers, manual evidence, roll-up per
clause item, compliance rate and conclusion. Pure (inputs are already-parsed data)."""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from typing import Any

from cloudctl.baseline.catalog import Control, Profile
from cloudctl.baseline.evaluate import (
    ERROR,
    FAIL,
    MANUAL,
    NA,
    NOT_EVALUATED,
    PASS,
    WAIVED,
    Result,
    evaluate_control,
)

SCHEMA = "cloudctl.baseline.run/1"
# Roll-up statuses (GB/T 28448 wording) from best to worst; worst wins across hosts.
COMPLIANT, PARTIAL, NON_COMPLIANT, NOT_APPLICABLE, PENDING = (
    "compliant",
    "partial",
    "non_compliant",
    "not_applicable",
    "pending",
)
STATUS_LABEL = {
    COMPLIANT: {"zh": "符合", "en": "compliant"},
    PARTIAL: {"zh": "部分符合", "en": "partially compliant"},
    NON_COMPLIANT: {"zh": "不符合", "en": "non-compliant"},
    NOT_APPLICABLE: {"zh": "不适用", "en": "not applicable"},
    PENDING: {"zh": "待人工核查", "en": "pending manual assessment"},
}
_RANK = {NOT_APPLICABLE: 0, COMPLIANT: 1, PENDING: 2, PARTIAL: 3, NON_COMPLIANT: 4}
CONCLUSION_LABEL = {
    "compliant": {"zh": "符合", "en": "compliant"},
    "basically_compliant": {"zh": "基本符合", "en": "basically compliant"},
    "non_compliant": {"zh": "不符合", "en": "non-compliant"},
    # no host could be assessed (all unreachable): no verdict at all, never 不符合
    "not_assessed": {"zh": "未评估（无可核查主机）", "en": "not assessed (no host reachable)"},
}
ALL_VERDICTS = (PASS, FAIL, WAIVED, MANUAL, NA, ERROR, NOT_EVALUATED)


@dataclass
class Waiver:
    hosts: str
    control: str
    justification: str
    approver: str
    expires: dt.date
    source: str = ""

    def matches(self, host: str, control: str) -> bool:
        return control == self.control and fnmatch.fnmatchcase(host, self.hosts)

    def active(self, today: dt.date) -> bool:
        return today <= self.expires

    def as_dict(self, today: dt.date) -> dict:
        return {
            "hosts": self.hosts,
            "control": self.control,
            "justification": self.justification,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
            "status": "active" if self.active(today) else "expired",
            "source": self.source,
        }


@dataclass
class ManualEvidence:
    control: str
    result: str  # pass | fail | not_applicable
    method: str = ""
    summary: str = ""
    documents: list[str] = field(default_factory=list)
    assessed_by: str = ""
    date: str = ""
    hosts: str = "*"
    source: str = ""


@dataclass
class HostEvidence:
    name: str
    status: str  # ok | unreachable | failed
    evidence: dict | None = None
    error: str = ""


def _item_status(verdicts: list[str]) -> str:
    judged = [v for v in verdicts if v not in (NA, MANUAL, NOT_EVALUATED)]
    open_ = MANUAL in verdicts or NOT_EVALUATED in verdicts
    if not judged:
        return PENDING if open_ else NOT_APPLICABLE
    good = [v for v in judged if v in (PASS, WAIVED)]
    if len(good) == len(judged):
        return PENDING if open_ else COMPLIANT
    if not good:
        return NON_COMPLIANT
    return PARTIAL


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=lambda s: _RANK[s]) if statuses else NOT_APPLICABLE


def conclusion(rate: float | None, high_risk_open: int) -> str:
    """公网安〔2025〕1846号 report template rule, as this project reads it: an open
    high-risk finding, or a rate below 60 %, is 不符合; above 90 % (and no high risk) is
    符合; otherwise 基本符合."""
    if high_risk_open or rate is None or rate < 60:
        return "non_compliant"
    return "compliant" if rate > 90 else "basically_compliant"


def evaluate_run(
    profile: Profile,
    hosts: list[HostEvidence],
    *,
    waivers: list[Waiver] = (),  # type: ignore[assignment]
    manual: dict[str, list[ManualEvidence]] | None = None,
    today: dt.date | None = None,
    controls: list[str] | None = None,
    run_id: str = "",
    started_at: str = "",
) -> dict:
    today = today or dt.date.today()
    manual = manual or {}
    chosen = [c for c in profile.controls if not controls or c.id in controls]
    results: list[Result] = []
    contradictions: list[dict] = []
    host_rows = []
    used_waivers: dict[int, list[str]] = {}
    for h in hosts:
        row: dict[str, Any] = {"name": h.name, "status": h.status, "error": h.error}
        if h.status != "ok" or not h.evidence:
            host_rows.append(row)
            continue
        evd = h.evidence
        host_vars = profile.resolve_vars(evd.get("profile_vars"))
        row.update(
            os=evd.get("os"),
            virtualization=evd.get("virtualization"),
            collected_at=evd.get("collected_at"),
            collect_seconds=evd.get("elapsed_s"),
            collector_errors=evd.get("errors") or [],
            vars={
                k: v
                for k, v in host_vars.items()
                if k in (evd.get("profile_vars") or {})
                or f"baseline_{k}" in (evd.get("profile_vars") or {})
            },
        )
        for c in chosen:
            if c.kind == "manual":
                r = _manual_result(c, h.name, manual.get(c.id, []))
            else:
                r = evaluate_control(c, evd, host_vars, h.name)
            if r.verdict in (FAIL, ERROR):
                for i, w in enumerate(waivers):
                    if w.matches(h.name, c.id):
                        if w.active(today):
                            r.waiver = w.as_dict(today)
                            r.note = (r.note + f" waived ({r.verdict}): {w.justification}").strip()
                            r.verdict = WAIVED
                            used_waivers.setdefault(i, []).append(h.name)
                            break
                        r.note = (r.note + f" waiver expired on {w.expires.isoformat()}").strip()
                        used_waivers.setdefault(i, [])
            results.append(r)
        contradictions += _contradictions(chosen, [r for r in results if r.host == h.name])
        counts = {v: 0 for v in ALL_VERDICTS}
        for r in results:
            if r.host == h.name:
                counts[r.verdict] += 1
        row["counts"] = counts
        host_rows.append(row)

    by_control = {c.id: c for c in chosen}
    ok_hosts = [h.name for h in hosts if h.status == "ok" and h.evidence]
    items: dict[tuple[str, str], dict] = {}
    for c in chosen:
        key = (c.clause, c.item)
        it = items.setdefault(
            key,
            {
                "clause": c.clause,
                "item": c.item,
                "unit": c.unit,
                "clause_title": profile.clause_titles.get(c.clause, {}),
                "controls": [],
                "per_host": {},
            },
        )
        it["controls"].append(c.id)
    for (_cl, _it), it in items.items():
        for hname in ok_hosts:
            vs = [r.verdict for r in results if r.host == hname and r.control in it["controls"]]
            it["per_host"][hname] = _item_status(vs)
        it["status"] = _worst(list(it["per_host"].values()))
        it["label"] = STATUS_LABEL[it["status"]]
    item_list = sorted(items.values(), key=lambda x: (_clause_key(x["clause"]), x["item"]))
    tally = {s: 0 for s in STATUS_LABEL}
    for it in item_list:
        tally[it["status"]] += 1
    judged = tally[COMPLIANT] + tally[PARTIAL] + tally[NON_COMPLIANT]
    rate = round(100.0 * tally[COMPLIANT] / judged, 1) if judged else None
    high_risk = [
        {"host": r.host, "control": r.control, "case": by_control[r.control].high_risk}
        for r in results
        if r.verdict == FAIL and by_control[r.control].high_risk
    ]
    concl = conclusion(rate, len(high_risk)) if ok_hosts else "not_assessed"
    counts = {v: sum(1 for r in results if r.verdict == v) for v in ALL_VERDICTS}
    unreachable = [h.name for h in hosts if h.status != "ok"]
    waiver_rows = []
    for i, w in enumerate(waivers):
        d = w.as_dict(today)
        d["applied_to"] = used_waivers.get(i, [])
        # a waiver whose pattern names no host of this run is a typo or a removed host
        d["matched_hosts"] = [h.name for h in hosts if fnmatch.fnmatchcase(h.name, w.hosts)]
        waiver_rows.append(d)
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "started_at": started_at,
        "profile": {"id": profile.id, "title": profile.title, "standard": profile.standard},
        "hosts": host_rows,
        "controls": [control_meta(c) for c in chosen],
        "results": [r.as_dict() for r in results],
        "items": item_list,
        "waivers": waiver_rows,
        "summary": {
            "hosts": len(hosts),
            "hosts_assessed": len(ok_hosts),
            "hosts_unreachable": unreachable,
            "verdicts": counts,
            "items": tally,
            "compliance_rate": rate,
            "high_risk": high_risk,
            "contradictions": contradictions,
            "conclusion": concl,
            "conclusion_label": CONCLUSION_LABEL[concl],
            "failed": bool(counts[FAIL] or counts[ERROR] or unreachable),
        },
    }


def _contradictions(controls: list[Control], host_results: list[Result]) -> list[dict]:
    """Interview evidence that an automated finding on the same host disproves (e.g. a
    "two-factor via the bastion only" record on a host whose sshd lets anyone in) cannot
    stand: the manual result becomes an error naming the finding, and is listed."""
    by_id = {r.control: r for r in host_results}
    out = []
    for c in controls:
        r = by_id.get(c.id)
        against = (c.evidence or {}).get("contradicted_by") or []
        if r is None or r.verdict != PASS or not against:
            continue
        failing = [x for x in against if by_id.get(x) is not None and by_id[x].verdict == FAIL]
        if not failing:
            continue
        source = r.evidence[0]["source"] if r.evidence else ""
        r.verdict = ERROR
        r.note = (
            f"evidence {source} says pass, but the automated finding(s) "
            f"{', '.join(failing)} fail on this host: the evidence contradicts the host"
        )
        out.append(
            {"host": r.host, "control": c.id, "evidence": source, "contradicted_by": failing}
        )
    return out


def _clause_key(clause: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in clause.split("."))


def control_meta(c: Control) -> dict:
    return {
        "id": c.id,
        "clause": c.clause,
        "item": c.item,
        "unit": c.unit,
        "kind": c.kind,
        "title": c.title,
        "rationale": c.rationale,
        "severity": c.severity,
        "high_risk": c.high_risk,
        "references": c.references,
        "remediable": c.remediable,
        "advice": (c.remediation.get("advice") or {}),
        "evidence_file": (c.evidence or {}).get("file"),
    }


def _manual_result(c: Control, host: str, evidence: list[ManualEvidence]) -> Result:
    spec = c.evidence or {}
    for e in evidence:
        if fnmatch.fnmatchcase(host, e.hosts):
            verdict = {"pass": PASS, "fail": FAIL, "not_applicable": NA}.get(e.result, MANUAL)
            return Result(
                host,
                c.id,
                verdict,
                observed=e.summary,
                expected=c.text("zh"),
                evidence=[
                    {
                        "source": e.source,
                        "text": f"{e.method} {e.assessed_by} {e.date}: {e.summary}"
                        + (f" ({', '.join(e.documents)})" if e.documents else ""),
                    }
                ],
                note=f"manual evidence ({e.method or spec.get('method', '')})",
            )
    if spec.get("default") == "not_applicable":
        return Result(
            host,
            c.id,
            NA,
            note="usually not applicable to the operating system; "
            f"add inventory/evidence/{spec.get('file')} to assess",
        )
    return Result(
        host,
        c.id,
        MANUAL,
        note=f"needs evidence: inventory/evidence/{spec.get('file')} ({spec.get('method', '')})",
    )
