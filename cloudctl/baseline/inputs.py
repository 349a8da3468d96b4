"""Reading the files a run needs: waivers, manual evidence, evidence files. Every problem
is reported at once as ``file:line: message``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cloudctl.baseline.catalog import Profile, check_keys
from cloudctl.baseline.engine import HostEvidence, ManualEvidence, Waiver
from cloudctl.core.errors import InputError, Location, Problem, ValidationFailed
from cloudctl.core.yamlio import display_path, load_yaml, loc_of

EVIDENCE_SCHEMA = "cloudctl.baseline.evidence/1"
WAIVER_KEYS = {"hosts", "control", "justification", "approver", "expires", "ticket"}
MAX_EVIDENCE_BYTES = 256 * 1024 * 1024


def load_waivers(path: Path, profile: Profile) -> list[Waiver]:
    if not path.exists():
        return []
    raw = load_yaml(path) or {}
    items = raw.get("waivers") or [] if isinstance(raw, dict) else None
    if items is None:
        raise InputError("expected a mapping with 'waivers:'", Location(display_path(path), 1))
    out: list[Waiver] = []
    problems: list[Problem] = []
    check_keys(
        raw, {"waivers", "version"}, "waivers file", problems, Location(display_path(path), 1)
    )
    if not isinstance(items, list):
        raise ValidationFailed([Problem(loc_of(raw, "waivers"), "waivers must be a list")])
    for i, w in enumerate(items):
        where = loc_of(items, i)
        if not isinstance(w, dict):
            problems.append(Problem(where, "waiver must be a mapping"))
            continue
        check_keys(w, WAIVER_KEYS, "waiver", problems, where)
        missing = [
            k for k in ("hosts", "control", "justification", "approver", "expires") if not w.get(k)
        ]
        if missing:
            problems.append(Problem(where, f"waiver misses {', '.join(missing)}"))
            continue
        if profile.control(str(w["control"])) is None:
            problems.append(
                Problem(loc_of(w, "control", where), f"unknown control {w['control']!r}")
            )
            continue
        exp = w["expires"]
        if isinstance(exp, str):
            try:
                exp = dt.date.fromisoformat(exp)
            except ValueError:
                problems.append(
                    Problem(loc_of(w, "expires", where), "expires: expected YYYY-MM-DD")
                )
                continue
        if not isinstance(exp, dt.date):
            problems.append(Problem(loc_of(w, "expires", where), "expires: expected YYYY-MM-DD"))
            continue
        out.append(
            Waiver(
                str(w["hosts"]),
                str(w["control"]),
                str(w["justification"]),
                str(w["approver"]),
                exp,
                str(where),
            )
        )
    if problems:
        raise ValidationFailed(problems)
    return out


def load_manual_evidence(evidence_dir: Path, profile: Profile) -> dict[str, list[ManualEvidence]]:
    """inventory/evidence/<file>.yaml named by each manual control's evidence.file; one file
    may hold one record or a list (e.g. per host pattern)."""
    out: dict[str, list[ManualEvidence]] = {}
    problems = []
    for c in profile.manual:
        fname = (c.evidence or {}).get("file")
        path = Path(evidence_dir) / str(fname)
        if not path.is_file():
            continue
        raw = load_yaml(path)
        records = raw if isinstance(raw, list) else [raw]
        for i, r in enumerate(records):
            where = loc_of(records, i) if isinstance(raw, list) else loc_of(r)
            if not isinstance(r, dict):
                problems.append(Problem(where, "evidence record must be a mapping"))
                continue
            if r.get("control") and r["control"] != c.id and c.id not in (r.get("controls") or []):
                continue
            if r.get("result") not in ("pass", "fail", "not_applicable"):
                problems.append(
                    Problem(loc_of(r, "result", where), "result: pass, fail or not_applicable")
                )
                continue
            out.setdefault(c.id, []).append(
                ManualEvidence(
                    control=c.id,
                    result=str(r["result"]),
                    method=str(r.get("method", "")),
                    summary=str(r.get("summary", "")),
                    documents=[str(d) for d in r.get("documents") or []],
                    assessed_by=str(r.get("assessed_by", "")),
                    date=str(r.get("date", "")),
                    hosts=str(r.get("hosts", "*")),
                    source=str(where or display_path(path)),
                )
            )
    if problems:
        raise ValidationFailed(problems)
    return out


def read_evidence_file(path: Path) -> tuple[dict, list[HostEvidence]]:
    """The file check.yml writes: {schema, generated_at, hosts: {name: {status, evidence, error}}}."""  # noqa: E501
    shown = display_path(Path(path))
    where = Location(shown)
    p = Path(path)
    if not p.exists():
        raise InputError("evidence file not found", where)
    if not p.is_file():  # a directory, a device (/dev/zero), a pipe: never read
        raise InputError("not a regular file (an evidence file is expected)", where)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", where) from None
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InputError(
            f"larger than {MAX_EVIDENCE_BYTES // 2**20} MiB: not an evidence file", where
        )
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text (byte {e.start}): not an evidence file", where) from None
    except json.JSONDecodeError as e:
        raise InputError(f"not JSON: {e.msg}", Location(shown, e.lineno)) from None
    except RecursionError:
        raise InputError("JSON nested too deeply", where) from None
    if not isinstance(raw, dict) or raw.get("schema") != EVIDENCE_SCHEMA:
        raise InputError(
            f"not a cloudctl evidence file (schema {EVIDENCE_SCHEMA} expected)", Location(shown, 1)
        )
    raw_hosts = raw.get("hosts")
    if not isinstance(raw_hosts, dict) or not raw_hosts:
        raise InputError('the evidence file holds no hosts ("hosts": {name: {...}})', where)
    hosts = []
    for name, h in sorted(raw_hosts.items()):
        if not isinstance(h, dict) or not isinstance(h.get("evidence") or {}, dict):
            raise InputError(f"host {name!r}: expected {{status, evidence: {{...}}, error}}", where)
        ev = h.get("evidence")
        status = h.get("status") or ("ok" if ev else "unreachable")
        hosts.append(
            HostEvidence(
                name,
                status if ev or status != "ok" else "failed",
                ev,
                str(h.get("error") or "")[:500],
            )
        )
    return raw, hosts
