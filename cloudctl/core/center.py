"""A center is a directory with ``cloudctl.yaml`` at its root (like a git repo).

cloudctl finds it from the working directory upwards; ``--center PATH`` or the
``CLOUDCTL_CENTER`` environment variable override the search.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from cloudctl.core.errors import InputError, Location, ValidationFailed
from cloudctl.core.fileio import atomic_write, display_path, read_input_text
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import load_yaml_text

CONFIG_NAME = "cloudctl.yaml"
ENV_VAR = "CLOUDCTL_CENTER"

_PATH_KEYS = {
    "address_plan": "inventory/ipam",
    "departments": "inventory/departments.yaml",
    "tenants": "inventory/tenants",
    "hosts_inventory": "inventory/hosts",
    "evidence": "inventory/evidence",
    "policies": "policies",
    "playbooks": "playbooks",
    "migration_plans": "migration_plans",
    "state": ".cloudctl",
}


@dataclass(frozen=True)
class LabHost:
    name: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Center:
    """Where everything of one cloud center lives. Paths are absolute."""

    root: Path
    name: str
    address_plan: Path
    departments: Path
    tenants: Path
    hosts_inventory: Path
    evidence: Path
    policies: Path
    playbooks: Path
    migration_plans: Path
    state: Path
    lab_hosts: tuple[LabHost, ...] = field(default_factory=tuple)
    settings: dict = field(default_factory=dict)
    trust: Trust = field(default_factory=lambda: Trust())
    # ``state: postgresql://...`` (or CLOUDCTL_STATE_URL): the shared state database; the
    # local state directory (artifacts, caches, the audit copy) is then .cloudctl
    state_url: str | None = None

    @property
    def audit_log(self) -> Path:
        return self.state / "audit.log"

    @property
    def state_db(self) -> Path:
        return self.state / "cloudctl.db"

    @property
    def artifacts(self) -> Path:
        return self.state / "artifacts"

    @property
    def audit_syslog(self) -> str | None:
        """``audit: {syslog: udp://HOST:PORT | /dev/log}``: forward audit records there too."""
        from cloudctl.core.audit import parse_syslog

        cfg = self.settings.get("audit")
        if cfg is None:
            return None
        where = cfg.loc() if hasattr(cfg, "loc") else Location(str(self.root / CONFIG_NAME))
        if not isinstance(cfg, dict) or set(cfg) - {"syslog"}:
            raise InputError(_("audit: expected {{syslog: TARGET}}"), where)
        target = cfg.get("syslog")
        if target is not None:
            if hasattr(cfg, "loc"):
                where = cfg.loc("syslog")
            try:
                parse_syslog(target if isinstance(target, str) else "")
            except ValueError as e:
                raise InputError(_("audit.syslog: {e}").format(e=e), where) from None
        return target

    @property
    def known_hosts(self) -> Path | None:
        """Where SSH host keys are checked: trust.known_hosts, else <state>/known_hosts if
        it exists, else None (ssh's own default, the user's ~/.ssh/known_hosts)."""
        if self.trust.known_hosts is not None:
            return self.trust.known_hosts
        own = self.state / "known_hosts"
        return own if own.is_file() else None


def find_center_root(start: Path | None = None) -> Path | None:
    cur = (start or Path.cwd()).resolve()
    for d in (cur, *cur.parents):
        if (d / CONFIG_NAME).is_file():
            return d
    return None


def load_center(explicit: str | Path | None = None) -> Center:
    """Locate and read the center; ``explicit`` wins over the env var over the search."""
    chosen = explicit or os.environ.get(ENV_VAR)
    if chosen:
        root = Path(chosen).expanduser().resolve()
        if root.is_file():
            root = root.parent
        cfg = root / CONFIG_NAME
        if not (cfg.exists() or cfg.is_symlink()):  # anything else: the reader says what
            raise InputError(
                _("no {CONFIG_NAME} here: not a cloudctl center").format(CONFIG_NAME=CONFIG_NAME),
                Location(str(root)),
            )
    else:
        found = find_center_root()
        if found is None:
            raise InputError(
                _(
                    "no {CONFIG_NAME} in {cwd} or any parent: run inside "
                    "a center, or pass --center PATH (or set {ENV_VAR})"
                ).format(CONFIG_NAME=CONFIG_NAME, cwd=Path.cwd(), ENV_VAR=ENV_VAR)
            )
        root = found
    cfg_path = root / CONFIG_NAME
    name = display_path(cfg_path)
    text = read_input_text(cfg_path, name=name)
    raw = load_yaml_text(text, name) or {}
    if not isinstance(raw, dict):
        raise InputError(_("the center config must be a mapping"), Location(str(cfg_path), 1))
    _check_config(raw, cfg_path, text, _check_cache(raw, root))
    paths = {}
    state_url = None
    for key, default in _PATH_KEYS.items():
        val = raw.get(key, default)
        if not isinstance(val, str):
            line = raw.loc(key).line if hasattr(raw, "loc") else None
            raise InputError(
                _("{key}: expected a path").format(key=key), Location(str(cfg_path), line)
            )
        if key == "state":
            state_url, val = _state_setting(val, raw, cfg_path, default)
        paths[key] = (root / val).resolve()
    lab_hosts = []
    for h in (raw.get("lab") or {}).get("hosts") or []:  # shapes checked by _check_config
        lab_hosts.append(LabHost(name=str(h["name"]), groups=tuple(h.get("groups") or ())))
    known = set(_PATH_KEYS) | {"name", "lab", "trust"}
    settings = {k: v for k, v in raw.items() if k not in known}
    return Center(
        root=root,
        name=str(raw.get("name", root.name)),
        lab_hosts=tuple(lab_hosts),
        settings=settings,
        trust=_load_trust(raw.get("trust"), raw, cfg_path, root),
        state_url=state_url,
        **paths,
    )


def _state_setting(val: str, raw: dict, cfg_path: Path, default: str) -> tuple[str | None, str]:
    """``(url, local state dir)``: ``state:`` (or CLOUDCTL_STATE_URL, which wins) is a
    directory or a postgresql:// URL; a URL in the file must not carry a password."""
    from cloudctl.state.url import ENV_VAR, check_url, looks_like_url

    env = os.environ.get(ENV_VAR)
    if env:
        if not looks_like_url(env):
            return None, env
        problem = check_url(env, from_file=False)
        if problem:
            raise InputError(_("{ENV_VAR}: {problem}").format(ENV_VAR=ENV_VAR, problem=problem))
        return env, (default if looks_like_url(val) else val)
    if not looks_like_url(val):
        return None, val
    problem = check_url(val, from_file=True)
    if problem:
        line = raw.loc("state").line if hasattr(raw, "loc") else None
        raise InputError(
            _("state: {problem}").format(problem=problem), Location(str(cfg_path), line)
        )
    return val, default


# ------------------------------------------------------------------------- trust
# What a center lets its data files do (issue 11): plans are data, so command steps and
# playbooks outside playbooks/ run only when listed here; SSH host keys are checked.

HOST_KEY_CHECKING = ("strict", "accept-new")


@dataclass(frozen=True)
class Trust:
    allow_commands: tuple[str, ...] = ()  # exact command texts a plan may run
    allow_playbooks: tuple[Path, ...] = ()  # files or directories beyond playbooks/
    known_hosts: Path | None = None
    host_key_checking: str = "strict"


def _load_trust(val: object, raw: dict, cfg_path: Path, root: Path) -> Trust:
    from cloudctl.core.yamlio import loc_of

    if val is None:
        return Trust()
    where = loc_of(raw, "trust", Location(str(cfg_path)))
    if not isinstance(val, dict):
        raise InputError(_("trust: expected a mapping"), where)

    def texts(key: str) -> tuple[str, ...]:
        items = val.get(key) or []
        if not isinstance(items, list) or not all(isinstance(x, str) and x for x in items):
            raise InputError(
                _("trust.{key}: expected a list of texts").format(key=key), loc_of(val, key, where)
            )
        return tuple(items)

    for key in val:
        if key not in ("allow_commands", "allow_playbooks", "known_hosts", "host_key_checking"):
            raise InputError(
                _("trust: unknown key `{key}`").format(key=key), loc_of(val, key, where)
            )
    kh = val.get("known_hosts")
    if kh is not None and not isinstance(kh, str):
        raise InputError(_("trust.known_hosts: expected a path"), loc_of(val, "known_hosts", where))
    mode = val.get("host_key_checking", "strict")
    if mode not in HOST_KEY_CHECKING:
        raise InputError(
            _("trust.host_key_checking: {mode!r}; expected strict or accept-new").format(mode=mode),
            loc_of(val, "host_key_checking", where),
        )
    return Trust(
        allow_commands=texts("allow_commands"),
        allow_playbooks=tuple((root / p).resolve() for p in texts("allow_playbooks")),
        known_hosts=(root / Path(kh).expanduser()).resolve() if kh else None,
        host_key_checking=mode,
    )


# ------------------------------------------------------------------- config checks
# Every key of cloudctl.yaml is declared in cloudctl/schemas/center.py (published as
# schemas/center.json): a typo (``tenant_dir:``) or a key of a newer cloudctl is not
# ignored silently. Values that need the center (trust paths, the state URL, audit.syslog
# targets) are checked where they are used.
CONFIG_VERSION = 1


# The check needs pydantic and the schema classes (~60 ms of every command's start-up, issue
# 17), so a passed check is remembered: an empty file in the center's cache named by the
# sha256 of cloudctl.yaml's text, cloudctl's version and the schema's source. Any change to
# one of them checks again; a file that failed is never remembered.
_SCHEMA_SOURCES = ("core/schema.py", "schemas/base.py", "schemas/center.py")


def _check_cache(raw: dict, root: Path) -> Path:
    """<local state dir>/cache (``state:`` may move it; a URL keeps it at .cloudctl)."""
    val = raw.get("state")
    if not isinstance(val, str) or "://" in val:
        val = _PATH_KEYS["state"]
    return root / val / "cache"


def _check_key(text: str) -> str:
    from cloudctl import __version__

    h = hashlib.sha256(b"cloudctl.yaml check\0" + __version__.encode() + b"\0")
    pkg = Path(__file__).resolve().parents[1]
    for src in _SCHEMA_SOURCES:
        try:
            h.update((pkg / src).read_bytes())
        except OSError:
            h.update(os.urandom(16))  # cannot tell which schema: never reuse a result
        h.update(b"\0")
    h.update(text.encode("utf-8"))
    return h.hexdigest()


def _check_config(
    raw: dict, cfg_path: Path, text: str | None = None, cache: Path | None = None
) -> None:
    """The shape of cloudctl.yaml against its schema: all problems at once, each at its
    line. With ``text`` and ``cache``: skipped when this text passed the same schema before."""
    mark = None
    if text is not None and cache is not None:
        mark = cache / f"center-ok-{_check_key(text)}"
        if mark.is_file():
            return
    from cloudctl.core.schema import check
    from cloudctl.schemas.center import CenterConfig

    _obj, probs = check(CenterConfig, raw, str(cfg_path))
    if probs:
        raise ValidationFailed(
            probs,
            _("{len} problem(s) in {CONFIG_NAME}").format(len=len(probs), CONFIG_NAME=CONFIG_NAME),
        )
    if mark is not None:
        _remember(mark)


def _remember(mark: Path) -> None:
    """Write the mark (atomically) and drop the marks of older versions of the file. Only
    in a state directory that exists: reading a center never creates one."""
    if not mark.parent.parent.is_dir():
        return
    with contextlib.suppress(OSError, InputError):  # a read-only center: check each time
        mark.parent.mkdir(exist_ok=True)
        for old in mark.parent.glob("center-ok-*"):
            if old != mark:
                with contextlib.suppress(OSError):
                    old.unlink()
        atomic_write(mark, "")
