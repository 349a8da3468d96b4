"""Evidence + catalog + variables -> one verdict per host and control. Pure, no I/O.

Every check type of the catalog is a function ``(check, ctx) -> Outcome``. An outcome says
pass / fail / error / not_applicable, what was observed, what was expected, and which lines
of which files prove it (the raw evidence the assessors want to see).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cloudctl.baseline import parsers as P
from cloudctl.baseline.catalog import Control
from cloudctl.core.i18n import _, join

PASS, FAIL, ERROR, NA, WAIVED, MANUAL = (
    "pass",
    "fail",
    "error",
    "not_applicable",
    "waived",
    "manual",
)
# Deliberately not assessed in this run (e.g. --no-updates): neither a finding nor an error.
NOT_EVALUATED = "not_evaluated"
VERDICTS = (PASS, FAIL, WAIVED, MANUAL, NA, ERROR, NOT_EVALUATED)
# Units a container cannot run (shared kernel / no CAP_SYS_TIME): only enablement is judged.
CONTAINER_CANNOT_RUN = {
    "auditd.service",
    "chrony.service",
    "chronyd.service",
    "systemd-timesyncd.service",
    "ntp.service",
    "ntpsec.service",
}
SHARED_KERNEL_PREFIXES = ("kernel.", "fs.", "vm.")
EXEMPT_NOLOGIN = {"root", "sync", "shutdown", "halt"}
WEAK_HASHES = {"md5", "des", "unknown", "sha256"}


@dataclass
class Outcome:
    verdict: str
    observed: str = ""
    expected: str = ""
    evidence: list[dict] = field(default_factory=list)  # {"source": ..., "text": ...}
    note: str = ""


@dataclass
class Result:
    host: str
    control: str
    verdict: str
    observed: str = ""
    expected: str = ""
    evidence: list[dict] = field(default_factory=list)
    note: str = ""
    waiver: dict | None = None

    def as_dict(self) -> dict:
        return {
            "host": self.host,
            "control": self.control,
            "verdict": self.verdict,
            "observed": self.observed,
            "expected": self.expected,
            "note": self.note,
            "evidence": self.evidence,
            "waiver": self.waiver,
        }


@dataclass
class Ctx:
    ev: dict
    vars: dict[str, Any]

    @property
    def files(self) -> dict:
        return self.ev.get("files") or {}

    @property
    def family(self) -> str:
        return (self.ev.get("os") or {}).get("family", "unknown")

    @property
    def container(self) -> bool:
        return (self.ev.get("virtualization") or {}).get("type") == "container"

    def value(self, chk: dict, key: str = "value") -> Any:
        if chk.get("var"):
            return self.vars.get(chk["var"])
        return chk.get(key)

    def per_family(self, spec: Any) -> list[str]:
        if isinstance(spec, dict):
            return [str(x) for x in spec.get(self.family) or []]
        return [str(x) for x in spec or []]


def ev(source: str, text: str) -> dict:
    return {"source": source, "text": text}


def line_at(files: dict, source: str) -> str:
    """The text of ``path:line`` from the evidence (for the report)."""
    if ":" not in source:
        return ""
    path, _sep, n = source.rpartition(":")
    if not n.isdigit():
        return ""
    for i, text in P.lines_of(files, path):
        if i == int(n):
            return text.strip()
    return ""


# --- comparisons ---------------------------------------------------------------------
def _num(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except (TypeError, ValueError):
        return None


def compare(op: str, observed: Any, expected: Any, chk: dict) -> tuple[bool, str]:
    """(ok, expected described)."""
    o = "" if observed is None else str(observed).strip()
    accept = [str(a) for a in chk.get("accept") or []]
    if o in accept:
        return True, _("{op} {expected} (or {accepted})").format(
            op=op, expected=expected, accepted="/".join(accept)
        )
    if op == "eq":
        return o.lower() == str(expected).lower(), f"= {expected}"
    if op == "ne":
        return o.lower() != str(expected).lower(), f"≠ {expected}"
    if op in ("in", "not_in"):
        exp = [str(x).lower() for x in (expected if isinstance(expected, list) else [expected])]
        inside = o.lower() in exp
        return (
            inside if op == "in" else not inside
        ), f"{'∈' if op == 'in' else '∉'} {{{', '.join(exp)}}}"
    if op in ("le", "ge"):
        n, e = _num(o), _num(expected)
        if n is None or e is None:
            return False, f"{'≤' if op == 'le' else '≥'} {expected}"
        return (n <= e if op == "le" else n >= e), f"{'≤' if op == 'le' else '≥'} {expected}"
    if op == "between":
        n, lo, hi = _num(o), _num(chk.get("min")), _num(expected)
        desc = f"{chk.get('min')}…{expected}"
        if n is None or hi is None:
            return False, desc
        return (lo is None or n >= lo) and n <= hi, desc
    if op == "flag":
        return o not in ("", "none", "false", "absent") or observed == "", _("set")
    if op == "umask":
        try:
            return int(o, 8) & int(str(expected), 8) == int(str(expected), 8), f"⊇ {expected}"
        except ValueError:
            return False, f"⊇ {expected}"
    if op == "mode_le":
        try:
            return int(o, 8) & ~int(str(expected), 8) == 0, f"⊆ {expected}"
        except ValueError:
            return False, f"⊆ {expected}"
    if op == "forbid":
        bad = [x for x in re.split(r"[,\s]+", o) if x and re.search(str(expected), x)]
        return not bad, _("none matching /{pattern}/").format(pattern=expected)
    raise ValueError(f"unknown op {op}")


# --- check types ---------------------------------------------------------------------
def sshd_not_in_effect(ctx: Ctx) -> str:
    """Why the running sshd may not use what its files (and ``sshd -T``) say: its config
    changed after its last (re)load, or its handshake offers other algorithms. "" if none."""
    rt = ctx.ev.get("sshd_runtime") or {}
    return str(rt.get("reason") or "reload pending") if rt.get("stale") else ""


def _in_effect(out: Outcome, ctx: Ctx) -> Outcome:
    """A passing sshd setting that the running daemon has not loaded is not in effect."""
    why = sshd_not_in_effect(ctx)
    if not why:
        return out
    out.evidence.append(ev("running sshd", why))
    if out.verdict == PASS:
        out.verdict = FAIL
        out.observed = _("{observed} (configured, not in effect: {why})").format(
            observed=out.observed, why=why
        )
    out.note = (out.note + " running sshd has not loaded its configuration: reload it").strip()
    return out


def chk_sshd(chk: dict, ctx: Ctx) -> Outcome:
    return _in_effect(_chk_sshd(chk, ctx), ctx)


def _chk_sshd(chk: dict, ctx: Ctx) -> Outcome:
    key = chk["key"].lower()
    sshd_ev = ctx.ev.get("sshd") or {}
    if sshd_ev.get("error") == "sshd not installed" and "/etc/ssh/sshd_config" not in P.expand(
        ctx.files, "/etc/ssh/sshd_config"
    ):
        return Outcome(NA, _("sshd not installed"), "", note="no SSH server on this host")
    setting, match_vals, how = P.sshd_effective(ctx.ev, key)
    exp = ctx.value(chk)
    op = chk.get("op", "eq")
    evidence = []
    if setting is None:
        observed = _("(unset)")
        ok, desc = compare(op, "", exp, chk)
    else:
        observed = setting.value
        ok, desc = compare(op, setting.value, exp, chk)
        src = setting.source
        evidence.append(
            ev(src, f"{key} {setting.value}" if src == "sshd -T" else line_at(ctx.files, src))
        )
    note = "" if how == "sshd -T" else "sshd -T unavailable: parsed the configuration files"
    if (ctx.ev.get("sshd") or {}).get("error") and how != "sshd -T":
        note += f" ({ctx.ev['sshd']['error'].strip()[:120]})"
    if op == "forbid" and setting is not None and not ok:
        bad = [x for x in re.split(r"[,\s]+", setting.value) if x and re.search(str(exp), x)]
        observed = _("offers {algorithms}").format(algorithms=",".join(bad))
    for crit, s in match_vals:
        mok, _desc = compare(op, s.value, exp, chk)
        evidence.append(ev(s.source, f"Match {crit}: {line_at(ctx.files, s.source)}"))
        if not mok:
            ok = False
            observed = join([observed, f"Match {crit}: {s.value}"])
    expected = _("{key} {wanted}").format(key=chk["key"], wanted=desc)
    return Outcome(PASS if ok else FAIL, observed, expected, evidence, note.strip())


def chk_sshd_any(chk: dict, ctx: Ctx) -> Outcome:
    return _in_effect(_chk_sshd_any(chk, ctx), ctx)


def _chk_sshd_any(chk: dict, ctx: Ctx) -> Outcome:
    found = []
    for key in chk["keys"]:
        s, _m, _how = P.sshd_effective(ctx.ev, key)
        if s is not None and s.value.strip():
            found.append(ev(s.source, f"{key} {s.value}"))
    exp = _("{keys} set").format(keys=" or ".join(chk["keys"]))
    if found:
        return Outcome(PASS, "; ".join(e["text"] for e in found), exp, found)
    return Outcome(FAIL, _("none set"), exp)


def _conf_value(ctx: Ctx, chk: dict, option: str) -> P.Setting | None:
    value = None
    for pat in chk.get("conf") or []:
        for path in P.expand(ctx.files, pat):
            kv = P.keyvals(ctx.files, path, sep="=")
            if option in kv:
                value = kv[option]
    return value


def chk_pam_option(chk: dict, ctx: Ctx) -> Outcome:
    modules = chk["module"] if isinstance(chk["module"], list) else [chk["module"]]
    stack = chk.get("stack", "password")
    option = chk["option"]
    exp = ctx.value(chk)
    op = chk.get("op", "eq")
    services = ctx.per_family(chk.get("files"))
    if not services:
        return Outcome(ERROR, "", "", note=f"no PAM files known for OS family {ctx.family}")
    worst: Outcome | None = None
    for svc in services:
        entries = [
            e for e in P.parse_pam(ctx.files, svc) if e.type == stack and e.module in modules
        ]
        if not entries:
            out = Outcome(
                FAIL,
                _("{modules} not in the {stack} stack of {file}").format(
                    modules="/".join(modules), stack=stack, file=svc
                ),
                _("{key} {wanted}").format(key=option, wanted=compare(op, "", exp, chk)[1]),
            )
        else:
            src, val = None, None
            for e in entries:
                a = e.arg(option)
                if a is not None:
                    src, val = e.source, a
                    break
            if val is None:
                conf = _conf_value(ctx, chk, option) if entries[0].module == modules[0] else None
                if conf is not None:
                    src, val = conf.source, conf.value
            if val is None:
                val = "absent" if op == "flag" else str(chk.get("default", ""))
                src = _("{module} default").format(module=entries[0].module)
            ok, desc = compare(op, val, exp, chk)
            evidence = [ev(e.source, line_at(ctx.files, e.source)) for e in entries]
            if src and ":" in src and not src.endswith("default"):
                evidence.append(ev(src, line_at(ctx.files, src)))
            out = Outcome(
                PASS if ok else FAIL,
                _("{key}={value} ({source})").format(key=option, value=val or _("set"), source=src),
                _("{key} {wanted}").format(key=option, wanted=desc),
                evidence,
            )
        if worst is None or (worst.verdict == PASS and out.verdict != PASS):
            worst = out
    assert worst is not None
    return worst


def chk_pam_module(chk: dict, ctx: Ctx) -> Outcome:
    modules = chk["module"] if isinstance(chk["module"], list) else [chk["module"]]
    services = ctx.per_family(chk.get("files"))
    if not services:
        return Outcome(ERROR, "", "", note=f"no PAM files known for OS family {ctx.family}")
    stack = chk.get("stack")
    forbid = chk.get("forbid_args") or []
    require = chk.get("require_args") or []
    problems, evidence = [], []
    for svc in services:
        entries = [
            e
            for e in P.parse_pam(ctx.files, svc)
            if e.module in modules and (not stack or e.type == stack)
        ]
        evidence += [ev(e.source, line_at(ctx.files, e.source)) for e in entries]
        if not forbid and not entries:
            problems.append(
                _("{modules} missing from {file}").format(modules="/".join(modules), file=svc)
            )
        for mod, needed in (chk.get("entries_with_args") or {}).items():
            mine = [e for e in entries if e.module == mod]
            for a in needed:
                if mine and not any(e.arg(a) is not None for e in mine):
                    problems.append(
                        _("{module} without a '{type}' line in {file}").format(
                            module=mod, type=a, file=svc
                        )
                    )
        for e in entries:
            for a in forbid:
                if e.arg(a) is not None:
                    problems.append(f"{e.source}: {a}")
            for a in require:
                if e.arg(a) is None:
                    problems.append(_("{source}: without {arg}").format(source=e.source, arg=a))
    if forbid:
        exp = _("{modules} without {args}").format(
            modules="/".join(modules), args=", ".join(forbid)
        )
    elif require:
        exp = _("{modules} in the {stack} stack of {files} with {args}").format(
            modules="/".join(modules),
            stack=stack or "",
            files=", ".join(services),
            args=", ".join(require),
        )
    else:
        exp = _("{modules} in the {stack} stack of {files}").format(
            modules="/".join(modules), stack=stack or "", files=", ".join(services)
        )
    if problems:
        return Outcome(FAIL, join(problems), exp, evidence)
    return Outcome(PASS, _("as expected") if evidence else _("not used"), exp, evidence)


def chk_keyval(chk: dict, ctx: Ctx) -> Outcome:
    paths = []
    for pat in chk.get("paths") or [chk["path"]]:
        paths += P.expand(ctx.files, pat)
    key = chk["key"]
    ci = bool(chk.get("case_insensitive"))
    sep = chk.get("sep", "space")
    found: P.Setting | None = None
    for path in paths:
        kv = P.keyvals(
            ctx.files, path, sep="=" if "=" in sep else "space", case_insensitive_keys=True
        )
        if key.lower() in kv:
            found = kv[key.lower()]
    exp_v = ctx.value(chk)
    op = chk.get("op", "eq")
    if found is None:
        if "default" not in chk:
            return Outcome(
                FAIL,
                _("{key} not set").format(key=key),
                _("{key} {wanted}").format(key=key, wanted=compare(op, "", exp_v, chk)[1]),
            )
        val, src = str(chk["default"]), _("built-in default")
    else:
        val, src = found.value, found.source
    cmp_val = val.lower() if ci else val
    ok, desc = compare(op, cmp_val, exp_v, chk)
    evidence = [ev(src, line_at(ctx.files, src))] if found else []
    return Outcome(
        PASS if ok else FAIL,
        _("{key}={value} ({source})").format(key=key, value=val, source=src),
        _("{key} {wanted}").format(key=key, wanted=desc),
        evidence,
    )


def chk_file_mode(chk: dict, ctx: Ctx) -> Outcome:
    want = int(str(chk["mode"]), 8)
    problems, observed, evidence = [], [], []
    for path in chk["paths"]:
        f = ctx.files.get(path)
        if f is None:
            return Outcome(ERROR, "", "", note=f"{path} was not collected")
        if not f.get("exists"):
            if chk.get("must_exist", True):
                problems.append(_("{path} missing").format(path=path))
            continue
        mode = int(f["mode"], 8)
        desc = f"{path} {f['mode']} {f['owner']}:{f['group']}"
        observed.append(desc)
        evidence.append(ev(path, desc))
        if mode & ~want:
            problems.append(_("{path} mode {mode}").format(path=path, mode=f["mode"]))
        if chk.get("owner") and f["owner"] != chk["owner"]:
            problems.append(_("{path} owner {owner}").format(path=path, owner=f["owner"]))
        if chk.get("group") and f["group"] not in chk["group"]:
            problems.append(_("{path} group {group}").format(path=path, group=f["group"]))
    exp = _("mode ⊆ {mode}, owner {owner}:{group}").format(
        mode=chk["mode"], owner=chk.get("owner", "*"), group="|".join(chk.get("group") or ["*"])
    )
    if problems:
        return Outcome(FAIL, join(problems), exp, evidence)
    return Outcome(PASS, "; ".join(observed) or _("absent (allowed)"), exp, evidence)


def chk_packages(chk: dict, ctx: Ctx) -> Outcome:
    pk = ctx.ev.get("packages")
    if pk is None:
        return Outcome(ERROR, "", "", note="package list not collected")
    if ctx.family not in ("debian", "redhat"):
        return Outcome(ERROR, "", "", note=f"unknown OS family {ctx.family!r}")
    if "absent" in chk or "absent_var" in chk:
        names = ctx.per_family(chk.get("absent") or ctx.vars.get(chk.get("absent_var", ""), {}))
        present = [f"{n} {pk[n]}" for n in names if n in pk]
        exp = _("absent: {packages}").format(packages=", ".join(names))
        if present:
            return Outcome(
                FAIL,
                _("installed: {packages}").format(packages=", ".join(present)),
                exp,
                [ev("packages", ", ".join(present))],
            )
        return Outcome(PASS, _("none installed"), exp)
    names = ctx.per_family(
        chk.get("present_any") or ctx.vars.get(chk.get("present_any_var", ""), [])
    )
    have = [f"{n} {pk[n]}" for n in names if n in pk]
    exp = _("one of: {packages}").format(packages=", ".join(names))
    if have:
        return Outcome(
            PASS,
            _("installed: {packages}").format(packages=", ".join(have)),
            exp,
            [ev("packages", ", ".join(have))],
        )
    return Outcome(FAIL, _("none installed"), exp)


ENABLED = {"enabled", "enabled-runtime", "static", "alias", "indirect", "generated"}


def chk_services(chk: dict, ctx: Ctx) -> Outcome:
    svcs = ctx.ev.get("services")
    if svcs is None:
        return Outcome(ERROR, "", "", note="service states not collected")
    units = chk.get("enabled_any") or []
    want_running = bool(chk.get("running"))
    notes, observed = [], []
    for u in units:
        s = svcs.get(u)
        if not s:
            continue
        observed.append(f"{u}: {s.get('enabled')}/{s.get('active')}")
        if s.get("enabled") not in ENABLED:
            continue
        if not want_running or s.get("active") == "active":
            return Outcome(
                PASS,
                "; ".join(observed),
                _("one of {units} enabled and running").format(units=", ".join(units)),
                [ev("systemctl", "; ".join(observed))],
            )
        if ctx.container and u in CONTAINER_CANNOT_RUN:
            notes.append(
                f"{u} cannot run in a container (shared kernel, no clock or audit control): judged on enablement only"  # noqa: E501
            )
            return Outcome(
                PASS,
                "; ".join(observed),
                _("one of {units} enabled").format(units=", ".join(units)),
                [ev("systemctl", "; ".join(observed))],
                " ".join(notes),
            )
    return Outcome(
        FAIL,
        "; ".join(observed) or _("not installed"),
        (
            _("one of {units} enabled and running") if want_running else _("one of {units} enabled")
        ).format(units=", ".join(units)),
        [ev("systemctl", "; ".join(observed))] if observed else [],
    )


def chk_sysctl(chk: dict, ctx: Ctx) -> Outcome:
    key, want = chk["key"], str(ctx.value(chk))
    persisted = P.sysctl_persisted(ctx.files).get(key)
    live = (ctx.ev.get("sysctl") or {}).get(key) or {}
    shared = ctx.container and key.startswith(SHARED_KERNEL_PREFIXES)
    problems, evidence, notes = [], [], []
    if persisted is None:
        problems.append(_("not persisted in sysctl.d"))
    else:
        evidence.append(ev(persisted.source, line_at(ctx.files, persisted.source)))
        if persisted.value != want:
            problems.append(
                _("persisted {value} ({source})").format(
                    value=persisted.value, source=persisted.source
                )
            )
    if shared:
        notes.append(
            "container: the live value belongs to the shared kernel and cannot be set here; judged on the persisted files"  # noqa: E501
        )
    elif "value" in live:
        evidence.append(ev(f"/proc/sys/{key.replace('.', '/')}", live["value"]))
        if live["value"] != want:
            problems.append(_("live {value}").format(value=live["value"]))
    observed = join(problems) if problems else _("{key} = {value} (persisted and live)")
    if shared and not problems:
        observed = _("{key} = {value} (persisted)")
    if not problems:
        observed = observed.format(key=key, value=want)
    return Outcome(
        FAIL if problems else PASS, observed, f"{key} = {want}", evidence, " ".join(notes)
    )


def chk_ports(chk: dict, ctx: Ctx) -> Outcome:
    socks = ctx.ev.get("listening")
    if socks is None:
        return Outcome(ERROR, "", "", note="listening sockets not collected")
    closed = [int(p) for p in (chk.get("closed") or ctx.vars.get(chk.get("closed_var", ""), []))]
    allowed = {int(p) for p in ctx.vars.get(chk.get("allowed_var", ""), []) or []}
    bad, local = [], []
    for s in socks:
        if s["port"] in closed and s["port"] not in allowed:
            desc = f"{s['proto']} {s['address']}:{s['port']}"
            (local if s["address"].startswith("127.") or s["address"] == "::1" else bad).append(
                desc
            )
    exp = _("nothing listening on {ports}").format(
        ports=",".join(str(p) for p in closed if p not in allowed)
    )
    note = f"loopback only (not reachable): {', '.join(local)}" if local else ""
    if bad:
        return Outcome(
            FAIL,
            _("listening: {sockets}").format(sockets=", ".join(bad)),
            exp,
            [ev("/proc/net", ", ".join(bad))],
            note,
        )
    return Outcome(PASS, _("none listening"), exp, note=note)


def chk_accounts(chk: dict, ctx: Ctx) -> Outcome:
    users = ctx.ev.get("accounts") or []
    if not users:
        return Outcome(ERROR, "", "", note="no accounts collected")
    rule = chk["rule"]
    bad: list[str] = []
    exp: str = ""
    if rule == "no_empty_password":
        bad = [
            u["name"]
            for u in users
            if u.get("password") == "empty" or u.get("passwd_field") == "empty"
        ]
        exp = _("no empty password field in /etc/shadow or /etc/passwd")
    elif rule == "unique_uids":
        seen: dict[int, str] = {}
        for u in users:
            if u.get("uid") in seen:
                bad.append(f"{u['name']}={seen[u['uid']]} (uid {u['uid']})")
            seen.setdefault(u.get("uid"), u["name"])
        exp = _("each UID used once")
    elif rule == "unique_names":
        names = [u["name"] for u in users]
        bad = sorted({n for n in names if names.count(n) > 1})
        exp = _("each name used once")
    elif rule == "only_root_uid0":
        bad = [u["name"] for u in users if u.get("uid") == 0 and u["name"] != "root"]
        exp = _("only root has UID 0")
    elif rule == "system_nologin":
        bad = [
            f"{u['name']} ({u['shell']})"
            for u in users
            if u.get("uid") is not None
            and 0 < u["uid"] < 1000
            and u["name"] not in EXEMPT_NOLOGIN
            and not re.search(r"(nologin|false)$", u.get("shell") or "")
        ]
        exp = _("UID 1–999 (except sync/shutdown/halt) with nologin or false")
    elif rule in ("max_days", "min_days"):
        limit = int(ctx.value(chk))
        for u in users:
            if u.get("password") != "set":
                continue
            v = u.get(rule)
            if rule == "max_days" and (v is None or v > limit or v < 0):
                bad.append(f"{u['name']} ({v if v is not None else 'unset'})")
            if rule == "min_days" and (v is None or v < limit):
                bad.append(f"{u['name']} ({v if v is not None else 'unset'})")
        exp = _("{op} {limit} days for every account with a password").format(
            op="≤" if rule == "max_days" else "≥", limit=limit
        )
    elif rule == "no_rhosts":
        bad = [f"{u['home']}/.rhosts" for u in users if u.get("rhosts")]
        if (ctx.files.get("/etc/hosts.equiv") or {}).get("exists"):
            bad.append("/etc/hosts.equiv")
        exp = _("no .rhosts, no /etc/hosts.equiv")
    elif rule == "strong_hashes":
        bad = [
            f"{u['name']} ({u.get('hash_algorithm')})"
            for u in users
            if u.get("password") == "set" and u.get("hash_algorithm") in WEAK_HASHES
        ]
        exp = _("sha512/yescrypt/bcrypt hashes only")
    else:
        return Outcome(ERROR, "", "", note=f"unknown accounts rule {rule}")
    if bad:
        return Outcome(
            FAIL,
            ", ".join(bad),
            exp,
            [ev("/etc/passwd,/etc/shadow (derived facts)", ", ".join(bad))],
        )
    return Outcome(PASS, _("{n} accounts checked").format(n=len(users)), exp)


def chk_shell_var(chk: dict, ctx: Ctx) -> Outcome:
    sv = P.shell_var(ctx.files, chk["name"])
    exp_v = ctx.value(chk)
    ok, desc = compare(chk.get("op", "le"), sv.value if sv.value is not None else "", exp_v, chk)
    problems = []
    if sv.value is None:
        problems.append(_("{key} not set").format(key=chk["name"]))
    elif not ok:
        problems.append(f"{chk['name']}={sv.value}")
    if chk.get("readonly") and not sv.readonly:
        problems.append(_("not readonly"))
    if chk.get("export") and not sv.exported:
        problems.append(_("not exported"))
    evidence = [ev(a.source, line_at(ctx.files, a.source)) for a in sv.assignments]
    exp = join(
        [
            _("{key} {wanted}").format(key=chk["name"], wanted=desc),
            *([_("readonly")] if chk.get("readonly") else []),
            *([_("exported")] if chk.get("export") else []),
        ],
        ", ",
    )
    if problems:
        return Outcome(FAIL, join(problems), exp, evidence)
    observed = _("{key}={value} ({source})").format(
        key=chk["name"], value=sv.value, source=sv.source
    )
    return Outcome(PASS, observed, exp, evidence)


def chk_shell_umask(chk: dict, ctx: Ctx) -> Outcome:
    want = str(ctx.value(chk))
    found = P.shell_umask(ctx.files)
    evidence = [ev(s.source, line_at(ctx.files, s.source)) for s in found]
    if found:
        eff = found[-1]
        val, src = eff.value, eff.source
    else:
        uses_pam_umask = any(
            e.module == "pam_umask.so"
            for svc in ("common-session", "system-auth", "login")
            for e in P.parse_pam(ctx.files, svc)
        )
        kv = P.keyvals(ctx.files, "/etc/login.defs")
        if uses_pam_umask and "UMASK" in kv:
            val, src = (
                kv["UMASK"].value,
                _("{source} via pam_umask").format(source=kv["UMASK"].source),
            )
        else:
            val, src = "022", _("shell default")
    ok, desc = compare("umask", val, want, {})
    return Outcome(
        PASS if ok else FAIL,
        _("umask {value} ({source})").format(value=val, source=src),
        _("umask {wanted}").format(wanted=desc),
        evidence,
    )


def _rules_text(rules: list[P.Setting]) -> list[str]:
    return [r.value for r in rules]


def chk_audit_watch(chk: dict, ctx: Ctx) -> Outcome:
    rules = P.audit_rules(ctx.files)
    want = set(chk.get("perms", "wa"))
    missing, evidence = [], []
    for path in chk["paths"]:
        hit = None
        for r in rules:
            m = re.match(rf"^-w\s+{re.escape(path)}/?\s+.*-p\s+([rwxa]+)", r.value)
            m2 = re.search(rf"-F\s+(?:path|dir)={re.escape(path)}\b.*-F\s+perm=([rwxa]+)", r.value)
            mm = m or m2
            if mm and want <= set(mm.group(1)):
                hit = r
                break
        if hit:
            evidence.append(ev(hit.source, hit.value))
        else:
            missing.append(path)
    exp = _("-w PATH -p {perms} for {paths}").format(
        perms="".join(sorted(want)), paths=", ".join(chk["paths"])
    )
    if not rules:
        return Outcome(FAIL, _("no audit rules files"), exp)
    if missing:
        return Outcome(
            FAIL, _("not watched: {paths}").format(paths=", ".join(missing)), exp, evidence
        )
    return Outcome(PASS, _("{n} paths watched").format(n=len(chk["paths"])), exp, evidence)


def chk_audit_regex(chk: dict, ctx: Ctx) -> Outcome:
    rules = P.audit_rules(ctx.files)
    missing, evidence = [], []
    for pat in chk["patterns"]:
        hit = next((r for r in rules if re.search(pat, r.value)), None)
        if hit:
            evidence.append(ev(hit.source, hit.value))
        else:
            missing.append(pat)
    exp = _("rules matching {patterns}").format(patterns="; ".join(chk["patterns"]))
    if missing:
        observed = _("no rule matching {patterns}").format(patterns="; ".join(missing))
        return Outcome(FAIL, observed, exp, evidence)
    return Outcome(PASS, _("{n} rules found").format(n=len(evidence)), exp, evidence)


def chk_audit_immutable(chk: dict, ctx: Ctx) -> Outcome:
    rules = P.audit_rules(ctx.files)
    if not rules:
        return Outcome(FAIL, _("no audit rules files"), _("-e 2 as the last rule"))
    if P.expand(ctx.files, "/etc/audit/rules.d/*.rules"):
        # augenrules moves -e to the end of the compiled rules: any "-e 2" makes them immutable
        hits = [r for r in rules if re.fullmatch(r"-e\s+2", r.value)]
        if hits:
            return Outcome(
                PASS,
                f"{hits[-1].value} ({hits[-1].source})",
                _("-e 2 in the rules"),
                [ev(hits[-1].source, hits[-1].value)],
            )
        return Outcome(FAIL, _("no -e 2 in /etc/audit/rules.d"), _("-e 2 in the rules"))
    last = rules[-1]
    ok = re.fullmatch(r"-e\s+2", last.value) is not None
    return Outcome(
        PASS if ok else FAIL,
        _("last rule: {rule}").format(rule=last.value),
        _("-e 2 as the last rule"),
        [ev(last.source, last.value)],
    )


def chk_file_regex(chk: dict, ctx: Ctx) -> Outcome:
    paths = []
    for pat in chk["paths"]:
        paths += P.expand(ctx.files, pat)
    rx = re.compile(chk["pattern"], re.M)
    hits = []
    for p in paths:
        for n, text in P.lines_of(ctx.files, p):
            if rx.search(text):
                hits.append(ev(f"{p}:{n}", text.strip()))
    present = chk.get("expect", "present") == "present"
    exp = (
        _("a line matching /{pattern}/ in {paths}")
        if present
        else _("no line matching /{pattern}/ in {paths}")
    ).format(pattern=chk["pattern"], paths=", ".join(chk["paths"]))
    if present:
        return Outcome(
            PASS if hits else FAIL, hits[0]["text"] if hits else _("no matching line"), exp, hits
        )
    observed = "; ".join(h["text"] for h in hits) or _("none")
    return Outcome(FAIL if hits else PASS, observed, exp, hits)


def chk_log_retention(chk: dict, ctx: Ctx) -> Outcome:
    want = int(ctx.value(chk))
    path = "/etc/logrotate.d/rsyslog" if ctx.family == "debian" else "/etc/logrotate.d/syslog"
    blocks = P.logrotate_days(ctx.files, path)
    if not blocks:
        return Outcome(
            FAIL,
            _("{path} missing: rotation unknown").format(path=path),
            _("≥ {n} days").format(n=want),
        )
    worst = min(blocks, key=lambda b: b[1])
    evidence = [ev(src, f"{files.split()[0]}…: {days} days") for files, days, src in blocks]
    ok = worst[1] >= want
    return Outcome(
        PASS if ok else FAIL,
        _("{n} days ({source})").format(n=worst[1], source=worst[2]),
        _("≥ {n} days").format(n=want),
        evidence,
    )


def chk_mac(chk: dict, ctx: Ctx) -> Outcome:
    if ctx.family == "redhat":
        kv = P.keyvals(ctx.files, "/etc/selinux/config", sep="=")
        mode = kv.get("SELINUX")
        live = (ctx.files.get("/sys/fs/selinux/enforce") or {}).get("exists")
        ok = bool(mode and mode.value.lower() == "enforcing" and live)
        obs = (
            _("SELINUX={mode}, selinuxfs present")
            if live
            else _("SELINUX={mode}, selinuxfs absent")
        ).format(mode=mode.value if mode else _("unset"))
        return Outcome(PASS if ok else FAIL, obs, _("SELINUX=enforcing and active"))
    aa = (ctx.files.get("/sys/kernel/security/apparmor") or {}).get("exists")
    pk = ctx.ev.get("packages") or {}
    ok = bool(aa and "apparmor" in pk)
    obs = join(
        [
            _("apparmor package installed") if "apparmor" in pk else _("apparmor package absent"),
            _("securityfs present") if aa else _("securityfs absent"),
        ],
        ", ",
    )
    return Outcome(PASS if ok else FAIL, obs, _("AppArmor installed and enabled"))


def chk_time_server(chk: dict, ctx: Ctx) -> Outcome:
    want = [str(s) for s in ctx.value(chk) or []]
    servers = []
    for pat in ("/etc/chrony/chrony.conf", "/etc/chrony.conf", "/etc/chrony/sources.d/*.sources"):
        for p in P.expand(ctx.files, pat):
            for n, text in P.lines_of(ctx.files, p):
                m = re.match(r"^\s*(server|pool|peer)\s+(\S+)", text)
                if m:
                    servers.append((m.group(2), f"{p}:{n}", text.strip()))
    for n, text in P.lines_of(ctx.files, "/etc/systemd/timesyncd.conf"):
        m = re.match(r"^\s*NTP=(.+)$", text)
        if m:
            servers += [
                (s, f"/etc/systemd/timesyncd.conf:{n}", text.strip()) for s in m.group(1).split()
            ]
    evidence = [ev(src, t) for _s, src, t in servers]
    names = [s for s, _a, _b in servers]
    if want:
        ok = any(s in want for s in names)
        exp = _("one of {servers}").format(servers=", ".join(want))
    else:
        ok = bool(names)
        exp = _("a time server configured (set baseline_ntp_servers to require the internal ones)")
    return Outcome(PASS if ok else FAIL, ", ".join(names) or _("no time server"), exp, evidence)


def chk_updates(chk: dict, ctx: Ctx) -> Outcome:
    up = ctx.ev.get("updates")
    if up is None:  # the operator chose not to ask (--no-updates / check_updates off)
        return Outcome(
            NOT_EVALUATED,
            _("not evaluated"),
            _("no pending security updates"),
            note="not evaluated: the update query was turned off (--no-updates)",
        )
    if not up.get("ok"):
        return Outcome(
            ERROR,
            "",
            _("no pending security updates"),
            note=f"package manager: {up.get('error', '')[:200]}",
        )
    sec = up.get("security") or []
    exp = _("no pending security updates")
    if sec:
        return Outcome(
            FAIL,
            _("{n} pending: {packages}").format(n=len(sec), packages=", ".join(sec[:10])),
            exp,
            [ev("package manager", ", ".join(sec))],
        )
    observed = _("0 security updates ({n} updates in total)").format(n=up.get("count", 0))
    return Outcome(PASS, observed, exp)


def chk_package_signatures(chk: dict, ctx: Ctx) -> Outcome:
    hits = []
    if ctx.family == "debian":
        for pat in ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*"):
            for p in P.expand(ctx.files, pat):
                for n, text in P.lines_of(ctx.files, p):
                    if re.search(r"^\s*deb.*trusted\s*=\s*yes|^\s*Trusted:\s*yes", text, re.I):
                        hits.append(ev(f"{p}:{n}", text.strip()))
        for p in P.expand(ctx.files, "/etc/apt/apt.conf.d/*"):
            for n, text in P.lines_of(ctx.files, p):
                if re.search(r"AllowUnauthenticated\s+\"?(true|1|yes)", text, re.I):
                    hits.append(ev(f"{p}:{n}", text.strip()))
        exp = _("no trusted=yes / AllowUnauthenticated")
    else:
        for pat in ("/etc/yum.conf", "/etc/dnf/dnf.conf", "/etc/yum.repos.d/*"):
            for p in P.expand(ctx.files, pat):
                for n, text in P.lines_of(ctx.files, p):
                    if re.match(r"^\s*gpgcheck\s*=\s*0", text):
                        hits.append(ev(f"{p}:{n}", text.strip()))
        exp = _("gpgcheck=1 everywhere")
    if hits:
        return Outcome(FAIL, "; ".join(h["text"] for h in hits[:5]), exp, hits)
    return Outcome(PASS, _("signature checks on"), exp)


def chk_sudoers(chk: dict, ctx: Ctx) -> Outcome:
    allowed = {str(x) for x in ctx.vars.get(chk.get("allow_var", ""), []) or []}
    paths = ["/etc/sudoers"] + [
        p
        for p in P.expand(ctx.files, "/etc/sudoers.d/*")
        if "." not in p.rsplit("/", 1)[-1] and not p.endswith("~")
    ]
    bad = []
    for p in paths:
        for n, text in P.lines_of(ctx.files, p):
            line = text.split("#", 1)[0].strip()
            m = re.match(r"^(\S+)\s+.*NOPASSWD\s*:\s*ALL\s*$", line)
            if (
                m
                and m.group(1) not in allowed
                and m.group(1).lstrip("%") not in allowed
                and not m.group(1).startswith(
                    ("Defaults", "Cmnd_Alias", "User_Alias", "Host_Alias")
                )
            ):
                bad.append(ev(f"{p}:{n}", line))
    exp = (
        _("no 'NOPASSWD: ALL' grants except {users}").format(users=", ".join(sorted(allowed)))
        if allowed
        else _("no 'NOPASSWD: ALL' grants")
    )
    if bad:
        return Outcome(FAIL, "; ".join(b["text"] for b in bad), exp, bad)
    return Outcome(PASS, _("none"), exp)


def chk_special_files(chk: dict, ctx: Ctx) -> Outcome:
    sf = ctx.ev.get("special_files")
    if sf is None:
        return Outcome(ERROR, "", "", note="special files not collected")
    if chk["kind"] == "world_writable":
        items = sf.get("world_writable") or []
        exp = _("no world-writable files; sticky bit on world-writable dirs")
    else:
        allow = set(ctx.vars.get(chk.get("allow_var", ""), []) or [])
        items = [x for x in sf.get("suid_sgid") or [] if x["path"] not in allow]
        exp = _("SUID/SGID programs only from the allow-list")
    if items:
        text = ", ".join(f"{x['path']} ({x['mode']})" for x in items[:20])
        return Outcome(FAIL, text, exp, [ev("filesystem scan", text)])
    return Outcome(PASS, _("none"), exp)


def chk_combined(chk: dict, ctx: Ctx) -> Outcome:
    outs = [run_check(sub, ctx) for sub in chk["checks"]]
    if chk["type"] == "all_of":
        verdict = (
            FAIL
            if any(o.verdict == FAIL for o in outs)
            else (ERROR if any(o.verdict == ERROR for o in outs) else PASS)
        )
        both = _("{a} and {b}")
    else:
        verdict = (
            PASS
            if any(o.verdict == PASS for o in outs)
            else (FAIL if any(o.verdict == FAIL for o in outs) else ERROR)
        )
        both = _("{a} or {b}")
    return Outcome(
        verdict,
        join([o.observed for o in outs if o.observed], " | "),
        functools.reduce(
            lambda a, b: both.format(a=a, b=b),
            [_("({expected})").format(expected=o.expected) for o in outs],
        ),
        [e for o in outs for e in o.evidence],
        " ".join(o.note for o in outs if o.note),
    )


CHECKS: dict[str, Callable[[dict, Ctx], Outcome]] = {
    "sshd": chk_sshd,
    "sshd_any": chk_sshd_any,
    "pam_option": chk_pam_option,
    "pam_module": chk_pam_module,
    "keyval": chk_keyval,
    "file_mode": chk_file_mode,
    "packages": chk_packages,
    "services": chk_services,
    "sysctl": chk_sysctl,
    "ports": chk_ports,
    "accounts": chk_accounts,
    "shell_var": chk_shell_var,
    "shell_umask": chk_shell_umask,
    "audit_watch": chk_audit_watch,
    "audit_regex": chk_audit_regex,
    "audit_immutable": chk_audit_immutable,
    "file_regex": chk_file_regex,
    "log_retention": chk_log_retention,
    "mac": chk_mac,
    "time_server": chk_time_server,
    "updates": chk_updates,
    "package_signatures": chk_package_signatures,
    "sudoers": chk_sudoers,
    "special_files": chk_special_files,
    "all_of": chk_combined,
    "any_of": chk_combined,
}


def run_check(chk: dict, ctx: Ctx) -> Outcome:
    try:
        return CHECKS[chk["type"]](chk, ctx)
    except Exception as e:  # one broken piece of evidence must not stop the others
        return Outcome(ERROR, "", "", note=f"evaluation failed: {type(e).__name__}: {e}")


def evaluate_control(
    control: Control, evidence: dict, host_vars: dict[str, Any], host: str
) -> Result:
    ctx = Ctx(evidence, host_vars)
    if control.kind == "manual":
        return Result(host, control.id, MANUAL, note="manual control: see the evidence file")
    if ctx.family not in control.applies_to and ctx.family != "unknown":
        return Result(host, control.id, NA, note=f"not for OS family {ctx.family}")
    if control.container and ctx.container:
        reason = control.container.get("en", "")
        return Result(
            host,
            control.id,
            NA,
            note=f"container: {reason}",
            observed=(evidence.get("virtualization") or {}).get("technology", "container"),
        )
    o = run_check(control.check, ctx)
    return Result(host, control.id, o.verdict, o.observed, o.expected, o.evidence, o.note)
