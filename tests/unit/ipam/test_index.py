"""The allocation index (issue 17): allocate on a plan that validated clean reads the index,
not the whole plan, and decides and writes exactly what the full path would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cloudctl.core.center import load_center
from cloudctl.core.errors import InputError, ValidationFailed
from cloudctl.ipam import index, service
from cloudctl.ipam.allocate import AllocationRequest
from cloudctl.ipam.model import plan_files

REQUESTS = [
    dict(zone="core", tenant="czj", prefixlen=26, name="czj-i1", within="core-infra"),
    dict(zone="core", tenant="rsj", prefixlen=27, name="rsj-i2"),
    dict(zone="core", tenant="czj", prefixlen=28, name="czj-i3", within="core-infra", vlan=None),
    dict(zone="dmz", tenant=None, prefixlen=27, name="dmz-i4", status="reserved"),
    dict(zone="core", tenant="czj", prefixlen=26, name="czj-i5", vlan=1999),
    dict(zone="core", tenant="czj", prefixlen=25, name="czj-i6", within="core-infra"),
]


def _no_full_load(*a, **kw):
    raise AssertionError("the full path ran: the index was not used")


def _allocate_all(center_dir: Path, fast: bool, monkeypatch) -> list:
    center = load_center(center_dir)
    service.load(center)  # a clean validation leaves the index
    out = []
    for r in REQUESTS:
        with monkeypatch.context() as m:
            if fast:
                m.setattr(service, "load_valid", _no_full_load)
            else:
                m.setattr(service, "_allocate_indexed", lambda *a, **k: None)
            try:
                res = service.allocate(center, AllocationRequest(**r))
                out.append((res.created, res.entry, res.file, res.parent))
            except InputError as e:
                out.append(("error", str(e)))
    return out


def test_index_path_decides_and_writes_what_the_full_path_does(
    sample_center, tmp_path, monkeypatch
):
    other = tmp_path / "other"
    shutil.copytree(sample_center, other)
    monkeypatch.chdir(tmp_path)
    fast = _allocate_all(sample_center, True, monkeypatch)
    full = _allocate_all(other, False, monkeypatch)
    assert [x[0] for x in fast].count(True) >= 4
    strip = [tuple(str(v).replace("other/", "") for v in x) for x in full]
    assert [tuple(str(v) for v in x) for x in fast] == strip
    for f in plan_files(sample_center / "inventory" / "ipam"):
        twin = other / f.relative_to(sample_center)
        assert f.read_bytes() == twin.read_bytes(), f
    loaded = service.load(load_center(sample_center))  # and the result validates clean
    assert loaded.problems == []


def test_a_hand_edit_misses_the_index_and_the_full_path_reports_it(sample_center, monkeypatch):
    center = load_center(sample_center)
    service.load(center)
    core = sample_center / "inventory" / "ipam" / "prefixes" / "core.yaml"
    text = core.read_text(encoding="utf-8")
    core.write_text(text + "  - {name: core-infra, prefix: 10.99.0.0/24}\n", encoding="utf-8")
    req = AllocationRequest(zone="core", tenant="czj", prefixlen=26, name="czj-x")
    assert service._allocate_indexed(center, req, center.address_plan, True) is None
    with pytest.raises(ValidationFailed):
        service.allocate(center, req)


def test_the_index_follows_each_allocation(sample_center, monkeypatch):
    center = load_center(sample_center)
    service.load(center)
    monkeypatch.setattr(service, "load_valid", _no_full_load)
    for i in range(3):
        service.allocate(
            center,
            AllocationRequest(zone="core", tenant="czj", prefixlen=27, name=f"czj-n{i}"),
        )
    monkeypatch.undo()
    sums = index.digests(plan_files(center.address_plan), center.departments)
    ix = index.read(service.cache_dir(center), index.signature(sums))
    loaded = service.load(center)
    assert ix is not None and sorted(ix.names) == sorted(p.name for p in loaded.plan.prefixes)


def test_no_index_for_a_plan_the_new_prefix_breaks(mini, monkeypatch):
    """A container of zone data used to carve a core prefix: the allocation is written (as
    before), but the plan no longer validates, so it gets no index."""
    mini.prefixes(
        """\
        zone: data
        prefixes:
          - {name: data-box, prefix: 10.30.0.0/24, status: container}
        """,
        "data",
    )
    center = load_center(mini.root)
    assert service.load(center).problems == []
    req = AllocationRequest(
        zone="core", tenant="czj", prefixlen=26, name="czj-y", within="data-box"
    )
    service.allocate(center, req)
    sums = index.digests(plan_files(center.address_plan), center.departments)
    assert index.read(service.cache_dir(center), index.signature(sums)) is None
    assert service.load(center).problems  # the full path says what is wrong


def test_first_read_in_forked_workers_gives_the_same_plan(tmp_path, monkeypatch):
    """A big plan's first read is parsed by one worker per CPU (model._parse_in_parallel);
    the plan, its problems and their lines are those of a read in one process."""
    import sys

    from cloudctl.ipam import model

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "ipam"))
    from genplan import write_plan

    root = tmp_path / "plan"
    write_plan(root, 3000, rich=True)
    bad = root / "prefixes" / "zz-bad.yaml"
    bad.write_text("zone: core\nprefixes:\n  - name: x\n    prefix: 10.999.0.0/24\n")
    monkeypatch.setattr(model.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(model, "PARALLEL_BYTES", 0)
    forked = model.load_plan(root, tmp_path / "cache")
    stored = [p for p in (tmp_path / "cache").iterdir() if p.name != "stamps.marshal"]
    assert len(stored) == len(forked.files)  # workers stored
    alone = model.load_plan(root)
    assert [p.as_dict() for p in forked.prefixes] == [p.as_dict() for p in alone.prefixes]
    assert [str(p) for p in forked.problems] == [str(p) for p in alone.problems]
    assert any("10.999.0.0" in str(p) and ":4" in str(p) for p in forked.problems)
