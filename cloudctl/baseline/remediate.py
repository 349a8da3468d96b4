"""Build the remediation playbook from the catalog: each control's tasks in one
block/rescue, tagged with the control id and limited to the hosts where it failed.

Rules every generated task follows (issue 12):
- **Isolation**: a failing task fails its control only (the rescue records it); the other
  controls still run, and handlers (sshd reload) are flushed at the end for what did change
  (``force_handlers``).
- **Never weaker**: a setting whose current value already meets the requirement is not
  touched; a change only moves towards stricter (``mlps_stricter``: modes lose bits,
  umasks gain them, ordered values never move down), and a file's mode is never loosened.
- **In effect**: sshd changes go to a drop-in read first (first match wins), are validated
  with ``sshd -t``, and the play ends with a reload and a check that the running sshd has
  loaded its configuration.
- **PAM through the distribution's tool** (``mlps_pam``: pam-auth-update / authselect),
  never by editing stack lines.
- **Check mode** previews every control and never fails the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from cloudctl.baseline.catalog import Control, Profile

SSHD_DROPIN = "/etc/ssh/sshd_config.d/00-cloudctl-mlps.conf"
SYSCTL_FILE = "/etc/sysctl.d/99-zz-cloudctl-mlps.conf"
AUDIT_RULES_FILE = "/etc/audit/rules.d/50-cloudctl-mlps.rules"
FAMILY = "('debian' if ansible_os_family == 'Debian' else 'redhat')"
FAILED_MARK = "FAILED (recorded; the other controls go on)"
SSHD_RUNTIME_TASK = "sshd-runtime | the running sshd has loaded its configuration"
# Check operators -> the strictness rule of mlps_stricter.
_RULE_OPS = {
    "le": "le",
    "ge": "ge",
    "between": "between",
    "mode_le": "mode",
    "umask": "umask",
    "in": "in",
    "not_in": "not_in",
    "forbid": "forbid",
    "eq": "eq",
    "flag": "eq",
}


def _default_expr(value: Any) -> str:
    if isinstance(value, str) and value.strip().startswith("{{") and value.strip().endswith("}}"):
        return "(" + value.strip()[2:-2].strip() + ")"
    return json.dumps(value, ensure_ascii=False)


def vars_task(profile: Profile) -> dict:
    """One set_fact that resolves every profile variable for the host: inventory
    ``baseline_<name>`` wins over the profile default."""
    parts = ", ".join(
        f"{json.dumps(name)}: (baseline_{name} | default({_default_expr(v.default)}))"
        for name, v in profile.variables.items()
    )
    return {
        "name": "Resolve the baseline variables of this host",
        "ansible.builtin.set_fact": {"mlps": "{{ {" + parts + "} }}"},
        "tags": ["always"],
    }


def _reg(*parts: str) -> str:
    return "mlps_" + "_".join(re.sub(r"\W", "_", p) for p in parts)


def _expr(value: Any) -> str:
    """A catalog value as a Jinja expression: ``{{ x }}`` -> ``(x)``, else JSON."""
    return _default_expr(value)


def strictness_rule(check: dict, target: Any) -> str:
    """The rule (a Jinja dict expression) that says when a current value already meets the
    control's check, derived from the check itself so the two never disagree."""
    op = _RULE_OPS.get(str(check.get("op", "eq")), "eq")
    parts = [f'"op": "{op}"']
    if check.get("min") is not None:
        parts.append(f'"min": {json.dumps(check["min"])}')
    if check.get("accept"):
        parts.append(f'"accept": {json.dumps([str(a) for a in check["accept"]])}')
    if op in ("in", "not_in"):
        allowed = f"mlps.{check['var']}" if check.get("var") else json.dumps(check.get("value"))
        parts.append(f'"allowed": {allowed}')
    if op == "forbid":
        pattern = f"mlps.{check['var']}" if check.get("var") else json.dumps(check.get("value"))
        parts.append(f'"pattern": {pattern}')
    if op not in ("in", "not_in", "forbid"):
        parts.append(f'"value": {_expr(target)}')
    return "{" + ", ".join(parts) + "}"


def _mode_expr(path: str, target: str) -> str:
    """A file's new mode: never looser than what it has (``mlps_modes`` holds the modes of
    the files the play touches, read once at the start)."""
    return (
        f"{{{{ mlps_modes.get({json.dumps(path)}) | mlps_stricter({json.dumps(target)}, "
        '{"op": "mode"}) }}'
    )


def _sshd_tasks(settings: dict[str, str], c: Control) -> list[dict]:
    reg = _reg("sshd_t", c.id)
    tasks: list[dict] = [
        {
            "name": "effective sshd configuration (read-only)",
            "ansible.builtin.command": "/usr/sbin/sshd -T",
            "register": reg,
            "changed_when": False,
            "check_mode": False,
        },
        {
            "name": "sshd reads the drop-in directory first",
            "ansible.builtin.lineinfile": {
                "path": "/etc/ssh/sshd_config",
                "line": "Include /etc/ssh/sshd_config.d/*.conf",
                "insertbefore": "BOF",
                "validate": "/usr/sbin/sshd -t -f %s",
            },
            "notify": "mlps reload sshd",
        },
        {
            "name": "sshd drop-in directory",
            "ansible.builtin.file": {"path": "/etc/ssh/sshd_config.d", "state": "directory"},
        },
    ]
    sub_checks = [x for x in [c.check, *(c.check.get("checks") or [])] if x.get("type") == "sshd"]
    for key, value in settings.items():
        chk = next((x for x in sub_checks if str(x.get("key", "")).lower() == key.lower()), None)
        rule = strictness_rule(chk, value) if chk else '{"op": "set"}'
        current = f"({reg}.stdout | mlps_sshd_value({json.dumps(key)}))"
        when = [f"({json.dumps(value)} | string | length) > 0"]
        if chk:
            when.append(f"not ({current} | mlps_meets({rule}))")
        else:  # sshd_any (AllowUsers/AllowGroups): an existing restriction is kept as it is
            when.append(
                f"not ({reg}.stdout | mlps_sshd_value('allowusers') | default('', true) ~ "
                f"{reg}.stdout | mlps_sshd_value('allowgroups') | default('', true))"
            )
        tasks.append(
            {
                "name": f"sshd {key}",
                "ansible.builtin.lineinfile": {
                    "path": SSHD_DROPIN,
                    "regexp": rf"^\s*{key}\s",
                    "line": f"{key} {{{{ {current} | mlps_stricter({_expr(value)}, {rule}) }}}}"
                    if chk
                    else f"{key} {value}",
                    "create": True,
                    "mode": _mode_expr(SSHD_DROPIN, "0600"),
                    "validate": "/usr/sbin/sshd -t -f %s",
                },
                "when": when,
                "notify": "mlps reload sshd",
            }
        )
    tasks.append(
        {
            # the file may be right while the daemon still runs an older configuration
            "name": "is the running sshd older than its configuration (read-only)",
            "mlps_evidence": {"only": ["sshd_runtime"]},
            "register": _reg("sshd_rt", c.id),
            "check_mode": False,
            "changed_when": f"{_reg('sshd_rt', c.id)}.evidence.sshd_runtime.stale | default(false)",
            "notify": "mlps reload sshd",
        }
    )
    return tasks


def _keyval_tasks(spec: dict, c: Control) -> list[dict]:
    key, path = spec["key"], spec["path"]
    sep = spec.get("sep", " ")
    reg = _reg("kv", c.id, key)
    chk = c.check if c.check.get("type") in ("keyval", "pam_option") else {}
    rule = strictness_rule(chk, spec["value"]) if chk else '{"op": "eq"}'
    if spec.get("order"):
        rule = rule[:-1] + f', "order": {json.dumps(spec["order"])}}}'
    parse_sep = "=" if "=" in sep else "space"
    ci = "true" if chk.get("case_insensitive") else "false"
    # absent from the file: the value the check assumes then (the program's default)
    absent = json.dumps(str(chk["default"])) if chk.get("default") is not None else "none"
    current = (
        f"({reg}.content | default('') | b64decode | "
        f"mlps_keyval({json.dumps(key)}, {json.dumps(parse_sep)}, {ci}) | default({absent}, true))"
    )
    return [
        {
            "name": f"current {key} in {path} (read-only)",
            "ansible.builtin.slurp": {"src": path},
            "register": reg,
            "failed_when": False,
            "check_mode": False,
        },
        {
            "name": f"{key} in {path}",
            "ansible.builtin.lineinfile": {
                "path": path,
                "regexp": rf"^\s*{re.escape(key)}(\s|=|$)",
                "line": f"{key}{sep}{{{{ {current} | "
                f"mlps_stricter({_expr(spec['value'])}, {rule}) }}}}",
                "create": True,
                "mode": _mode_expr(path, spec.get("mode", "0644")),
            },
            "when": f"not ({current} | mlps_meets({rule}))",
        },
    ]


def _sysctl_tasks(settings: dict[str, str]) -> list[dict]:
    tasks = []
    for key, value in settings.items():
        tasks.append(
            {
                "name": f"persist {key} = {value}",
                "ansible.builtin.lineinfile": {
                    "path": SYSCTL_FILE,
                    "regexp": rf"^\s*{re.escape(key)}\s*=",
                    "line": f"{key} = {value}",
                    "create": True,
                    "mode": _mode_expr(SYSCTL_FILE, "0644"),
                },
            }
        )
        tasks.append(
            {
                # kernel.*/fs.* are read-only in a container: applying live is best effort.
                "name": f"apply {key} = {value} now (best effort)",
                "ansible.builtin.shell": (
                    f'cur=$(sysctl -n {key} 2>/dev/null || true); if [ "$cur" != "{value}" ]; then '
                    f"sysctl -q -w {key}={value} >/dev/null 2>&1 && echo changed || true; fi"
                ),
                "register": "mlps_sysctl",
                "changed_when": "mlps_sysctl.stdout == 'changed'",
                "failed_when": False,
                "when": "not ansible_check_mode",
            }
        )
    return tasks


def _packages_task(spec: Any, state: str, var: str | None = None) -> list[dict]:
    if var:
        return [
            {
                "name": f"packages {state}: {var}",
                "ansible.builtin.package": {
                    "name": f"{{{{ mlps.{var}[{FAMILY}] }}}}",
                    "state": state,
                },
            }
        ]
    out = []
    for fam, names in spec.items():
        if fam == "debian" and state == "present":
            # no Recommends: aide would otherwise pull in a mail server (a SUID exim4)
            module = {
                "ansible.builtin.apt": {
                    "name": list(names),
                    "state": state,
                    "install_recommends": False,
                }
            }
        else:
            module = {"ansible.builtin.package": {"name": list(names), "state": state}}
        out.append(
            {
                "name": f"packages {state} ({fam}): {', '.join(names)}",
                **module,
                "when": f"{FAMILY} == '{fam}'",
            }
        )
    return out


def _file_mode_tasks(spec: dict, cid: str) -> list[dict]:
    out = []
    for path in spec["paths"]:
        reg = _reg("stat", cid, path)
        out.append(
            {
                "name": f"current mode of {path} (read-only)",
                "ansible.builtin.stat": {"path": path, "get_checksum": False},
                "register": reg,
            }
        )
        task: dict[str, Any] = {
            "name": f"{path} {spec['mode']} or stricter, {spec.get('owner', 'root')}:{spec.get('group', 'root')}",  # noqa: E501
            "ansible.builtin.file": {
                "path": path,
                "state": "file",
                # never looser: keep every bit the file lacks (0600 stays 0600 under a 0640 rule)
                "mode": f"{{{{ {reg}.stat.mode | default(none) | mlps_stricter({json.dumps(spec['mode'])}, "  # noqa: E501
                '{"op": "mode"}) }}',
                "owner": spec.get("owner", "root"),
                "group": spec.get("group", "root"),
            },
        }
        if spec.get("only_if_exists"):
            task["when"] = f"{reg}.stat.exists"
        out.append(task)
    return out


def _pam_tasks(spec: dict) -> list[dict]:
    deb, rh = spec.get("debian") or {}, spec.get("redhat") or {}
    args: dict[str, Any] = {}
    if deb:
        args["profiles"] = dict(deb.get("profiles") or {})
        args["enable"] = list(deb.get("enable") or [])
        if deb.get("disable"):
            args["disable"] = list(deb["disable"])
    if rh:
        args["features"] = list(rh.get("features") or [])
    what = " ".join(args.get("enable") or []) or " ".join(args.get("features") or [])
    return [
        {
            "name": f"PAM by the distribution's tool (pam-auth-update / authselect): {what}",
            "mlps_pam": args,
        }
    ]


def _audit_rule_tasks(lines: list[str]) -> list[dict]:
    return [
        {
            "name": f"audit rule {line}",
            "ansible.builtin.lineinfile": {
                "path": AUDIT_RULES_FILE,
                "line": line,
                "create": True,
                "mode": _mode_expr(AUDIT_RULES_FILE, "0640"),
            },
            "notify": "mlps load audit rules",
        }
        for line in lines
    ]


def _never_looser(task: dict) -> dict:
    """Catalog tasks that write a file with a mode (copy/file/template) keep any stricter
    mode the file already has."""
    t = dict(task)
    for mod in ("ansible.builtin.copy", "ansible.builtin.file", "ansible.builtin.template"):
        body = t.get(mod)
        if isinstance(body, dict) and body.get("mode") and (body.get("dest") or body.get("path")):
            path = str(body.get("dest") or body.get("path"))
            if "{{" not in path:
                t[mod] = dict(body, mode=_mode_expr(path, str(body["mode"])))
    return t


def managed_paths(controls: list[Control]) -> list[str]:
    """Every file whose mode the play may set: read once at the start (``mlps_modes``)."""
    paths: set[str] = set()
    for c in controls:
        r = c.remediation
        if "sshd" in r:
            paths.add(SSHD_DROPIN)
        if "sysctl" in r:
            paths.add(SYSCTL_FILE)
        if "audit_rules" in r:
            paths.add(AUDIT_RULES_FILE)
        if "keyval" in r:
            paths.add(r["keyval"]["path"])
        for t in r.get("tasks") or []:
            for mod in ("ansible.builtin.copy", "ansible.builtin.file", "ansible.builtin.template"):
                body = t.get(mod)
                if isinstance(body, dict) and body.get("mode"):
                    p = str(body.get("dest") or body.get("path") or "")
                    if p and "{{" not in p:
                        paths.add(p)
    return sorted(paths)


def control_tasks(c: Control) -> list[dict]:
    r = c.remediation
    tasks: list[dict] = []
    if "packages_present" in r:
        tasks += _packages_task(r["packages_present"], "present")
    if "packages_absent" in r:
        tasks += _packages_task(r["packages_absent"], "absent")
    if "packages_absent_var" in r:
        tasks += _packages_task(None, "absent", r["packages_absent_var"])
    if "pam" in r:
        tasks += _pam_tasks(r["pam"])
    if "sshd" in r:
        tasks += _sshd_tasks(r["sshd"], c)
    if "keyval" in r:
        tasks += _keyval_tasks(r["keyval"], c)
    if "sysctl" in r:
        tasks += _sysctl_tasks(r["sysctl"])
    if "file_mode" in r:
        tasks += _file_mode_tasks(r["file_mode"], c.id)
    if "audit_rules" in r:
        tasks += _audit_rule_tasks(r["audit_rules"])
    tasks += [_never_looser(t) for t in r.get("tasks") or []]
    return tasks


HANDLERS = [
    {
        "name": "mlps validate sshd",
        "ansible.builtin.command": "/usr/sbin/sshd -t",
        "changed_when": False,
        "listen": "mlps reload sshd",
    },
    {
        "name": "mlps reload sshd service",
        "ansible.builtin.service": {
            "name": "{{ 'ssh' if ansible_os_family == 'Debian' else 'sshd' }}",
            "state": "reloaded",
        },
        "listen": "mlps reload sshd",
    },
    {
        "name": "mlps restart rsyslog",
        "ansible.builtin.service": {"name": "rsyslog", "state": "restarted"},
    },
    {
        # auditd cannot load rules in a container (no audit control): best effort.
        "name": "mlps load audit rules",
        "ansible.builtin.command": "augenrules --load",
        "changed_when": False,
        "failed_when": False,
    },
]


def modes_tasks(paths: list[str]) -> list[dict]:
    """Read the current mode of every file the play may write, once (read-only, one
    command): tasks then never loosen one of them."""
    quoted = " ".join(json.dumps(p) for p in paths)
    return [
        {
            "name": "Current modes of the files remediation may write (read-only)",
            "ansible.builtin.shell": f"stat -c '%a %n' {quoted} 2>/dev/null; true",
            "register": "mlps_modes_raw",
            "changed_when": False,
            "check_mode": False,
            "tags": ["always"],
        },
        {
            "name": "Remember them",
            "ansible.builtin.set_fact": {
                "mlps_modes": "{{ mlps_modes_raw.stdout | default('') | mlps_modes_from_stat }}"
            },
            "tags": ["always"],
        },
    ]


def control_block(c: Control) -> dict | None:
    """One control: its tasks in a block whose rescue records the failure, so the
    remaining controls still run (the failed task's event names the control)."""
    body = control_tasks(c)
    if not body:
        return None
    for task in body:  # "<control> | <task>": events map back to the control
        task["name"] = f"{c.id} | {task.get('name', 'task')}"
    return {
        "name": f"{c.id}: {c.title.get('en', '')}",
        "tags": [c.id, f"{c.clause} {c.item}".replace(" ", "_"), c.unit],
        "when": f"mlps_targets is not defined or inventory_hostname in (mlps_targets.get('{c.id}') or [])",  # noqa: E501
        "block": body,
        "rescue": [
            {
                "name": f"{c.id} | {FAILED_MARK}",
                "ansible.builtin.debug": {
                    "msg": "{{ ansible_failed_task.name | default('') }}: "
                    "{{ ansible_failed_result.msg | default('') }}"
                },
            }
        ],
    }


def build_playbook(profile: Profile, controls: list[Control], hosts: str = "all") -> list[dict]:
    """The play. Without the extra var ``mlps_targets`` ({control: [hosts]}) every control
    applies to every host (plain ansible-playbook use, with --tags to pick controls)."""
    tasks: list[dict] = [vars_task(profile), *modes_tasks(managed_paths(controls))]
    tasks += [b for b in (control_block(c) for c in controls) if b]
    sshd_ids = [c.id for c in controls if "sshd" in c.remediation]
    tasks += [
        {
            "name": "Apply handler changes (validated sshd reload) now",
            "ansible.builtin.meta": "flush_handlers",
            "tags": ["always"],
        },
    ]
    if sshd_ids:
        tasks.append(
            {
                # a change is only done when it is in effect: the daemon has loaded it
                "name": SSHD_RUNTIME_TASK,
                "mlps_evidence": {"only": ["sshd_runtime"]},
                "register": "mlps_sshd_after",
                "check_mode": False,
                "changed_when": False,
                "failed_when": "mlps_sshd_after.evidence.sshd_runtime.stale | default(false)",
                "when": [
                    "not ansible_check_mode",
                    "mlps_targets is not defined or "
                    f"(mlps_targets | dict2items | selectattr('key', 'in', {json.dumps(sshd_ids)}) "
                    "| map(attribute='value') | flatten | select('equalto', inventory_hostname) "
                    "| list | length) > 0",
                ],
                "tags": sshd_ids,
            }
        )
    tasks += [
        {
            "name": "Drop the cached SSH connection",
            "ansible.builtin.meta": "reset_connection",
            "tags": ["always"],
        },
        {
            "name": "A new SSH session still works (no lock-out)",
            "ansible.builtin.ping": None,
            "tags": ["always"],
        },
    ]
    return [
        {
            "name": f"MLPS level-3 baseline remediation ({profile.id})",
            "hosts": hosts,
            "become": True,
            "gather_facts": True,
            "gather_subset": ["!all", "min"],
            # handlers of what did change still run when a later task fails
            "force_handlers": True,
            "tasks": tasks,
            "handlers": HANDLERS,
        }
    ]


def playbook_yaml(profile: Profile, controls: list[Control], hosts: str = "all") -> str:
    header = (
        "# Generated by `cloudctl baseline playbook` from policies/mlps-l3 (do not edit: edit the\n"
        "# catalog). Each control is one block tagged with its id; run e.g.\n"
        "#   ansible-playbook -i INVENTORY playbooks/baseline/remediate.yml --tags sshd-permit-root-login --check --diff\n"  # noqa: E501
    )
    return header + yaml.safe_dump(
        build_playbook(profile, controls, hosts), allow_unicode=True, sort_keys=False, width=120
    )


# --- what happened, per host and control ---------------------------------------------------
CHANGED, UNCHANGED, FAILED, SKIPPED = "changed", "unchanged", "failed", "skipped"


def _task_control(task: str) -> tuple[str, str]:
    return tuple(task.split(" | ", 1)) if " | " in task else ("", task)  # type: ignore[return-value]


def summarize_events(
    events: list[dict], targets: dict[str, list[str]]
) -> dict[str, dict[str, dict]]:
    """Ansible events -> {host: {control: {status, reason, tasks}}} for every targeted pair.

    status: changed / unchanged / failed / skipped, with the reason of a skip (host
    unreachable, a condition such as an unset variable, check mode) or of a failure."""
    seen: dict[tuple[str, str], dict] = {}
    unreachable: dict[str, str] = {}
    for ev in events:
        data = ev.get("event_data") or {}
        name, host = ev.get("event"), str(data.get("host", ""))
        r = data.get("res") or {}
        if name == "runner_on_unreachable":
            unreachable.setdefault(host, str(r.get("msg", "")).strip()[:200])
            continue
        cid, task = _task_control(str(data.get("task", "")))
        if not cid or task == FAILED_MARK:
            continue
        s = seen.setdefault((host, cid), {"ok": 0, "changed": [], "failed": [], "skipped": []})
        if name == "runner_on_ok":
            s["ok"] += 1
            if r.get("changed"):
                s["changed"].append(task)
        elif name == "runner_on_failed" and not data.get("ignore_errors"):
            s["failed"].append(f"{task}: {str(r.get('msg', '')).strip()[:300]}")
        elif name == "runner_on_skipped":
            cond = r.get("false_condition") or r.get("skip_reason") or "condition false"
            s["skipped"].append(str(cond))
    out: dict[str, dict[str, dict]] = {}
    for cid, hosts in targets.items():
        for host in hosts:
            s = seen.get((host, cid))
            if s and s["failed"]:
                row = {"status": FAILED, "reason": "; ".join(s["failed"])}
            elif s and s["changed"]:
                row = {"status": CHANGED, "tasks": s["changed"]}
            elif s and (s["ok"] or any("mlps_meets" in c for c in s["skipped"])):
                row = {"status": UNCHANGED}
            elif host in unreachable:
                row = {"status": SKIPPED, "reason": f"host unreachable: {unreachable[host]}"}
            elif s and s["skipped"]:
                row = {"status": SKIPPED, "reason": skip_reason(s["skipped"][0])}
            else:
                row = {"status": SKIPPED, "reason": "not run (host left the play earlier)"}
            out.setdefault(host, {})[cid] = row
    for host, msg in unreachable.items():
        for cid, row in out.get(host, {}).items():
            if row["status"] == UNCHANGED and not seen.get((host, cid), {}).get("ok"):
                row.update(status=SKIPPED, reason=f"host unreachable: {msg}")
    return out


def skip_reason(condition: str) -> str:
    """A skipped task's condition in words an operator recognises."""
    m = re.search(r"mlps\.(\w+)", condition)
    if "ansible_check_mode" in condition:
        return "only when applied (check mode cannot preview it)"
    if "length" in condition and m:
        return f"baseline_{m.group(1)} is not set for this host"
    if "ansible_os_family" in condition or "FAMILY" in condition:
        return "not for this OS family"
    return f"condition false: {condition}"
