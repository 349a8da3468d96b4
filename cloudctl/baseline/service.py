"""The edges of a run: locate the profile and playbooks, run Ansible, collect the evidence
file, evaluate, store. The CLI and the benchmark call these."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cloudctl.ansible.runner import PlaybookResult, run_playbook
from cloudctl.baseline import remediate as R
from cloudctl.baseline import role
from cloudctl.baseline.catalog import Profile, load_profile
from cloudctl.baseline.engine import HostEvidence, evaluate_run
from cloudctl.baseline.inputs import load_manual_evidence, load_waivers, read_evidence_file
from cloudctl.core.center import Center
from cloudctl.core.errors import ExternalError, InputError, Location
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GATHER_TASK = "Gather the baseline evidence"


def policies_dir(center: Center, profile: str) -> Path:
    """The center's catalog when it has one for ``profile`` — even a broken one, which then
    fails loudly — else the catalog shipped with cloudctl."""
    own = center.policies / profile
    if own.exists() or own.is_symlink():
        return center.policies
    return PROJECT_ROOT / "policies"


def playbook(center: Center, name: str) -> Path:
    p = center.playbooks / "baseline" / name
    return p if p.is_file() else PROJECT_ROOT / "playbooks" / "baseline" / name


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


@dataclass
class Inputs:
    profile: Profile
    waivers: list
    manual: dict


def load_inputs(center: Center, profile: str = "mlps-l3") -> Inputs:
    pdir = policies_dir(center, profile)
    prof = load_profile(pdir, profile)
    waivers = load_waivers(center.policies / "waivers.yaml", prof)
    manual = load_manual_evidence(center.evidence, prof)
    return Inputs(prof, waivers, manual)


def inventories(center: Center, given: Sequence[str] | None) -> list[Path]:
    paths = [Path(g) for g in given] if given else [center.hosts_inventory]
    for p in paths:
        if not p.exists():
            raise InputError(_("inventory not found"), Location(str(p)))
    return paths


def collect(
    center: Center,
    inventory: Sequence[Path],
    *,
    limit: str | None,
    run_id: str,
    check_updates: bool | None = None,
    service_units: Sequence[str] | None = None,
    forks: int = 20,
    on_event: Callable[[dict], None] | None = None,
) -> tuple[Path, PlaybookResult]:
    """Run check.yml once (one module run per host) and write the evidence file from the
    events, the same document the playbook writes when run without cloudctl."""
    out_dir = private_dir(center.artifacts / "baseline")
    evidence_file = out_dir / f"{run_id}.evidence.json"
    extravars: dict = {"baseline_evidence_out": ""}
    if check_updates is not None:
        extravars["baseline_check_updates"] = check_updates
    if service_units:
        extravars["mlps_service_units"] = list(service_units)
    res = run_playbook(
        playbook(center, "check.yml"),
        list(inventory),
        artifacts_root=out_dir / "ansible",
        ident=run_id,
        extravars=extravars,
        limit=limit,
        forks=forks,
        event_handler=on_event,
    )
    hosts: dict[str, dict] = {}
    for ev in res.events:
        data = ev.get("event_data") or {}
        if data.get("task") != GATHER_TASK:
            continue
        r = data.get("res") or {}
        name = ev.get("event")
        if name == "runner_on_ok" and "evidence" in r:
            hosts[data["host"]] = {"status": "ok", "evidence": r["evidence"]}
        elif name == "runner_on_unreachable" or r.get("unreachable"):
            hosts[data["host"]] = {"status": "unreachable", "error": str(r.get("msg", ""))[:500]}
        elif name in ("runner_on_failed", "runner_on_ok"):
            err = r.get("msg") or r.get("module_stderr") or ""
            hosts[data["host"]] = {"status": "failed", "error": str(err)[:500]}
    if not hosts and not res.ok:
        raise ExternalError(
            "the evidence playbook did not run:\n" + res.stdout_tail(15),
            Location(str(playbook(center, "check.yml"))),
        )
    doc = {
        "schema": "cloudctl.baseline.evidence/1",
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "hosts": hosts,
    }
    atomic_write(evidence_file, json.dumps(doc, ensure_ascii=False), mode=0o600)
    private_dir(out_dir / "ansible")
    return evidence_file, res


def evaluate_file(
    center: Center,
    evidence_file: Path,
    inputs: Inputs,
    run_id: str,
    controls: list[str] | None = None,
) -> dict:
    raw, hosts = read_evidence_file(evidence_file)
    return evaluate(inputs, hosts, run_id, raw.get("generated_at", ""), controls)


def evaluate(
    inputs: Inputs,
    hosts: list[HostEvidence],
    run_id: str,
    started_at: str,
    controls: list[str] | None = None,
) -> dict:
    return evaluate_run(
        inputs.profile,
        hosts,
        waivers=inputs.waivers,
        manual=inputs.manual,
        controls=controls,
        run_id=run_id,
        started_at=started_at or dt.datetime.now(dt.UTC).isoformat(),
    )


def remediation_snippets(profile: Profile) -> dict[str, str]:
    """Control id -> the Ansible tasks (YAML) that fix it, for the HTML report."""
    out = {}
    for c in profile.automated:
        tasks = R.control_tasks(c)
        if tasks:
            out[c.id] = yaml.safe_dump(tasks, allow_unicode=True, sort_keys=False, width=100)
    return out


@dataclass
class RemediationOutcome:
    result: PlaybookResult
    changed: dict[str, dict[str, list[str]]]  # host -> control -> changed task names
    failed: list[dict]
    diffs: list[dict]
    playbook: Path
    seconds: float
    # host -> control -> {status: changed|unchanged|failed|skipped, reason, tasks}
    results: dict[str, dict[str, dict]] = field(default_factory=dict)
    # role files that did not match the catalog (the run used a freshly generated role)
    stale_role: list[str] = field(default_factory=list)


def remediate(
    center: Center,
    inventory: Sequence[Path],
    inputs: Inputs,
    targets: dict[str, list[str]],
    *,
    limit: str | None,
    dry_run: bool,
    run_id: str,
    on_event: Callable[[dict], None] | None = None,
) -> RemediationOutcome:
    controls = [inputs.profile.control(cid) for cid in targets]
    chosen = [c for c in controls if c is not None and c.remediable]
    out_dir = private_dir(center.artifacts / "baseline")
    # the role operators run with ansible-playbook / AWX; one generated from the catalog
    # into this run's private directory when that role no longer matches the catalog
    files = R.role_files(inputs.profile, [c for c in inputs.profile.automated if c.remediable])
    pb, stale = role.playbook_for_run(
        playbook(center, R.PLAYBOOK).parent, files, out_dir / f"{run_id}.role"
    )
    t0 = time.monotonic()
    res = run_playbook(
        pb,
        list(inventory),
        artifacts_root=out_dir / "ansible",
        ident=run_id + "-fix",
        extravars={R.TARGETS_VAR: targets},
        limit=limit,
        tags=[c.id for c in chosen],
        check=dry_run,
        diff=dry_run,
        forks=20,
        event_handler=on_event,
        env=plugin_env(center),
    )
    changed: dict[str, dict[str, list[str]]] = {}
    failed, diffs = [], []
    for ev in res.events:
        data = ev.get("event_data") or {}
        name = ev.get("event")
        task = str(data.get("task", ""))
        cid, what = R.task_control(task)
        host = data.get("host", "")
        r = data.get("res") or {}
        if name == "runner_on_ok" and r.get("changed") and cid:
            changed.setdefault(host, {}).setdefault(cid, []).append(what)
            # Ansible gives ``diff`` as one dict or a list of dicts, at the top or per loop item.
            found = _diff_list(r.get("diff"))
            for item in r.get("results") or []:
                if isinstance(item, dict):
                    found += _diff_list(item.get("diff"))
            diffs += [{"host": host, "control": cid, "task": task, "diff": d} for d in found]
        if name in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors"):
            failed.append(
                {"host": host, "control": cid, "task": task, "msg": str(r.get("msg", ""))[:300]}
            )
    private_dir(out_dir / "ansible")
    results = R.summarize_events(res.events, targets)
    if R.SSHD_RUNTIME_TASK in {f["task"] for f in failed}:  # the reload did not take effect
        for f in failed:
            if f["task"] == R.SSHD_RUNTIME_TASK:
                results.setdefault(f["host"], {})["sshd-runtime"] = {
                    "status": R.FAILED,
                    "reason": f"sshd has not loaded its new configuration: {f['msg']}",
                }
    return RemediationOutcome(
        res, changed, failed, diffs, pb, time.monotonic() - t0, results, stale_role=stale
    )


def plugin_env(center: Center) -> dict[str, str]:
    """The generated playbook lives with the run's artifacts, not beside the baseline's
    modules (mlps_evidence, mlps_pam) and filters (mlps_stricter): point Ansible at them."""
    base = playbook(center, "check.yml").parent
    out = {}
    for var, sub in (("ANSIBLE_LIBRARY", "library"), ("ANSIBLE_FILTER_PLUGINS", "filter_plugins")):
        given = os.environ.get(var)
        out[var] = str(base / sub) + (os.pathsep + given if given else "")
    return out


def private_dir(path: Path) -> Path:
    """A directory only its owner can enter (evidence, generated playbooks, run artifacts
    describe the hosts' weaknesses): created 0700, tightened if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def _diff_list(value) -> list[dict]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [d for d in value if isinstance(d, dict)]
    return []


def write_json(path: Path, doc: dict) -> None:
    atomic_write(path, json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
