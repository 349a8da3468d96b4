"""Reading the files a run needs: waivers, manual evidence, evidence files. Every problem
is reported at once as ``file:line: message``."""

from __future__ import annotations

import json
from pathlib import Path

from cloudctl.baseline.catalog import Profile
from cloudctl.baseline.engine import HostEvidence, ManualEvidence, Waiver
from cloudctl.core.errors import InputError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import display_path, load_yaml, loc_of

EVIDENCE_SCHEMA = "cloudctl.baseline.evidence/1"
MAX_EVIDENCE_BYTES = 256 * 1024 * 1024


def load_waivers(path: Path, profile: Profile) -> list[Waiver]:
    """The waivers file: its shape is the schema's (cloudctl/schemas/baseline.py, published
    as schemas/waivers.json); what needs the profile (the control exists) is checked here."""
    from pydantic import ValidationError

    from cloudctl.core.schema import check
    from cloudctl.schemas.baseline import Waiver as WaiverSpec
    from cloudctl.schemas.baseline import WaiversFile

    if not path.exists():
        return []
    name = display_path(path)
    raw = load_yaml(path) or {}
    if not isinstance(raw, dict):
        raise InputError(_("expected a mapping with 'waivers:'"), Location(name, 1))
    _doc, problems = check(WaiversFile, raw, name)
    items = raw.get("waivers") or []
    out: list[Waiver] = []
    for i, w in enumerate(items if isinstance(items, list) else []):
        try:
            spec = WaiverSpec.model_validate(w)
        except ValidationError:
            continue  # reported above
        where = loc_of(items, i)
        if profile.control(spec.control) is None:
            problems.append(
                Problem(
                    loc_of(w, "control", where),
                    _("unknown control {control!r}").format(control=spec.control),
                )
            )
            continue
        out.append(
            Waiver(
                spec.hosts,
                spec.control,
                spec.justification,
                spec.approver,
                spec.expires,
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
                problems.append(Problem(where, _("evidence record must be a mapping")))
                continue
            if r.get("control") and r["control"] != c.id and c.id not in (r.get("controls") or []):
                continue
            if r.get("result") not in ("pass", "fail", "not_applicable"):
                problems.append(
                    Problem(loc_of(r, "result", where), _("result: pass, fail or not_applicable"))
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
        raise InputError(_("evidence file not found"), where)
    if not p.is_file():  # a directory, a device (/dev/zero), a pipe: never read
        raise InputError(_("not a regular file (an evidence file is expected)"), where)
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_EVIDENCE_BYTES + 1)
    except OSError as e:
        raise InputError(_("cannot read: {strerror}").format(strerror=e.strerror), where) from None
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InputError(
            _("larger than {mib} MiB: not an evidence file").format(
                mib=MAX_EVIDENCE_BYTES // 2**20
            ),
            where,
        )
    try:
        raw = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise InputError(
            _("not UTF-8 text (byte {start}): not an evidence file").format(start=e.start), where
        ) from None
    except json.JSONDecodeError as e:
        raise InputError(
            _("not JSON: {msg}").format(msg=e.msg), Location(shown, e.lineno)
        ) from None
    except RecursionError:
        raise InputError(_("JSON nested too deeply"), where) from None
    if not isinstance(raw, dict) or raw.get("schema") != EVIDENCE_SCHEMA:
        raise InputError(
            _("not a cloudctl evidence file (schema {EVIDENCE_SCHEMA} expected)").format(
                EVIDENCE_SCHEMA=EVIDENCE_SCHEMA
            ),
            Location(shown, 1),
        )
    raw_hosts = raw.get("hosts")
    if not isinstance(raw_hosts, dict) or not raw_hosts:
        raise InputError(_('the evidence file holds no hosts ("hosts": {{name: {{...}}}})'), where)
    hosts = []
    for name, h in sorted(raw_hosts.items()):
        if not isinstance(h, dict) or not isinstance(h.get("evidence") or {}, dict):
            raise InputError(
                _("host {name!r}: expected {{status, evidence: {{...}}, error}}").format(name=name),
                where,
            )
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
