"""Build the remediation playbook from the catalog: each control's tasks in one block,
tagged with the control id and limited to the hosts where it failed.

Catalog shortcuts (sshd, keyval, sysctl, packages, file_mode, audit_rules) expand to
check-mode-safe, idempotent tasks; sshd changes go to a drop-in read first (first match wins)
and are validated with ``sshd -t`` before sshd is reloaded (open sessions survive a reload).
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


def _sshd_tasks(settings: dict[str, str]) -> list[dict]:
    tasks: list[dict] = [
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
            "ansible.builtin.file": {
                "path": "/etc/ssh/sshd_config.d",
                "state": "directory",
                "mode": "0755",
            },
        },
    ]
    for key, value in settings.items():
        tasks.append(
            {
                "name": f"sshd {key}",
                "ansible.builtin.lineinfile": {
                    "path": SSHD_DROPIN,
                    "regexp": rf"^\s*{key}\s",
                    "line": f"{key} {value}",
                    "create": True,
                    "mode": "0600",
                    "validate": "/usr/sbin/sshd -t -f %s",
                },
                "when": f"({json.dumps(value)} | string | length) > 0",
                "notify": "mlps reload sshd",
            }
        )
    return tasks


def _keyval_task(spec: dict) -> dict:
    key = spec["key"]
    sep = spec.get("sep", " ")
    return {
        "name": f"{key} in {spec['path']}",
        "ansible.builtin.lineinfile": {
            "path": spec["path"],
            "regexp": rf"^\s*{re.escape(key)}(\s|=|$)",
            "line": f"{key}{sep}{spec['value']}",
            "create": True,
            "mode": spec.get("mode", "0644"),
        },
    }


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
                    "mode": "0644",
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
        task: dict[str, Any] = {
            "name": f"{path} {spec['mode']} {spec.get('owner', 'root')}:{spec.get('group', 'root')}",  # noqa: E501
            "ansible.builtin.file": {
                "path": path,
                "state": "file",
                "mode": spec["mode"],
                "owner": spec.get("owner", "root"),
                "group": spec.get("group", "root"),
            },
        }
        if spec.get("only_if_exists"):
            reg = "mlps_stat_" + re.sub(r"\W", "_", cid)
            out.append(
                {
                    "name": f"does {path} exist",
                    "ansible.builtin.stat": {"path": path},
                    "register": reg,
                }
            )
            task["when"] = f"{reg}.stat.exists"
        out.append(task)
    return out


def control_tasks(c: Control) -> list[dict]:
    r = c.remediation
    tasks: list[dict] = []
    if "packages_present" in r:
        tasks += _packages_task(r["packages_present"], "present")
    if "packages_absent" in r:
        tasks += _packages_task(r["packages_absent"], "absent")
    if "packages_absent_var" in r:
        tasks += _packages_task(None, "absent", r["packages_absent_var"])
    if "sshd" in r:
        tasks += _sshd_tasks(r["sshd"])
    if "keyval" in r:
        tasks.append(_keyval_task(r["keyval"]))
    if "sysctl" in r:
        tasks += _sysctl_tasks(r["sysctl"])
    if "file_mode" in r:
        tasks += _file_mode_tasks(r["file_mode"], c.id)
    if "audit_rules" in r:
        for line in r["audit_rules"]:
            tasks.append(
                {
                    "name": f"audit rule {line}",
                    "ansible.builtin.lineinfile": {
                        "path": AUDIT_RULES_FILE,
                        "line": line,
                        "create": True,
                        "mode": "0640",
                    },
                    "notify": "mlps load audit rules",
                }
            )
    tasks += [dict(t) for t in r.get("tasks") or []]
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


def build_playbook(profile: Profile, controls: list[Control], hosts: str = "all") -> list[dict]:
    """The play. Without the extra var ``mlps_targets`` ({control: [hosts]}) every control
    applies to every host (plain ansible-playbook use, with --tags to pick controls)."""
    tasks: list[dict] = [vars_task(profile)]
    for c in controls:
        body = control_tasks(c)
        if not body:
            continue
        for task in body:  # "<control> | <task>": events map back to the control
            task["name"] = f"{c.id} | {task.get('name', 'task')}"
        tasks.append(
            {
                "name": f"{c.id}: {c.title.get('en', '')}",
                "tags": [c.id, f"{c.clause} {c.item}".replace(" ", "_"), c.unit],
                "when": f"mlps_targets is not defined or inventory_hostname in (mlps_targets.get('{c.id}') or [])",  # noqa: E501
                "block": body,
            }
        )
    tasks += [
        {
            "name": "Apply handler changes (validated sshd reload) now",
            "ansible.builtin.meta": "flush_handlers",
            "tags": ["always"],
        },
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
