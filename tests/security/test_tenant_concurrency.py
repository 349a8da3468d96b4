"""Issue 11 §4: two operators at once. Two real ``tenant apply`` processes on one tenant
create nothing twice; duplicates made behind cloudctl's back are drift (exit 1) in plan,
drift and ipam drift, and apply refuses naming both ids. Tenants ``c11-*``, own scope."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from labkit import make_center, run_cloudctl, start_cloudctl, wipe_projects

from cloudctl.core.center import load_center
from cloudctl.core.errors import ConflictError

PREFIX, SCOPE = "c11-", "c11"


class _Cloud:
    key = "http://127.0.0.1:5000/v3|RegionOne"


def test_named_commands_on_one_tenant_exclude_each_other_others_run_side_by_side(tmp_path):
    from cloudctl.tenant.service import change_lock

    center = load_center(make_center(tmp_path, prefix=PREFIX, scope=SCOPE))
    inside = threading.Event()
    release = threading.Event()

    def hold():
        with change_lock(center, _Cloud(), ["czj"], whole_cloud=False):
            inside.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    assert inside.wait(5)
    try:
        with (
            pytest.raises(ConflictError, match="locked by another cloudctl"),
            change_lock(center, _Cloud(), ["czj"], whole_cloud=False, wait=0.3),
        ):
            pass
        with (  # a whole-cloud command waits for every tenant
            pytest.raises(ConflictError),
            change_lock(center, _Cloud(), ["czj", "rsj"], whole_cloud=True, wait=0.3),
        ):
            pass
        with change_lock(center, _Cloud(), ["rsj"], whole_cloud=False, wait=0.3):
            pass  # another tenant: no wait
    finally:
        release.set()
        t.join()


@pytest.fixture(scope="module")
def lab_center(lab, sdk, tmp_path_factory):
    wipe_projects(sdk, PREFIX)
    root = make_center(tmp_path_factory.mktemp("c11"), prefix=PREFIX, scope=SCOPE)
    yield root, sdk, {**os.environ, **lab.env(), "CLOUDCTL_CENTER": str(root), "COLUMNS": "400"}
    wipe_projects(sdk, PREFIX)


def _cloudctl(env, *args):
    return start_cloudctl("--lang", "en", "tenant", *args, env=env)


@pytest.mark.integration
def test_two_concurrent_applies_on_one_tenant_create_nothing_twice(lab_center):
    _root, sdk, env = lab_center
    procs = [_cloudctl(env, "apply", "--auto-approve") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0], outs
    # the second waited for the lock, then planned afresh: nothing left to do
    assert sum("No changes" in o for o, _e in outs) == 1, outs
    pid = sdk.identity.find_project(f"{PREFIX}czj").id
    for kind in ("networks", "subnets", "routers", "security_groups"):
        names = [x.name for x in getattr(sdk.network, kind)(project_id=pid)]
        assert len(names) == len(set(names)), (kind, names)
    p = _cloudctl(env, "plan")
    assert p.wait(120) == 0


@pytest.mark.integration
def test_duplicate_network_is_drift_and_apply_names_both_ids(lab_center):
    root, sdk, env = lab_center
    from cloudctl.tenant.ownership import SqliteOwnershipStore

    pid = sdk.identity.find_project(f"{PREFIX}czj").id
    net = sdk.network.find_network(f"{PREFIX}czj-app", project_id=pid)
    twin = sdk.network.create_network(name=net.name, project_id=pid, description=net.description)
    sdk.network.set_tags(twin, ["managed-by=cloudctl"])
    sub = sdk.network.find_subnet(f"{PREFIX}czj-app", project_id=pid)
    sub_twin = sdk.network.create_subnet(
        name=sub.name, network_id=twin.id, project_id=pid, ip_version=4, cidr=sub.cidr
    )
    try:
        # one recorded, one not: kept and reported
        for args in (("plan",), ("drift",)):
            p = _cloudctl(env, *args)
            out, err = p.communicate(timeout=120)
            assert p.returncode == 1, (args, out, err)
            assert twin.id in out and net.id in out, out
        p = run_cloudctl("ipam", "drift", "-o", "json", env=env, timeout=120)
        assert p.returncode == 1
        dup = {f["id"] for f in json.loads(p.stdout)["findings"] if f["status"] == "duplicate"}
        assert {sub.id, sub_twin.id} <= dup
        p = _cloudctl(env, "apply", "--auto-approve")
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and "is left alone" in out, out + err
        # both recorded (e.g. two applies before the lock existed): apply refuses, names both
        store = SqliteOwnershipStore(root / "state" / "cloudctl.db")
        key = next(iter({r["cloud"] for r in store.rows_all()}))
        store.record(key, "network", twin.id, twin.name, "czj")
        p = _cloudctl(env, "apply", "--auto-approve")
        out, err = p.communicate(timeout=120)
        assert p.returncode == 2, out + err
        assert twin.id in err and net.id in err and "nothing was changed" in err
        store.forget(key, twin.id)
    finally:
        sdk.network.delete_subnet(sub_twin)
        sdk.network.delete_network(twin)
    time.sleep(0.1)
    assert _cloudctl(env, "drift").wait(120) == 0
