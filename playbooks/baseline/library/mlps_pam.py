#!/usr/bin/python3
"""Change the PAM stacks with the distribution's own tool, never by editing stack lines.

Debian/Ubuntu: ship profiles to /usr/share/pam-configs/ and run ``pam-auth-update
--enable/--disable``; pam-auth-update computes the jump counts itself and refuses to
overwrite hand-edited common-* files (this module then fails, naming the file, instead of
forcing). RHEL family (RHEL, openEuler, Kylin): ``authselect enable-feature`` +
``apply-changes``; a host whose PAM is not managed by authselect fails the same way.
Check mode reports what would change. After a change the stacks are read again and the
module fails unless every line of the enabled profiles / features is in place.
Standard library only (the host's python3).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

DOCUMENTATION = r"""
module: mlps_pam
short_description: Enable PAM profiles (pam-auth-update) or authselect features
options:
  profiles: {description: "Debian: name -> content written to /usr/share/pam-configs/", type: dict}
  enable: {description: "Debian: profiles to enable", type: list}
  disable: {description: "Debian: profiles to disable", type: list}
  features: {description: "RHEL family: authselect features to enable", type: list}
  root: {description: Prefix of every path (tests), default: /}
"""

PAM_CONFIGS = "/usr/share/pam-configs"
STACKS = {
    "auth": "common-auth",
    "account": "common-account",
    "password": "common-password",
    "session": "common-session",
}
SECTION = re.compile(r"^(Auth|Account|Password|Session)(-Initial)?:\s*$")


def _p(root, path):
    return os.path.join(root, path.lstrip("/")) if root and root != "/" else path


def profile_lines(content):
    """What a profile puts into the stacks: [(stack type, module, {accepted args})]. A
    line's ``-Initial`` twin (used when the profile comes first in its block) is accepted
    in its place."""
    regular, initial, current = {}, {}, None
    for raw in content.splitlines():
        m = SECTION.match(raw)
        if m:
            current = (initial if m.group(2) else regular).setdefault(m.group(1).lower(), [])
            continue
        if not raw[:1].isspace():
            current = None
            continue
        if current is not None and raw.strip():
            module, args = split_entry(raw.strip())
            if module:
                current.append((module, args))
    out = []
    for stack_type, entries in regular.items():
        twins = initial.get(stack_type) or []
        for i, (module, args) in enumerate(entries):
            accepted = {tuple(sorted(args))}
            if i < len(twins) and twins[i][0] == module:
                accepted.add(tuple(sorted(twins[i][1])))
            out.append((stack_type, module, accepted))
    return out


def split_entry(text):
    """``control module args`` -> (module, args); control may be ``[a=b c=d]``."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :] if end >= 0 else ""
    else:
        parts = text.split(None, 1)
        rest = parts[1] if len(parts) > 1 else ""
    parts = rest.split()
    if not parts:
        return None, ()
    return os.path.basename(parts[0]), tuple(parts[1:])


def stack_entries(root, stack_type):
    """(module, args) of the lines of one common-* file for its own type."""
    path = _p(root, "/etc/pam.d/" + STACKS[stack_type])
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("@"):
            continue
        kind = s.split(None, 1)[0]
        rest = s[len(kind) :]
        if kind.lstrip("-") != stack_type:
            continue
        out.append(split_entry(rest))
    return out


def missing_lines(root, contents):
    """Profile lines that are not (module and exactly its arguments) in the stacks."""
    missing = []
    for content in contents:
        for stack_type, module, accepted in profile_lines(content):
            have = [(m, tuple(sorted(a))) for m, a in stack_entries(root, stack_type)]
            if not any((module, a) in have for a in accepted):
                args = " ".join(sorted(accepted, key=len)[-1])
                missing.append(f"{STACKS[stack_type]}: {module} {args}")
    return missing


def run(argv):
    try:
        p = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(os.environ, LC_ALL="C", DEBIAN_FRONTEND="noninteractive"),
        )
        out, err = p.communicate(timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, "", str(e)
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def write_atomic(path, content):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".mlps-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def debian(params, check, root, runner=run):
    profiles = params.get("profiles") or {}
    enable = list(params.get("enable") or [])
    disable = list(params.get("disable") or [])
    result = {"changed": False, "tool": "pam-auth-update", "profiles_written": []}
    contents = []
    for name, content in sorted(profiles.items()):
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            return dict(result, failed=True, msg=f"bad profile name {name!r}")
        content = content if content.endswith("\n") else content + "\n"
        path = _p(root, PAM_CONFIGS + "/" + name)
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except OSError:
            old = None
        if old != content:
            result["profiles_written"].append(PAM_CONFIGS + "/" + name)
            if not check:
                write_atomic(path, content)
    for name in enable:
        if name in profiles:
            contents.append(profiles[name])
            continue
        try:
            with open(_p(root, PAM_CONFIGS + "/" + name), encoding="utf-8") as f:
                contents.append(f.read())
        except OSError:
            if check:  # its package may be installed by an earlier task of this run
                continue
            return dict(
                result,
                failed=True,
                msg=f"profile {name} not found in {PAM_CONFIGS} (is its package installed?)",
            )
    missing = missing_lines(root, contents)
    result["missing_before"] = missing
    if not missing and not result["profiles_written"]:
        return result
    result["changed"] = True
    argv = ["pam-auth-update"]
    if enable:
        argv += ["--enable", *enable]
    if disable:
        argv += ["--disable", *disable]
    result["command"] = " ".join(argv)
    if check:
        return result
    rc, out, err = runner(argv)
    result["stdout"], result["stderr"] = out[-2000:], err[-2000:]
    if rc != 0:
        return dict(result, failed=True, msg=f"{argv[0]} failed (rc {rc}): {err[-500:]}")
    still = missing_lines(root, contents)
    if still:
        return dict(
            result,
            failed=True,
            msg="pam-auth-update did not put in place: {}. {} The stacks were left as they "
            "are (local modifications to /etc/pam.d/common-* are never overwritten; review "
            "them, then run pam-auth-update --force).".format(
                "; ".join(still), (out + err).strip()[-300:]
            ),
        )
    return result


def redhat(params, check, runner=run):
    features = list(params.get("features") or [])
    result = {"changed": False, "tool": "authselect"}
    rc, out, err = runner(["authselect", "current", "--raw"])
    if rc != 0:
        return dict(
            result,
            failed=True,
            msg=f"authselect does not manage PAM on this host ({(err or out).strip()[:200]}); "
            "select a profile first (authselect select local / sssd), cloudctl never edits "
            "PAM stack lines by hand",
        )
    enabled = set(out.split()[1:])
    todo = [f for f in features if f not in enabled]
    result["profile"] = out.split()[0] if out.split() else ""
    result["enable"] = todo
    if not todo:
        return result
    result["changed"] = True
    if check:
        return result
    for f in todo:
        rc, _out, err2 = runner(["authselect", "enable-feature", f])
        if rc != 0:
            return dict(result, failed=True, msg=f"authselect enable-feature {f}: {err2[-300:]}")
    rc, _out, err2 = runner(["authselect", "apply-changes"])
    if rc != 0:
        return dict(result, failed=True, msg=f"authselect apply-changes: {err2[-300:]}")
    rc, out, err = runner(["authselect", "current", "--raw"])
    still = [f for f in features if f not in set(out.split()[1:])]
    if still:
        return dict(result, failed=True, msg="authselect did not enable: " + ", ".join(still))
    return result


def apply(params, check, root="/", runner=run, family=None):
    if family is None:
        family = "none"
        if os.path.exists(_p(root, "/usr/sbin/pam-auth-update")):
            family = "debian"
        elif any(os.path.exists(_p(root, d + "/authselect")) for d in ("/usr/bin", "/usr/sbin")):
            family = "redhat"
    if family == "redhat" and params.get("features") is None:
        return {"changed": False, "skipped": True, "msg": "nothing for the RHEL family"}
    if family == "debian":
        if params.get("profiles") is None and params.get("enable") is None:
            return {"changed": False, "skipped": True, "msg": "nothing for Debian"}
        return debian(params, check, root, runner)
    if family == "redhat":
        return redhat(params, check, runner)
    return {
        "failed": True,
        "msg": "neither pam-auth-update nor authselect is available: "
        "cloudctl never edits PAM stack lines by hand",
    }


JSON_ARGS = r"""<<INCLUDE_ANSIBLE_MODULE_JSON_ARGS>>"""


def main(raw=JSON_ARGS):
    try:
        given = json.loads(raw)
    except ValueError as e:
        print(json.dumps({"failed": True, "msg": f"arguments are not JSON: {e}"}))
        sys.exit(1)
    allowed = {"profiles", "enable", "disable", "features", "root"}
    unknown = sorted(k for k in given if k not in allowed and not k.startswith("_ansible_"))
    if unknown:
        print(json.dumps({"failed": True, "msg": "unsupported parameters: " + ", ".join(unknown)}))
        sys.exit(1)
    check = bool(given.get("_ansible_check_mode"))
    res = apply(given, check, given.get("root") or "/")
    print(json.dumps(res))
    sys.exit(1 if res.get("failed") else 0)


if __name__ == "__main__":
    main()
