"""Runs one wave (or resumes it): systems in parallel up to N, dependents after their
dependencies, each system's steps in order with retries, and on failure that system's
rollback steps in reverse order. Every transition goes to the journal first, so a killed
runner can be resumed without re-running a finished step.

The executor does not know Ansible: a ``StepRunner`` callable runs playbook, command and
check steps (see ``runbook.py``); approval and wait steps are handled here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Protocol

from cloudctl.migrate.graph import priority_order
from cloudctl.migrate.journal import TERMINAL_SYSTEM, Journal, RunRecord
from cloudctl.migrate.model import Plan, Step
from cloudctl.migrate.sink import ProgressSink


@dataclass
class RunSystem:
    """A system as it is run: what the journal snapshots, so a resume runs the same steps
    even if the plan file was edited meanwhile."""

    id: str
    name_zh: str
    name_en: str
    depends_on: list[str]
    source_hosts: list[str]
    target_hosts: list[str]
    steps: list[Step]

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "depends_on": self.depends_on,
            "source_hosts": self.source_hosts,
            "target_hosts": self.target_hosts,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: dict) -> RunSystem:
        return cls(
            id=d["id"],
            name_zh=d.get("name_zh", ""),
            name_en=d.get("name_en", ""),
            depends_on=list(d.get("depends_on", [])),
            source_hosts=list(d.get("source_hosts", [])),
            target_hosts=list(d.get("target_hosts", [])),
            steps=[Step.from_dict(s) for s in d.get("steps", [])],
        )


def snapshot(plan: Plan, ids: Sequence[str]) -> list[dict]:
    chosen = set(ids)
    out = []
    for sid in priority_order(list(ids), plan.systems):
        s = plan.systems[sid]
        out.append(
            RunSystem(
                id=s.id,
                name_zh=s.name_zh,
                name_en=s.name_en,
                depends_on=[d for d in s.depends_on if d in chosen],
                source_hosts=s.source_hosts,
                target_hosts=s.target_hosts,
                steps=s.steps,
            ).to_dict()
        )
    return out


@dataclass
class StepOutcome:
    status: str  # ok | failed
    rc: int | None = None
    message: str | None = None
    artifact: str | None = None


class StepRunner(Protocol):
    def __call__(
        self,
        run_id: str,
        system: RunSystem,
        step: Step,
        phase: str,
        index: int,
        attempt: int,
        on_task: Callable[[str], None],
    ) -> StepOutcome: ...


@dataclass
class Executor:
    journal: Journal
    run: RunRecord
    step_runner: StepRunner
    progress: ProgressSink = field(default_factory=ProgressSink)
    approvals: Iterable[str] = ()
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.systems = [RunSystem.from_dict(d) for d in self.run.snapshot]
        self.parallel = max(1, int(self.run.options.get("parallel", 1)))
        self.fail_fast = bool(self.run.options.get("fail_fast", False))
        self.approved = set(self.approvals) | set(self.run.options.get("approvals", []))
        self._stop = threading.Event()
        # where each running system is: (phase, step index; +/- 0.5 once past it)
        self._pos: dict[str, tuple[str, float]] = {}
        self._pos_lock = threading.Lock()
        self._by_id = {s.id: s for s in self.systems}

    def _at(self, sid: str, phase: str | None, index: float = 0.0) -> None:
        with self._pos_lock:
            if phase is None:
                self._pos.pop(sid, None)
            else:
                self._pos[sid] = (phase, index)

    def expected(self, key: Hashable) -> set[str]:
        """The running systems that have not passed the batch step ``key`` yet (a runner's
        key: phase, step index, step name, ...): a batch waits for them (BatchGate)."""
        phase, index, name = key[0], key[1], key[2]  # type: ignore[index]
        out = set()
        with self._pos_lock:
            pos = dict(self._pos)
        for sid, (ph, at) in pos.items():
            if ph != phase or (at > index if phase == "forward" else at < index):
                continue
            steps = self._by_id[sid].steps
            if not 0 <= index < len(steps):
                continue
            st = steps[index] if phase == "forward" else steps[index].rollback
            if st is not None and st.batch and st.name == name:
                out.add(sid)
        return out

    # ------------------------------------------------------------------ waves
    def execute(self) -> dict[str, str]:
        """Run every system not yet finished; returns the final status of each."""
        rid = self.run.run_id
        status = {sid: row["status"] for sid, row in self.journal.system_states(rid).items()}
        by_id = {s.id: s for s in self.systems}
        pending = [s for s in self.systems if status.get(s.id) not in TERMINAL_SYSTEM]
        running: dict[Future, str] = {}
        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="migrate") as pool:
            while True:
                for s in list(pending):
                    if len(running) >= self.parallel:
                        break
                    if self._stop.is_set():
                        self.journal.set_system(
                            rid, s.id, "cancelled", message="--fail-fast: another system failed"
                        )
                        status[s.id] = "cancelled"
                        self.progress.system_end(s.id, "cancelled", None)
                        pending.remove(s)
                        continue
                    dep_states = [status.get(d) for d in s.depends_on if d in by_id]
                    bad = [
                        d
                        for d in s.depends_on
                        if d in by_id and status.get(d) in TERMINAL_SYSTEM - {"done"}
                    ]
                    if bad:
                        msg = f"dependency not migrated: {', '.join(bad)}"
                        self.journal.set_system(rid, s.id, "blocked", message=msg)
                        status[s.id] = "blocked"
                        self.progress.system_end(s.id, "blocked", msg)
                        pending.remove(s)
                    elif all(st == "done" for st in dep_states):
                        pending.remove(s)
                        running[pool.submit(self._system, s, status.get(s.id, "pending"))] = s.id
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    sid = running.pop(fut)
                    try:
                        status[sid] = fut.result()
                    except Exception as e:  # a bug or an adapter crash: record it, go on
                        status[sid] = "failed"
                        self.journal.set_system(
                            rid, sid, "failed", message=f"{type(e).__name__}: {e}"
                        )
                        self.progress.system_end(sid, "failed", str(e))
                    if self.fail_fast and status[sid] in (
                        "rolled_back",
                        "rollback_failed",
                        "failed",
                    ):
                        self._stop.set()
        return {s.id: status.get(s.id, "pending") for s in self.systems}

    # ---------------------------------------------------------------- systems
    def _system(self, s: RunSystem, state: str) -> str:
        self._at(s.id, "forward", -1)
        try:
            return self._system_steps(s, state)
        finally:
            self._at(s.id, None)

    def _system_steps(self, s: RunSystem, state: str) -> str:
        rid = self.run.run_id
        if self.run.kind == "rollback":
            indices = self.run.options.get("rollback_indices", {}).get(s.id, [])
            self.journal.set_system(rid, s.id, "rolling_back")
            return self._rollback(s, indices)
        if state == "rolling_back":
            failed = self.journal.system_states(rid)[s.id]["failed_step"] or 0
            return self._rollback(s, range(failed + 1))
        done = self.journal.completed_steps(rid, s.id, "forward")
        self.progress.system_begin(s.id, len(s.steps), len(done))
        self.journal.set_system(rid, s.id, "running")
        for i, step in enumerate(s.steps):
            if i in done:
                continue
            outcome = self._step(s, step, "forward", i)
            if outcome.status == "waiting":
                self.journal.set_system(rid, s.id, "waiting_approval", message=outcome.message)
                self.progress.system_end(s.id, "waiting_approval", outcome.message)
                return "waiting_approval"
            if outcome.status != "ok":
                msg = f"step {step.name!r} failed: {outcome.message or 'no message'}"
                self.journal.set_system(rid, s.id, "rolling_back", message=msg, failed_step=i)
                return self._rollback(s, range(i + 1), reason=msg)
        self.journal.set_system(rid, s.id, "done")
        self.progress.system_end(s.id, "done", None)
        return "done"

    def _rollback(self, s: RunSystem, indices: Iterable[int], reason: str | None = None) -> str:
        """Undo steps in reverse order; keep going past a failed undo (the source must come
        back whatever else failed), then say ``rollback_failed`` if anything did."""
        rid = self.run.run_id
        self._at(s.id, "rollback", float("inf"))
        done = self.journal.completed_steps(rid, s.id, "rollback")
        failures = []
        for i in sorted(set(indices), reverse=True):
            rb = s.steps[i].rollback
            if rb is None or i in done:
                continue
            outcome = self._step(s, rb, "rollback", i)
            if outcome.status != "ok":
                failures.append(f"{rb.name}: {outcome.message or 'failed'}")
        final = "rollback_failed" if failures else "rolled_back"
        msg = "; ".join(failures) if failures else reason
        self.journal.set_system(rid, s.id, final, message=msg)
        self.progress.system_end(s.id, final, msg)
        return final

    # ------------------------------------------------------------------ steps
    def _step(self, s: RunSystem, step: Step, phase: str, index: int) -> StepOutcome:
        rid = self.run.run_id
        outcome = StepOutcome("failed")
        for n in range(step.retries + 1):
            row, attempt = self.journal.step_start(rid, s.id, phase, index, step.name, step.kind)
            self.progress.step_begin(s.id, index, step, phase, attempt)
            self._at(s.id, phase, index)
            try:
                outcome = self._do(s, step, phase, index, attempt)
            except Exception as e:
                outcome = StepOutcome("failed", message=f"{type(e).__name__}: {e}")
            self._at(s.id, phase, index + (0.5 if phase == "forward" else -0.5))
            self.journal.step_end(
                row,
                outcome.status,
                rc=outcome.rc,
                message=outcome.message,
                artifact=outcome.artifact,
            )
            self.progress.step_end(s.id, index, step, phase, outcome.status, outcome.message)
            if outcome.status in ("ok", "waiting"):
                return outcome
            if n < step.retries:
                self.sleep(step.retry_delay)
        return outcome

    def _do(self, s: RunSystem, step: Step, phase: str, index: int, attempt: int) -> StepOutcome:
        if step.kind == "approval":
            for key in (f"{s.id}:{step.name}", step.name, "all"):
                if key in self.approved:
                    return StepOutcome(
                        "ok", message=f"approved by {self.journal.me} (--approve {key})"
                    )
            return StepOutcome(
                "waiting",
                message=f"waits for approval: cloudctl migrate resume {rid_short(self.run.run_id)} "
                f"--approve {s.id}:{step.name}",
            )
        if step.kind == "wait":
            self.sleep(step.duration or 0)
            return StepOutcome("ok", message=f"waited {step.duration or 0:.0f}s")
        return self.step_runner(
            self.run.run_id, s, step, phase, index, attempt, lambda t: self.progress.task(s.id, t)
        )


def rid_short(run_id: str) -> str:
    return run_id


def run_outcome(statuses: dict[str, str]) -> str:
    """The run's status from its systems'."""
    vals = set(statuses.values())
    if vals <= {"done"}:
        return "done"
    if vals & {"rolled_back", "rollback_failed", "failed", "blocked", "cancelled"}:
        return "failed"
    return "paused"
