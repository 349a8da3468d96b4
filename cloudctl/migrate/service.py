"""What the ``migrate`` commands do, over the center's files, the journal and Ansible.
The CLI only parses options and renders what these functions return."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cloudctl.core.center import Center
from cloudctl.core.errors import (
    ConflictError,
    ExternalError,
    InputError,
    Location,
    Problem,
    ValidationFailed,
)
from cloudctl.core.fileio import read_input
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import display_path
from cloudctl.migrate.graph import auto_waves, estimate_waves
from cloudctl.migrate.model import Plan, load_plan
from cloudctl.migrate.refs import load_references
from cloudctl.migrate.sink import ProgressSink
from cloudctl.migrate.validate import References, validate

if TYPE_CHECKING:  # run-time imports are inside the functions that run waves: `validate`
    # and `plan` of a large plan must not pay for the executor, the journal, Ansible's
    # runner and the state DB at start-up (issue 17, cold start)
    from cloudctl.migrate.journal import Journal, RunRecord
    from cloudctl.migrate.runbook import AnsibleStepRunner
    from cloudctl.state import StateDB


def plan_files(center: Center) -> list[Path]:
    d = center.migration_plans
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def resolve_plan(center: Center, plan: str | None) -> Path:
    if plan:
        p = Path(plan)
        for cand in (p, center.migration_plans / plan, center.migration_plans / f"{plan}.yaml"):
            if cand.is_file():
                return cand
        raise InputError(
            _("no such plan (give a file or a plan name under migration_plans/)"), Location(plan)
        )
    files = plan_files(center)
    if len(files) == 1:
        return files[0]
    if not files:
        raise InputError(_("no plans here"), Location(display_path(center.migration_plans)))
    names = ", ".join(f.stem for f in files)
    raise InputError(
        _("several plans, name one: {names}").format(names=names),
        Location(display_path(center.migration_plans)),
    )


def plan_cache(center: Center) -> Path:
    return center.state / "cache" / "migrate"


def load_checked(
    center: Center,
    plan_path: Path,
    inventory: Sequence[Path] | None = None,
    refs: References | None = None,
) -> Plan:
    plan = load_plan(plan_path, cache_dir=plan_cache(center))
    if refs is None:
        refs = load_references(center, inventory[0] if inventory else None)
    problems = validate(plan, refs)
    if problems:
        raise ValidationFailed(
            problems,
            _("{plan_path}: {n} problem(s) found").format(
                plan_path=display_path(plan_path), n=len(problems)
            ),
        )
    return plan


def validate_all(
    center: Center, plans: Sequence[Path], inventory: Path | None = None
) -> tuple[list[Plan], list[Problem]]:
    refs = load_references(center, inventory)
    out, problems = [], []
    for p in plans:
        plan = load_plan(p, cache_dir=plan_cache(center))
        out.append(plan)
        problems.extend(validate(plan, refs))
    # one unavailable source is said once, not once per plan
    seen: set[str] = set()
    unique = []
    for pr in problems:
        if str(pr) not in seen:
            seen.add(str(pr))
            unique.append(pr)
    return out, unique


def wave_table(plan: Plan, auto: bool, max_per_wave: int | None, parallel: int | None) -> dict:
    """`migrate plan`: waves (as written, or computed), estimates and critical paths."""
    par = parallel or plan.parallel
    if auto:
        waves = auto_waves(plan, max_per_wave)
    else:
        waves = [(w.id, w.name_zh, w.name_en, list(w.systems)) for w in plan.waves]
    est = estimate_waves(plan, waves, par)
    placed = {s for _, _, _, ids in waves for s in ids}
    total = sum(e.makespan for e in est)
    return {
        "plan": plan.name,
        "mode": "auto" if auto else "as-written",
        "parallel": par,
        "waves": [
            {
                "id": e.id,
                "name_zh": e.name_zh,
                "name_en": e.name_en,
                "systems": [
                    {
                        "id": s,
                        "name_zh": plan.systems[s].name_zh,
                        "name_en": plan.systems[s].name_en,
                        "importance": plan.systems[s].importance,
                        "strategy": plan.systems[s].strategy,
                        "estimate_s": plan.systems[s].estimate,
                        "depends_on": plan.systems[s].depends_on,
                    }
                    for s in e.systems
                ],
                "count": len(e.systems),
                "importance": e.importance,
                "estimate_s": e.makespan,
                "sequential_s": e.total,
                "critical_path": e.critical_path,
                "critical_path_s": e.critical,
            }
            for e in est
        ],
        "unscheduled": sorted(set(plan.systems) - placed),
        "total_estimate_s": total,
    }


# ------------------------------------------------------------------------- running


@dataclass
class RunResult:
    run_id: str
    status: str
    systems: dict[str, str]
    dry_run: bool = False
    schedule: list[dict] = field(default_factory=list)
    already: dict[str, str] = field(default_factory=dict)  # system -> the run that moved it


def _where(journal: Journal) -> str:
    return display_path(journal.path) if journal.path is not None else journal.where


def default_journal(center: Center) -> StateDB:
    """The center's state database (SQLite in the state dir, or the shared PostgreSQL)."""
    from cloudctl.state import open_state

    return open_state(center)


@contextlib.contextmanager
def wave_lock(journal: Journal, plan_name: str, wave: str) -> Iterator[None]:
    """One operator per wave: a lock of the journal's state database that dies with its
    holder (an flock next to a SQLite journal; a PostgreSQL advisory lock, across
    machines), and the journal's own record of who is running it (for the message)."""
    with journal.db.lock(f"migrate-{plan_name}--{wave}", timeout=0, what=f"wave {wave}"):
        yield


def _holder_message(journal: Journal, plan_name: str, wave: str) -> str:
    for r in journal.active_runs(plan_name, wave):
        if r.status == "running":
            return _(
                "wave {wave} of plan {plan} is being run by {operator} on {host} "
                "(pid {pid}, run {run_id}, since {since}); "
                "wait for it to finish, or see: cloudctl migrate status {run_id}"
            ).format(
                wave=wave,
                plan=plan_name,
                operator=r.operator,
                host=r.host,
                pid=r.pid,
                run_id=r.run_id,
                since=time.strftime("%H:%M:%S", time.localtime(r.started)),
            )
    return _("wave {wave} of plan {plan} is being run by another cloudctl right now").format(
        wave=wave, plan=plan_name
    )


def step_runner_for(
    center: Center,
    inventory: Sequence[Path] | None,
    *,
    forks: int | None = None,
    accept_new_host_keys: bool = False,
) -> AnsibleStepRunner:
    invs = [str(p) for p in (inventory or [center.hosts_inventory])]
    state = center.state / "migrate"
    from cloudctl.ansible.runner import SshTrust, private_dir
    from cloudctl.migrate.runbook import AnsibleStepRunner

    private_dir(center.artifacts)
    return AnsibleStepRunner(
        playbooks=center.playbooks,
        inventory=invs,
        artifacts=private_dir(center.artifacts / "migrate"),
        workdir=center.root,
        extravars={
            "migrate_state_dir": str(state),
            "migrate_names_file": str(state / "service-names.hosts"),
        },
        trust=center.trust,
        ssh_trust=SshTrust.of_center(center, accept_new_host_keys),
        forks=forks,
    )


def plan_sha(path: Path) -> str:
    return hashlib.sha256(read_input(path)).hexdigest()[:16]


def start_run(
    center: Center,
    plan_path: Path,
    wave_id: str,
    *,
    journal: Journal,
    systems: Sequence[str] | None = None,
    parallel: int = 4,
    fail_fast: bool = False,
    dry_run: bool = False,
    inventory: Sequence[Path] | None = None,
    approvals: Sequence[str] = (),
    progress: ProgressSink | None = None,
    step_runner=None,
    again: bool = False,
    forks: int | None = None,
    accept_new_host_keys: bool = False,
) -> RunResult:
    plan = load_checked(center, plan_path, inventory)
    wave = plan.wave(wave_id)
    if wave is None:
        known = ", ".join(w.id for w in plan.waves) or "none"
        raise InputError(
            _("plan {plan} has no wave {wave_id!r} (waves: {known})").format(
                plan=plan.name, wave_id=wave_id, known=known
            ),
            Location(display_path(plan_path)),
        )
    ids = list(wave.systems)
    if systems:
        unknown = [s for s in systems if s not in ids]
        if unknown:
            raise InputError(
                _("not in wave {wave_id}: {unknown} (wave has: {ids})").format(
                    wave_id=wave_id, unknown=", ".join(unknown), ids=", ".join(ids)
                ),
                Location("--systems"),
            )
        ids = [s for s in ids if s in set(systems)]
    ids = [s for s in ids if plan.systems[s].strategy not in ("retain",)]
    already: dict[str, str] = {}
    if journal is not None and not again:  # converge: what a run moved is not moved again
        latest = journal.latest_system_states(plan.name)
        already = {s: latest[s]["run_id"] for s in ids if latest.get(s, {}).get("status") == "done"}
        ids = [s for s in ids if s not in already]
    from cloudctl.migrate.executor import snapshot

    snap = snapshot(plan, ids)
    if dry_run:
        return RunResult(
            run_id="(dry-run)",
            status="dry-run",
            systems={s: "pending" for s in ids},
            dry_run=True,
            schedule=snap,
        )
    if not ids and already:
        return RunResult(
            run_id=sorted(set(already.values()))[-1],
            status="done",
            systems={s: "done" for s in already},
            already=already,
        )
    try:
        lock = wave_lock(journal, plan.name, wave_id)
        lock.__enter__()
    except ConflictError:
        raise ConflictError(
            _holder_message(journal, plan.name, wave_id), Location(display_path(plan_path))
        ) from None
    try:
        for r in journal.active_runs(plan.name, wave_id):
            journal.reap(r)
            if r.status == "running":
                raise ConflictError(
                    _holder_message(journal, plan.name, wave_id), Location(display_path(plan_path))
                )
            raise ConflictError(
                _(
                    "run {run_id} of wave {wave_id} is {status} (started by {operator}); "
                    "go on with: cloudctl migrate resume {run_id} (or give it up: cloudctl "
                    "migrate abandon {run_id})"
                ).format(run_id=r.run_id, wave_id=wave_id, status=r.status, operator=r.operator),
                Location(display_path(plan_path)),
            )
        options = {
            "parallel": parallel,
            "fail_fast": fail_fast,
            "approvals": list(approvals),
            "inventory": [str(Path(p).resolve()) for p in (inventory or [center.hosts_inventory])],
            "forks": forks,
            "accept_new_host_keys": accept_new_host_keys,
        }
        run_id = journal.create_run(
            kind="run",
            plan_name=plan.name,
            plan_path=str(plan_path.resolve()),
            plan_sha=plan_sha(plan_path),
            wave=wave_id,
            snapshot=snap,
            options=options,
        )
        res = _execute(center, journal, journal.run(run_id), progress, approvals, step_runner)  # type: ignore[arg-type]
        res.already = already
        res.systems = {**{s: "done" for s in already}, **res.systems}
        return res
    finally:
        lock.__exit__(None, None, None)


def _execute(
    center: Center, journal: Journal, run: RunRecord, progress, approvals, step_runner
) -> RunResult:
    from cloudctl.migrate.executor import Executor, run_outcome

    invs = [Path(p) for p in run.options.get("inventory", [])] or None
    if step_runner is None:
        step_runner = step_runner_for(
            center,
            invs,
            forks=run.options.get("forks"),
            accept_new_host_keys=bool(run.options.get("accept_new_host_keys")),
        )
        if int(run.options.get("parallel", 1)) <= 1:
            step_runner.gate.window = 0.0  # alone at every step: nobody to wait for
    ex = Executor(
        journal=journal,
        run=run,
        step_runner=step_runner,
        progress=progress or ProgressSink(),
        approvals=approvals,
    )
    gate = getattr(step_runner, "gate", None)
    if gate is not None:  # a batch waits for exactly the systems still to come
        gate.expected = ex.expected
    try:
        statuses = ex.execute()
    except BaseException:
        journal.finish_run(run.run_id, "interrupted")
        raise
    if run.kind == "rollback":  # success of a rollback is every system rolled back
        outcome = "done" if set(statuses.values()) <= {"rolled_back"} else "failed"
    else:
        outcome = run_outcome(statuses)
    journal.finish_run(run.run_id, outcome)
    return RunResult(run_id=run.run_id, status=outcome, systems=statuses)


def find_run(journal: Journal, run_id: str) -> RunRecord:
    run = journal.run(run_id)
    if run is None:
        raise InputError(
            _("no run {run_id!r} in the journal {where}").format(
                run_id=run_id, where=_where(journal)
            ),
            Location(run_id),
        )
    return run


def resume_run(
    center: Center,
    run_id: str,
    *,
    journal: Journal,
    approvals: Sequence[str] = (),
    force: bool = False,
    progress: ProgressSink | None = None,
    step_runner=None,
    forks: int | None = None,
    accept_new_host_keys: bool = False,
) -> RunResult:
    run = find_run(journal, run_id)
    try:
        lock = wave_lock(journal, run.plan_name, run.wave)
        lock.__enter__()
    except ConflictError:
        raise ConflictError(
            _holder_message(journal, run.plan_name, run.wave), Location(run.run_id)
        ) from None
    try:
        run = find_run(journal, run.run_id)
        # a shared (PostgreSQL) wave lock is held by every live runner of the wave, on any
        # machine: holding it ourselves proves the other host's runner is gone
        journal.reap(run, gone=journal.db.cross_machine and run.alive is None)
        if run.status == "running":
            where = "on another host" if run.alive is None else "still alive"
            if not (force and run.alive is None):
                raise ConflictError(
                    f"run {run.run_id} is running {where} ({run.operator}, {run.host} pid "
                    f"{run.pid})"
                    + (
                        "; if that host's runner is gone for sure, add --force"
                        if run.alive is None
                        else ""
                    ),
                    Location(run.run_id),
                )
            journal.conn.execute(
                "UPDATE migrate_steps SET status='interrupted' WHERE run_id=? AND status='running'",
                (run.run_id,),
            )
        if run.status == "done":
            return RunResult(
                run_id=run.run_id,
                status="done",
                systems={k: v["status"] for k, v in journal.system_states(run.run_id).items()},
            )
        journal.take_over(run.run_id)
        run = find_run(journal, run.run_id)
        if approvals:
            run.options["approvals"] = sorted(
                set(run.options.get("approvals", [])) | set(approvals)
            )
        if forks is not None:  # this time only: the journal keeps what the run began with
            run.options["forks"] = forks
        if accept_new_host_keys:
            run.options["accept_new_host_keys"] = True
        return _execute(center, journal, run, progress, approvals, step_runner)
    finally:
        lock.__exit__(None, None, None)


def abandon_run(journal: Journal, run_id: str) -> RunRecord:
    """Give up an interrupted or paused run (its wave can be run afresh); nothing is undone."""
    run = find_run(journal, run_id)
    journal.reap(run)
    if run.status == "running":
        raise ConflictError(
            _("run {run_id} is running ({operator}, {host} pid {pid})").format(
                run_id=run.run_id, operator=run.operator, host=run.host, pid=run.pid
            ),
            Location(run.run_id),
        )
    if run.status not in ("interrupted", "paused"):
        raise InputError(
            _(
                "run {run_id} is {status}: only an interrupted or paused run can be abandoned"
            ).format(run_id=run.run_id, status=run.status),
            Location(run.run_id),
        )
    journal.conn.execute(
        "UPDATE migrate_steps SET status='interrupted' WHERE run_id=? AND status='running'",
        (run.run_id,),
    )
    journal.finish_run(run.run_id, "abandoned")
    return find_run(journal, run.run_id)


def rollback_system(
    center: Center,
    system_id: str,
    *,
    journal: Journal,
    run_id: str | None = None,
    progress: ProgressSink | None = None,
    step_runner=None,
    forks: int | None = None,
    accept_new_host_keys: bool = False,
) -> RunResult:
    """Undo what a run did to one system: the rollbacks of its completed steps, newest first."""
    source = None
    for r in journal.runs(limit=1000):
        if (
            r.kind == "run"
            and (run_id is None or r.run_id.startswith(run_id))
            and any(s["id"] == system_id for s in r.snapshot)
        ):
            source = r
            break
    if source is None:
        raise InputError(
            _("no run of system {system_id!r} in the journal").format(system_id=system_id),
            Location(system_id),
        )
    try:
        lock = wave_lock(journal, source.plan_name, source.wave)
        lock.__enter__()
    except ConflictError:
        raise ConflictError(
            _holder_message(journal, source.plan_name, source.wave), Location(system_id)
        ) from None
    try:
        journal.reap(source)
        if source.status == "running":
            raise ConflictError(
                _("run {run_id} is still running; wait for it or stop it first").format(
                    run_id=source.run_id
                ),
                Location(system_id),
            )
        state = journal.system_states(source.run_id)[system_id]["status"]
        if state in ("rolled_back",):
            raise InputError(
                _("system {system_id} was already rolled back in run {run_id}").format(
                    system_id=system_id, run_id=source.run_id
                ),
                Location(system_id),
            )
        done = sorted(journal.completed_steps(source.run_id, system_id, "forward"))
        snap = [d for d in source.snapshot if d["id"] == system_id]
        snap[0]["depends_on"] = []
        options = {
            **source.options,
            "rollback_of": source.run_id,
            "rollback_indices": {system_id: done},
        }
        if forks is not None:
            options["forks"] = forks
        if accept_new_host_keys:
            options["accept_new_host_keys"] = True
        rid = journal.create_run(
            kind="rollback",
            plan_name=source.plan_name,
            plan_path=source.plan_path,
            plan_sha=None,
            wave=source.wave,
            snapshot=snap,
            options=options,
        )
        return _execute(center, journal, journal.run(rid), progress, (), step_runner)  # type: ignore[arg-type]
    finally:
        lock.__exit__(None, None, None)


# ------------------------------------------------------------------ status & report


def run_status(journal: Journal, run_id: str | None) -> dict:
    from cloudctl.migrate.executor import RunSystem

    if run_id is None:
        runs = journal.runs(limit=1)
        if not runs:
            raise InputError(_("the journal has no runs yet"), Location(_where(journal)))
        run = runs[0]
    else:
        run = find_run(journal, run_id)
    journal.reap(run)
    states = journal.system_states(run.run_id)
    steps = journal.steps(run.run_id)
    systems = []
    for d in run.snapshot:
        rs = RunSystem.from_dict(d)
        st = states.get(rs.id)
        own = [s for s in steps if s["system_id"] == rs.id]
        ok = {s["step_index"] for s in own if s["phase"] == "forward" and s["status"] == "ok"}
        last = own[-1] if own else None
        systems.append(
            {
                "id": rs.id,
                "name_zh": rs.name_zh,
                "name_en": rs.name_en,
                "status": st["status"] if st else "pending",
                "steps_done": len(ok),
                "steps_total": len(rs.steps),
                "current": f"{last['phase']}:{last['step_name']} ({last['status']})"
                if last
                else "",
                "message": st["message"] if st else None,
                "duration_s": (st["ended"] - st["started"])
                if st and st["ended"] and st["started"]
                else None,
            }
        )
    return {
        "run_id": run.run_id,
        "kind": run.kind,
        "plan": run.plan_name,
        "wave": run.wave,
        "status": run.status,
        "operator": run.operator,
        "host": run.host,
        "pid": run.pid,
        "started": _ts(run.started),
        "ended": _ts(run.ended),
        "duration_s": (run.ended - run.started) if run.ended else None,
        "systems": systems,
        "steps": [
            {
                k: s[k]
                for k in (
                    "system_id",
                    "phase",
                    "step_index",
                    "step_name",
                    "kind",
                    "attempt",
                    "status",
                    "rc",
                    "message",
                    "artifact",
                    "operator",
                    "host",
                    "pid",
                )
            }
            | {"started": _ts(s["started"]), "ended": _ts(s["ended"])}
            for s in steps
        ],
    }


def _ts(t: float | None) -> str | None:
    """A journal time (epoch seconds) as ISO-8601 with the local time zone."""
    if not t:
        return None
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


def history(journal: Journal, plan_name: str | None = None, limit: int = 50) -> list[dict]:
    out = []
    for r in journal.runs(plan_name, limit):
        journal.reap(r)
        states = journal.system_states(r.run_id)
        counts: dict[str, int] = {}
        for row in states.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        out.append(
            {
                "run_id": r.run_id,
                "kind": r.kind,
                "plan": r.plan_name,
                "wave": r.wave,
                "status": r.status,
                "operator": r.operator,
                "started": _ts(r.started),
                "duration_s": (r.ended - r.started) if r.ended else None,
                "systems": dict(sorted(counts.items())),
            }
        )
    return out


def report_data(plan: Plan, journal: Journal) -> dict:
    latest = journal.latest_system_states(plan.name)
    waves = []
    overall: dict[str, int] = {}
    for w in plan.waves:
        rows = []
        counts: dict[str, int] = {}
        durations = []
        for sid in w.systems:
            s = plan.systems.get(sid)
            st = latest.get(sid)
            status = st["status"] if st else "pending"
            if s is not None and s.strategy == "retain":
                status = "retained"
            dur = (
                (st["ended"] - st["started"])
                if st and st.get("ended") and st.get("started")
                else None
            )
            if dur is not None and status == "done":
                durations.append(dur)
            counts[status] = counts.get(status, 0) + 1
            overall[status] = overall.get(status, 0) + 1
            rows.append(
                {
                    "id": sid,
                    "name_zh": s.name_zh if s else sid,
                    "name_en": s.name_en if s else sid,
                    "department": s.department if s else "",
                    "importance": s.importance if s else "",
                    "strategy": s.strategy if s else "",
                    "status": status,
                    "duration_s": dur,
                    "run_id": st["run_id"] if st else None,
                    "message": st.get("message") if st else None,
                }
            )
        waves.append(
            {
                "id": w.id,
                "name_zh": w.name_zh,
                "name_en": w.name_en,
                "systems": rows,
                "counts": counts,
                "duration_s": sum(durations) if durations else None,
            }
        )
    return {
        "plan": plan.name,
        "title_zh": plan.title_zh,
        "title_en": plan.title_en,
        "generated_at": _ts(time.time()),
        "waves": waves,
        "overall": overall,
        "total": sum(overall.values()),
    }


def audit_changes(result: RunResult, extra: dict[str, Any] | None = None) -> dict:
    return {
        "run_id": result.run_id,
        "status": result.status,
        "systems": result.systems,
        **(extra or {}),
    }


def seed_rehearsal(
    center: Center,
    plan_path: Path,
    system_id: str | None,
    inventory: Sequence[Path] | None = None,
    accept_new_host_keys: bool = False,
) -> dict:
    """Install a system's app on its (lab) source host as the "legacy" starting point of a
    rehearsal: playbooks/migration/lab-legacy-app.yml with the system's own step vars."""
    from cloudctl.ansible.runner import run_playbook

    plan = load_checked(center, plan_path, inventory)
    if system_id is None:
        if not plan.waves or not plan.waves[0].systems:
            raise InputError(
                _("plan {plan} has no waves: name a --system").format(plan=plan.name),
                Location(plan.path),
            )
        system_id = plan.waves[0].systems[0]
    s = plan.systems.get(system_id)
    if s is None:
        raise InputError(
            _("plan {plan} has no system {system_id!r}").format(
                plan=plan.name, system_id=system_id
            ),
            Location(system_id),
        )
    if not s.source_hosts or not s.steps:
        raise InputError(
            _("system {system_id} has no source host or no steps").format(system_id=system_id),
            Location(system_id),
        )
    app = {
        k: v
        for k, v in s.steps[0].vars.items()
        if k in ("unit", "app_dir", "data_dir", "port", "service_name")
    }
    missing = {"unit", "app_dir", "data_dir", "service_name"} - set(app)
    if missing:
        raise InputError(
            _("system {system_id}: its first step lacks {missing}").format(
                system_id=system_id, missing=", ".join(sorted(missing))
            ),
            Location(system_id),
        )
    runner = step_runner_for(center, inventory, accept_new_host_keys=accept_new_host_keys)
    res = run_playbook(  # the plan's values: !unsafe extra vars (the runner marks them)
        center.playbooks / "migration" / "lab-legacy-app.yml",
        runner.inventory,
        artifacts_root=center.artifacts / "migrate" / "seed",
        extravars={"port": 8080, **app, "host": s.source_hosts[0], **runner.extravars},
        ssh_trust=runner.ssh_trust,
    )
    if not res.ok:
        from cloudctl.migrate.runbook import failure_message

        raise ExternalError(
            failure_message(res.events) or f"seed playbook {res.status}",
            Location(str(res.artifact_dir)),
        )
    return {"system": system_id, "host": s.source_hosts[0], **app}
