"""What the executor tells the screen, in a module of its own so that the CLI can define
its progress display without importing the executor (and the journal, the state DB) at
start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cloudctl.migrate.model import Step


class ProgressSink:
    """What the executor tells the screen. The default says nothing."""

    def system_begin(self, sid: str, total: int, done: int) -> None: ...
    def step_begin(self, sid: str, index: int, step: Step, phase: str, attempt: int) -> None: ...
    def step_end(
        self, sid: str, index: int, step: Step, phase: str, status: str, message: str | None
    ) -> None: ...
    def task(self, sid: str, text: str) -> None: ...
    def system_end(self, sid: str, status: str, message: str | None) -> None: ...
