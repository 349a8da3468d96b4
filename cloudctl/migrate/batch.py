"""Callers that arrive together with the same key share one call.

A wave's systems run in threads and usually reach the same step of the same runbook within
milliseconds. For a step marked ``batch: true`` the first thread waits a short window,
then runs the step once for everyone who arrived, and each caller gets its own result.
The journal still records every system's step on its own. Threads released by one batch
reach the next batch step within milliseconds of each other: the first waits until nobody
has come for 50 ms (0.3 s at most).

When the caller can say who is still to come (``expected``: the executor knows which of its
running systems have not passed that step yet), the first waits for exactly those, up to
``patience``: on a loaded machine 20 threads writing the journal between two steps arrive
over more than 50 ms, and a wave of 20 split into 8 ansible-playbook runs per step, each
paying Ansible's start-up again (issue 17, measured on the lab).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field


@dataclass
class _Batch[M, R]:
    members: list[tuple[str, M]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    results: dict[str, R] = field(default_factory=dict)
    error: BaseException | None = None


class BatchGate[M, R]:
    def __init__(
        self,
        window: float = 0.3,
        quiet: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        patience: float = 5.0,
    ):
        self.window = window  # the longest the first caller waits for others
        self.quiet = quiet  # ... and it stops waiting once nobody came for this long
        self._sleep = sleep
        # who is still to come at a key (ids); None: unknown, the window and quiet rule apply
        self.expected: Callable[[Hashable], set[str]] | None = None
        self.patience = patience  # the longest the first waits for the expected ones
        self._lock = threading.Lock()
        self._open: dict[Hashable, _Batch[M, R]] = {}

    def run(
        self,
        key: Hashable,
        member_id: str,
        member: M,
        call: Callable[[Sequence[tuple[str, M]]], dict[str, R]],
    ) -> R:
        """``call`` gets every (id, member) of the batch and returns a result per id."""
        with self._lock:
            batch = self._open.get(key)
            leader = batch is None
            if batch is None:
                batch = self._open[key] = _Batch()
            batch.members.append((member_id, member))
        if leader:
            self._gather(key, batch)
            with self._lock:
                del self._open[key]  # later arrivals start the next batch
            try:
                batch.results = call(list(batch.members))
            except BaseException as e:  # every member must learn of it, not only the leader
                batch.error = e
            finally:
                batch.done.set()
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.results[member_id]

    def _gather(self, key: Hashable, batch: _Batch) -> None:
        if self.expected is not None and self.window > 0:
            self._gather_expected(key, batch)
            return
        waited, seen = 0.0, len(batch.members)
        step = min(0.01, self.quiet, self.window) or self.window
        quiet_for = 0.0
        while waited < self.window and step > 0:
            self._sleep(step)
            waited += step
            now = len(batch.members)
            quiet_for = 0.0 if now != seen else quiet_for + step
            seen = now
            if quiet_for >= self.quiet:
                break

    def _gather_expected(self, key: Hashable, batch: _Batch) -> None:
        """Wait until every system still to come at ``key`` is here (or ``patience``)."""
        assert self.expected is not None
        waited, step = 0.0, 0.01
        while waited < self.patience:
            with self._lock:
                here = {mid for mid, _ in batch.members}
            if not self.expected(key) - here:
                return
            self._sleep(step)
            waited += step
