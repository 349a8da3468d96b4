"""The control catalog: a profile file plus one YAML file per clause family.

Loading validates everything at once (``file:line: message``), so a broken catalog never
half-runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudctl.core.errors import Location, Problem, ValidationFailed
from cloudctl.core.i18n import _
from cloudctl.core.yamlio import load_yaml, loc_of, to_plain

SEVERITIES = ("low", "medium", "high")
KINDS = ("automated", "manual")
CHECK_TYPES = {
    "accounts",
    "all_of",
    "any_of",
    "audit_immutable",
    "audit_regex",
    "audit_watch",
    "file_mode",
    "file_regex",
    "keyval",
    "log_retention",
    "mac",
    "package_signatures",
    "packages",
    "pam_module",
    "pam_option",
    "ports",
    "services",
    "shell_umask",
    "shell_var",
    "special_files",
    "sshd",
    "sshd_any",
    "sudoers",
    "sysctl",
    "time_server",
    "updates",
}
REMEDIATION_KEYS = {
    "tasks",
    "sshd",
    "keyval",
    "sysctl",
    "packages_absent",
    "packages_absent_var",
    "packages_present",
    "file_mode",
    "audit_rules",
    "pam",
    "advice",
}


PROFILE_KEYS = {"id", "title", "standard", "include", "variables", "version"}
CATALOG_KEYS = {"clause", "title", "controls", "version"}
CONTROL_KEYS = {
    "id", "item", "unit", "title", "rationale", "severity", "kind", "high_risk", "check",
    "remediation", "references", "applies_to", "container", "evidence", "clause",
}  # fmt: skip
FORMAT_VERSION = 1


def check_keys(
    doc: dict, allowed: set[str], what: str, problems: list[Problem], where: Location | None
) -> None:
    """Unknown keys are typos or another tool's format: say so (file:line), never ignore
    them; ``version`` (optional) must be the one this cloudctl reads."""
    for k in doc:
        if k not in allowed:
            problems.append(
                Problem(
                    loc_of(doc, k, where),
                    _("{what}: unknown key {k!r} (known: {allowed})").format(
                        what=what, k=k, allowed=", ".join(sorted(allowed))
                    ),
                )
            )
    if "version" in doc:
        v = doc["version"]
        if isinstance(v, bool) or not isinstance(v, int) or v != FORMAT_VERSION:
            problems.append(
                Problem(
                    loc_of(doc, "version", where),
                    _(
                        "{what}: version {version!r} is not supported (this cloudctl reads "
                        "{supported})"
                    ).format(what=what, version=v, supported=FORMAT_VERSION),
                )
            )


@dataclass(frozen=True)
class Control:
    id: str
    clause: str
    item: str
    unit: str
    title: dict[str, str]
    rationale: dict[str, str]
    severity: str
    kind: str = "automated"
    high_risk: str | None = None
    check: dict = field(default_factory=dict)
    remediation: dict = field(default_factory=dict)
    references: dict = field(default_factory=dict)
    applies_to: tuple[str, ...] = ("debian", "redhat")
    container: dict | None = None  # reason why a container cannot show it
    evidence: dict | None = None  # manual controls: evidence file and method
    source: str = ""

    @property
    def clause_item(self) -> str:
        return f"{self.clause} {self.item}"

    @property
    def remediable(self) -> bool:
        return any(k != "advice" for k in self.remediation)

    def text(self, lang: str, what: str = "title") -> str:
        d = getattr(self, what) or {}
        return d.get(lang) or d.get("zh") or d.get("en") or ""


@dataclass(frozen=True)
class Variable:
    name: str
    default: Any
    doc: str


@dataclass(frozen=True)
class Profile:
    id: str
    title: dict[str, str]
    standard: str
    variables: dict[str, Variable]
    controls: tuple[Control, ...]
    clause_titles: dict[str, dict[str, str]]
    path: Path

    def control(self, cid: str) -> Control | None:
        return next((c for c in self.controls if c.id == cid), None)

    @property
    def automated(self) -> list[Control]:
        return [c for c in self.controls if c.kind == "automated"]

    @property
    def manual(self) -> list[Control]:
        return [c for c in self.controls if c.kind == "manual"]

    def defaults(self) -> dict[str, Any]:
        return {n: v.default for n, v in self.variables.items()}

    def service_units(self) -> list[str]:
        """The systemd units the automated checks ask about.

        The evidence module then asks systemd about these few units only, about 20 ms,
        instead of listing every unit file on the host (0.4 s)."""
        units: set[str] = set()
        for c in self.automated:
            units.update(_units_named(c.check))
        return sorted(units)

    def resolve_vars(self, host_vars: dict[str, Any] | None) -> dict[str, Any]:
        """Profile defaults overridden by a host's ``baseline_<name>`` inventory variables."""
        out = self.defaults()
        for k, v in (host_vars or {}).items():
            name = k[len("baseline_") :] if k.startswith("baseline_") else k
            if name in out:
                out[name] = v
        return out


CLAUSE_TITLES = {
    "8.1.4.1": {"zh": "身份鉴别", "en": "Identification and authentication"},
    "8.1.4.2": {"zh": "访问控制", "en": "Access control"},
    "8.1.4.3": {"zh": "安全审计", "en": "Security audit"},
    "8.1.4.4": {"zh": "入侵防范", "en": "Intrusion prevention"},
    "8.1.4.5": {"zh": "恶意代码防范", "en": "Malicious code prevention"},
    "8.1.4.6": {"zh": "可信验证", "en": "Trusted verification"},
    "8.1.4.7": {"zh": "数据完整性", "en": "Data integrity"},
    "8.1.4.8": {"zh": "数据保密性", "en": "Data confidentiality"},
    "8.1.4.9": {"zh": "数据备份恢复", "en": "Data backup and recovery"},
    "8.1.4.10": {"zh": "剩余信息保护", "en": "Residual information protection"},
    "8.1.4.11": {"zh": "个人信息保护", "en": "Personal information protection"},
}


def profile_path(policies_dir: Path, profile: str) -> Path:
    return Path(policies_dir) / profile / "profile.yaml"


def _check_check(chk: Any, where: Location | None, problems: list[Problem]) -> None:
    if not isinstance(chk, dict) or "type" not in chk:
        problems.append(Problem(where, _("check: expected a mapping with a 'type'")))
        return
    if not isinstance(chk["type"], str) or chk["type"] not in CHECK_TYPES:
        problems.append(
            Problem(
                loc_of(chk, "type", where),
                _("unknown check type {type!r}").format(type=chk["type"]),
            )
        )
    subs = chk.get("checks") or []
    if not isinstance(subs, list):
        problems.append(Problem(loc_of(chk, "checks", where), _("checks must be a list")))
        return
    for sub in subs:
        _check_check(sub, loc_of(chk, "checks", where), problems)


def load_profile(policies_dir: str | Path, profile: str = "mlps-l3") -> Profile:
    path = profile_path(Path(policies_dir), profile)
    raw = load_yaml(path)
    problems: list[Problem] = []
    if not isinstance(raw, dict):
        raise ValidationFailed([Problem(Location(str(path), 1), _("profile must be a mapping"))])
    check_keys(raw, PROFILE_KEYS, "profile", problems, Location(str(path), 1))
    variables: dict[str, Variable] = {}
    raw_vars = raw.get("variables") or {}
    if not isinstance(raw_vars, dict):
        problems.append(Problem(loc_of(raw, "variables"), _("variables must be a mapping")))
        raw_vars = {}
    includes = raw.get("include") or []
    if not isinstance(includes, list):
        problems.append(Problem(loc_of(raw, "include"), _("include must be a list of files")))
        includes = []
    for name, spec in raw_vars.items():
        if not isinstance(spec, dict) or "default" not in spec:
            problems.append(
                Problem(
                    loc_of(raw.get("variables"), name),
                    _("variable {name}: needs a default").format(name=name),
                )
            )
            continue
        variables[name] = Variable(name, to_plain(spec["default"]), str(spec.get("doc", "")))
    controls: list[Control] = []
    seen: dict[str, Location | None] = {}
    for fname in includes:
        fpath = path.parent / str(fname)
        if not fpath.is_file():
            problems.append(
                Problem(
                    loc_of(raw, "include"), _("catalog file not found: {fname}").format(fname=fname)
                )
            )
            continue
        doc = load_yaml(fpath)
        if not isinstance(doc, dict):
            problems.append(Problem(Location(str(fpath), 1), _("catalog file must be a mapping")))
            continue
        check_keys(doc, CATALOG_KEYS, "catalog file", problems, Location(str(fpath), 1))
        if not isinstance(doc.get("controls") or [], list):
            problems.append(Problem(loc_of(doc, "controls"), _("controls must be a list")))
            continue
        if not doc.get("controls"):  # a file emptied by mistake must not shrink the profile
            problems.append(
                Problem(
                    loc_of(doc, "controls", Location(str(fpath), 1)),
                    _("catalog file has no controls"),
                )
            )
            continue
        family_clause = str(doc.get("clause", ""))
        for i, c in enumerate(doc.get("controls") or []):
            where = loc_of(doc.get("controls"), i)
            if not isinstance(c, dict):
                problems.append(Problem(where, _("control must be a mapping")))
                continue
            missing = [k for k in ("id", "item", "unit", "title", "severity") if k not in c]
            if missing:
                problems.append(
                    Problem(where, _("control misses {missing}").format(missing=", ".join(missing)))
                )
                continue
            if not isinstance(c["id"], str):
                problems.append(Problem(loc_of(c, "id", where), _("id: expected text")))
                continue
            cid = c["id"]
            check_keys(c, CONTROL_KEYS, f"control {cid}", problems, where)
            if cid in seen:
                problems.append(
                    Problem(
                        where,
                        _("duplicate control id {cid!r} (first at {seen})").format(
                            cid=cid, seen=seen[cid]
                        ),
                    )
                )
            seen[cid] = where
            kind = str(c.get("kind", "automated"))
            if kind not in KINDS:
                problems.append(
                    Problem(
                        loc_of(c, "kind", where),
                        _("kind must be one of {KINDS}").format(KINDS=KINDS),
                    )
                )
            if c["severity"] not in SEVERITIES:
                problems.append(
                    Problem(
                        loc_of(c, "severity", where),
                        _("severity must be one of {SEVERITIES}").format(SEVERITIES=SEVERITIES),
                    )
                )
            if kind == "automated":
                _check_check(c.get("check"), loc_of(c, "check", where), problems)
            elif not isinstance(c.get("evidence"), dict) or "file" not in c["evidence"]:
                problems.append(
                    Problem(where, _("{cid}: a manual control needs evidence.file").format(cid=cid))
                )
            rem = c.get("remediation") or {}
            bad = set(rem) - REMEDIATION_KEYS if isinstance(rem, dict) else {"?"}
            if bad:
                problems.append(
                    Problem(
                        loc_of(c, "remediation", where),
                        _("unknown remediation keys: {bad}").format(bad=sorted(bad)),
                    )
                )
            for var in _vars_used(c.get("check") or {}):
                if var not in variables:
                    problems.append(
                        Problem(
                            loc_of(c, "check", where),
                            _("{cid}: unknown variable {var!r}").format(cid=cid, var=var),
                        )
                    )
            clause = str(c.get("clause") or family_clause)
            controls.append(
                Control(
                    id=cid,
                    clause=clause,
                    item=str(c["item"]),
                    unit=str(c["unit"]),
                    title=dict(c["title"]),
                    rationale=dict(c.get("rationale") or {}),
                    severity=str(c["severity"]),
                    kind=kind,
                    high_risk=str(c["high_risk"]) if c.get("high_risk") else None,
                    check=to_plain(c.get("check") or {}),
                    remediation=to_plain(rem),
                    references=to_plain(c.get("references") or {}),
                    applies_to=tuple(c.get("applies_to") or ("debian", "redhat")),
                    container=to_plain(c["container"]) if c.get("container") else None,
                    evidence=to_plain(c["evidence"]) if c.get("evidence") else None,
                    source=str(where) if where else str(fpath),
                )
            )
    ids = {c.id for c in controls}
    for c in controls:
        for other in (c.evidence or {}).get("contradicted_by") or []:
            if other not in ids:
                problems.append(
                    Problem(
                        Location(c.source),
                        _("{control}: contradicted_by: unknown control {other!r}").format(
                            control=c.id, other=other
                        ),
                    )
                )
    if problems:
        raise ValidationFailed(
            problems,
            _("catalog {profile}: {n} problem(s)").format(profile=profile, n=len(problems)),
        )
    return Profile(
        id=str(raw.get("id", profile)),
        title=dict(raw.get("title") or {}),
        standard=str(raw.get("standard", "")),
        variables=variables,
        controls=tuple(controls),
        clause_titles=CLAUSE_TITLES,
        path=path,
    )


def _each_check(chk: dict) -> Iterator[dict]:
    """A check and the checks nested in it (``all``/``any`` combine ``checks``)."""
    if not isinstance(chk, dict):  # reported by _check_check; nothing to walk
        return
    yield chk
    subs = chk.get("checks") or []
    for sub in subs if isinstance(subs, list) else []:
        yield from _each_check(sub)


def _units_named(chk: dict) -> list[str]:
    return [
        u
        for c in _each_check(chk)
        if c.get("type") == "services"
        for u in c.get("enabled_any") or []
    ]


def _vars_used(chk: dict) -> list[str]:
    keys = ("var", "allow_var", "closed_var", "allowed_var", "absent_var", "present_any_var")
    return [str(c[k]) for c in _each_check(chk) for k in keys if c.get(k)]
