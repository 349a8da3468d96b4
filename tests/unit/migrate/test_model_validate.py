"""Plan loading, templates and validation: every problem at once, with file:line."""

from __future__ import annotations

import pytest

from cloudctl.migrate.durations import format_duration, parse_duration, parse_size
from cloudctl.migrate.model import load_plan
from cloudctl.migrate.validate import validate

HEAD = "version: 1\nname: t\n"


def sys_(sid, deps=(), extra="", steps=None):
    dep = f"    depends_on: [{', '.join(deps)}]\n" if deps else ""
    st = steps or (
        "    steps:\n"
        "      - {name: a, kind: check, playbook: migration/a.yml}\n"
        "      - {name: b, playbook: migration/b.yml, rollback: {name: ub, playbook: "
        "migration/undo.yml}}\n"
    )
    return (
        f"  - id: {sid}\n    name_zh: 系统{sid}\n    department: dzzwb\n"
        f"    source_hosts: [old1]\n    target: {{tenant: dzzwb, network: dzzwb-app, hosts: "
        "[new1]}\n"
        f"{dep}{extra}{st}"
    )


def messages(problems):
    return [str(p) for p in problems]


@pytest.mark.parametrize(
    ("text", "secs"),
    [("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800), (45, 45), ("1.5h", 5400)],
)
def test_durations_parse(text, secs):
    assert parse_duration(text) == secs


@pytest.mark.parametrize("bad", ["", "5x", "m5", "1h1h", "-3s", True, "5 minutes", None])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_sizes_and_formatting():
    assert parse_size("20GiB") == 20 * 1024**3
    assert parse_size("500MB") == 500 * 1000**2
    assert parse_size("1.5TiB") == int(1.5 * 1024**4)
    with pytest.raises(ValueError):
        parse_size("lots")
    assert format_duration(5400) == "1h30m"
    assert format_duration(42) == "42s"


def test_good_plan_has_no_problems(write_plan, refs):
    p = write_plan(
        HEAD
        + "waves:\n  - {id: w1, systems: [a]}\n  - {id: w2, systems: [b]}\nsystems:\n"
        + sys_("a")
        + sys_("b", ["a"])
    )
    plan = load_plan(p)
    assert validate(plan, refs) == []
    assert [s.name for s in plan.systems["b"].steps] == ["a", "b"]
    assert plan.systems["b"].steps[1].rollback.playbook == "migration/undo.yml"


def test_unknown_references_all_reported_with_lines(write_plan, refs):
    text = (
        HEAD
        + "waves:\n  - {id: w1, systems: [a, ghost]}\nsystems:\n"
        + (
            "  - id: a\n    name_zh: 甲\n    department: nosuch\n    source_hosts: [old1, old9]\n"
            "    target: {tenant: zwfw, network: zwfw-web, hosts: [new7]}\n    depends_on: "
            "[nobody]\n"
            "    steps:\n      - {name: s, kind: check, playbook: migration/missing.yml}\n"
        )
    )
    p = write_plan(text)
    msgs = messages(validate(load_plan(p), refs))
    name = p.name
    expect = [
        "unknown department/tenant 'nosuch'",
        "unknown network 'zwfw-web' (tenant zwfw has: zwfw-app)",
        "unknown host 'old9'",
        "unknown host 'new7'",
        "depends on unknown system 'nobody'",
        "unknown playbook 'migration/missing.yml'",
        "wave w1: unknown system 'ghost'",
    ]
    for e in expect:
        assert any(e in m for m in msgs), (e, msgs)
    # every problem names the file and a line
    assert all(m.split(":")[0].endswith(name) and m.split(":")[1].isdigit() for m in msgs), msgs
    line_of = {m.split(": ", 1)[1]: int(m.split(":")[1]) for m in msgs}
    assert line_of[next(k for k in line_of if "unknown system 'ghost'" in k)] == 4
    assert line_of[next(k for k in line_of if "nobody" in k)] == 11


def test_cycle_reported_with_its_path(write_plan, refs):
    p = write_plan(
        HEAD
        + "systems:\n"
        + sys_("a", ["c"])
        + sys_("b", ["a"])
        + sys_("c", ["b"])
        + sys_("d", ["d"])
    )
    msgs = messages(validate(load_plan(p), refs))
    cyc = [m for m in msgs if "dependency cycle" in m]
    assert len(cyc) == 2, msgs
    assert any("a → c → b → a" in m for m in cyc), cyc
    assert any("d → d" in m for m in cyc), cyc


def test_wave_before_its_dependency(write_plan, refs):
    p = write_plan(
        HEAD
        + "waves:\n  - {id: w1, systems: [b]}\n  - {id: w2, systems: [a]}\n  - {id: w3, systems: "
        "[a]}\n"
        "systems:\n" + sys_("a") + sys_("b", ["a"])
    )
    msgs = messages(validate(load_plan(p), refs))
    assert any("wave w1: b depends on a, which moves later (wave w2)" in m for m in msgs), msgs
    assert any("system a is already in wave w2" in m for m in msgs), msgs


def test_same_wave_dependency_is_fine(write_plan, refs):
    p = write_plan(
        HEAD + "waves:\n  - {id: w1, systems: [b, a]}\nsystems:\n" + sys_("a") + sys_("b", ["a"])
    )
    assert validate(load_plan(p), refs) == []


def test_rollback_required_by_strategy(write_plan, refs):
    steps = (
        "    steps:\n      - {name: change, playbook: migration/a.yml}\n      - {name: keep, "
        "playbook: migration/b.yml, rollback: none}\n"
    )
    p = write_plan(
        HEAD
        + "systems:\n"
        + sys_("a", steps=steps)
        + sys_("b", extra="    strategy: retire\n", steps=steps)
    )
    msgs = messages(validate(load_plan(p), refs))
    missing = [m for m in msgs if "has no `rollback`" in m]
    assert len(missing) == 1 and "system a: step 'change'" in missing[0], msgs


def test_bad_durations_in_plan(write_plan, refs):
    steps = (
        "    steps:\n"
        "      - {name: s1, kind: check, playbook: migration/a.yml, timeout: 5 minutes}\n"
        "      - {name: s2, kind: wait, duration: 0s}\n"
        "      - {name: s3, kind: check, playbook: migration/a.yml, timeout: 1m, estimate: 2m}\n"
    )
    p = write_plan(HEAD + "systems:\n" + sys_("a", extra="    downtime: {max: 1m}\n", steps=steps))
    msgs = messages(validate(load_plan(p), refs))
    assert any("bad duration in `s1.timeout`" in m for m in msgs), msgs
    assert any("bad duration in `s2.duration`: must be more than zero" in m for m in msgs), msgs
    assert any("estimate is longer than its timeout" in m for m in msgs), msgs
    assert any("more than the allowed downtime" in m for m in msgs), msgs


def test_version_stamp_is_required(write_plan, refs):
    p = write_plan("name: t\nsystems:\n" + sys_("a"))
    msgs = messages(validate(load_plan(p), refs))
    assert any("plan version is None" in m for m in msgs), msgs


TEMPLATE = """
version: 1
name: web
params:
  unit: {description: the unit}
  port: {default: 8080}
steps:
  - name: go
    playbook: migration/a.yml
    vars: {unit: "${unit}", port: "${port}", src: "${source}", url: "http://x:${port}/"}
    rollback: {name: undo, playbook: migration/undo.yml, vars: {unit: "${unit}"}}
"""


def test_template_expansion_keeps_types_and_ansible_jinja(write_plan, refs):
    extra = "    template: web\n    params: {unit: app-web, port: 9000}\n"
    p = write_plan(HEAD + "systems:\n" + sys_("a", extra=extra, steps=""), {"web": TEMPLATE})
    plan = load_plan(p)
    assert validate(plan, refs) == []
    go = plan.systems["a"].steps[0]
    assert go.vars == {"unit": "app-web", "port": 9000, "src": "old1", "url": "http://x:9000/"}
    assert go.rollback.vars == {"unit": "app-web"}


def test_template_parameter_problems(write_plan, refs):
    extra = "    template: web\n    params: {colour: red}\n"
    extra2 = "    template: nosuch\n"
    p = write_plan(
        HEAD + "systems:\n" + sys_("a", extra=extra, steps="") + sys_("b", extra=extra2, steps=""),
        {"web": TEMPLATE},
    )
    msgs = messages(validate(load_plan(p), refs))
    assert any("template 'web' has no parameter `colour`" in m for m in msgs), msgs
    assert any("template 'web' needs parameter `unit`" in m for m in msgs), msgs
    assert any("unknown step template 'nosuch'" in m for m in msgs), msgs


def test_sample_plan_is_valid(project_root):
    """The shipped sample validates against the shipped center (tenants, networks, hosts)."""
    from cloudctl.core.center import load_center
    from cloudctl.migrate.refs import load_references

    center = load_center(project_root)
    plan = load_plan(project_root / "migration_plans" / "xiaogan-2016.yaml")
    assert validate(plan, load_references(center)) == []
    assert 28 <= len(plan.systems) <= 40
    assert plan.waves[0].id == "pilot"
    approval = plan.systems["xzsp"]
    assert {"rkxx", "frdw"} <= set(approval.depends_on)


def test_typos_in_field_names_are_reported(write_plan, refs):
    p = write_plan(HEAD + "systems:\n" + sys_("a", extra="    depend_on: [b]\n"))
    msgs = messages(validate(load_plan(p), refs))
    assert any("system a: unknown field `depend_on`" in m for m in msgs), msgs


def test_batch_steps_are_checked(write_plan, refs):
    steps = (
        "    steps:\n"
        "      - {name: a, kind: check, playbook: migration/a.yml, batch: true}\n"
        "      - {name: b, kind: command, command: 'true', batch: true}\n"
        "      - {name: c, kind: check, playbook: migration/a.yml, batch: maybe}\n"
        "      - {name: d, kind: check, playbook: migration/a.yml, batch: true, hosts: web}\n"
    )
    p = write_plan(HEAD + "systems:\n" + sys_("a", steps=steps))
    plan = load_plan(p)
    msgs = messages(validate(plan, refs))
    assert plan.systems["a"].steps[0].batch is True
    assert any("step 'b': only playbook steps can run as a batch" in m for m in msgs), msgs
    assert any("step 'c': `batch` must be true or false" in m for m in msgs), msgs
    assert any("step 'd': a batch step runs on the group migrate_batch" in m for m in msgs), msgs
    assert not any("step 'a'" in m for m in msgs), msgs
    # the journal's snapshot keeps it
    from cloudctl.migrate.model import Step

    assert Step.from_dict(plan.systems["a"].steps[0].to_dict()).batch is True


@pytest.mark.parametrize("value", ["-3", "0", "zero", "true"])
def test_defaults_parallel_must_be_a_positive_whole_number(write_plan, refs, value):
    p = write_plan(HEAD + f"defaults: {{parallel: {value}}}\nsystems:\n" + sys_("a"))
    msgs = messages(validate(load_plan(p), refs))
    assert any(":3: defaults.parallel: expected a whole number" in m for m in msgs), msgs


def test_a_wave_id_must_be_text(write_plan, refs):
    p = write_plan(HEAD + "systems:\n" + sys_("a") + "waves:\n  - {id: [pilot], systems: [a]}\n")
    msgs = messages(validate(load_plan(p), refs))
    assert any("wave id: expected text, not ['pilot']" in m for m in msgs), msgs
