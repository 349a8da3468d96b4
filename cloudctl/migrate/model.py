"""The migration plan: systems, their runbooks (ordered steps), and waves.

A plan is a YAML file with a version stamp. Systems either list their steps or name a
step template from ``<plans>/templates/`` with parameters (``${name}`` in the template is
replaced at load time; Ansible's own ``{{ }}`` is left for Ansible). Loading never stops
at the first problem: every problem found is collected with its ``file:line``.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import pickle
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.core.errors import Location, Problem
from cloudctl.core.fileio import read_input
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import LDict, LList, display_path, load_yaml, loc_of
from cloudctl.migrate.durations import parse_duration, parse_size

PLAN_VERSION = 1
STEP_KINDS = ("playbook", "command", "check", "approval", "wait")
STRATEGIES = ("rehost", "replatform", "refactor", "retire", "retain", "repurchase")
IMPORTANCE = ("general", "important", "core")  # pilots first, core last
COMPLEXITY = ("low", "medium", "high")
# Strategies that change running systems: every changing step must say how to undo it.
NEEDS_ROLLBACK = frozenset({"rehost", "replatform", "refactor", "repurchase"})
# Rough time a step takes when the plan does not say (used by `migrate plan`).
DEFAULT_ESTIMATE = {"playbook": 120.0, "command": 60.0, "check": 30.0, "approval": 0.0, "wait": 0.0}
SYSTEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
SYNC_METHODS = ("rsync", "archive", "archive-via-controller", "db-dump", "export-import")
# Step vars the shipped playbooks read, by the type they need (a list where a unit name
# belongs would reach systemctl as "['a', 'b']").
TEXT_VARS = frozenset(
    {"unit", "app_dir", "data_dir", "service_name", "source", "target", "db_source",
     "db_target", "db_path", "dump_command", "restore_command", "cleanup_command"}
)  # fmt: skip
PORT_VARS = frozenset({"port"})
COUNT_VARS = frozenset({"min_free_mb"})
_JINJA = re.compile(r"\{\{|\{%")
_PARAM = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class Step:
    name: str
    kind: str
    playbook: str | None = None
    command: str | list[str] | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    hosts: str | None = None  # --limit pattern for playbook steps
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 5.0
    estimate: float = 0.0
    duration: float | None = None  # wait steps
    read_only: bool = False
    # One ansible-playbook run for every system at this step at the same time; the
    # playbook targets the hosts group `migrate_batch` (one host per system, see runbook.py).
    batch: bool = False
    rollback: Step | None = None
    rollback_none: bool = False  # `rollback: none`: nothing to undo, said on purpose
    loc: Location | None = None

    @property
    def changes(self) -> bool:
        return self.kind in ("playbook", "command") and not self.read_only

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind}
        for key in ("playbook", "command", "hosts", "timeout", "duration"):
            val = getattr(self, key)
            if val is not None:
                d[key] = val
        if self.vars:
            d["vars"] = self.vars
        d["retries"] = self.retries
        d["retry_delay"] = self.retry_delay
        d["estimate"] = self.estimate
        if self.read_only:
            d["read_only"] = True
        if self.batch:
            d["batch"] = True
        if self.rollback is not None:
            d["rollback"] = self.rollback.to_dict()
        elif self.rollback_none:
            d["rollback"] = "none"
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Step:
        """Inverse of to_dict (the journal keeps each run's resolved steps this way)."""
        rb = d.get("rollback")
        return cls(
            name=d["name"],
            kind=d["kind"],
            playbook=d.get("playbook"),
            command=d.get("command"),
            vars=dict(d.get("vars") or {}),
            hosts=d.get("hosts"),
            timeout=d.get("timeout"),
            retries=int(d.get("retries", 0)),
            retry_delay=float(d.get("retry_delay", 5.0)),
            estimate=float(d.get("estimate", 0.0)),
            duration=d.get("duration"),
            read_only=bool(d.get("read_only", False)),
            batch=bool(d.get("batch", False)),
            rollback=cls.from_dict(rb) if isinstance(rb, dict) else None,
            rollback_none=rb == "none",
        )


@dataclass
class System:
    id: str
    name_zh: str = ""
    name_en: str = ""
    department: str = ""
    importance: str = "general"
    complexity: str = "medium"
    strategy: str = "rehost"
    source_hosts: list[str] = field(default_factory=list)
    target_tenant: str = ""
    target_network: str = ""
    target_hosts: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    data_size: int | None = None
    sync_method: str | None = None
    downtime_window: str | None = None
    downtime_max: float | None = None
    template: str | None = None
    steps: list[Step] = field(default_factory=list)
    # What the system needs on the cloud (capacity planning): vcpu, ram_gb, disk_gb, public_ips
    resources: dict[str, float] = field(default_factory=dict)
    loc: Location | None = None
    locs: dict[str, Location] = field(default_factory=dict)
    dep_locs: list[Location | None] = field(default_factory=list)

    def where(self, key: str) -> Location | None:
        return self.locs.get(key, self.loc)

    @property
    def estimate(self) -> float:
        return sum(s.estimate for s in self.steps)

    def name(self, lang: str = "zh") -> str:
        return (self.name_en if lang == "en" else self.name_zh) or self.name_zh or self.id


@dataclass
class Wave:
    id: str
    name_zh: str = ""
    name_en: str = ""
    systems: list[str] = field(default_factory=list)
    loc: Location | None = None
    item_locs: list[Location | None] = field(default_factory=list)

    def name(self, lang: str = "zh") -> str:
        return (self.name_en if lang == "en" else self.name_zh) or self.id


@dataclass
class Plan:
    name: str
    path: str
    version: int = PLAN_VERSION
    title_zh: str = ""
    title_en: str = ""
    parallel: int = 4
    systems: dict[str, System] = field(default_factory=dict)
    waves: list[Wave] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # found while loading
    warnings: list[Problem] = field(default_factory=list)  # worth a look, not an error

    def wave(self, wave_id: str) -> Wave | None:
        for w in self.waves:
            if w.id == wave_id:
                return w
        return None

    def wave_of(self) -> dict[str, int]:
        """System id -> index of the (first) wave listing it."""
        out: dict[str, int] = {}
        for i, w in enumerate(self.waves):
            for sid in w.systems:
                out.setdefault(sid, i)
        return out


# ----------------------------------------------------------------------------- loading


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, loc: Location | None, msg: str) -> None:
        self.problems.append(Problem(loc, msg))

    def warn(self, loc: Location | None, msg: str) -> None:
        self.warnings.append(Problem(loc, msg))


def check_var(key: Any, val: Any, loc: Location | None, p: _Collector, who: str) -> None:
    """A var the shipped playbooks read must have the type they need."""
    if isinstance(val, str) and _PARAM.fullmatch(val):
        return  # a template's ${param}: checked where the system gives it
    if key in TEXT_VARS and (not isinstance(val, (str, int)) or isinstance(val, bool)):
        p.add(loc, f"{who}: `{key}` must be text, not {type(val).__name__} {val!r}"[:300])
    elif key in PORT_VARS and (
        not isinstance(val, int) or isinstance(val, bool) or not 1 <= val <= 65535
    ):
        p.add(loc, f"{who}: `{key}` must be a port number 1..65535, not {val!r}"[:300])
    elif key in COUNT_VARS and (not isinstance(val, int) or isinstance(val, bool) or val < 0):
        p.add(loc, f"{who}: `{key}` must be a whole number >= 0, not {val!r}"[:300])


def warn_templates(value: Any, loc: Location | None, p: _Collector, what: str) -> None:
    """``{{``/``{%`` in data: Ansible gets it marked unsafe and prints it as it is (it is
    never run), which is rarely what the writer meant."""
    if isinstance(value, str):
        if _JINJA.search(value):
            p.warn(
                loc,
                f"{what} contains a Jinja template ({value[:60]!r}); data is never templated: "
                "Ansible gets it as plain text",
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            warn_templates(v, loc_of(value, k, loc), p, f"{what}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            warn_templates(v, loc_of(value, i, loc), p, f"{what}[{i}]")


def _text(d: dict, key: str, p: _Collector, *, required: bool = False, default: str = "") -> str:
    val = d.get(key)
    if val is None:
        if required:
            p.add(loc_of(d), _("missing `{key}`").format(key=key))
        return default
    if not isinstance(val, (str, int, float)) or isinstance(val, bool):
        p.add(loc_of(d, key), _("`{key}` must be text").format(key=key))
        return default
    return str(val)


def _choice(d: dict, key: str, choices: tuple[str, ...], default: str, p: _Collector) -> str:
    val = d.get(key, default)
    if val not in choices:
        p.add(
            loc_of(d, key),
            _("`{key}` is {val!r}; expected one of: {names}").format(
                key=key, val=val, names=", ".join(choices)
            ),
        )
        return default
    return str(val)


def _names(d: dict, key: str, p: _Collector) -> tuple[list[str], list[Location | None]]:
    val = d.get(key)
    if val is None:
        return [], []
    if isinstance(val, str):
        return [val], [loc_of(d, key)]
    if not isinstance(val, list) or not all(isinstance(x, str) and x for x in val):
        p.add(loc_of(d, key), _("`{key}` must be a list of names").format(key=key))
        return [], []
    if not val and key in ("source_hosts", "hosts"):
        p.add(
            loc_of(d, key),
            _("`{key}` is empty: name the hosts, or leave the key out").format(key=key),
        )
    return list(val), [loc_of(val, i, loc_of(d, key)) for i in range(len(val))]


def _duration(d: dict, key: str, p: _Collector, *, what: str | None = None) -> float | None:
    if key not in d or d[key] is None:
        return None
    try:
        secs = parse_duration(d[key])
    except ValueError as e:
        p.add(loc_of(d, key), _("bad duration in `{what}`: {e}").format(what=what or key, e=e))
        return None
    if secs <= 0 and key != "retry_delay":
        p.add(
            loc_of(d, key),
            _("bad duration in `{what}`: must be more than zero").format(what=what or key),
        )
        return None
    return secs


def substitute(value: Any, params: dict[str, Any], missing: set[str]) -> Any:
    """Replace ``${name}`` in every string of a template (a lone ``${x}`` keeps x's type)."""
    if isinstance(value, str):
        whole = _PARAM.fullmatch(value)
        if whole:
            key = whole.group(1)
            if key in params:
                return copy.deepcopy(params[key])
            missing.add(key)
            return value

        def repl(m: re.Match) -> str:
            if m.group(1) in params:
                v = params[m.group(1)]
                return ",".join(map(str, v)) if isinstance(v, list) else str(v)
            missing.add(m.group(1))
            return m.group(0)

        return _PARAM.sub(repl, value)
    if isinstance(value, LDict):
        out = LDict((k, substitute(v, params, missing)) for k, v in value.items())
        out.file, out.line, out.key_lines = value.file, value.line, value.key_lines
        return out
    if isinstance(value, dict):
        return {k: substitute(v, params, missing) for k, v in value.items()}
    if isinstance(value, LList):
        out_l = LList(substitute(v, params, missing) for v in value)
        out_l.file, out_l.line, out_l.item_lines = value.file, value.line, value.item_lines
        return out_l
    if isinstance(value, list):
        return [substitute(v, params, missing) for v in value]
    return value


def parse_step(
    raw: Any, p: _Collector, *, where: Location | None, is_rollback: bool = False
) -> Step | None:
    if not isinstance(raw, dict):
        p.add(where, _("a step must be a mapping with at least `name` and `kind`"))
        return None
    name = _text(raw, "name", p, required=True, default="?")
    kind = raw.get("kind", "playbook")
    if kind not in STEP_KINDS:
        p.add(
            loc_of(raw, "kind"),
            _("step {name!r}: kind {kind!r}; expected one of: {names}").format(
                name=name, kind=kind, names=", ".join(STEP_KINDS)
            ),
        )
        kind = "command"
    vars_ = raw.get("vars") or {}
    if not isinstance(vars_, dict):
        p.add(loc_of(raw, "vars"), _("step {name!r}: `vars` must be a mapping").format(name=name))
        vars_ = {}
    for k, v in vars_.items():
        check_var(k, v, loc_of(vars_, k, loc_of(raw, "vars")), p, f"step {name!r}")
    warn_templates(vars_, loc_of(raw, "vars"), p, f"step {name!r}: vars")
    step = Step(name=name, kind=kind, vars=dict(vars_), loc=loc_of(raw))
    step.playbook = raw.get("playbook")
    step.command = raw.get("command")
    cmd = step.command
    if cmd and not (
        (isinstance(cmd, str) and cmd.strip())
        or (isinstance(cmd, list) and cmd and all(isinstance(x, str) for x in cmd))
    ):
        p.add(
            loc_of(raw, "command"),
            _(
                "step {name!r}: `command` must be text or a non-empty list of texts, not {cmd!r}"
            ).format(name=name, cmd=cmd),
        )
        step.command = None
    step.hosts = raw.get("hosts")
    if step.hosts is not None and not isinstance(step.hosts, str):
        step.hosts = ",".join(map(str, step.hosts)) if isinstance(step.hosts, list) else None
    if kind == "playbook" and not step.playbook:
        p.add(loc_of(raw), _("step {name!r}: a playbook step needs `playbook`").format(name=name))
    if kind == "command" and not raw.get("command"):
        p.add(loc_of(raw), _("step {name!r}: a command step needs `command`").format(name=name))
    if kind == "check" and not (step.playbook or step.command):
        p.add(
            loc_of(raw),
            _("step {name!r}: a check step needs `playbook` or `command`").format(name=name),
        )
    if step.playbook is not None and not isinstance(step.playbook, str):
        p.add(
            loc_of(raw, "playbook"), _("step {name!r}: `playbook` must be a path").format(name=name)
        )
        step.playbook = None
    step.timeout = _duration(raw, "timeout", p, what=f"{name}.timeout")
    step.duration = _duration(raw, "duration", p, what=f"{name}.duration")
    if kind == "wait" and step.duration is None and "duration" not in raw:
        p.add(loc_of(raw), _("step {name!r}: a wait step needs `duration`").format(name=name))
    delay = _duration(raw, "retry_delay", p, what=f"{name}.retry_delay")
    if delay is not None:
        step.retry_delay = delay
    retries = raw.get("retries", 0)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
        p.add(
            loc_of(raw, "retries"),
            _("step {name!r}: `retries` must be a whole number 0..20").format(name=name),
        )
    else:
        step.retries = retries
    est = _duration(raw, "estimate", p, what=f"{name}.estimate")
    step.estimate = est if est is not None else (step.duration or DEFAULT_ESTIMATE[kind])
    if step.timeout is not None and step.duration is not None and step.duration > step.timeout:
        p.add(
            loc_of(raw, "duration"),
            _("step {name!r}: waits longer than its own timeout").format(name=name),
        )
    step.read_only = bool(raw.get("read_only", kind in ("check", "approval", "wait")))
    batch = raw.get("batch", False)
    if not isinstance(batch, bool):
        p.add(
            loc_of(raw, "batch"),
            _("step {name!r}: `batch` must be true or false").format(name=name),
        )
    elif batch and not step.playbook:
        p.add(
            loc_of(raw, "batch"),
            _("step {name!r}: only playbook steps can run as a batch").format(name=name),
        )
    else:
        step.batch = batch
        if batch and step.hosts is not None:
            p.add(
                loc_of(raw, "hosts"),
                _(
                    "step {name!r}: a batch step runs on the group "
                    "migrate_batch; `hosts` does not apply"
                ).format(name=name),
            )
    rb = raw.get("rollback")
    if rb == "none":
        step.rollback_none = True
    elif rb is not None:
        if is_rollback:
            p.add(
                loc_of(raw, "rollback"),
                _("step {name!r}: a rollback step cannot have its own rollback").format(name=name),
            )
        else:
            step.rollback = parse_step(rb, p, where=loc_of(raw, "rollback"), is_rollback=True)
    unknown = set(raw) - {
        "name",
        "kind",
        "playbook",
        "command",
        "vars",
        "hosts",
        "timeout",
        "retries",
        "retry_delay",
        "estimate",
        "duration",
        "read_only",
        "batch",
        "rollback",
        "description",
    }
    for key in sorted(unknown, key=str):
        p.add(
            loc_of(raw, key), _("step {name!r}: unknown field `{key}`").format(name=name, key=key)
        )
    return step


@dataclass
class Template:
    name: str
    params: dict[str, Any]  # name -> default (REQUIRED when none)
    steps: Any  # raw LList of step mappings, substituted per system
    loc: Location | None
    # Parsed once when parameters only appear in strings (vars, hosts, playbook, command,
    # name): each system then only substitutes those, instead of re-parsing every step.
    protos: list[_Compiled] | None = None
    reported: set[str] = field(default_factory=set)


_STRING_FIELDS = ("name", "playbook", "command", "hosts")
_SYSTEM_FIELDS = {
    "id",
    "name_zh",
    "name_en",
    "department",
    "classification",
    "strategy",
    "source_hosts",
    "target",
    "depends_on",
    "data",
    "downtime",
    "template",
    "params",
    "steps",
    "description",
    "notes",
    "owner",
    "resources",
}
_SUBSTITUTABLE = {*_STRING_FIELDS, "vars", "description"}


def _has_param(value: Any) -> bool:
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, dict):
        return any(_has_param(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_param(v) for v in value)
    return False


def _params_only_in_strings(raw_step: Any) -> bool:
    if not isinstance(raw_step, dict):
        return False
    for key, val in raw_step.items():
        if key == "rollback" and isinstance(val, dict):
            if not _params_only_in_strings(val):
                return False
        elif key not in _SUBSTITUTABLE and _has_param(val):
            return False
    return True


def instantiate(proto: Step, params: dict[str, Any], missing: set[str]) -> Step:
    """A system's copy of a template's parsed step, its ``${name}``s replaced."""
    return _compile(proto).make(params, missing)


_IMMUTABLE = (str, int, float, bool, type(None))


def _op(value: Any) -> tuple:
    """How to produce ``value`` for a system: as it is, a parameter's value, a string
    with parameters in it, or (nested) the general substitution."""
    if isinstance(value, str):
        if "${" not in value:
            return (0, value)
        whole = _PARAM.fullmatch(value)
        return (1, whole.group(1), value) if whole else (2, value)
    return (3, value) if _has_param(value) else (0, value)


def _apply(op: tuple, params: dict[str, Any], missing: set[str]) -> Any:
    if op[0] == 0:
        return op[1]
    if op[0] == 1:
        key = op[1]
        if key in params:
            val = params[key]
            return val if isinstance(val, _IMMUTABLE) else copy.deepcopy(val)
        missing.add(key)
        return op[2]
    return substitute(op[1], params, missing)


@dataclass
class _Compiled:
    """A template step analysed once (which fields and vars hold parameters), so that
    each of 2,000 systems only fills those in (issue 17: `plan` of a large plan, cold)."""

    proto: Step
    var_ops: list[tuple[Any, tuple]] | None  # None: no parameter in vars
    field_ops: list[tuple[str, tuple]]
    rollback: _Compiled | None

    def whole_param_field(self) -> bool:
        own = any(op[0] == 1 for _f, op in self.field_ops)
        return own or (self.rollback is not None and self.rollback.whole_param_field())

    def make(self, params: dict[str, Any], missing: set[str]) -> Step:
        proto = self.proto
        st = Step.__new__(Step)
        st.__dict__.update(proto.__dict__)
        if self.var_ops is None:
            st.vars = dict(proto.vars)
        else:
            vs = proto.vars
            if isinstance(vs, LDict):
                out = LDict((k, _apply(op, params, missing)) for k, op in self.var_ops)
                out.file, out.line, out.key_lines = vs.file, vs.line, vs.key_lines
                st.vars = out
            else:
                st.vars = {k: _apply(op, params, missing) for k, op in self.var_ops}
        for f, op in self.field_ops:
            setattr(st, f, _apply(op, params, missing))
        if self.rollback is not None:
            st.rollback = self.rollback.make(params, missing)
        return st


def _compile(proto: Step) -> _Compiled:
    return _Compiled(
        proto=proto,
        var_ops=[(k, _op(v)) for k, v in proto.vars.items()] if _has_param(proto.vars) else None,
        field_ops=[
            (f, _op(getattr(proto, f)))
            for f in _STRING_FIELDS
            if getattr(proto, f) is not None and _has_param(getattr(proto, f))
        ],
        rollback=_compile(proto.rollback) if proto.rollback is not None else None,
    )


REQUIRED = object()
_TEMPLATE_FIELDS = {"version", "kind", "name", "description", "params", "steps"}


def load_template(path: Path, p: _Collector) -> Template | None:
    try:
        raw = load_yaml(path)
    except Exception as e:  # InputError with location
        p.add(getattr(e, "location", None), getattr(e, "message", str(e)))
        return None
    if not isinstance(raw, dict):
        p.add(Location(display_path(path), 1), _("a step template must be a mapping"))
        return None
    if raw.get("version") != PLAN_VERSION:
        p.add(
            loc_of(raw, "version"),
            _("template version is {raw!r}; this cloudctl reads version {PLAN_VERSION}").format(
                raw=raw.get("version"), PLAN_VERSION=PLAN_VERSION
            ),
        )
    for key in sorted(set(raw) - _TEMPLATE_FIELDS, key=str):
        p.add(loc_of(raw, key), _("step template: unknown field `{key}`").format(key=key))
    if raw.get("kind", "step-template") != "step-template":
        p.add(
            loc_of(raw, "kind"),
            _("step template: kind is {raw!r}, not step-template").format(raw=raw.get("kind")),
        )
    params: dict[str, Any] = {}
    specs = raw.get("params") or {}
    if not isinstance(specs, dict):
        p.add(loc_of(raw, "params"), _("step template: `params` must be a mapping"))
        specs = {}
    for key, spec in specs.items():
        if isinstance(spec, dict):
            for extra in sorted(set(spec) - {"description", "default"}, key=str):
                p.add(
                    loc_of(spec, extra),
                    _(
                        "step template: parameter `{key}`: unknown field "
                        "`{extra}` (description, default)"
                    ).format(key=key, extra=extra),
                )
            params[key] = spec.get("default", REQUIRED)
            if "default" in spec:
                check_var(key, spec["default"], loc_of(spec, "default"), p, "step template")
        else:
            params[key] = spec
            check_var(key, spec, loc_of(specs, key), p, "step template")
    if not isinstance(raw.get("steps"), list) or not raw.get("steps"):
        p.add(loc_of(raw), _("a step template needs a non-empty `steps` list"))
        return None
    tpl = Template(
        name=str(raw.get("name", path.stem)), params=params, steps=raw["steps"], loc=loc_of(raw)
    )
    if all(_params_only_in_strings(st) for st in raw["steps"]):
        protos = [
            parse_step(st, p, where=loc_of(raw["steps"], i)) for i, st in enumerate(raw["steps"])
        ]
        compiled = [_compile(x) for x in protos if x is not None]
        # a lone `${x}` in name/playbook/command/hosts may be a list or a number, which
        # parse_step converts or reports: such a template takes the general path
        if not any(c.whole_param_field() for c in compiled):
            tpl.protos = compiled
    return tpl


RESOURCE_KEYS = ("vcpu", "ram_gb", "disk_gb", "public_ips")


def _resources(raw: dict, p: _Collector) -> dict[str, float]:
    """Optional ``resources: {vcpu, ram_gb, disk_gb, public_ips}``: positive numbers
    (public_ips may be 0), read by ``cloudctl capacity``."""
    val = raw.get("resources")
    if val is None:
        return {}
    if not isinstance(val, dict):
        p.add(loc_of(raw, "resources"), _("`resources` must be a mapping (vcpu, ram_gb, disk_gb)"))
        return {}
    out: dict[str, float] = {}
    for key, num in val.items():
        if key not in RESOURCE_KEYS:
            p.add(
                loc_of(val, key),
                _("resources: unknown field `{key}` (known: {names})").format(
                    key=key, names=", ".join(RESOURCE_KEYS)
                ),
            )
        elif (
            isinstance(num, bool)
            or not isinstance(num, (int, float))
            or not (num > 0 or (key == "public_ips" and num == 0))
        ):
            p.add(
                loc_of(val, key),
                _("resources.{key}: expected a positive number, not {num!r}").format(
                    key=key, num=num
                ),
            )
        else:
            out[key] = float(num)
    return out


def _builtin_params(s: System) -> dict[str, Any]:
    return {
        "system": s.id,
        "source": s.source_hosts[0] if s.source_hosts else "",
        "sources": list(s.source_hosts),
        "target": s.target_hosts[0] if s.target_hosts else "",
        "targets": list(s.target_hosts),
        "tenant": s.target_tenant,
        "network": s.target_network,
        "department": s.department,
    }


def parse_system(
    raw: Any,
    p: _Collector,
    templates: dict[str, Template | None],
    templates_dir: Path,
    where: Location | None,
) -> System | None:
    if not isinstance(raw, dict):
        p.add(where, _("a system must be a mapping"))
        return None
    sid = _text(raw, "id", p, required=True)
    if not sid:
        return None
    if not SYSTEM_ID.match(sid):
        p.add(
            loc_of(raw, "id"),
            _("system id {sid!r}: use lowercase letters, digits and '-'").format(sid=sid),
        )
    s = System(id=sid, loc=loc_of(raw), locs={k: loc_of(raw, k) for k in raw})  # type: ignore[misc]
    s.name_zh = _text(raw, "name_zh", p, required=True)
    s.name_en = _text(raw, "name_en", p)
    s.department = _text(raw, "department", p, required=True)
    cls = raw.get("classification") or {}
    if not isinstance(cls, dict):
        p.add(
            loc_of(raw, "classification"),
            _("`classification` must be a mapping (importance, complexity)"),
        )
        cls = {}
    s.importance = _choice(cls, "importance", IMPORTANCE, "general", p) if cls else "general"
    s.complexity = _choice(cls, "complexity", COMPLEXITY, "medium", p) if cls else "medium"
    if cls:
        s.locs["importance"] = loc_of(cls, "importance") or s.where("classification")
    s.strategy = _choice(raw, "strategy", STRATEGIES, "rehost", p)
    s.source_hosts, _where = _names(raw, "source_hosts", p)
    tgt = raw.get("target") or {}
    if not isinstance(tgt, dict):
        p.add(loc_of(raw, "target"), _("`target` must be a mapping (tenant, network, hosts)"))
        tgt = {}
    s.target_tenant = _text(tgt, "tenant", p)
    s.target_network = _text(tgt, "network", p)
    s.target_hosts, _where = _names(tgt, "hosts", p)
    for key in ("tenant", "network", "hosts"):
        if key in tgt:
            s.locs[f"target.{key}"] = loc_of(tgt, key)  # type: ignore[assignment]
    if s.strategy not in ("retire", "retain") and not (s.target_tenant and s.target_network):
        p.add(
            s.where("target"),
            _("system {sid}: a {strategy} needs `target.tenant` and `target.network`").format(
                sid=sid, strategy=s.strategy
            ),
        )
    s.depends_on, s.dep_locs = _names(raw, "depends_on", p)
    data = raw.get("data") or {}
    if isinstance(data, dict):
        if "size" in data:
            try:
                s.data_size = parse_size(data["size"])
            except ValueError as e:
                p.add(loc_of(data, "size"), str(e))
        s.sync_method = data.get("sync")
        if s.sync_method is not None and s.sync_method not in SYNC_METHODS:
            p.add(
                loc_of(data, "sync"),
                f"system {sid}: data.sync is {s.sync_method!r}; expected one of: "
                + ", ".join(SYNC_METHODS),
            )
            s.sync_method = None
    else:
        p.add(loc_of(raw, "data"), _("`data` must be a mapping (size, sync)"))
    down = raw.get("downtime") or {}
    if isinstance(down, dict):
        s.downtime_window = down.get("window")
        s.downtime_max = _duration(down, "max", p, what="downtime.max")
    else:
        p.add(loc_of(raw, "downtime"), _("`downtime` must be a mapping (window, max)"))

    s.resources = _resources(raw, p)

    steps_raw: list[tuple[Any, Location | None]] = []
    ready_steps: list[Step] = []
    tname = raw.get("template")
    if tname is not None:
        s.template = str(tname)
        if s.template not in templates:
            tpath = templates_dir / f"{s.template}.yaml"
            templates[s.template] = load_template(tpath, p) if tpath.is_file() else None
        tpl = templates[s.template]
        if tpl is None:
            if not (templates_dir / f"{s.template}.yaml").is_file():
                p.add(
                    loc_of(raw, "template"),
                    _("unknown step template {template!r} (no {display_path})").format(
                        template=s.template,
                        display_path=display_path(templates_dir / (s.template + ".yaml")),
                    ),
                )
        else:
            given = raw.get("params") or {}
            if not isinstance(given, dict):
                p.add(loc_of(raw, "params"), _("`params` must be a mapping"))
                given = {}
            params = {
                **_builtin_params(s),
                **{k: v for k, v in tpl.params.items() if v is not REQUIRED},
                **given,
            }
            for k in given:
                if k not in tpl.params:
                    p.add(
                        loc_of(given, k),
                        _("system {sid}: template {name!r} has no parameter `{key}`").format(
                            sid=sid, name=tpl.name, key=k
                        ),
                    )
                check_var(k, given[k], loc_of(given, k, loc_of(raw, "params")), p, f"system {sid}")
            warn_templates(given, loc_of(raw, "params"), p, f"system {sid}: params")
            missing_req = [k for k, v in tpl.params.items() if v is REQUIRED and k not in given]
            for k in missing_req:
                p.add(
                    loc_of(raw, "template"),
                    _("system {sid}: template {name!r} needs parameter `{key}`").format(
                        sid=sid, name=tpl.name, key=k
                    ),
                )
            missing: set[str] = set()
            if tpl.protos is not None:
                ready_steps = [pr.make(params, missing) for pr in tpl.protos]
            else:
                expanded = substitute(tpl.steps, params, missing)
                steps_raw += [(st, loc_of(expanded, i)) for i, st in enumerate(expanded)]
            for k in sorted(missing - set(missing_req)):
                if k not in tpl.reported:  # said once per template, not once per system
                    tpl.reported.add(k)
                    p.add(
                        tpl.loc,
                        _(
                            "template {name!r} uses ${{{key}}}, which is neither "
                            "a parameter nor built in"
                        ).format(name=tpl.name, key=k),
                    )
    own = raw.get("steps")
    if own is not None:
        if not isinstance(own, list):
            p.add(loc_of(raw, "steps"), _("`steps` must be a list"))
        else:
            steps_raw += [(st, loc_of(own, i)) for i, st in enumerate(own)]
    seen: set[str] = set()
    parsed = [*ready_steps, *(parse_step(r, p, where=loc) for r, loc in steps_raw)]
    for st in parsed:
        if st is None:
            continue
        if st.name in seen:
            p.add(st.loc, _("system {sid}: two steps named {name!r}").format(sid=sid, name=st.name))
        seen.add(st.name)
        s.steps.append(st)
    for key in sorted(set(raw) - _SYSTEM_FIELDS, key=str):
        p.add(loc_of(raw, key), _("system {sid}: unknown field `{key}`").format(sid=sid, key=key))
    if not s.steps and s.strategy not in ("retain", "retire"):
        p.add(s.loc, _("system {sid}: no steps (give `template` or `steps`)").format(sid=sid))
    return s


def _load_raw(path: Path, cache_dir: Path | None) -> Any:
    """The YAML tree with lines. With ``cache_dir``, a tree already parsed from the same
    bytes (sha256) is reused: YAML parsing is most of the cost of a 2,000-system plan.
    Cache files are ours only (owner checked, mode 0600), so nobody else's pickle is read."""
    if cache_dir is None:
        return load_yaml(path)
    data = read_input(path)  # bounded; a directory, FIFO or device is an InputError
    key = hashlib.sha256(display_path(path).encode() + b"\0" + data).hexdigest()[:32]
    cached = cache_dir / f"plan-{key}.pickle"
    try:
        st = cached.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return pickle.loads(cached.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
        pass
    raw = load_yaml(path)
    with contextlib.suppress(OSError):
        cache_dir.mkdir(parents=True, exist_ok=True)
        for old in cache_dir.glob("plan-*.pickle"):  # one generation is enough
            if old.stat().st_mtime < time.time() - 86400:
                old.unlink(missing_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".plan-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(pickle.dumps(raw, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, cached)
    return raw


def load_plan(
    path: str | Path, templates_dir: Path | None = None, cache_dir: Path | None = None
) -> Plan:
    """Read a plan file; problems go to ``plan.problems`` (a malformed file raises InputError)."""
    path = Path(path)
    raw = _load_raw(path, cache_dir)
    name = display_path(path)
    p = _Collector()
    plan = Plan(name=path.stem, path=str(path))
    if not isinstance(raw, dict):
        plan.problems.append(Problem(Location(name, 1), _("a migration plan must be a mapping")))
        return plan
    if raw.get("version") != PLAN_VERSION:
        p.add(
            loc_of(raw, "version") or loc_of(raw),
            _(
                "plan version is {raw!r}; this cloudctl reads "
                "version {PLAN_VERSION} (add `version: "
                "{PLAN_VERSION}`)"
            ).format(raw=raw.get("version"), PLAN_VERSION=PLAN_VERSION),
        )
    plan.name = str(raw.get("name") or path.stem)
    plan.title_zh = _text(raw, "title_zh", p)
    plan.title_en = _text(raw, "title_en", p)
    par = (
        (raw.get("defaults") or {}).get("parallel", 4)
        if isinstance(raw.get("defaults"), dict)
        else 4
    )
    if isinstance(par, bool) or not isinstance(par, int) or par < 1:
        p.add(
            loc_of(raw.get("defaults"), "parallel"),
            _("defaults.parallel: expected a whole number ≥ 1, not {par!r}").format(par=par),
        )
        par = 4
    plan.parallel = par
    tdir = templates_dir or path.parent / "templates"
    templates: dict[str, Template | None] = {}
    systems = raw.get("systems")
    if not isinstance(systems, list):
        p.add(loc_of(raw), _("missing `systems` (a list)"))
        systems = []
    for i, sraw in enumerate(systems):
        s = parse_system(sraw, p, templates, tdir, loc_of(systems, i))
        if s is None:
            continue
        if s.id in plan.systems:
            p.add(
                s.where("id"),
                _("system {id} is defined twice (first at {loc})").format(
                    id=s.id, loc=plan.systems[s.id].loc
                ),
            )
            continue
        plan.systems[s.id] = s
    waves = raw.get("waves") or []
    if not isinstance(waves, list):
        p.add(loc_of(raw, "waves"), _("`waves` must be a list"))
        waves = []
    for i, wraw in enumerate(waves):
        if not isinstance(wraw, dict) or "id" not in wraw:
            p.add(loc_of(waves, i), _("a wave needs `id` and `systems`"))
            continue
        if not isinstance(wraw["id"], (str, int)) or isinstance(wraw["id"], bool):
            p.add(
                loc_of(wraw, "id", loc_of(waves, i)),
                _("wave id: expected text, not {wraw!r}").format(wraw=wraw["id"]),
            )
            continue
        w = Wave(id=str(wraw["id"]), loc=loc_of(wraw))
        w.name_zh = _text(wraw, "name_zh", p)
        w.name_en = _text(wraw, "name_en", p)
        w.systems, w.item_locs = _names(wraw, "systems", p)
        if plan.wave(w.id):
            p.add(w.loc, _("wave {id} is defined twice").format(id=w.id))
            continue
        plan.waves.append(w)
    for key in sorted(
        set(raw)
        - {
            "version",
            "kind",
            "name",
            "title_zh",
            "title_en",
            "description",
            "defaults",
            "systems",
            "waves",
        },
        key=str,
    ):
        p.add(loc_of(raw, key), _("unknown top-level field `{key}`").format(key=key))
    plan.problems = p.problems
    plan.warnings = p.warnings
    return plan
