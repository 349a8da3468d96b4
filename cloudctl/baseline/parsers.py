"""Parsers that turn configuration text into effective values, the way the programs that
read them do: sshd (first match, Include, Match, case-insensitive keywords), PAM stacks
(@include / include / substack), key-value files, shell start-up files, sysctl.d order,
audit rules and logrotate. Pure functions over the evidence's ``files`` map."""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from dataclasses import dataclass, field

Files = dict[str, dict]


@dataclass(frozen=True)
class Setting:
    value: str
    source: str  # "path:line" or "sshd -T"


def content(files: Files, path: str) -> str | None:
    f = files.get(path)
    if not f or not f.get("exists"):
        return None
    return f.get("content")


def expand(files: Files, pattern: str) -> list[str]:
    """Paths of the evidence matching a glob, sorted like the shell does."""
    if not any(c in pattern for c in "*?["):
        return [pattern] if pattern in files and files[pattern].get("exists") else []
    return sorted(
        p for p, f in files.items() if f.get("exists") and fnmatch.fnmatchcase(p, pattern)
    )


def lines_of(files: Files, path: str) -> list[tuple[int, str]]:
    text = content(files, path)
    return list(enumerate(text.splitlines(), 1)) if text is not None else []


# --- sshd ----------------------------------------------------------------------------
SSHD_MULTI = {
    "allowusers",
    "allowgroups",
    "denyusers",
    "denygroups",
    "hostkey",
    "port",
    "listenaddress",
    "acceptenv",
    "setenv",
    "subsystem",
}
SSHD_DEFAULTS = {  # OpenSSH 8.x/9.x compiled-in defaults of the keys the catalog checks
    "permitrootlogin": "prohibit-password",
    "permitemptypasswords": "no",
    "maxauthtries": "6",
    "clientaliveinterval": "0",
    "clientalivecountmax": "3",
    "logingracetime": "120",
    "x11forwarding": "no",
    "ciphers": "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com",
    "macs": "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
    "kexalgorithms": "sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
}
_TIME_KEYS = {"logingracetime", "clientaliveinterval"}


def sshd_time(value: str) -> str:
    """'1m30s' -> '90' (sshd's time format); other values unchanged."""
    v = value.strip().lower()
    if re.fullmatch(r"(\d+[smhdw]?)+", v):
        mult = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "": 1}
        return str(sum(int(n) * mult[u] for n, u in re.findall(r"(\d+)([smhdw]?)", v)))
    return value


@dataclass
class SshdConfig:
    """Global (first-match) settings, and the settings of each Match block."""

    settings: dict[str, Setting] = field(default_factory=dict)
    matches: list[tuple[str, dict[str, Setting]]] = field(default_factory=list)
    files_read: list[str] = field(default_factory=list)


def parse_sshd(files: Files, main: str = "/etc/ssh/sshd_config") -> SshdConfig:
    cfg = SshdConfig()
    state = {"block": cfg.settings}

    def put(block: dict, key: str, value: str, src: str) -> None:
        if key in SSHD_MULTI:
            if key in block:
                block[key] = Setting(block[key].value + " " + value, block[key].source)
            else:
                block[key] = Setting(value, src)
        elif key not in block:  # first obtained value wins
            block[key] = Setting(value, src)

    def read(path: str, depth: int) -> None:
        if depth > 8 or content(files, path) is None:
            return
        cfg.files_read.append(path)
        for n, raw in lines_of(files, path):
            line = raw.split("#", 1)[0].strip() if "#" in raw else raw.strip()
            if not line:
                continue
            m = re.match(r"(\S+)\s*(?:=\s*|\s+)(.*)$", line)
            if not m:
                continue
            key, value = m.group(1).lower(), m.group(2).strip().strip('"')
            if key == "include":
                for pat in shlex.split(value):
                    pat = pat if pat.startswith("/") else posixpath.join("/etc/ssh", pat)
                    for p in expand(files, pat):
                        read(p, depth + 1)
                continue
            if key == "match":
                block: dict[str, Setting] = {}
                if value.lower() == "all":
                    state["block"] = cfg.settings
                else:
                    cfg.matches.append((value, block))
                    state["block"] = block
                continue
            if key in _TIME_KEYS:
                value = sshd_time(value)
            put(state["block"], key, value, f"{path}:{n}")

    read(main, 0)
    return cfg


def sshd_effective(
    evidence: dict, key: str
) -> tuple[Setting | None, list[tuple[str, Setting]], str]:
    """(global effective value, values set by Match blocks, how it was determined)."""
    key = key.lower()
    parsed = parse_sshd(evidence.get("files") or {})
    match_vals = [(crit, blk[key]) for crit, blk in parsed.matches if key in blk]
    sshd = evidence.get("sshd") or {}
    if sshd.get("ok"):
        raw = (sshd.get("config") or {}).get(key)
        if raw is None:
            return None, match_vals, "sshd -T"
        value = " ".join(raw.split("\n"))
        return (
            Setting(sshd_time(value) if key in _TIME_KEYS else value, "sshd -T"),
            match_vals,
            "sshd -T",
        )
    if key in parsed.settings:
        return parsed.settings[key], match_vals, "parsed"
    if key in SSHD_DEFAULTS:
        return Setting(SSHD_DEFAULTS[key], "OpenSSH default"), match_vals, "parsed"
    return None, match_vals, "parsed"


# --- PAM -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PamEntry:
    type: str
    control: str
    module: str
    args: tuple[str, ...]
    source: str

    def arg(self, name: str) -> str | None:
        """Value of ``name=value`` (or '' for a bare flag), None when absent."""
        for a in self.args:
            if a == name:
                return ""
            if a.startswith(name + "="):
                return a.split("=", 1)[1]
        return None


_PAM_LINE = re.compile(r"^\s*(-?)(\w+)\s+(\[[^\]]*\]|\S+)\s+(\S+)\s*(.*)$")


def parse_pam(files: Files, service: str, depth: int = 0) -> list[PamEntry]:
    """The stack of one /etc/pam.d service, with @include/include/substack followed."""
    path = service if service.startswith("/") else f"/etc/pam.d/{service}"
    out: list[PamEntry] = []
    if depth > 8:
        return out
    for n, raw in lines_of(files, path):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if line.strip().startswith("@include"):
            parts = line.split()
            if len(parts) > 1:
                out += parse_pam(files, parts[1], depth + 1)
            continue
        m = _PAM_LINE.match(line)
        if not m:
            continue
        _dash, typ, control, module, rest = m.groups()
        if control in ("include", "substack"):
            out += [e for e in parse_pam(files, module, depth + 1) if e.type == typ.lower()]
            continue
        out.append(
            PamEntry(
                typ.lower(), control, posixpath.basename(module), tuple(rest.split()), f"{path}:{n}"
            )
        )
    return out


# --- key/value files -----------------------------------------------------------------
def keyvals(
    files: Files, path: str, sep: str = "space", case_insensitive_keys: bool = False
) -> dict[str, Setting]:
    """Last occurrence wins; '#' starts a comment; sep 'space' or '=' (either accepted for '=')."""
    out: dict[str, Setting] = {}
    for n, raw in lines_of(files, path):
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("$") else raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" in line and sep != "space":
            k, v = line.split("=", 1)
        else:
            parts = line.split(None, 1)
            if len(parts) == 1:
                k, v = parts[0], ""
            else:
                k, v = parts
        k = k.strip()
        out[k.lower() if case_insensitive_keys else k] = Setting(
            v.strip().strip('"'), f"{path}:{n}"
        )
    return out


# --- shell start-up files ------------------------------------------------------------
PROFILE_FILES = ["/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc", "/etc/bashrc"]


def profile_order(files: Files) -> list[str]:
    out: list[str] = []
    for pat in PROFILE_FILES:
        out += [p for p in expand(files, pat) if p not in out]
    return out


@dataclass
class ShellVar:
    value: str | None = None
    source: str = ""
    readonly: bool = False
    exported: bool = False
    assignments: list[Setting] = field(default_factory=list)


def shell_var(files: Files, name: str) -> ShellVar:
    """Effective value of a variable set in the login start-up files: the first readonly
    assignment freezes it; otherwise the last assignment counts."""
    sv = ShellVar()
    frozen = False
    assign = re.compile(
        rf"^\s*(?:(export|readonly|declare\s+-\w+|typeset\s+-\w+)\s+)?{name}=[\"']?(\d+)[\"']?"
    )
    for path in profile_order(files):
        for n, raw in lines_of(files, path):
            line = raw.split("#", 1)[0]
            m = assign.match(line)
            if m:
                sv.assignments.append(Setting(m.group(2), f"{path}:{n}"))
                prefix = m.group(1) or ""
                if not frozen:
                    sv.value, sv.source = m.group(2), f"{path}:{n}"
                if prefix == "export":
                    sv.exported = True
                if prefix == "readonly" or re.match(r"(declare|typeset)\s+-\w*r", prefix):
                    sv.readonly, frozen = True, True
                if re.match(r"(declare|typeset)\s+-\w*x", prefix):
                    sv.exported = True
            if re.match(rf"^\s*readonly\s+(\w+\s+)*{name}\b", line):
                sv.readonly, frozen = True, True
            if re.match(rf"^\s*export\s+(\w+\s+)*{name}\b", line):
                sv.exported = True
    return sv


def shell_umask(files: Files) -> list[Setting]:
    out: list[Setting] = []
    for path in profile_order(files):
        for n, raw in lines_of(files, path):
            m = re.match(r"^\s*umask\s+(0?[0-7]{3})\b", raw.split("#", 1)[0])
            if m:
                out.append(Setting(m.group(1), f"{path}:{n}"))
    return out


# --- sysctl --------------------------------------------------------------------------
def sysctl_persisted(files: Files) -> dict[str, Setting]:
    """systemd-sysctl order: files of /etc, /run, /usr/lib sysctl.d by name (same name: /etc
    wins), then /etc/sysctl.conf; the last assignment of a key wins."""
    by_name: dict[str, str] = {}
    for d in ("/usr/lib/sysctl.d", "/run/sysctl.d", "/etc/sysctl.d"):
        for p in expand(files, d + "/*.conf"):
            by_name[posixpath.basename(p)] = p
    order = [by_name[n] for n in sorted(by_name)]
    if "/etc/sysctl.conf" not in order:
        order.append("/etc/sysctl.conf")
    out: dict[str, Setting] = {}
    for path in order:
        for n, raw in lines_of(files, path):
            line = raw.strip()
            if not line or line[0] in "#;" or "=" not in line:
                continue
            k, v = line.split("=", 1)
            k = k.strip().lstrip("-").replace("/", ".")
            out[k] = Setting(" ".join(v.split()), f"{path}:{n}")
    return out


# --- audit rules ---------------------------------------------------------------------
def audit_rules(files: Files) -> list[Setting]:
    """rules.d/*.rules (what augenrules loads) when present, else audit.rules."""
    paths = expand(files, "/etc/audit/rules.d/*.rules") or expand(files, "/etc/audit/audit.rules")
    out = []
    for p in paths:
        for n, raw in lines_of(files, p):
            line = raw.split("#", 1)[0].strip()
            if line:
                out.append(Setting(line, f"{p}:{n}"))
    return out


# --- logrotate -----------------------------------------------------------------------
PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 31, "yearly": 365}


def logrotate_days(files: Files, path: str) -> list[tuple[str, int, str]]:
    """For each block of ``path``: (block files, days kept, source), defaults from
    /etc/logrotate.conf."""
    g_period, g_rotate = "weekly", 1
    for _n, raw in lines_of(files, "/etc/logrotate.conf"):
        if raw.startswith((" ", "\t")):
            continue
        w = raw.split()
        if w and w[0] in PERIOD_DAYS:
            g_period = w[0]
        if len(w) == 2 and w[0] == "rotate" and w[1].isdigit():
            g_rotate = int(w[1])
    out = []
    block, period, rotate, maxage, start = None, g_period, g_rotate, None, 0
    pending: list[str] = []  # file names listed on the lines before "{"
    for n, raw in lines_of(files, path):
        line = raw.split("#", 1)[0].strip()
        if block is None and line and not line.endswith("{"):
            pending.append(line)
            continue
        if line.endswith("{"):
            names = " ".join([*pending, line[:-1].strip()]).strip() or "?"
            block, period, rotate, maxage, start = names, g_period, g_rotate, None, n
            pending = []
            continue
        if line == "}" and block is not None:
            days = PERIOD_DAYS[period] * rotate
            if maxage is not None:
                days = min(days, maxage)
            out.append((block, days, f"{path}:{start}"))
            block = None
            continue
        w = line.split()
        if not w:
            continue
        if w[0] in PERIOD_DAYS:
            period = w[0]
        elif w[0] == "rotate" and len(w) > 1 and w[1].isdigit():
            rotate = int(w[1])
        elif w[0] == "maxage" and len(w) > 1 and w[1].isdigit():
            maxage = int(w[1])
    return out
