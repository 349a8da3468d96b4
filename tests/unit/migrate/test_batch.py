"""Threads that reach a batch step together share one call; each gets its own result."""

from __future__ import annotations

import threading

import pytest

from cloudctl.migrate.batch import BatchGate


def run_together(gate, keys, call):
    out, errors, threads = {}, {}, []
    ready = threading.Barrier(len(keys))  # all arrive together, however loaded the machine

    def one(i, key):
        ready.wait(10)
        try:
            out[i] = gate.run(key, f"s{i}", i, call)
        except Exception as e:
            errors[i] = e

    for i, key in enumerate(keys):
        threads.append(threading.Thread(target=one, args=(i, key)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    return out, errors


def test_callers_with_one_key_share_one_call_and_get_their_own_result():
    calls = []

    def call(members):
        calls.append(sorted(m for _, m in members))
        return {mid: m * 10 for mid, m in members}

    out, errors = run_together(BatchGate(window=3.0, quiet=1.0), ["k"] * 5, call)
    assert not errors and calls == [[0, 1, 2, 3, 4]]
    assert out == {i: i * 10 for i in range(5)}


def test_different_keys_are_different_calls():
    calls = []

    def call(members):
        calls.append(len(members))
        return {mid: 0 for mid, _ in members}

    run_together(BatchGate(window=3.0, quiet=1.0), ["a", "b", "a", "b"], call)
    assert sorted(calls) == [2, 2]


def test_a_failing_call_reaches_every_member():
    def call(members):
        raise RuntimeError("ansible-runner could not start")

    out, errors = run_together(BatchGate(window=3.0, quiet=1.0), ["k"] * 3, call)
    assert out == {} and len(errors) == 3
    assert all(isinstance(e, RuntimeError) for e in errors.values())


def test_a_late_caller_starts_the_next_batch():
    gate = BatchGate(window=0.0)
    calls = []

    def call(members):
        calls.append(len(members))
        return {mid: 1 for mid, _ in members}

    assert gate.run("k", "a", 1, call) == 1
    assert gate.run("k", "b", 2, call) == 1
    assert calls == [1, 1]


def test_missing_result_for_a_member_is_an_error():
    with pytest.raises(KeyError):
        BatchGate(window=0.0).run("k", "a", 1, lambda members: {})


def test_the_first_caller_stops_waiting_once_nobody_comes():
    slept = []
    gate = BatchGate(window=0.3, quiet=0.05, sleep=slept.append)
    gate.run("k", "a", 1, lambda members: {mid: 0 for mid, _ in members})
    assert sum(slept) == pytest.approx(0.05)  # not the whole 0.3 s window
