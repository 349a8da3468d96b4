"""Guards before deletes, the password policy and the secrets file, input checks."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from cloudctl.core.errors import InputError, ValidationFailed
from cloudctl.tenant import guards
from cloudctl.tenant.desired import TenantSettings, build_desired, load_desired_from_files
from cloudctl.tenant.diff import Change, Plan, compute_plan, destroy_changes
from cloudctl.tenant.model import MANAGED_TAG, Port, Project, Subnet
from cloudctl.tenant.passwords import (
    PasswordPolicy,
    PasswordStore,
    char_classes,
    generate,
    load_policy,
)

from .conftest import CZJ, doc
from .test_diff import converged

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]


@pytest.fixture
def desired(plan_view, templates, czj_doc):
    return build_desired({"czj": czj_doc}, plan_view, templates, TenantSettings(scope="main"))


# ------------------------------------------------------------------ deletions
def test_tearing_down_a_tenant_needs_its_code_and_is_counted(desired):
    st = converged(desired)
    st.projects.append(Project("Q", "gone", "", [MANAGED_TAG, "cloudctl-scope=main"]))
    st.recorded.add("Q")
    plan = compute_plan(desired, st, prune=True)
    d = guards.deletions(plan, st, "main")
    assert d.projects == (("gone", 1),)
    assert guards.unapproved_projects(d, []) == [("gone", 1)]
    assert guards.unapproved_projects(d, ["gone"]) == []


def test_mass_deletion_share_and_floor(desired):
    st = converged(desired)
    managed = guards.managed_count(st, "main")
    # project, 2 networks, 2 subnets, router, 3 groups, 2 users, 7 rules, 2 ifaces, 2 roles
    assert managed == 1 + 2 + 2 + 1 + 3 + 2 + 7 + 2 + 2
    changes, _ = destroy_changes("czj", st.projects[0], st)
    plan = Plan(changes=changes)
    d = guards.deletions(plan, st, "main")
    assert d.mass and d.share > 0.10 and d.projects == (("czj", d.deletes),)
    few = Plan(changes=[c for c in changes if c.kind == "user"])
    assert not guards.deletions(few, st, "main").mass  # below the floor
    assert guards.Deletions(guards.MASS_DELETE_MAX + 1, 100_000, ()).mass
    assert not guards.Deletions(guards.MASS_DELETE_MIN + 1, 100_000, ()).mass


# ------------------------------------------------------------------ 409 preconditions
def _destroy(desired):
    st = converged(desired)
    changes, _ = destroy_changes("czj", st.projects[0], st)
    return st, changes


def test_vm_port_blocks_destroy_dhcp_and_own_interfaces_do_not(desired):
    st, changes = _destroy(desired)
    net = st.networks[0]
    sub = next(s for s in st.subnets if s.network_id == net.id)
    ok = [
        Port("d1", net.id, "P", "network:dhcp", "dhcp-x", (), (sub.id,)),
        Port(f"port-{sub.id}", net.id, "P", "network:router_interface", "RT", (), (sub.id,)),
    ]
    assert guards.destroy_blockers(changes, st, ok) == []
    vm = Port("vm1", net.id, "P", "compute:nova", "server-1", ("G-czj-app",), (sub.id,))
    (msg,) = guards.destroy_blockers(changes, st, [*ok, vm])
    assert "vm1" in msg and "compute:nova" in msg and f"network {net.name}" in msg


def test_port_elsewhere_using_a_group_and_a_foreign_subnet_block(desired):
    st, changes = _destroy(desired)
    other = Port("p2", "OTHER-NET", "P", "compute:nova", "s2", ("G-czj-db",), ())
    st.subnets.append(Subnet("SX", "theirs", "Z", st.networks[0].id, "10.9.9.0/24", None, [], []))
    got = guards.destroy_blockers(changes, st, [other])
    assert any("p2" in m and "security group czj-db" in m for m in got)
    assert any("theirs" in m for m in got)


def test_ports_are_read_only_when_something_they_hold_is_deleted():
    assert not guards.needs_ports([Change("x", "delete", "user", "u", id="U")])
    assert guards.needs_ports([Change("x", "delete", "network", "n", id="N")])


# ------------------------------------------------------------------ passwords
def test_policy_comes_from_the_baseline_profile_numbers():
    raw = yaml.safe_load((ROOT / "policies" / "mlps-l3" / "profile.yaml").read_text())
    pol = load_policy(ROOT / "policies")
    assert pol.min_length == raw["variables"]["password_min_length"]["default"]
    assert pol.min_class == raw["variables"]["password_min_class"]["default"]


def test_policy_follows_a_changed_profile(tmp_path):
    import shutil

    shutil.copytree(ROOT / "policies" / "mlps-l3", tmp_path / "mlps-l3")
    f = tmp_path / "mlps-l3" / "profile.yaml"
    f.write_text(
        f.read_text().replace(
            "password_min_length: {default: 8", "password_min_length: {default: 30"
        )
    )
    assert load_policy(tmp_path).min_length == 30


def test_weak_or_foreign_env_passwords_are_refused_without_showing_them(tmp_path, monkeypatch):
    store = PasswordStore(tmp_path / "pw.yaml", policy_loader=lambda: PasswordPolicy(12, 3))
    monkeypatch.setenv("CLOUDCTL_PW_CZJ", "short1")
    with pytest.raises(InputError) as e:
        store.password_for("czj-audit", "CLOUDCTL_PW_CZJ")
    assert "shorter than 12" in e.value.message and "short1" not in str(e.value)
    with pytest.raises(InputError, match="CLOUDCTL_PW_"):
        store.password_for("czj-audit", "HOME")
    monkeypatch.setenv("CLOUDCTL_PW_CZJ", "Long-enough-Passw0rd")
    assert store.password_for("czj-audit", "CLOUDCTL_PW_CZJ") == "Long-enough-Passw0rd"


def test_generated_passwords_meet_the_policy(tmp_path):
    pol = PasswordPolicy(30, 4)
    for _ in range(50):
        pw = generate(pol)
        assert len(pw) >= 30 and char_classes(pw) == 4
    store = PasswordStore(tmp_path / "pw.yaml", policy_loader=lambda: pol)
    (tmp_path / "pw.yaml").write_text("czj-ops: weakold\n")
    pw = store.password_for("czj-ops")  # a weak stored one is replaced
    assert pw != "weakold" and not pol.problems(pw)


@pytest.mark.parametrize(
    "text",
    [
        "czj-ops: S3cret-Pa55word\nczj-audit: [unclosed S3cret-Pa55word\n",
        "czj-ops: 'S3cret-Pa55word\n",
        "- S3cret-Pa55word\n",
        "czj-ops: {S3cret-Pa55word: 1}\n",
    ],
)
def test_damaged_secrets_file_error_never_shows_its_content(tmp_path, text):
    f = tmp_path / "pw.yaml"
    f.write_text(text)
    store = PasswordStore(f, policy_loader=lambda: PasswordPolicy(8, 3))
    with pytest.raises(InputError) as e:
        store.password_for("czj-new")
    assert "S3cret" not in str(e.value) and str(f) in str(e.value)
    assert f.read_text() == text  # nothing rewritten


# ------------------------------------------------------------------ inputs
def _settings():
    return TenantSettings()


@pytest.mark.parametrize("layout", ["missing", "empty", "only-defaults", "a-file"])
def test_missing_or_empty_tenants_directory_is_an_input_error(tmp_path, plan_view, layout):
    d = tmp_path / "tenantz"
    if layout == "empty":
        d.mkdir()
    elif layout == "only-defaults":
        d.mkdir()
        (d / "_defaults.yaml").write_text("version: 1\n")
    elif layout == "a-file":
        d.write_text("x")
    with pytest.raises(ValidationFailed) as e:
        load_desired_from_files(d, tmp_path / "sg", plan_view, _settings())
    assert "tenantz" in str(e.value.problems[0])


def test_empty_tenant_file_error_names_its_path(tmp_path, plan_view):
    d = tmp_path / "tenants"
    d.mkdir()
    (d / "czj.yaml").write_text("")
    with pytest.raises(ValidationFailed) as e:
        load_desired_from_files(d, tmp_path / "sg", plan_view, _settings())
    (p,) = e.value.problems
    assert str(p.location).endswith("tenants/czj.yaml:1") and "empty" in p.message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("  - name: app\n", "  - name: app\n    description: {x: 1}\n", "description"),
        (
            "  - {name: ops, roles: [member]}",
            "  - {name: ops, roles: [member], description: [a, b]}",
            "description",
        ),
        ("router: {name: router}", "router: {name: router, description: [a, b]}", "description"),
        ("  - template: app", "  - {template: app, description: {x: 1}}", "description"),
        ("code: czj\n", "code: czj\nname_zh: [a, b]\n", "name_zh"),
    ],
)
def test_text_fields_of_the_wrong_type_are_file_line_errors(plan_view, templates, old, new, key):
    text = textwrap.dedent(CZJ)
    assert old in text
    text = text.replace(old, new, 1)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if f"{key}:" in s)
    with pytest.raises(ValidationFailed) as e:
        build_desired({"czj": doc(text, "t/czj.yaml")}, plan_view, templates)
    msgs = [str(p) for p in e.value.problems]
    assert f"t/czj.yaml:{line}: {key}: expected text" in "\n".join(msgs), msgs


def test_tenant_of_an_unknown_department_is_an_error_even_without_departments(
    plan_view, templates, czj_doc
):
    from dataclasses import replace

    empty = replace(plan_view, departments={})
    with pytest.raises(ValidationFailed) as e:
        build_desired({"czj": czj_doc}, empty, templates)
    assert "no department 'czj'" in str(e.value.problems[0])


def test_password_env_must_carry_the_prefix(plan_view, templates):
    text = textwrap.dedent(CZJ).replace(
        "{name: audit, roles: [reader]}", "{name: audit, roles: [reader], password_env: HOME}"
    )
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if "HOME" in s)
    with pytest.raises(ValidationFailed) as e:
        build_desired({"czj": doc(text, "t/czj.yaml")}, plan_view, templates)
    assert any(
        str(p).startswith(f"t/czj.yaml:{line}: password_env") and "CLOUDCTL_PW_" in str(p)
        for p in e.value.problems
    )
