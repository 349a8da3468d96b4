"""Template steps are analysed once and filled in per system (issue 17: `plan` of 2,000
systems cold). The fast path must give exactly what substituting the raw template and
parsing it again gives, and no system may share a mutable value with another."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudctl.core.yamlio import load_yaml_text
from cloudctl.migrate.model import _Collector, load_plan, load_template, parse_step, substitute

TEMPLATE = """version: 1
kind: step-template
name: web
params:
  unit: {description: unit}
  port: {default: 8080}
  extra: {default: [a, b]}
steps:
  - name: go-${unit}
    playbook: migration/a.yml
    hosts: HOSTS
    vars:
      unit: "${unit}"
      port: "${port}"
      url: "http://${target}:${port}/"
      srcs: "${sources}"
      nested: {inner: "${unit}", fixed: 1, more: ["${port}", x]}
      extra: "${extra}"
      plain: text
    rollback: {name: undo, playbook: migration/undo.yml, vars: {unit: "${unit}"}}
  - {name: wait, kind: wait, duration: 5s}
"""


def _plan(write_plan, hosts='"g-${target}"'):
    systems = "".join(
        f"  - id: {sid}\n    name_zh: 系统{sid}\n    department: dzzwb\n"
        f"    source_hosts: [old{n}, oldb{n}]\n"
        f"    target: {{tenant: dzzwb, network: dzzwb-app, hosts: [new{n}]}}\n"
        f"    template: web\n    params: {{unit: u{n}, port: {9000 + n}}}\n"
        for n, sid in enumerate(["a", "b"])
    )
    tpl = {"web": TEMPLATE.replace("HOSTS", hosts)}
    return load_plan(write_plan("version: 1\nname: t\nsystems:\n" + systems, tpl))


@pytest.mark.parametrize(
    ("hosts", "fast", "limit"),
    [('"g-${target}"', True, "g-new0"), ('"${targets}"', False, "new0")],
)
def test_compiled_template_steps_equal_the_general_substitution(write_plan, hosts, fast, limit):
    plan = _plan(write_plan, hosts)
    tpl = load_template(Path(plan.path).parent / "templates" / "web.yaml", _Collector())
    assert (tpl.protos is not None) is fast  # a lone ${targets} (a list) takes the general path
    for n, sid in enumerate(["a", "b"]):
        s = plan.systems[sid]
        params = {
            "system": sid, "source": f"old{n}", "sources": [f"old{n}", f"oldb{n}"],
            "target": f"new{n}", "targets": [f"new{n}"], "tenant": "dzzwb",
            "network": "dzzwb-app", "department": "dzzwb", "unit": f"u{n}", "port": 9000 + n,
            "extra": ["a", "b"],
        }  # fmt: skip
        raw = load_yaml_text(TEMPLATE.replace("HOSTS", hosts), "t.yaml")["steps"]
        missing: set[str] = set()
        slow = [parse_step(st, _Collector(), where=None) for st in substitute(raw, params, missing)]
        assert not missing
        assert [st.to_dict() for st in s.steps] == [st.to_dict() for st in slow]
    go = plan.systems["a"].steps[0]
    assert go.name == "go-u0" and go.hosts == limit
    assert go.vars["port"] == 9000 and go.vars["url"] == "http://new0:9000/"
    assert go.vars["srcs"] == ["old0", "oldb0"]
    assert go.vars["nested"] == {"inner": "u0", "fixed": 1, "more": [9000, "x"]}
    assert go.rollback.vars == {"unit": "u0"}


def test_systems_share_no_mutable_value(write_plan):
    plan = _plan(write_plan)
    a, b = plan.systems["a"].steps[0], plan.systems["b"].steps[0]
    a.vars["extra"].append("changed")
    a.vars["nested"]["inner"] = "changed"
    a.vars["plain"] = "changed"
    assert b.vars["extra"] == ["a", "b"]
    assert b.vars["nested"]["inner"] == "u1" and b.vars["plain"] == "text"
    assert a.rollback is not b.rollback and a.vars is not b.vars
