"""Run a playbook with ansible-runner and hand back what happened.

Settings that matter for speed on SSH hosts (pipelining, ControlPersist, no fact
gathering unless asked) are applied here once, so every area gets them.

Trust (issue 11): every extra var reaches Ansible tagged ``!unsafe`` in a private file
(never templated, never on the command line); SSH host keys are checked (strict by
default, ``accept-new`` only when asked) and the user's own ssh_args are kept; the
artifacts are private and do not keep the operator's environment.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import re
import shlex
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cloudctl.core.errors import ExternalError, InputError, Location

EventHandler = Callable[[dict], Any]

# ssh_args we set when the user has none of their own: fast reuse of connections, quiet.
SPEED_SSH_ARGS = "-o ControlMaster=auto -o ControlPersist=60s -o LogLevel=ERROR"
DEFAULT_FORKS = 10


# ------------------------------------------------------------------ unsafe data


class _Unsafe(str):
    """A string written as ``!unsafe``: Ansible uses it as it is, never as a template."""


class _UnsafeDumper(yaml.SafeDumper):
    pass


_UnsafeDumper.add_representer(
    _Unsafe, lambda d, v: d.represent_scalar("!unsafe", str(v), style="'" if v else None)
)


def mark_unsafe(value: Any) -> Any:
    """Every string inside ``value`` (not the mapping keys, which Ansible never templates)
    becomes an ``_Unsafe``; other scalars stay as they are."""
    if isinstance(value, str):
        return _Unsafe(value)
    if isinstance(value, Mapping):
        return {str(k): mark_unsafe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [mark_unsafe(v) for v in value]
    return value


def ansible_yaml(data: Any) -> str:
    """YAML for Ansible in which the strings marked by ``mark_unsafe`` are ``!unsafe``."""
    return yaml.dump(data, Dumper=_UnsafeDumper, allow_unicode=True, sort_keys=False, width=1000)


def unsafe_yaml(data: Any) -> str:
    """YAML for Ansible (extra vars, inventories) with every string value ``!unsafe``."""
    return ansible_yaml(mark_unsafe(data))


# ------------------------------------------------------------ private artifacts


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 (existing parents are left as they
    are), and make sure ``path`` itself is 0700."""
    missing = []
    for d in (path, *path.parents):
        if d.exists():
            break
        missing.append(d)
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=0o700)
    os.chmod(path, 0o700)
    return path


def make_private(top: Path) -> None:
    """Directories 0700, files 0600 under ``top`` (what ansible-runner left at its umask)."""
    if not top.exists():
        return
    for dirpath, _dirs, filenames in os.walk(top):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o700)
        for f in filenames:
            fp = os.path.join(dirpath, f)
            if not os.path.islink(fp):
                with contextlib.suppress(OSError):
                    os.chmod(fp, 0o600)


# The operator's environment is not Ansible's business: cloud credentials (OS_*),
# tokens and the like stay out of plays and out of the artifacts. What ssh and Ansible
# need passes through.
_ENV_KEEP = re.compile(
    r"^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|TERM|SSH_AUTH_SOCK|"
    r"KRB5CCNAME|ANSIBLE_[A-Z0-9_]+|(?i:https?_proxy|no_proxy|all_proxy))$"
)


def env_kept(name: str) -> bool:
    return bool(_ENV_KEEP.match(name))


# ----------------------------------------------------------- the user's config


def user_ansible_cfg(project_dir: Path | None = None) -> configparser.ConfigParser | None:
    """The ansible.cfg Ansible itself would read (ANSIBLE_CONFIG, the play's directory,
    ~/.ansible.cfg, /etc/ansible/ansible.cfg: the first that exists), or None."""
    cands = []
    if os.environ.get("ANSIBLE_CONFIG"):
        cands.append(Path(os.environ["ANSIBLE_CONFIG"]).expanduser())
    if project_dir is not None:
        cands.append(project_dir / "ansible.cfg")
    cands += [Path("~/.ansible.cfg").expanduser(), Path("/etc/ansible/ansible.cfg")]
    for c in cands:
        if c.is_file():
            cp = configparser.ConfigParser(interpolation=None, strict=False)
            with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
                cp.read(c, encoding="utf-8")
                return cp
    return None


def user_setting(env_name: str, section: str, key: str, project_dir: Path | None = None) -> str:
    """The user's own value of an Ansible setting (environment first, then ansible.cfg)."""
    if os.environ.get(env_name):
        return os.environ[env_name]
    cp = user_ansible_cfg(project_dir)
    if cp is not None and cp.has_option(section, key):
        return cp.get(section, key).strip()
    return ""


@dataclass(frozen=True)
class SshTrust:
    """How hosts are authenticated: against ``known_hosts`` (None: ssh's own default,
    the user's ~/.ssh/known_hosts), ``strict`` or ``accept-new`` (first contact records)."""

    known_hosts: Path | None = None
    checking: str = "strict"

    @classmethod
    def of_center(cls, center: Any, accept_new: bool = False) -> SshTrust:
        checking = "accept-new" if accept_new else center.trust.host_key_checking
        return cls(known_hosts=center.known_hosts, checking=checking)

    def ssh_options(self) -> str:
        opt = "accept-new" if self.checking == "accept-new" else "yes"
        out = f"-o StrictHostKeyChecking={opt}"
        if self.known_hosts is not None:
            out += f" -o UserKnownHostsFile={shlex.quote(str(self.known_hosts))}"
        return out


@dataclass(frozen=True)
class Options:
    """What the operator asked on the command line, for every run of this command."""

    forks: int | None = None
    ssh_trust: SshTrust | None = None


_OPTIONS: ContextVar[Options | None] = ContextVar("cloudctl_ansible_options", default=None)


@contextlib.contextmanager
def options(forks: int | None = None, ssh_trust: SshTrust | None = None) -> Iterator[Options]:
    """Within this block run_playbook uses these (a CLI's --forks, the center's trust)."""
    opts = Options(forks=forks, ssh_trust=ssh_trust)
    token = _OPTIONS.set(opts)
    try:
        yield opts
    finally:
        _OPTIONS.reset(token)


def ansible_env(
    extra: Mapping[str, str] | None = None,
    ssh_trust: SshTrust | None = None,
    project_dir: Path | None = None,
) -> dict[str, str]:
    """Environment for ansible-playbook: fast SSH, quiet, controller's own Python first,
    host keys checked. The user's own ssh_args (a ProxyJump, their ControlPersist) are
    kept as they are; ours are only the default when they have none."""
    trust = ssh_trust or SshTrust()
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_GATHERING": "explicit",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
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
    if not user_setting("ANSIBLE_SSH_ARGS", "ssh_connection", "ssh_args", project_dir):
        env["ANSIBLE_SSH_ARGS"] = SPEED_SSH_ARGS
    # host-key options after the user's own extra args: ssh takes the first value it sees,
    # so a user who set these on purpose keeps theirs
    theirs = user_setting("ANSIBLE_SSH_EXTRA_ARGS", "ssh_connection", "ssh_extra_args", project_dir)
    env["ANSIBLE_SSH_EXTRA_ARGS"] = (theirs + " " + trust.ssh_options()).strip()
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
    forks: int | None = None,
    timeout: int | None = None,
    event_handler: EventHandler | None = None,
    env: Mapping[str, str] | None = None,
    keep_events: bool = True,
    ssh_trust: SshTrust | None = None,
) -> PlaybookResult:
    """Run one playbook; the artifacts (events, stdout) stay under ``artifacts_root/ident``.

    ``extravars`` are data: they go to Ansible in a private file, every string ``!unsafe``.
    ``forks``: the operator's ``--forks`` (see ``options``) wins, then this, then the
    user's ansible.cfg, then 10. ``ssh_trust``: ``options``' or this, else strict checking
    against the user's known_hosts."""
    import ansible_runner  # imported late: it is slow to import and most commands don't need it

    pb = Path(playbook).resolve()
    if not pb.is_file():
        raise InputError("playbook not found", Location(str(playbook)))
    invs = [inventory] if isinstance(inventory, (str, Path)) else list(inventory)
    inv_paths = [str(Path(i).resolve()) for i in invs]
    for i in inv_paths:
        if not Path(i).exists():
            raise InputError("inventory not found", Location(i))
    opts = _OPTIONS.get() or Options()
    trust = opts.ssh_trust or ssh_trust
    if opts.forks is not None:
        forks = opts.forks
    elif forks is None and not user_setting("ANSIBLE_FORKS", "defaults", "forks", pb.parent):
        forks = DEFAULT_FORKS
    ident = ident or uuid.uuid4().hex[:12]
    root = private_dir(Path(artifacts_root).resolve())
    pdd = private_dir(root / "pdd")
    # extra vars: a private file, every string !unsafe; never on the command line (ps)
    vars_file = pdd / f"extravars-{ident}-{uuid.uuid4().hex[:8]}.yml"
    fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(unsafe_yaml(dict(extravars or {})))
    cmdline = ["-e", shlex.quote("@" + str(vars_file))]
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

    ours = ansible_env(env, trust, pb.parent)
    try:
        r = ansible_runner.interface.init_runner(
            private_data_dir=str(pdd),
            artifact_dir=str(root),
            ident=ident,
            playbook=str(pb),
            project_dir=str(pb.parent),
            inventory=inv_paths,
            limit=limit,
            tags=",".join(tags) if tags else None,
            cmdline=" ".join(cmdline),
            forks=forks,
            timeout=timeout,
            envvars=ours,
            event_handler=_on_event,
            quiet=True,
            suppress_env_files=True,
            rotate_artifacts=0,
        )
        # ansible-runner starts from the whole os.environ: keep only what Ansible needs
        r.config.env = {
            k: v
            for k, v in r.config.env.items()
            if k in ours or env_kept(k) or os.environ.get(k) != v
        }
        r.run()
    except Exception as e:  # ansible-runner raises plain exceptions for setup problems
        raise ExternalError(f"ansible-runner could not start: {e}", Location(str(pb))) from None
    finally:
        vars_file.unlink(missing_ok=True)
        _forget_env(root / ident)
        make_private(root / ident)
    return PlaybookResult(
        status=r.status,
        rc=r.rc if r.rc is not None else -1,
        artifact_dir=root / ident,
        stats=r.stats or {},
        events=events,
    )


def _forget_env(art: Path) -> None:
    """ansible-runner's ``command`` file keeps the run's whole environment: keep the
    command and its directory only."""
    f = art / "command"
    with contextlib.suppress(OSError, ValueError):
        doc = json.loads(f.read_text(encoding="utf-8"))
        doc.pop("env", None)
        f.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
