"""Everything the center report shows, gathered read-only from the other areas' public
functions: the address plan (ipam), tenants and quota use (tenant files, the cloud when one
is configured), compliance runs (baseline store), migration progress (plan + journal), the
capacity forecast, and the security-domain matrix once that area offers one.

A section whose source is missing or broken is kept with a reason instead of failing the
whole page: leadership gets the page, and the gap is written on it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudctl.core.center import Center
from cloudctl.core.errors import CloudctlError


@dataclass
class Section:
    key: str
    ok: bool
    data: Any = None
    reason: str = ""  # why there is no data


@dataclass
class ReportData:
    center: str
    generated: str
    lang: str
    sections: dict[str, Section] = field(default_factory=dict)


def _guard(key: str, fn) -> Section:
    try:
        return Section(key, True, fn())
    except CloudctlError as e:
        first = e.problems[0] if e.problems else e
        return Section(key, False, reason=f"{first}"[:300])


def addresses(center: Center) -> list[dict]:
    from cloudctl.ipam.api import load_plan
    from cloudctl.ipam.report import zone_rows

    return zone_rows(load_plan(center))


def tenants(center: Center, cloud_usage: Any) -> dict:
    """Each department tenant with its quota class; quota use from the cloud if read."""
    from cloudctl.core.yamlio import load_yaml
    from cloudctl.ipam.api import load_departments
    from cloudctl.tenant.desired import read_docs

    deps = {d.code: d for d in load_departments(center)}
    problems: list = []
    docs = read_docs(center.tenants, problems)
    dfile = center.tenants / "_defaults.yaml"
    defaults = load_yaml(dfile) if dfile.is_file() else {}
    defaults = defaults if isinstance(defaults, dict) else {}
    default_class = (defaults.get("quotas") or {}).get("class", "standard")
    classes = defaults.get("quota_classes") or {}
    prefix = str((center.settings.get("tenant") or {}).get("name_prefix") or "")
    live = {p.name: p for p in cloud_usage.projects} if cloud_usage is not None else {}
    rows = []
    for code, doc in sorted(docs.items()):
        if not isinstance(doc, dict):
            continue
        q = doc.get("quotas") or {}
        cls = q.get("class", default_class) if isinstance(q, dict) else default_class
        comp = dict((classes.get(cls) or {}).get("compute") or {})
        comp.update((q.get("compute") or {}) if isinstance(q, dict) else {})
        vol = dict((classes.get(cls) or {}).get("volume") or {})
        vol.update((q.get("volume") or {}) if isinstance(q, dict) else {})
        d = deps.get(code)
        lp = live.get(prefix + code)
        rows.append(
            {
                "code": code,
                "name_zh": d.name_zh if d else code,
                "name_en": d.name_en if d else code,
                "kind": d.kind if d else "",
                "class": cls,
                "cores": comp.get("cores"),
                "ram_gb": (comp.get("ram") or 0) / 1024 if comp.get("ram") else None,
                "gigabytes": vol.get("gigabytes"),
                "on_cloud": lp is not None,
                "cores_used": lp.cores[0] if lp else None,
                "ram_gb_used": lp.ram_mb[0] / 1024 if lp else None,
                "gigabytes_used": lp.gigabytes[0] if lp else None,
            }
        )
    return {
        "rows": rows,
        "cloud_read": cloud_usage is not None,
        "on_cloud": sum(1 for r in rows if r["on_cloud"]),
        "quota_cores": sum(r["cores"] or 0 for r in rows),
        "quota_ram_gb": sum(r["ram_gb"] or 0 for r in rows),
        "quota_gigabytes": sum(r["gigabytes"] or 0 for r in rows),
    }


def compliance(center: Center) -> dict:
    from cloudctl.baseline.store import list_runs
    from cloudctl.state import open_state

    db = open_state(center)
    runs = list_runs(db, 50) if db.exists() else []
    runs = sorted(runs, key=lambda r: r["started_at"])
    return {
        "runs": [
            {
                "run_id": r["run_id"],
                "started_at": r["started_at"],
                "hosts": r["hosts"],
                "rate": r["compliance_rate"],
                "conclusion": r["conclusion"],
                "failed": r["failed"],
            }
            for r in runs
        ]
    }


def migration(center: Center, plan_name: str | None, months: dict) -> dict:
    """Per wave: planned month (capacity.yaml or the plan's dates) and done counts; the
    burn-down: systems still to move, planned per month, actual from the journal."""
    from cloudctl.capacity.load import wave_month
    from cloudctl.migrate import service
    from cloudctl.migrate.journal import Journal

    plan = service.load_checked(center, service.resolve_plan(center, plan_name))
    latest: dict = {}
    db = service.default_journal(center)
    if db.exists():
        j = Journal(db)
        try:
            latest = j.latest_system_states(plan.name)
        finally:
            j.close()
    movable = [s for s in plan.systems.values() if s.strategy not in ("retain",)]
    in_wave = {sid for w in plan.waves for sid in w.systems}

    class _Cfg:  # wave_month reads wave_months only
        wave_months = months

    waves = []
    for w in plan.waves:
        m = wave_month(w, _Cfg)  # type: ignore[arg-type]
        done = [sid for sid in w.systems if (latest.get(sid) or {}).get("status") == "done"]
        waves.append(
            {
                "id": w.id,
                "name_zh": w.name_zh,
                "name_en": w.name_en,
                "month": str(m) if m else None,
                "systems": len(w.systems),
                "done": len(done),
            }
        )
    done_at = sorted(
        st["ended"]
        for sid, st in latest.items()
        if st.get("status") == "done" and st.get("ended") and sid in plan.systems
    )
    return {
        "plan": plan.name,
        "title_zh": plan.title_zh,
        "title_en": plan.title_en,
        "total": len(movable),
        "done": len(done_at),
        "waves": waves,
        "done_at": [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d") for t in done_at],
        "unscheduled": [
            {"id": s.id, "name_zh": s.name_zh, "name_en": s.name_en, "strategy": s.strategy}
            for s in plan.systems.values()
            if s.id not in in_wave
        ],
    }


def domain_matrix(center: Center, lang: str = "zh") -> Any:
    """The security-domain matrix of the desired tenants (tenant files against
    policies/security-domains.yaml, no cloud call): the design next to what the rules
    open, as a heatmap. None when the center has no design file."""
    from cloudctl.baseline.report import heatmap
    from cloudctl.domains import service as domains
    from cloudctl.domains.tenants import design_path

    if not design_path(center).is_file():
        return None
    matrix, _check = domains.matrix_offline(center)
    doc = matrix.as_dict()
    return {
        "html": heatmap(doc, lang) or "",
        "zones": len(doc["zones"]),
        "differences": doc["differences"],
    }


def gather(
    center: Center,
    *,
    lang: str = "zh",
    plan: str | None = None,
    horizon: int = 36,
    usage: str = "auto",
    cloud: str | None = None,
    config_file: str | None = None,
) -> ReportData:
    from cloudctl.capacity import service as cap

    rd = ReportData(
        center=center.name,
        generated=time.strftime("%Y-%m-%d %H:%M"),
        lang=lang,
    )
    rd.sections["addresses"] = _guard("addresses", lambda: addresses(center))
    gathered = None

    def capacity() -> Any:
        nonlocal gathered
        gathered = cap.gather(
            center, plan=plan, usage=usage, cloud=cloud, config_file=config_file, lang=lang
        )
        return cap.run(gathered, horizon)

    rd.sections["capacity"] = _guard("capacity", capacity)
    live = gathered.cloud if gathered is not None else None
    rd.sections["tenants"] = _guard("tenants", lambda: tenants(center, live))
    rd.sections["compliance"] = _guard("compliance", lambda: compliance(center))
    months = gathered.inputs.config.wave_months if gathered is not None else {}
    rd.sections["migration"] = _guard("migration", lambda: migration(center, plan, months))
    dm = _guard("domains", lambda: domain_matrix(center, lang))
    if dm.ok and dm.data is None:
        dm = Section("domains", False, reason="no policies/security-domains.yaml")
    rd.sections["domains"] = dm
    return rd
