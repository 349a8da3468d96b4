"""The edge to Ansible and the shell: runs playbook, command and check steps and keeps
their events and output as artifacts under ``<state>/artifacts/migrate/<run>/<system>/``."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.ansible.runner import run_playbook
from cloudctl.core.errors import CloudctlError
from cloudctl.migrate.executor import RunSystem, StepOutcome
from cloudctl.migrate.model import Step


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "step"


def failure_message(events: Sequence[dict]) -> str | None:
    """The last failed task, in one line: ``host: task: message``."""
    for ev in reversed(events):
        if ev.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = ev.get("event_data", {})
            res = data.get("res") or {}
            for item in res.get("results") or []:  # a loop: the first failed item says why
                if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
                    res = {**item, "msg": f"item {item.get('item')!r}: {item.get('msg', 'failed')}"}
                    break
            msg = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
            if isinstance(msg, str):
                msg = msg.strip().splitlines()[0] if msg.strip() else "failed"
            return f"{data.get('host', '?')}: {data.get('task', '?')}: {msg}"
    return None


@dataclass
class AnsibleStepRunner:
    """Runs steps against ``inventory`` with playbooks under ``playbooks``."""

    playbooks: Path
    inventory: list[str]
    artifacts: Path  # <state>/artifacts/migrate
    workdir: Path
    extravars: dict[str, Any] = field(default_factory=dict)

    def _vars(self, run_id: str, s: RunSystem, step: Step) -> dict[str, Any]:
        return {
            **self.extravars,
            "migrate_run_id": run_id,
            "migrate_system": s.id,
            "migrate_source_hosts": s.source_hosts,
            "migrate_target_hosts": s.target_hosts,
            **step.vars,
        }

    def __call__(
        self,
        run_id: str,
        s: RunSystem,
        step: Step,
        phase: str,
        index: int,
        attempt: int,
        on_task: Callable[[str], None],
    ) -> StepOutcome:
        root = self.artifacts / run_id / s.id
        ident = f"{'rb' if phase == 'rollback' else 'st'}{index:02d}-{_safe(step.name)}-a{attempt}"
        if step.playbook:
            return self._playbook(run_id, s, step, root, ident, on_task)
        return self._command(run_id, s, step, root / ident)

    def _playbook(
        self,
        run_id: str,
        s: RunSystem,
        step: Step,
        root: Path,
        ident: str,
        on_task: Callable[[str], None],
    ) -> StepOutcome:
        def on_event(ev: dict) -> None:
            if ev.get("event") == "playbook_on_task_start":
                on_task(ev.get("event_data", {}).get("task", ""))

        try:
            res = run_playbook(
                self.playbooks / str(step.playbook),
                self.inventory,
                artifacts_root=root,
                ident=ident,
                extravars=self._vars(run_id, s, step),
                limit=step.hosts,
                timeout=int(step.timeout) if step.timeout else None,
                event_handler=on_event,
            )
        except CloudctlError as e:
            return StepOutcome("failed", message=str(e), artifact=str(root / ident))
        if res.ok:
            return StepOutcome("ok", rc=res.rc, artifact=str(res.artifact_dir))
        msg = failure_message(res.events) or (
            f"timed out after {step.timeout:.0f}s"
            if res.status == "timeout"
            else f"ansible-playbook {res.status} (rc {res.rc})"
        )
        if res.status == "timeout":
            msg = f"timed out after {step.timeout:.0f}s; last: {msg}"
        return StepOutcome("failed", rc=res.rc, message=msg, artifact=str(res.artifact_dir))

    def _command(self, run_id: str, s: RunSystem, step: Step, out_dir: Path) -> StepOutcome:
        """Command steps run on the controller (use a playbook step to run on hosts)."""
        out_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MIGRATE_RUN_ID": run_id,
            "MIGRATE_SYSTEM": s.id,
            "MIGRATE_SOURCE_HOSTS": ",".join(s.source_hosts),
            "MIGRATE_TARGET_HOSTS": ",".join(s.target_hosts),
            **{f"MIGRATE_VAR_{k.upper()}": str(v) for k, v in step.vars.items()},
        }
        cmd = step.command
        try:
            proc = subprocess.run(
                cmd,
                shell=isinstance(cmd, str),
                cwd=self.workdir,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=step.timeout,
            )
        except subprocess.TimeoutExpired as e:
            (out_dir / "stdout").write_text(str(e.output or ""), encoding="utf-8")
            return StepOutcome(
                "failed", message=f"timed out after {step.timeout:.0f}s", artifact=str(out_dir)
            )
        except OSError as e:
            return StepOutcome("failed", message=f"cannot run: {e}", artifact=str(out_dir))
        (out_dir / "stdout").write_text(proc.stdout or "", encoding="utf-8")
        (out_dir / "rc").write_text(f"{proc.returncode}\n", encoding="utf-8")
        if proc.returncode == 0:
            return StepOutcome("ok", rc=0, artifact=str(out_dir))
        tail = (proc.stdout or "").strip().splitlines()[-1:] or [""]
        return StepOutcome(
            "failed",
            rc=proc.returncode,
            message=f"exit {proc.returncode}: {tail[0][:300]}",
            artifact=str(out_dir),
        )
