"""Operator mistakes around the address plan: exit 2 with a clear message, nothing written."""

from __future__ import annotations

import pytest


def test_free_refuses_a_plan_that_does_not_load_whole(cli, sample_center):
    f = sample_center / "inventory" / "ipam" / "prefixes" / "dmz.yaml"
    f.write_text(f.read_text(encoding="utf-8") + "x: [\n", encoding="utf-8")
    r = cli("--center", str(sample_center), "--lang", "en", "ipam", "free", "-z", "dmz")
    assert r.exit_code == 2
    assert "dmz.yaml:" in r.output and "malformed YAML" in r.output
    assert "addresses free" not in r.output  # no free space claimed from half a plan


@pytest.mark.parametrize("n", ["0", "-1", "99"])
def test_free_rejects_impossible_prefix_lengths(cli, sample_center, n):
    r = cli("--center", str(sample_center), "--lang", "en", "ipam", "free", "-z", "dmz", "-l", n)
    assert r.exit_code == 2 and "--prefixlen must be 1..32" in r.output


@pytest.mark.parametrize("name", ["", "a b", "10.11.4.0/26", "x: [y", "-x", "a\nb", "x" * 65])
def test_allocate_rejects_names_that_would_break_the_plan(cli, sample_center, name):
    files = sorted((sample_center / "inventory" / "ipam").rglob("*.yaml"))
    before = {p: p.read_bytes() for p in files}
    args = ["--center", str(sample_center), "--lang", "en", "ipam", "allocate", "-z", "dmz"]
    args += ["-t", "rsj"]
    r = cli(*args, "-l", "28", "-n", name)
    assert r.exit_code == 2 and "bad allocation name" in r.output, r.output
    assert {p: p.read_bytes() for p in files} == before


def test_export_to_a_directory_or_an_impossible_path_is_an_input_error(cli, sample_center):
    out = sample_center / "outdir"
    out.mkdir()
    for target, msg in ((out, "is a directory"), ("/proc/no/x.json", "cannot write here")):
        r = cli(
            "--center", str(sample_center), "--lang", "en", "ipam", "export", "-f", "json", "-O",
            str(target),
        )
        assert r.exit_code == 2 and msg in r.output, r.output
    assert list(out.iterdir()) == []  # no temp file left behind
