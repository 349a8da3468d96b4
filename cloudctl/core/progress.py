"""Progress for logs: one line per finished tenant, host or step, with N/M and an ETA.

On a terminal the commands draw their own live display; off a terminal (CI logs, ``| tee``)
that display is off, and a long run would print nothing for minutes. :class:`LineProgress`
writes to stderr (stdout stays the command's data), one line per unit, and is safe to call
from worker threads.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO


def eta_text(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: short enough for a log line."""
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class LineProgress:
    """``[3/45] tenant czj ok (12s, ETA 2m58s)`` per unit done.

    ``enabled``: default only when ``stream`` is not a terminal. The ETA is the mean time
    per unit so far times the units left (units of one run take similar time)."""

    def __init__(
        self,
        total: int,
        what: str,
        *,
        lang: str = "zh",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.what = what
        self.lang = str(lang)
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = not (isatty and isatty())
        self.enabled = enabled
        self.clock = clock
        self.start = clock()
        self.done = 0
        self._lock = threading.Lock()

    def line(self, name: str, status: str = "ok") -> str:
        """The line for the unit that just finished (``done`` already counted)."""
        elapsed = self.clock() - self.start
        left = self.total - self.done
        of = str(self.total) if self.total >= self.done else "?"
        if self.done and left > 0:
            eta = eta_text(elapsed / self.done * left)
            tail = (
                f"（已用 {eta_text(elapsed)}，预计剩余 {eta}）"
                if self.lang == "zh"
                else (f" ({eta_text(elapsed)}, ETA {eta})")
            )
        else:
            tail = (
                f"（用时 {eta_text(elapsed)}）"
                if self.lang == "zh"
                else (f" ({eta_text(elapsed)})")
            )
        return f"[{self.done}/{of}] {self.what} {name} {status}{tail}"

    def step(self, name: str, status: str = "ok") -> None:
        """One unit finished: count it and, when enabled, write its line."""
        with self._lock:
            self.done += 1
            if not self.enabled:
                return
            self.stream.write(self.line(name, status) + "\n")
            self.stream.flush()
