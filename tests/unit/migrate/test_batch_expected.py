"""A batch step waits for exactly the systems still to come (issue 17): on a loaded machine
the threads of a wave reach the next step over more than the 50 ms quiet period, and a
wave of 20 split into 8 ansible-playbook runs per step. With the executor telling the gate
who has not passed the step yet, late arrivals still join, and nobody waits for a system
that went another way (rolled back)."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from cloudctl.migrate.batch import BatchGate
from cloudctl.migrate.executor import Executor, RunSystem, StepOutcome
from cloudctl.migrate.journal import Journal
from cloudctl.migrate.model import Step


class BatchingRunner:
    """Runs batch steps through a BatchGate like AnsibleStepRunner; each system is slow to
    arrive (0-250 ms, as journal writes of 10 threads on a loaded machine are)."""

    def __init__(self, fail: set[str] = frozenset()):
        self.gate = BatchGate()
        self.batches: list[tuple[str, str, tuple[str, ...]]] = []
        self.fail = fail
        self.rnd = random.Random(4)
        self.lock = threading.Lock()

    def __call__(self, run_id, s, step, phase, index, attempt, on_task):
        with self.lock:
            delay = self.rnd.uniform(0, 0.25)
        time.sleep(delay)
        key = (phase, index, step.name, str(step.playbook), attempt)

        def call(members):
            self.batches.append((phase, step.name, tuple(sorted(m for m, _ in members))))
            return {
                m: StepOutcome("failed" if (m, step.name) in self.fail else "ok")
                for m, _ in members
            }

        return self.gate.run(key, s.id, s, call)


def systems(n: int) -> list[dict]:
    def step(name):
        undo = Step(name=f"undo-{name}", kind="playbook", playbook="u.yml", batch=True)
        return Step(name=name, kind="playbook", playbook=f"{name}.yml", batch=True, rollback=undo)

    return [
        RunSystem(
            id=f"s{i}", name_zh="x", name_en="x", depends_on=[], source_hosts=[],
            target_hosts=[], steps=[step("a"), step("b"), step("c")],
        ).to_dict()
        for i in range(n)
    ]  # fmt: skip


def run(tmp_path: Path, runner: BatchingRunner, n: int) -> dict[str, str]:
    j = Journal(tmp_path / "j.db")
    rid = j.create_run(
        kind="run", plan_name="p", plan_path=None, plan_sha=None, wave="w",
        snapshot=systems(n), options={"parallel": n},
    )  # fmt: skip
    ex = Executor(journal=j, run=j.run(rid), step_runner=runner)
    runner.gate.expected = ex.expected  # as service._execute does
    return ex.execute()


def test_late_arrivals_still_join_their_batch(tmp_path):
    runner = BatchingRunner()
    assert run(tmp_path, runner, 8) == {f"s{i}": "done" for i in range(8)}
    every = tuple(f"s{i}" for i in range(8))
    assert runner.batches == [("forward", x, every) for x in ("a", "b", "c")]


def test_nobody_waits_for_a_system_that_rolled_back(tmp_path):
    runner = BatchingRunner(fail={("s0", "b")})
    t0 = time.monotonic()
    status = run(tmp_path, runner, 4)
    assert status == {"s0": "rolled_back", "s1": "done", "s2": "done", "s3": "done"}
    assert ("forward", "c", ("s1", "s2", "s3")) in runner.batches
    # s0 undoes b and a on its own; the others did not wait for it (patience is 5 s)
    assert ("rollback", "undo-b", ("s0",)) in runner.batches
    assert time.monotonic() - t0 < 4.0
