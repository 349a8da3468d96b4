"""Executor + journal with a fake step runner: ordering, parallelism, retries, rollback,
fail-fast, approvals, crash detection and resume, and the wave lock."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cloudctl.core.errors import ConflictError
from cloudctl.migrate.executor import Executor, RunSystem, StepOutcome, run_outcome
from cloudctl.migrate.journal import Journal
from cloudctl.migrate.model import Step


class FakeRunner:
    """Records every call; fails the steps named in ``fail`` (``{(system, step): times}``)."""

    def __init__(self, fail=None, sleep=0.0, crash_at=None):
        self.calls: list[tuple[str, str, str, int]] = []
        self.fail = dict(fail or {})
        self.sleep = sleep
        self.crash_at = crash_at
        self.lock = threading.Lock()
        self.spans: dict[str, list[float]] = {}

    def __call__(self, run_id, s, step, phase, index, attempt, on_task):
        if self.crash_at == (s.id, step.name):
            raise KeyboardInterrupt  # the process dies here (no journal update after this)
        t0 = time.monotonic()
        on_task("task")
        time.sleep(self.sleep)
        with self.lock:
            self.calls.append((s.id, phase, step.name, attempt))
            span = self.spans.setdefault(s.id, [t0, t0])
            span[1] = time.monotonic()
            left = self.fail.get((s.id, step.name), 0)
            if left:
                self.fail[(s.id, step.name)] = left - 1
                return StepOutcome("failed", rc=2, message="boom")
        return StepOutcome("ok", rc=0)


def system(sid, deps=(), n=3, retries=0, rollback=True, approval=False):
    steps = []
    for i in range(n):
        rb = Step(name=f"undo{i}", kind="command", command="true") if rollback else None
        steps.append(
            Step(
                name=f"s{i}",
                kind="command",
                command="true",
                retries=retries,
                retry_delay=0,
                rollback=rb,
            )
        )
    if approval:
        steps.insert(1, Step(name="ok-to-go", kind="approval"))
    return RunSystem(
        id=sid,
        name_zh=sid,
        name_en=sid,
        depends_on=list(deps),
        source_hosts=[],
        target_hosts=[],
        steps=steps,
    ).to_dict()


def new_run(journal, systems, **options):
    rid = journal.create_run(
        kind="run",
        plan_name="p",
        plan_path=None,
        plan_sha=None,
        wave="w1",
        snapshot=systems,
        options={"parallel": 4, **options},
    )
    return journal.run(rid)


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    return Journal(tmp_path / "state.db")


def forward_ok(journal, rid, sid):
    return [
        r["step_name"]
        for r in journal.steps(rid, sid)
        if r["phase"] == "forward" and r["status"] == "ok"
    ]


def test_all_steps_run_in_order_and_are_journaled(journal):
    run = new_run(journal, [system("a"), system("b", ["a"])])
    fake = FakeRunner()
    res = Executor(journal, run, fake, sleep=lambda s: None).execute()
    assert res == {"a": "done", "b": "done"}
    assert [c[2] for c in fake.calls if c[0] == "a"] == ["s0", "s1", "s2"]
    rows = journal.steps(run.run_id)
    assert len(rows) == 6
    assert all(
        r["status"] == "ok" and r["ended"] >= r["started"] and r["operator"] and r["pid"]
        for r in rows
    )
    assert fake.spans["b"][0] >= fake.spans["a"][1]  # the dependent waited
    assert run_outcome(res) == "done"


def test_independent_systems_run_in_parallel(journal):
    run = new_run(journal, [system(f"s{i}", n=1) for i in range(4)], parallel=4)
    t0 = time.monotonic()
    Executor(journal, run, FakeRunner(sleep=0.3)).execute()
    assert time.monotonic() - t0 < 0.9  # one at a time would take 1.2 s


def test_failure_retries_then_rolls_back_in_reverse_others_go_on(journal):
    run = new_run(journal, [system("a", retries=1), system("b"), system("c", ["a"])])
    fake = FakeRunner(fail={("a", "s1"): 5})
    res = Executor(journal, run, fake, sleep=lambda s: None).execute()
    assert res == {"a": "rolled_back", "b": "done", "c": "blocked"}
    a_calls = [(c[1], c[2], c[3]) for c in fake.calls if c[0] == "a"]
    assert a_calls == [
        ("forward", "s0", 1),
        ("forward", "s1", 1),
        ("forward", "s1", 2),  # retried once
        ("rollback", "undo1", 1),
        ("rollback", "undo0", 1),  # newest first, failed step included
    ]
    states = journal.system_states(run.run_id)
    assert "step 's1' failed: boom" in states["a"]["message"]
    assert "dependency not migrated: a" in states["c"]["message"]
    assert not [c for c in fake.calls if c[0] == "c"]
    assert run_outcome(res) == "failed"


def test_failed_rollback_is_loud_and_the_rest_still_undone(journal):
    run = new_run(journal, [system("a")])
    fake = FakeRunner(fail={("a", "s2"): 1, ("a", "undo1"): 9})
    res = Executor(journal, run, fake, sleep=lambda s: None).execute()
    assert res == {"a": "rollback_failed"}
    assert [c[2] for c in fake.calls if c[1] == "rollback"] == ["undo2", "undo1", "undo0"]
    assert "undo1" in journal.system_states(run.run_id)["a"]["message"]


def test_fail_fast_starts_nothing_new(journal):
    run = new_run(journal, [system("a"), system("b"), system("c")], parallel=1, fail_fast=True)
    fake = FakeRunner(fail={("a", "s0"): 1})
    res = Executor(journal, run, fake, sleep=lambda s: None).execute()
    assert res["a"] == "rolled_back"
    assert res["b"] == res["c"] == "cancelled"
    assert {c[0] for c in fake.calls} == {"a"}


def test_approval_pauses_until_approved(journal):
    run = new_run(journal, [system("a", approval=True)])
    fake = FakeRunner()
    res = Executor(journal, run, fake).execute()
    assert res == {"a": "waiting_approval"} and run_outcome(res) == "paused"
    assert [c[2] for c in fake.calls] == ["s0"]
    res = Executor(journal, journal.run(run.run_id), fake, approvals=["a:ok-to-go"]).execute()
    assert res == {"a": "done"}
    assert [c[2] for c in fake.calls] == ["s0", "s1", "s2"]  # s0 not run again
    approved = [
        r for r in journal.steps(run.run_id) if r["step_name"] == "ok-to-go" and r["status"] == "ok"
    ]
    assert "approved by" in approved[0]["message"]


def test_crash_then_resume_never_reruns_completed_steps(journal):
    run = new_run(journal, [system("a", n=4), system("b", n=2)], parallel=1)
    crashing = FakeRunner(crash_at=("a", "s2"))
    with pytest.raises(KeyboardInterrupt):
        Executor(journal, run, crashing).execute()
    # the journal says: a.s0, a.s1 ok; a.s2 running (its runner is gone)
    rows = journal.steps(run.run_id)
    assert [(r["step_name"], r["status"]) for r in rows] == [
        ("s0", "ok"),
        ("s1", "ok"),
        ("s2", "running"),
    ]
    # pretend the runner was another process that is now dead
    journal.conn.execute("UPDATE migrate_runs SET pid=999999999 WHERE run_id=?", (run.run_id,))
    dead = journal.run(run.run_id)
    assert dead.alive is False
    assert journal.reap(dead)
    assert journal.run(run.run_id).status == "interrupted"
    assert journal.steps(run.run_id)[2]["status"] == "interrupted"
    journal.take_over(run.run_id)
    fake = FakeRunner()
    res = Executor(journal, journal.run(run.run_id), fake).execute()
    assert res == {"a": "done", "b": "done"}
    assert [(c[0], c[2]) for c in fake.calls] == [
        ("a", "s2"),
        ("a", "s3"),
        ("b", "s0"),
        ("b", "s1"),
    ]
    s2 = [r for r in journal.steps(run.run_id, "a") if r["step_name"] == "s2"]
    assert [(r["attempt"], r["status"]) for r in s2] == [(1, "interrupted"), (2, "ok")]
    for name in ("s0", "s1"):
        assert len([r for r in journal.steps(run.run_id, "a") if r["step_name"] == name]) == 1


def test_live_runner_is_not_reaped(journal):
    run = new_run(journal, [system("a")])
    assert run.alive is True
    assert journal.reap(run) is False


def test_resume_of_a_system_killed_while_rolling_back(journal):
    run = new_run(journal, [system("a", n=3)])
    fake = FakeRunner(fail={("a", "s2"): 1}, crash_at=None)

    class CrashInRollback(FakeRunner):
        def __call__(self, run_id, s, step, phase, index, attempt, on_task):
            if phase == "rollback" and step.name == "undo1":
                raise KeyboardInterrupt
            return fake(run_id, s, step, phase, index, attempt, on_task)

    with pytest.raises(KeyboardInterrupt):
        Executor(journal, run, CrashInRollback(), sleep=lambda s: None).execute()
    assert journal.system_states(run.run_id)["a"]["status"] == "rolling_back"
    journal.conn.execute("UPDATE migrate_runs SET pid=999999999 WHERE run_id=?", (run.run_id,))
    journal.reap(journal.run(run.run_id))
    journal.take_over(run.run_id)
    again = FakeRunner()
    res = Executor(journal, journal.run(run.run_id), again).execute()
    assert res == {"a": "rolled_back"}
    assert [c[2] for c in again.calls] == ["undo1", "undo0"]  # undo2 was done before the crash


def test_wave_lock_refuses_a_second_operator(tmp_path):
    from cloudctl.migrate.service import wave_lock

    j = Journal(tmp_path / "j.db")
    with (
        wave_lock(j, "p", "w1"),
        pytest.raises(ConflictError),
        j.db.lock("migrate-p--w1", timeout=0, what="wave w1"),  # the same lock, by its name
    ):
        pass
    with wave_lock(j, "p", "w1"):  # released: can be taken again
        pass
