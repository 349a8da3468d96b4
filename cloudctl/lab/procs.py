"""Processes of the lab, seen through /proc.

Every process the lab starts carries ``CLOUDCTL_LAB_OWNER=<lab dir>`` in its environment
(children inherit it) and is recorded in ``run/<key>.json`` with its PID *and* its start
time, so a recycled PID is never mistaken for ours and ``down`` only ever signals the
lab's own processes. PID 1 on some machines does not reap orphans: a zombie counts as
gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

OWNER_ENV = "CLOUDCTL_LAB_OWNER"


@dataclass(frozen=True)
class ProcRecord:
    key: str  # "svc-keystone", "host-yun-db01", "fwd-yun-db01"
    pid: int
    start: int  # start time in clock ticks since boot (/proc/PID/stat field 22)
    log: str = ""

    def save(self, run_dir: Path) -> None:
        from cloudctl.core.fileio import atomic_write

        atomic_write(run_dir / f"{self.key}.json", json.dumps(asdict(self)) + "\n")

    @classmethod
    def load(cls, path: Path) -> ProcRecord | None:
        try:
            raw = json.loads(path.read_text())
            return cls(key=raw["key"], pid=int(raw["pid"]), start=int(raw["start"]), log=raw["log"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ..." and comm may contain spaces or parentheses
    return raw[raw.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, or None."""
    f = _stat_fields(pid)
    if f is None or f[0] in ("Z", "X"):
        _reap(pid)
        return None
    return int(f[19])


def parent_pid(pid: int) -> int | None:
    f = _stat_fields(pid)
    return int(f[1]) if f else None


def _reap(pid: int) -> None:
    """If the zombie is our own child (started in this process), collect it."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_running(rec: ProcRecord) -> bool:
    return start_ticks(rec.pid) == rec.start


def spawn(
    key: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: Path,
    owner: Path,
    cwd: Path | None = None,
    preexec: Callable[[], None] | None = None,
) -> ProcRecord:
    """Start a detached process (own session: it outlives this cloudctl) logging to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**env, OWNER_ENV: str(owner)}
    with open(log, "ab") as out:
        out.write(f"\n--- {time.strftime('%F %T')} start: {' '.join(argv)}\n".encode())
        out.flush()
        p = subprocess.Popen(
            list(argv),
            env=full_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            preexec_fn=preexec,
        )
    ticks = None
    for _ in range(50):
        ticks = start_ticks(p.pid)
        if ticks is not None:
            break
        time.sleep(0.01)
    # a process that exited at once still gets a record; is_running() then says so
    return ProcRecord(key=key, pid=p.pid, start=ticks or -1, log=str(log))


def terminate(recs: Iterable[ProcRecord], timeout: float = 10.0) -> list[ProcRecord]:
    """SIGTERM the recorded processes that are still ours, SIGKILL what outlives ``timeout``.
    Returns the records that were running."""
    live = [r for r in recs if is_running(r)]
    for r in live:
        with contextlib.suppress(ProcessLookupError):
            os.kill(r.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(is_running(r) for r in live):
        time.sleep(0.05)
    for r in live:
        if is_running(r):
            with contextlib.suppress(ProcessLookupError):
                os.kill(r.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(is_running(r) for r in live):
        time.sleep(0.05)
    return live


def kill_pids(pids: Iterable[int], timeout: float = 10.0) -> None:
    """Terminate PIDs found by :func:`owned_pids` (start times taken now)."""
    recs = []
    for pid in pids:
        t = start_ticks(pid)
        if t is not None:
            recs.append(ProcRecord(key=str(pid), pid=pid, start=t))
    terminate(recs, timeout)


def all_pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def title_marker(owner: Path, name: str) -> str:
    """A process title naming the lab; for programs that rewrite their environment block."""
    return f"cloudctl-lab-{name}:{owner}"


def owned_pids(owner: Path) -> list[int]:
    """Live processes that belong to the lab at ``owner``: by the environment marker, or by
    the process title (gunicorn's setproctitle overwrites the environment)."""
    marker = f"{OWNER_ENV}={owner}".encode()
    title_end = f":{owner}]".encode()
    me = os.getpid()
    found = []
    for pid in all_pids():
        if pid == me:
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        ours = marker in env.split(b"\0") or (b"[cloudctl-lab-" in cmd and title_end in cmd)
        if ours and start_ticks(pid) is not None:
            found.append(pid)
    return found


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for pid in all_pids():
        ppid = parent_pid(pid)
        if ppid is not None:
            kids.setdefault(ppid, []).append(pid)
    return kids


def tree(pid: int, kids: Mapping[int, list[int]] | None = None) -> list[int]:
    """``pid`` and all its descendants."""
    kids = kids if kids is not None else children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, ()))
    return out


def rss_bytes(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
        except (OSError, ValueError):
            continue
    return total


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on TCP ``port`` (any address, IPv4 or IPv6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def port_holders(port: int) -> list[int]:
    """PIDs holding a listening socket on ``port`` (in this network namespace)."""
    inodes = listening_inodes(port)
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    holders = []
    for pid in all_pids():
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(fd_dir / fd) in wanted:
                    holders.append(pid)
                    break
    return holders


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        cmd = "?"
    return f"pid {pid} ({cmd[:80]})"
