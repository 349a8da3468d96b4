"""Run a playbook with ansible-runner and hand back what happened.

Settings that matter for speed on SSH hosts (pipelining, ControlPersist, no fact
gathering unless asked) are applied here once, so every area gets them.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.core.errors import ExternalError, InputError, Location

EventHandler = Callable[[dict], Any]


def ansible_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for ansible-playbook: fast SSH, quiet, controller's own Python first."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_SSH_ARGS": (
            "-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null "
            "-o StrictHostKeyChecking=no -o LogLevel=ERROR"
        ),
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_SYSTEM_WARNINGS": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_TIMEOUT": "10",
    }
    if extra:
        env.update(extra)
    return env


@dataclass
class PlaybookResult:
    status: str  # successful | failed | timeout | canceled
    rc: int
    artifact_dir: Path
    stats: dict = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0

    def host_results(self, task_name: str | None = None) -> dict[str, dict]:
        """Last ok/failed/unreachable result per host (optionally of one task)."""
        out: dict[str, dict] = {}
        for ev in self.events:
            name = ev.get("event", "")
            if name not in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
                continue
            data = ev.get("event_data", {})
            if task_name and data.get("task") != task_name:
                continue
            out[data.get("host", "?")] = {"event": name, **(data.get("res") or {})}
        return out

    def stdout_tail(self, lines: int = 30) -> str:
        p = self.artifact_dir / "stdout"
        if not p.exists():
            return ""
        return "\n".join(p.read_text(errors="replace").splitlines()[-lines:])


def run_playbook(
    playbook: str | Path,
    inventory: str | Path | Sequence[str | Path],
    *,
    artifacts_root: str | Path,
    ident: str | None = None,
    extravars: Mapping[str, Any] | None = None,
    limit: str | None = None,
    tags: Sequence[str] | None = None,
    check: bool = False,
    diff: bool = False,
    forks: int = 10,
    timeout: int | None = None,
    event_handler: EventHandler | None = None,
    env: Mapping[str, str] | None = None,
    keep_events: bool = True,
) -> PlaybookResult:
    """Run one playbook; the artifacts (events, stdout) stay under ``artifacts_root/ident``."""
    import ansible_runner  # imported late: it is slow to import and most commands don't need it

    pb = Path(playbook).resolve()
    if not pb.is_file():
        raise InputError("playbook not found", Location(str(playbook)))
    invs = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    inv_paths = [str(Path(i).resolve()) for i in invs]
    for i in inv_paths:
        if not Path(i).exists():
            raise InputError("inventory not found", Location(i))
    ident = ident or uuid.uuid4().hex[:12]
    root = Path(artifacts_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    (root / "pdd").mkdir(exist_ok=True)
    cmdline = []
    if check:
        cmdline.append("--check")
    if diff:
        cmdline.append("--diff")
    events: list[dict] = []

    def _on_event(ev: dict) -> bool:
        if keep_events:
            events.append(ev)
        if event_handler:
            event_handler(ev)
        return True

    try:
        r = ansible_runner.run(
            private_data_dir=str(root / "pdd"),
            artifact_dir=str(root),
            ident=ident,
            playbook=str(pb),
            project_dir=str(pb.parent),
            inventory=inv_paths,
            extravars=dict(extravars or {}),
            limit=limit,
            tags=",".join(tags) if tags else None,
            cmdline=" ".join(cmdline) or None,
            forks=forks,
            timeout=timeout,
            envvars=ansible_env(env),
            event_handler=_on_event,
            quiet=True,
            suppress_env_files=True,
            rotate_artifacts=0,
        )
    except Exception as e:  # ansible-runner raises plain exceptions for setup problems
        raise ExternalError(f"ansible-runner could not start: {e}", Location(str(pb))) from None
    return PlaybookResult(
        status=r.status,
        rc=r.rc if r.rc is not None else -1,
        artifact_dir=root / ident,
        stats=r.stats or {},
        events=events,
    )
