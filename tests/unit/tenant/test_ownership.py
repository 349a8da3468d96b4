"""Ownership: only what cloudctl recorded as created is ever deleted; a marker only claims."""

from __future__ import annotations

import pytest

from cloudctl.tenant.apply import Recorder, execute
from cloudctl.tenant.desired import TenantSettings, build_desired
from cloudctl.tenant.diff import compute_plan, destroy_changes, drift_items
from cloudctl.tenant.model import MANAGED_NOTE, MANAGED_TAG, ActualState, Network, Project, User
from cloudctl.tenant.ownership import MemoryOwnershipStore, SqliteOwnershipStore
from cloudctl.tenant.passwords import PasswordPolicy, PasswordStore

from .test_diff import converged


@pytest.fixture
def desired(plan_view, templates, czj_doc):
    return build_desired({"czj": czj_doc}, plan_view, templates, TenantSettings(scope="main"))


def test_hand_tagged_network_and_marked_user_are_drift_never_pruned(desired):
    st = converged(desired)
    st.networks.append(Network("NF", "czj-forged", "P", "dept", [MANAGED_TAG]))
    st.users.append(User("UF", "czj-forged", f"by hand {MANAGED_NOTE}", None, True, "P"))
    plan = compute_plan(desired, st, prune=True)
    assert not [c for c in plan.changes if c.id in ("NF", "UF")]
    assert {(f.kind, f.name, f.what) for f in plan.findings} == {
        ("network", "czj-forged", "unrecorded"),
        ("user", "czj-forged", "unrecorded"),
    }
    items = drift_items(plan, st, desired)
    assert {i.what for i in items} == {"not-created-by-cloudctl"}
    assert all("not created by cloudctl" in i.warning for i in items)


def test_recorded_undesired_network_is_pruned(desired):
    st = converged(desired)
    st.networks.append(Network("NX", "czj-old", "P", "", [MANAGED_TAG]))
    st.recorded.add("NX")
    plan = compute_plan(desired, st, prune=True)
    assert [(c.action, c.id) for c in plan.changes] == [("delete", "NX")]


def test_unrecorded_project_without_file_is_not_torn_down(desired):
    st = converged(desired)
    st.projects.append(Project("Q", "gone", "", [MANAGED_TAG, "cloudctl-scope=main"]))
    plan = compute_plan(desired, st, prune=True)
    assert plan.empty and not plan.teardowns
    assert [(f.kind, f.name) for f in plan.findings] == [("project", "gone")]


def test_exact_match_without_record_is_adopted_differing_one_needs_tenant_adopt(desired):
    st = converged(desired)
    st.recorded = set()  # made before the ownership record existed
    plan = compute_plan(desired, st)
    assert plan.empty and not plan.problems
    assert {i for _k, i, _n, _t in plan.adoptions} >= {"P", "N0", "RT", "U-czj-ops"}
    st.networks[0].description = "changed by hand " + MANAGED_NOTE
    plan = compute_plan(desired, st)
    assert [(k, i) for k, i, _n, _t in plan.unrecorded] == [("network", "N0")]
    assert "tenant adopt czj" in str(plan.problems[0])
    assert not plan.changes and not plan.adoptions  # the tenant is held back


def test_two_recorded_networks_with_one_name_block_apply_naming_both(desired):
    st = converged(desired)
    st.networks.append(Network("N0b", st.networks[0].name, "P", "", [MANAGED_TAG]))
    st.recorded.add("N0b")
    plan = compute_plan(desired, st)
    (f,) = plan.findings
    assert f.what == "duplicate" and f.blocking and f.ids == ["N0", "N0b"]
    assert "N0" in f.message and "N0b" in f.message
    assert [i.what for i in drift_items(plan, st, desired)] == ["duplicate"]


def test_duplicate_without_record_keeps_the_recorded_one(desired):
    st = converged(desired)
    name = st.networks[0].name
    st.networks.insert(0, Network("N0x", name, "P", "", [MANAGED_TAG]))
    plan = compute_plan(desired, st)
    (f,) = plan.findings
    assert not f.blocking and "keeps N0" in f.message and "N0x" in f.message
    assert plan.empty  # the diff worked on N0, the recorded one
    from cloudctl.tenant.apply import _Ids

    assert _Ids(st, "czj").get("network", name) == "N0"


def test_destroy_keeps_marked_but_unrecorded_things_and_the_project(desired):
    st = converged(desired)
    st.networks.append(Network("NF", "czj-forged", "P", "", [MANAGED_TAG]))
    changes, kept = destroy_changes("czj", st.projects[0], st)
    assert kept == ["network czj-forged (claims the marker, not created by cloudctl)"]
    assert all(c.id != "NF" for c in changes) and all(c.kind != "project" for c in changes)


def test_sqlite_store_records_and_forgets(tmp_path):
    store = SqliteOwnershipStore(tmp_path / "state" / "cloudctl.db")
    store.record("c1", "network", "n1", "x-app", "x")
    store.record_many("c1", [("subnet", "s1", "x-app", "x")])
    store.record("c2", "network", "n9", "y-app", "y")
    assert store.ids("c1") == {"n1", "s1"} and store.ids("c2") == {"n9"}
    store.forget("c1", "n1")
    assert store.ids("c1") == {"s1"}
    assert store.rows("c1")[0]["kind"] == "subnet"


class FakeCloud:
    """Just enough of the adapter for an apply from empty (ids are counters)."""

    def __init__(self):
        self.n = 0
        self.calls: list[str] = []

    def _id(self, kind):
        self.n += 1
        return f"{kind}-{self.n}"

    def create_project(self, body):
        return self._id("project")

    def create_user(self, body):
        return self._id("user")

    def create(self, kind, body, on_created=None):
        obj = {"id": self._id(kind), "security_group_rules": []}
        if on_created:
            on_created(obj)
        return obj

    def __getattr__(self, name):  # quotas, rules, interfaces, roles: nothing to record
        return lambda *a, **k: self.calls.append(name) or {}


def test_apply_records_every_created_id(desired, tmp_path):
    plan = compute_plan(desired, ActualState(services={"network": True}))
    store = MemoryOwnershipStore()
    pw = PasswordStore(tmp_path / "pw.yaml", policy_loader=lambda: PasswordPolicy(8, 3))
    roles = ActualState(roles={"R1": "member", "R2": "reader"})
    result = execute(plan, FakeCloud(), roles, pw, recorder=Recorder(store, "lab"))
    assert result.ok, result.as_dict()
    kinds = sorted(k for k, _n, _t in store.items.values())
    assert kinds == sorted(
        ["project", "network", "network", "subnet", "subnet", "router"]
        + ["security_group"] * 3
        + ["user"] * 2
    )
    assert all(t == "czj" for _k, _n, t in store.items.values())
