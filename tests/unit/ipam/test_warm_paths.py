"""The warm paths of issue 17: file digests from stat (stamps), the index journal, the
zone's VLANs from the index, and the garbage collector after a big load."""

from __future__ import annotations

import gc
import hashlib
import os
import time

import pytest

from cloudctl.core.center import load_center
from cloudctl.core.errors import InputError
from cloudctl.ipam import index, service, stamps
from cloudctl.ipam.allocate import AllocationRequest
from cloudctl.ipam.model import load_plan, plan_files
from cloudctl.ipam.stamps import Stamps

OLD = time.time() - 3600  # a file last changed an hour ago: not racy


def _old(path, text: str) -> None:
    path.write_text(text)
    os.utime(path, (OLD, OLD))


def test_an_unchanged_file_is_not_read_again(tmp_path, monkeypatch):
    f = tmp_path / "a.yaml"
    _old(f, "x: 1\n")
    monkeypatch.setattr(stamps, "RACY_NS", -7200 * 10**9)  # as if hashed two hours later
    s = Stamps(tmp_path / "cache")
    assert s.digest(f) == hashlib.sha256(b"x: 1\n").digest()
    s.save()
    again = Stamps(tmp_path / "cache")
    assert again.digest(f) == hashlib.sha256(b"x: 1\n").digest()
    assert again.hashed == []  # from the stamp


def test_a_changed_file_is_hashed_even_with_the_same_size_and_mtime(tmp_path, monkeypatch):
    f = tmp_path / "a.yaml"
    _old(f, "x: 1\n")
    monkeypatch.setattr(stamps, "RACY_NS", -7200 * 10**9)  # as if hashed two hours later
    s = Stamps(tmp_path / "cache")
    s.digest(f)
    s.save()
    _old(f, "x: 2\n")  # same size, mtime put back: ctime still moves
    again = Stamps(tmp_path / "cache")
    assert again.digest(f) == hashlib.sha256(b"x: 2\n").digest()
    assert again.hashed == [str(f)]


def test_a_racy_file_is_never_taken_from_its_stamp(tmp_path):
    """Changed just now (within the timestamp granularity of its hashing): it could change
    again without its stat showing it, so it is hashed every time until it is old."""
    f = tmp_path / "a.yaml"
    f.write_text("x: 1\n")
    s = Stamps(tmp_path / "cache")
    s.digest(f)
    s.save()
    assert str(f) not in Stamps(tmp_path / "cache").entries
    again = Stamps(tmp_path / "cache")
    again.digest(f)
    assert again.hashed == [str(f)]


def test_the_plan_reads_through_stamps_and_sees_every_edit(mini, monkeypatch):
    mini.prefixes("zone: core\nprefixes:\n  - {name: a, prefix: 10.20.1.0/24}\n", "core")
    cache = mini.root / "cache"
    monkeypatch.setattr(stamps, "RACY_NS", -7200 * 10**9)  # as if hashed two hours later
    first = load_plan(mini.plan, cache)
    assert [p.name for p in first.prefixes] == ["a"]
    core = mini.plan / "prefixes" / "core.yaml"
    core.write_text(core.read_text().replace("name: a,", "name: b,"))  # same size
    assert [p.name for p in load_plan(mini.plan, cache).prefixes] == ["b"]


def test_the_index_follows_allocations_through_a_journal(sample_center, monkeypatch):
    center = load_center(sample_center)
    service.load(center)
    cache = service.cache_dir(center)
    full = {p.name for p in cache.glob("index-*.marshal")}
    monkeypatch.setattr(service, "load_valid", lambda *a, **k: 1 / 0)  # index path only
    for i in range(3):
        service.allocate(center, AllocationRequest("core", "czj", 27, f"czj-j{i}"))
    files = sorted(cache.glob("index-*.marshal"), key=lambda p: p.stat().st_size)
    assert len(files) == 2 and files[1].name in full  # the base, and a small journal
    assert files[0].stat().st_size < 2000
    sums = index.digests(plan_files(center.address_plan), center.departments)
    ix = index.read(cache, index.signature(sums))
    assert ix is not None and ix.journal is not None and len(ix.journal) == 3
    monkeypatch.undo()
    loaded = service.load(center)
    assert sorted(ix.names) == sorted(p.name for p in loaded.plan.prefixes)
    rebuilt = index.Index.build(loaded.plan)
    assert rebuilt is not None
    for name in ("czj-j0", "czj-j2", "czj-app"):
        i, j = ix.find(name), rebuilt.find(name)
        assert ix.prefix(i).as_dict() == rebuilt.prefix(j).as_dict()
    assert ix.vlans_used("core") == rebuilt.vlans_used("core")


def test_a_long_journal_is_folded_into_a_full_index(sample_center, monkeypatch):
    monkeypatch.setattr(index, "JOURNAL_MAX", 2)
    center = load_center(sample_center)
    service.load(center)
    monkeypatch.setattr(service, "load_valid", lambda *a, **k: 1 / 0)
    for i in range(4):
        service.allocate(center, AllocationRequest("core", "czj", 28, f"czj-k{i}"))
    sums = index.digests(plan_files(center.address_plan), center.departments)
    ix = index.read(service.cache_dir(center), index.signature(sums))
    assert ix is not None and len(ix.journal or []) <= 2
    assert ix.find("czj-k3") is not None and ix.find("czj-k0") is not None


def test_auto_vlan_from_the_index_is_the_full_paths_choice(sample_center, monkeypatch):
    """The zone's VLAN holders are no longer in the small plan: the lowest free VLAN comes
    from the index's VLAN column, and it is the one the full path picks."""
    center = load_center(sample_center)
    service.load(center)
    req = AllocationRequest("core", "czj", 27, "czj-v1")
    fast = service._allocate_indexed(center, req, center.address_plan, True)
    monkeypatch.setattr(service, "_allocate_indexed", lambda *a, **k: None)
    full = service.allocate(center, req, dry_run=True)
    assert fast is not None and fast.entry["vlan"] == full.entry["vlan"]
    used = {p.vlan for p in service.load(center).plan.prefixes if p.zone == "core" and p.vlan}
    assert fast.entry["vlan"] not in used


def test_an_explicit_vlan_in_use_names_its_holder_on_the_index_path(sample_center):
    center = load_center(sample_center)
    loaded = service.load(center)
    holder = next(p for p in loaded.plan.prefixes if p.zone == "core" and p.vlan)
    req = AllocationRequest("core", "czj", 27, "czj-v2", vlan=holder.vlan)
    with pytest.raises(InputError) as e:
        service.allocate(center, req, dry_run=True)
    assert holder.name in str(e.value) and "already used" in str(e.value)


def test_after_a_big_load_the_collector_does_not_walk_the_plan():
    """quiet_gc freezes what the load made: the next collection is not ~1M objects."""
    with service.quiet_gc():
        keep = [[i] for i in range(200_000)]
    assert gc.isenabled()
    assert gc.get_count()[0] < 1000  # without the freeze: 200k+ young objects pending
    del keep


def _ruamel_render(entry: dict, indent: int, monkeypatch) -> str:
    from cloudctl.ipam import edit

    with monkeypatch.context() as m:
        m.setattr(edit, "_render_plain", lambda *a: None)
        try:
            return edit.render_entry(entry, indent)
        except InputError:
            return "refused"


def test_the_plain_entry_writer_writes_what_ruamel_writes(monkeypatch):
    """render_entry writes plain entries itself (no ruamel import on a warm allocate):
    byte for byte what ruamel.yaml writes, and ruamel still takes everything else."""
    import random

    from cloudctl.ipam import edit

    words = [
        "czj-app",
        "t252-x1",
        "core",
        "on",
        "yes",
        "null",
        "a.b",
        "x_y",
        "A1",
        "e5",
        "n",
        "Y",
        "nan",
        "True",
        "No",
        "OFF",
        "NULL",
        "a:b",
    ]
    words += ["x y", "中文", "-a", "'q'"]
    addrs = ["10.20.18.0/24", "10.20.18.1", "10.20.18.10-10.20.18.254", "999.1.1.1",
             "2001:db8::/64", "1.2", "1.2.3", "0.0.0.0/0"]  # fmt: skip
    rnd = random.Random(17)
    fast = 0
    for _ in range(1500):
        e: dict = {"name": rnd.choice(words), "prefix": rnd.choice(addrs)}
        for key, values in (("tenant", words), ("vlan", [1, 1522, 4094, -1, True]),
                            ("status", ["reserved", "container"]), ("gateway", addrs)):  # fmt: skip
            if rnd.random() < 0.5:
                e[key] = rnd.choice(values)
        if rnd.random() < 0.5:
            e["pools"] = rnd.sample(addrs, rnd.randint(1, 2))
        indent = rnd.choice([0, 2, 4])
        try:
            got = edit.render_entry(e, indent)
        except InputError:
            got = "refused"
        assert got == _ruamel_render(e, indent, monkeypatch), e
        fast += edit._render_plain(e, indent) is not None
    assert fast > 50  # the plain writer was really exercised
    usual = {"name": "czj-app2", "prefix": "10.20.18.0/24", "tenant": "czj", "vlan": 1522,
             "gateway": "10.20.18.1", "pools": ["10.20.18.10-10.20.18.254"]}  # fmt: skip
    assert edit._render_plain(usual, 2) == _ruamel_render(usual, 2, monkeypatch)


def test_the_cache_seeded_after_an_allocation_equals_a_fresh_parse(sample_center, monkeypatch):
    """cache_appended adds the new entry's row to the file's cached rows: the next load
    from the cache gives the plan a fresh parse gives, lines included."""
    center = load_center(sample_center)
    service.load(center)
    for i in range(2):
        service.allocate(center, AllocationRequest("core", "czj", 28, f"czj-c{i}"))
    from cloudctl.ipam import model

    with monkeypatch.context() as m:
        m.setattr(model, "_parse_file", lambda *a: 1 / 0)  # every file from the cache
        cached = load_plan(center.address_plan, service.cache_dir(center))
    fresh = load_plan(center.address_plan)
    assert [(p.as_dict(), str(p.location)) for p in cached.prefixes] == [
        (p.as_dict(), str(p.location)) for p in fresh.prefixes
    ]
    assert any(p.name == "czj-c1" for p in cached.prefixes)


def test_a_journal_without_its_base_is_rebuilt_by_the_next_validation(sample_center):
    center = load_center(sample_center)
    service.load(center)
    base = {p.name for p in service.cache_dir(center).glob("index-*.marshal")}
    service.allocate(center, AllocationRequest("core", "czj", 28, "czj-b0"))
    for name in base:
        (service.cache_dir(center) / name).unlink()  # e.g. removed by hand
    sums = index.digests(plan_files(center.address_plan), center.departments)
    cache = service.cache_dir(center)
    assert not index.usable(cache, index.signature(sums))
    service.load(center)  # validates clean: writes a full index again
    assert index.usable(cache, index.signature(sums))
    assert index.read(cache, index.signature(sums)).find("czj-b0") is not None


def test_pruning_the_parse_cache_keeps_the_index_and_the_stamps(tmp_path):
    from cloudctl.ipam import model

    cache = tmp_path / "c"
    cache.mkdir()
    for i in range(300):
        (cache / f"{i:064x}.marshal").write_bytes(b"")
    (cache / "index-abc.marshal").write_bytes(b"")
    (cache / "stamps.marshal").write_bytes(b"")
    for p in cache.iterdir():
        os.utime(p, (OLD, OLD))
    model._prune(cache, set())
    assert sorted(p.name for p in cache.iterdir()) == ["index-abc.marshal", "stamps.marshal"]


def test_validate_leaves_the_index_to_a_forked_process(sample_center, monkeypatch):
    """``ipam validate`` of a big plan does not wait for the allocation index: a forked
    process writes it (detached from the output pipe), and the next allocation uses it."""
    monkeypatch.setattr(service, "INDEX_ASIDE_MIN", 1)
    center = load_center(sample_center)
    assert service.load(center, index_aside=True).problems == []
    cache = service.cache_dir(center)
    sums = index.digests(plan_files(center.address_plan), center.departments)
    deadline = time.time() + 30
    while not index.usable(cache, index.signature(sums)) and time.time() < deadline:
        time.sleep(0.05)
    assert index.usable(cache, index.signature(sums))
    monkeypatch.setattr(service, "load_valid", lambda *a, **k: 1 / 0)  # the index path only
    assert service.allocate(center, AllocationRequest("core", "czj", 28, "czj-f1")).created


def test_an_index_written_meanwhile_is_not_removed(tmp_path):
    """Writing an index removes older generations, not a file another process wrote while
    this one was writing (a journal of an allocation that ran meanwhile)."""
    import marshal

    cache = tmp_path
    newer = index.index_path(cache, "b" * 64)
    older = index.index_path(cache, "c" * 64)
    older.write_bytes(b"x")
    os.utime(older, (OLD, OLD))
    newer.write_bytes(marshal.dumps((index.INDEX_VERSION, "journal", "a" * 64, [])))
    os.utime(newer, (time.time() + 60, time.time() + 60))  # stamped after the write began
    ix = index.Index.build(load_plan(tmp_path / "none"))
    assert ix is not None
    index.write(cache, "a" * 64, ix)
    assert newer.exists() and not older.exists()
