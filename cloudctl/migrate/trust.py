"""What a plan may run: a plan is data, written by departments, so command steps and
playbooks outside the center's ``playbooks/`` run only when the center's ``cloudctl.yaml``
lists them under ``trust:`` (issue 11). Checked by ``validate`` and again at run time."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from cloudctl.core.center import Trust

# Step vars the shipped playbooks run as shell commands on a host (db-sync.yml,
# db-cleanup.yml): a plan that sets them runs a command, so they need the same allowance
# as a command step.
COMMAND_VARS = ("dump_command", "restore_command", "cleanup_command")


def command_text(cmd: Any) -> str:
    """A command as written: text as it is, a list shell-quoted and joined by spaces."""
    if isinstance(cmd, list):
        return shlex.join(str(x) for x in cmd)
    return str(cmd)


def command_allowed(cmd: Any, trust: Trust) -> bool:
    """Exact texts only: a pattern could not tell ``touch x`` from ``touch x; rm -rf /``."""
    return command_text(cmd) in trust.allow_commands


def commands_of(step: Any) -> list[tuple[str, Any]]:
    """(what, command) of every command a step would run."""
    out: list[tuple[str, Any]] = []
    if step.command is not None and step.kind in ("command", "check"):
        out.append(("command", step.command))
    for key in COMMAND_VARS:
        if step.vars.get(key) is not None:
            out.append((f"vars.{key}", step.vars[key]))
    return out


def playbook_path(playbooks: Path, rel: str) -> Path:
    return (playbooks / rel).resolve()


def playbook_allowed(playbooks: Path, rel: str, trust: Trust) -> bool:
    """Under the center's playbooks/ (after resolving ``..`` and links), or allowed."""
    p = playbook_path(playbooks, rel)
    if p.is_relative_to(playbooks.resolve()):
        return True
    return any(p == a or p.is_relative_to(a) for a in trust.allow_playbooks)
