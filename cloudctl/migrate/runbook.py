"""The edge to Ansible and the shell: runs playbook, command and check steps and keeps
their events and output as artifacts under ``<state>/artifacts/migrate/<run>/<system>/``
(0600 files in 0700 directories).

A plan is data: its values reach Ansible marked ``!unsafe`` (extra vars via the runner,
host vars of a batch in a generated YAML inventory), and a step runs a command or a
playbook outside ``playbooks/`` only when the center's ``trust:`` allows it — checked
here again at run time, since a resumed run replays the journal's copy of the steps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.ansible.runner import (
    DEFAULT_FORKS,
    SshTrust,
    ansible_yaml,
    make_private,
    mark_unsafe,
    private_dir,
    run_playbook,
    user_setting,
)
from cloudctl.core.center import Trust
from cloudctl.core.errors import CloudctlError
from cloudctl.core.fileio import atomic_write
from cloudctl.migrate.batch import BatchGate
from cloudctl.migrate.executor import RunSystem, StepOutcome
from cloudctl.migrate.model import Step
from cloudctl.migrate.trust import command_allowed, command_text, commands_of, playbook_allowed


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")[:40] or "step"


BATCH_GROUP = "migrate_batch"


def _system_vars(s: RunSystem, step: Step) -> dict[str, Any]:
    """What a step's playbook knows of its system: extra vars, or host vars in a batch."""
    return {
        "migrate_system": s.id,
        "migrate_source_hosts": s.source_hosts,
        "migrate_target_hosts": s.target_hosts,
        **step.vars,
    }


def batch_host(system_id: str) -> str:
    """The inventory name a system gets in a batch run (never a real host's name)."""
    return f"migrate-system-{system_id}"


def host_key_reason(msg: str) -> str | None:
    """ssh's many-line host-key complaint, as one line that says what to do."""
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in msg:
        m = re.search(r"Offending \S+ key in (\S+?):(\d+)", msg)
        where = f"{m.group(1)}:{m.group(2)}" if m else "known_hosts"
        return (
            "Host key verification failed: REMOTE HOST IDENTIFICATION HAS CHANGED (the host's "
            f"key is not the one in {where}: a man in the middle, or a reinstalled host; check "
            "before you change the file)"
        )
    if "Host key verification failed" in msg:
        return (
            "Host key verification failed: the host's key is not in known_hosts (add it, or "
            "run once with --accept-new-host-keys)"
        )
    return None


def failure_message(events: Sequence[dict], host: str | None = None) -> str | None:
    """The last failed task, in one line: ``host: task: message`` (of ``host`` only if given)."""
    for ev in reversed(events):
        if ev.get("event") in ("runner_on_failed", "runner_on_unreachable"):
            data = ev.get("event_data", {})
            if host is not None and data.get("host") != host:
                continue
            if ev.get("event") == "runner_on_failed" and data.get("ignore_errors"):
                continue
            res = data.get("res") or {}
            for item in res.get("results") or []:  # a loop: the first failed item says why
                if isinstance(item, dict) and (item.get("failed") or item.get("unreachable")):
                    res = {**item, "msg": f"item {item.get('item')!r}: {item.get('msg', 'failed')}"}
                    break
            msg = res.get("msg") or res.get("stderr") or res.get("reason") or "failed"
            if isinstance(msg, str):
                msg = host_key_reason(msg) or (
                    msg.strip().splitlines()[0] if msg.strip() else "failed"
                )
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
    gate: BatchGate = field(default_factory=BatchGate)
    trust: Trust = field(default_factory=Trust)
    ssh_trust: SshTrust | None = None
    forks: int | None = None

    def refused(self, step: Step) -> str | None:
        """Why the center does not let this step run (None: it may)."""
        if step.playbook and not playbook_allowed(self.playbooks, str(step.playbook), self.trust):
            return (
                f"playbook {step.playbook!r} is outside the center's playbooks/ and not in "
                "trust.allow_playbooks"
            )
        for what, cmd in commands_of(step):
            if not command_allowed(cmd, self.trust):
                return f"{what} {command_text(cmd)[:80]!r} is not in trust.allow_commands"
        return None

    def _vars(self, run_id: str, s: RunSystem, step: Step) -> dict[str, Any]:
        return {**self.extravars, "migrate_run_id": run_id, **_system_vars(s, step)}

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
        why = self.refused(step)
        if why is not None:
            return StepOutcome("failed", message=f"refused: {why}")
        if step.playbook and step.batch:
            key = (phase, index, step.name, str(step.playbook), attempt)
            return self.gate.run(
                key,
                s.id,
                (s, step, on_task),
                lambda members: self._playbook_batch(run_id, step, ident, members),
            )
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
                forks=self.forks,
                ssh_trust=self.ssh_trust,
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

    def _playbook_batch(
        self,
        run_id: str,
        step: Step,
        ident: str,
        members: Sequence[tuple[str, tuple[RunSystem, Step, Callable[[str], None]]]],
    ) -> dict[str, StepOutcome]:
        """One ansible-playbook run for several systems: each system is a host of the group
        ``migrate_batch`` (connection local, its step vars as host vars); the playbook
        reaches the real hosts with ``delegate_to``. A system fails alone, by its host."""
        root = self.artifacts / run_id / "_batch"
        ident = f"{ident}-{'-'.join(sorted(mid for mid, _ in members))}"[:120]
        hosts = {}
        for _mid, (s, own, _cb) in members:  # each system's own step: its own vars (!unsafe)
            hosts[batch_host(s.id)] = {
                "ansible_connection": "local",
                "ansible_python_interpreter": sys.executable,
                **mark_unsafe(_system_vars(s, own)),
            }
        inv = root / f"{ident}.inventory.yml"
        private_dir(root)
        doc = {"all": {"children": {BATCH_GROUP: {"hosts": hosts}}}}
        atomic_write(inv, ansible_yaml(doc), mode=0o600)
        callbacks = [cb for _, (_s, _own, cb) in members]

        def on_event(ev: dict) -> None:
            if ev.get("event") == "playbook_on_task_start":
                for cb in callbacks:
                    cb(ev.get("event_data", {}).get("task", ""))

        extravars = {**self.extravars, "migrate_run_id": run_id, "migrate_batch": BATCH_GROUP}
        playbook = self.playbooks / str(step.playbook)
        forks = self.forks
        own = user_setting("ANSIBLE_FORKS", "defaults", "forks", playbook.parent)
        if forks is None and not own:
            # the systems already run together (--parallel): one round for all of them
            forks = max(DEFAULT_FORKS, len(members))
        try:
            res = run_playbook(
                playbook,
                [*self.inventory, str(inv)],
                artifacts_root=root,
                ident=ident,
                extravars=extravars,
                timeout=int(step.timeout) if step.timeout else None,
                event_handler=on_event,
                forks=forks,
                ssh_trust=self.ssh_trust,
            )
        except CloudctlError as e:
            return {
                mid: StepOutcome("failed", message=str(e), artifact=str(root / ident))
                for mid, _ in members
            }
        art = str(res.artifact_dir)
        stats = res.stats or {}
        bad = set(stats.get("failures") or {}) | set(stats.get("dark") or {})
        seen = set()
        for bucket in ("ok", "changed", "skipped", "failures", "dark", "ignored", "rescued"):
            seen |= set(stats.get(bucket) or {})
        out: dict[str, StepOutcome] = {}
        for mid, (s, _own, _cb) in members:
            h = batch_host(s.id)
            if res.status == "timeout":
                out[mid] = StepOutcome(
                    "failed",
                    rc=res.rc,
                    message=f"timed out after {step.timeout:.0f}s",
                    artifact=art,
                )
            elif h in bad:
                msg = failure_message(res.events, h) or "failed"
                out[mid] = StepOutcome("failed", rc=res.rc, message=msg, artifact=art)
            elif h not in seen and not res.ok:
                msg = failure_message(res.events) or f"ansible-playbook {res.status} (rc {res.rc})"
                out[mid] = StepOutcome("failed", rc=res.rc, message=msg, artifact=art)
            elif h not in seen:
                out[mid] = StepOutcome(
                    "failed",
                    rc=res.rc,
                    message=f"the playbook does not run on hosts: {{{{ migrate_batch }}}} ({h})",
                    artifact=art,
                )
            else:
                out[mid] = StepOutcome("ok", rc=0, artifact=art)
        return out

    def _command(self, run_id: str, s: RunSystem, step: Step, out_dir: Path) -> StepOutcome:
        """Command steps run on the controller (use a playbook step to run on hosts), only
        the ones the center allows (see ``refused``)."""
        private_dir(out_dir)
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
            atomic_write(out_dir / "stdout", str(e.output or ""), mode=0o600)
            return StepOutcome(
                "failed", message=f"timed out after {step.timeout:.0f}s", artifact=str(out_dir)
            )
        except OSError as e:
            return StepOutcome("failed", message=f"cannot run: {e}", artifact=str(out_dir))
        atomic_write(out_dir / "stdout", proc.stdout or "", mode=0o600)
        atomic_write(out_dir / "rc", f"{proc.returncode}\n", mode=0o600)
        make_private(out_dir)
        if proc.returncode == 0:
            return StepOutcome("ok", rc=0, artifact=str(out_dir))
        tail = (proc.stdout or "").strip().splitlines()[-1:] or [""]
        return StepOutcome(
            "failed",
            rc=proc.returncode,
            message=f"exit {proc.returncode}: {tail[0][:300]}",
            artifact=str(out_dir),
        )
