"""Saved plans (``tenant plan --out`` / ``tenant apply FILE``): fingerprints are stable and
order-independent, cover what the planner reads and nothing outside the planned tenants,
and a plan file that was edited, or that no longer matches the world, is refused."""

from __future__ import annotations

import copy
import json
import random
from dataclasses import replace

import pytest
from labkit import make_center

from cloudctl.core.errors import InputError
from cloudctl.tenant import planfile
from cloudctl.tenant.desired import TenantSettings, build_desired
from cloudctl.tenant.diff import compute_plan
from cloudctl.tenant.model import MANAGED_TAG, ActualState, Network, Project, Rule

from .conftest import CZJ, doc
from .test_diff import SCOPE, converged

CLOUD = "http://127.0.0.1:5000/v3|RegionOne"


@pytest.fixture
def desired(plan_view, templates, czj_doc):
    return build_desired({"czj": czj_doc}, plan_view, templates, TenantSettings(scope=SCOPE))


def fp(desired, actual: ActualState, whole: bool = False) -> dict[str, str]:
    return planfile.state_fingerprint(desired, actual, ["czj"], whole)


def shuffled(st: ActualState, seed: int) -> ActualState:
    """The same state as the cloud might list it another time: every list in another
    order, tags too."""
    rnd = random.Random(seed)
    out = copy.deepcopy(st)
    for name in ("projects", "users", "networks", "subnets", "routers", "router_interfaces"):
        rnd.shuffle(getattr(out, name))
    for name in ("security_groups", "rules"):
        rnd.shuffle(getattr(out, name))
    for x in (*out.projects, *out.networks, *out.subnets, *out.routers, *out.security_groups):
        rnd.shuffle(x.tags)
    out.roles = dict(rnd.sample(sorted(out.roles.items()), len(out.roles)))
    return out


# ------------------------------------------------------------------ fingerprint stability
def test_same_state_gives_the_same_fingerprint_whatever_the_order(desired):
    st = converged(desired)
    st.networks.append(Network("N-extra", "czj-more", "P", "", ["b", MANAGED_TAG, "a"]))
    first = fp(desired, st)
    assert set(first) == {"czj", planfile.SHARED}
    assert all(len(h) == 64 for h in first.values())
    for seed in range(5):
        assert fp(desired, shuffled(st, seed)) == first
    assert fp(desired, converged(desired)) != first  # and it did see the extra network


@pytest.mark.parametrize(
    "change",
    [
        "rename a security group",
        "add a rule",
        "change a quota",
        "drop a record",
        "edit a subnet's pools",
        "grant a role",
        "a user with a desired name appears elsewhere",
    ],
)
def test_any_change_the_planner_reads_changes_the_tenant_fingerprint(desired, change):
    st = converged(desired)
    before = fp(desired, st)
    if change == "rename a security group":
        g = next(g for g in st.security_groups if g.name.endswith("app"))
        g.name = "czj-app-renamed"
    elif change == "add a rule":
        st.rules.append(
            Rule("hand", "G-czj-app", "P", "ingress", "IPv4", "tcp", 23, 23, "0.0.0.0/0", None)
        )
    elif change == "change a quota":
        st.quotas["network"]["P"]["port"] += 1
    elif change == "drop a record":
        st.recorded.discard("N0")
    elif change == "edit a subnet's pools":
        st.subnets[0].allocation_pools = [("10.20.18.20", "10.20.18.30")]
    elif change == "grant a role":
        st.role_assignments.add(("U-czj-ops", "P", "R3"))
    else:
        u = next(u for u in st.users if u.name == "czj-ops")
        st.users.append(replace(u, id="U2", default_project_id="elsewhere"))
    after = fp(desired, st)
    assert after["czj"] != before["czj"]
    assert after[planfile.SHARED] == before[planfile.SHARED]


def test_other_projects_do_not_touch_the_fingerprint(desired):
    """The shared lab (and a real cloud) changes all the time outside the planned tenants."""
    st = converged(desired)
    before = fp(desired, st)
    st.projects.append(Project("Q", "rsj", "", [MANAGED_TAG, "cloudctl-scope=other"]))
    st.networks.append(Network("NQ", "rsj-app", "Q", "", [MANAGED_TAG]))
    st.rules.append(Rule("rq", "GQ", "Q", "ingress", "IPv4", "tcp", 22, 22, "0.0.0.0/0", None))
    st.roles["R9"] = "auditor"
    st.quotas["network"]["Q"] = {"port": 5}
    assert fp(desired, st) == before
    assert fp(desired, st, whole=True) == fp(desired, converged(desired), whole=True)


def test_whole_scope_plans_also_cover_projects_without_a_file(desired):
    st = converged(desired)
    st.projects.append(Project("Q", "gone", "", [MANAGED_TAG, f"cloudctl-scope={SCOPE}"]))
    assert "gone" not in fp(desired, st)  # with names: only those tenants
    whole = fp(desired, st, whole=True)
    assert set(whole) == {"czj", "gone", planfile.SHARED}
    st.networks.append(Network("NQ", "gone-app", "Q", "", [MANAGED_TAG]))
    assert fp(desired, st, whole=True)["gone"] != whole["gone"]


def test_service_catalog_is_the_shared_part(desired):
    st = converged(desired)
    before = fp(desired, st)
    st.services = {**st.services, "volume": True}
    after = fp(desired, st)
    assert after["czj"] == before["czj"] and after[planfile.SHARED] != before[planfile.SHARED]


def test_desired_hash_follows_the_tenant_settings(plan_view, templates, czj_doc, desired):
    other = build_desired(
        {"czj": czj_doc}, plan_view, templates, TenantSettings(scope=SCOPE, name_prefix="x-")
    )
    assert planfile.desired_sha256(desired) == planfile.desired_sha256(desired)
    assert planfile.desired_sha256(other) != planfile.desired_sha256(desired)


# ------------------------------------------------------------------ the file
FILES = {"inventory/tenants/czj.yaml": CZJ.encode(), "policies/security-groups/app.yaml": b"x"}


def saved_doc(desired, actual, prune=False, files=FILES, names=("czj",)):
    plan = compute_plan(desired, actual, only=list(names), prune=prune)
    return planfile.build(
        plan,
        names=list(names),
        prune=prune,
        cloud=CLOUD,
        files=planfile.file_hashes(files),
        desired=planfile.desired_sha256(desired),
        state=fp(desired, actual),
        version="0.1.0",
        created_at="2026-11-30T09:05:31+08:00",
    )


def roundtrip(d: dict) -> planfile.SavedPlan:
    return planfile.load(planfile.dumps(d).encode(), "czj.plan")


def pending(desired) -> ActualState:
    """A converged tenant with one hand-made rule: the plan deletes it."""
    st = converged(desired)
    st.rules.append(
        Rule("hand", "G-czj-app", "P", "ingress", "IPv4", "tcp", 23, 23, "10.0.0.0/8", None)
    )
    return st


def test_a_written_plan_reads_back_and_holds_against_the_same_world(desired):
    st = pending(desired)
    saved = roundtrip(saved_doc(desired, st))
    assert saved.names == ["czj"] and saved.prune is False and saved.cloud == CLOUD
    assert saved.doc["schema"] == planfile.SCHEMA == "cloudctl.tenant.planfile/1"
    assert [c["action"] for c in saved.body["changes"]] == ["delete"]
    assert saved.body["changes"][0]["id"] == "hand"
    files = planfile.file_hashes(FILES)
    assert planfile.check_files(saved, version="0.1.0", files=files) == []
    assert planfile.check_target(saved, cloud=CLOUD, desired=planfile.desired_sha256(desired)) == []
    again = shuffled(st, 3)
    assert planfile.check_state(saved, fp(desired, again)) == []
    assert planfile.check_plan(saved, compute_plan(desired, again, only=["czj"])) == []


def test_the_file_hash_is_what_sha256sum_prints(desired):
    import hashlib

    text = planfile.dumps(saved_doc(desired, pending(desired))).encode()
    saved = planfile.load(text, "czj.plan")
    assert saved.sha256 == hashlib.sha256(text).hexdigest()


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["plan"]["changes"][0].update(name="czj-app: ingress 22/tcp from 0.0.0.0/0"),
        lambda d: d["plan"]["changes"].append(copy.deepcopy(d["plan"]["changes"][0])),
        lambda d: d.update(prune=True),
        lambda d: d.update(tenants=None),
        lambda d: d["state"]["tenants"].update(czj="0" * 64),
        lambda d: d.update(cloud="http://other:5000/v3|RegionOne"),
    ],
    ids=["change-renamed", "change-added", "prune-on", "all-tenants", "state-hash", "cloud"],
)
def test_an_edited_plan_file_is_refused(desired, edit):
    d = saved_doc(desired, pending(desired))
    text = planfile.dumps(d)
    planfile.load(text.encode(), "czj.plan")  # the untouched file is fine
    edited = json.loads(text)
    edit(edited)
    with pytest.raises(InputError) as e:
        planfile.load(json.dumps(edited, indent=2).encode(), "czj.plan")
    assert str(e.value).startswith("czj.plan: the plan file was changed after")


def test_a_forged_file_with_a_recomputed_hash_still_cannot_apply_other_changes(desired):
    """body_sha256 is no signature: what protects is that apply re-plans and requires the
    fresh plan to equal the saved changes."""
    st = pending(desired)
    d = saved_doc(desired, st)
    d["plan"]["changes"][0]["id"] = "G-czj-db"  # delete something else instead
    del d["body_sha256"]
    d["body_sha256"] = planfile.sha256_of(d)
    saved = roundtrip(d)  # integrity holds: it was re-hashed
    (m,) = planfile.check_plan(saved, compute_plan(desired, st, only=["czj"]))
    assert m.what == "plan" and "differs from the saved one" in str(m)


def test_not_a_plan_file(desired):
    with pytest.raises(InputError) as e:
        planfile.load(b'{"schema": "cloudctl.tenant.plan/1"}', "x.json")
    assert "not a cloudctl tenant plan file" in str(e.value)
    with pytest.raises(InputError) as e:
        planfile.load(b'{\n  "schema": \n}', "x.json")
    assert str(e.value).startswith("x.json:3: not a plan file")
    d = saved_doc(desired, pending(desired))
    del d["state"]
    with pytest.raises(InputError, match="damaged plan file: missing or wrong state"):
        planfile.load(json.dumps(d).encode(), "x.json")


def test_changed_input_files_are_named(desired):
    saved = roundtrip(saved_doc(desired, pending(desired)))
    files = dict(FILES)
    files["inventory/tenants/czj.yaml"] += b"# edited\n"
    del files["policies/security-groups/app.yaml"]
    files["inventory/tenants/rsj.yaml"] = b"code: rsj\n"
    (m,) = planfile.check_files(saved, version="0.1.0", files=planfile.file_hashes(files))
    assert m.what == "files"
    assert str(m) == (
        "input files changed since the plan: inventory/tenants/czj.yaml (changed), "
        "policies/security-groups/app.yaml (removed), inventory/tenants/rsj.yaml (added)"
    )
    (v,) = planfile.check_files(saved, version="0.2.0", files=planfile.file_hashes(FILES))
    assert v.what == "version" and "cloudctl 0.1.0" in str(v)


def test_another_cloud_or_other_settings_are_named(plan_view, templates, czj_doc, desired):
    saved = roundtrip(saved_doc(desired, pending(desired)))
    other = build_desired({"czj": czj_doc}, plan_view, templates, TenantSettings(scope="elsewhere"))
    got = planfile.check_target(
        saved, cloud="http://other:5000/v3|", desired=planfile.desired_sha256(other)
    )
    assert [m.what for m in got] == ["cloud", "desired"]
    assert "the plan is for cloud " + CLOUD in str(got[0])


def test_a_changed_cloud_names_the_tenant(desired):
    st = pending(desired)
    saved = roundtrip(saved_doc(desired, st))
    st.security_groups[1].name = "renamed-by-hand"
    (m,) = planfile.check_state(saved, fp(desired, st))
    assert str(m) == "the cloud changed since the plan: tenant czj"
    gone = ActualState(services=st.services)
    (m,) = planfile.check_state(saved, fp(desired, gone))
    assert str(m) == "the cloud changed since the plan: tenant czj"


def test_the_file_holds_no_password(plan_view, templates, monkeypatch):
    text = CZJ.replace("roles: [reader]}", "roles: [reader], password_env: CLOUDCTL_PW_X}")
    d = build_desired(
        {"czj": doc(text, "inventory/tenants/czj.yaml")},
        plan_view,
        templates,
        TenantSettings(scope=SCOPE),
    )
    monkeypatch.setenv("CLOUDCTL_PW_X", "S3cret-Passw0rd!")
    body = planfile.dumps(saved_doc(d, ActualState(services={"network": True})))
    assert "czj-audit" in body and "CLOUDCTL_PW_X" in body  # users and variable names: yes
    assert "S3cret" not in body
    creates = [c for c in json.loads(body)["plan"]["changes"] if c["kind"] == "user"]
    assert creates and all("password" not in c["params"]["body"] for c in creates)


# ------------------------------------------------------------------ the CLI, no cloud
def _center(root):
    """A center with the sample czj tenant; OS_CLOUD names a cloud that does not exist, so
    a command that tried to connect would fail differently."""
    return make_center(root, prefix="spu-", scope="spunit")


NO_CLOUD = ["--os-cloud", "no-such-cloud"]


@pytest.mark.parametrize("verb", ["plan", "drift"])
def test_detailed_exitcode_makes_every_error_1(cli, tmp_path, verb):
    """2 means "changes" to a script ported from Terraform: no error may exit 2 then."""
    root = _center(tmp_path)
    base = ["--center", str(root), "--lang", "en", "tenant", verb]
    assert cli(*base, "--no-such-option").exit_code == 2
    assert cli(*base, "--detailed-exitcode", "--no-such-option").exit_code == 1
    r = cli(*base, *NO_CLOUD)
    assert r.exit_code == 2 and "cannot choose a cloud" in r.stderr
    r = cli(*base, "--detailed-exitcode", *NO_CLOUD)
    assert r.exit_code == 1 and "cannot choose a cloud" in r.stderr
    (root / "tenants" / "czj.yaml").write_text("code: [\n")
    assert cli(*base, *NO_CLOUD).exit_code == 2
    assert cli(*base, "--detailed-exitcode", *NO_CLOUD).exit_code == 1


def test_exit_code_meanings():
    from cloudctl.cli.tenant import _exit_code

    assert [_exit_code(c, False) for c in (False, True)] == [0, 1]
    assert [_exit_code(c, True) for c in (False, True)] == [0, 2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["nosuch.plan"], "nosuch.plan: file not found"),
        (["--plan", "czj"], "czj: file not found"),
        (["./czj.plan", "czj"], "give the plan file alone"),
        (["--plan", "x.plan", "czj"], "give the plan file alone"),
        (["x.plan", "--prune"], "--prune is decided when the plan is saved"),
    ],
)
def test_apply_file_arguments(cli, tmp_path, monkeypatch, args, message):
    root = _center(tmp_path)
    monkeypatch.chdir(tmp_path)
    r = cli("--center", str(root), "--lang", "en", "tenant", "apply", *args, *NO_CLOUD)
    assert r.exit_code == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_a_tampered_file_is_refused_before_any_cloud_call(cli, tmp_path, monkeypatch, desired):
    root = _center(tmp_path)
    monkeypatch.chdir(tmp_path)
    d = saved_doc(desired, pending(desired))
    d["plan"]["changes"][0]["name"] = "something else"
    (tmp_path / "czj.plan").write_text(planfile.dumps(d))
    r = cli("--center", str(root), "--lang", "en", "tenant", "apply", "czj.plan", *NO_CLOUD)
    assert r.exit_code == 2
    assert "czj.plan: the plan file was changed after `tenant plan --out` wrote it" in r.stderr
    # an honest file whose input files do not match is refused before connecting, too
    d = saved_doc(desired, pending(desired))
    (tmp_path / "czj.plan").write_text(planfile.dumps(d))
    r = cli("--center", str(root), "--lang", "en", "tenant", "apply", "--plan", "czj.plan")
    assert r.exit_code == 2
    assert "input files changed since the plan: " in r.stderr
    assert "tenants/czj.yaml (added)" in r.stderr
    assert "inventory/tenants/czj.yaml (removed)" in r.stderr
    # Chinese by default
    r = cli("--center", str(root), "tenant", "apply", "czj.plan", *NO_CLOUD)
    assert r.exit_code == 2 and "保存的计划已不成立" in r.stderr
