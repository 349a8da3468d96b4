"""Issue 11 §7: every input file is read with a size limit, special files are refused, and
YAML aliases cannot turn a few hundred bytes into minutes of work and gigabytes of memory.

Each reader is driven through its real CLI command on a copy of the sample center: the
answer must be ``file: what is wrong`` with exit 2 — never a traceback or an internal error
(exit 3), never a hang.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVIDENCE = '{"schema": "cloudctl.baseline.evidence/1", "hosts": {"h": {"status": "ok"}}}'
PLAN = "migration_plans/xiaogan-2016.yaml"
CSV = "网段,名称,租户,安全域\n10.20.250.0/24,czj-x,czj,core\n"

# reader: (file in the center, command that reads it)
READERS = {
    "address-plan": ("inventory/ipam/prefixes/core.yaml", ["ipam", "validate"]),
    "departments": ("inventory/departments.yaml", ["ipam", "validate"]),
    "center-config": ("cloudctl.yaml", ["ipam", "validate"]),
    "tenant": ("inventory/tenants/czj.yaml", ["tenant", "validate"]),
    "migration-plan": ("migration_plans/xiaogan-2016.yaml", ["migrate", "validate", PLAN]),
    "step-template": ("migration_plans/templates/rehost-web.yaml", ["migrate", "validate", PLAN]),
    "waivers": ("policies/waivers.yaml", ["baseline", "controls"]),
    "profile": ("policies/mlps-l3/profile.yaml", ["baseline", "controls"]),
    "catalog": ("policies/mlps-l3/8.1.4.3-audit.yaml", ["baseline", "controls"]),
    "evidence": ("ev.json", ["baseline", "report", "ev.json", "--html", "out/r.html"]),
    "csv-import": ("import.csv", ["ipam", "import", "--from-csv", "import.csv"]),
}


def make_center(root: Path) -> Path:
    """A copy of the sample center (data only) plus an evidence file and a CSV sheet."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "cloudctl.yaml", root)
    for d in ("inventory", "policies", "migration_plans", "playbooks"):
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns("lab.yml"))
    if (ROOT / "capacity.yaml").exists():
        shutil.copy(ROOT / "capacity.yaml", root)
    (root / "ev.json").write_text(EVIDENCE, encoding="utf-8")
    (root / "import.csv").write_text(CSV, encoding="utf-8")
    return root


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = make_center(tmp_path / "center")
    monkeypatch.chdir(root)  # relative paths in READERS; messages show paths relative to here
    return root


def run(cli, root: Path, argv: list[str]):
    return cli("--center", str(root), "--lang", "en", *argv)


def assert_input_error(r, shown: str, *words: str) -> None:
    out = r.output
    assert r.exit_code == 2, out
    assert "internal error" not in out and "Traceback" not in out, out
    assert shown in out, out
    for w in words:
        assert w in out, out


def replace(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "symlink-to-dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
        (path / "x.yaml").write_text("a: 1\n", encoding="utf-8")
    else:
        path.write_bytes(b"a: 1\nb: \xff\xfe\xfa\xfb\n")


KINDS = {
    "symlink-to-dev-zero": "a character device, not a regular file",
    "fifo": "a FIFO, not a regular file",
    "directory": "is a directory",
    "not-utf8": "text",
}


# These readers look for their files with is_file() first, so a special file reads as a
# missing one: still exit 2 naming the file, but without saying what it is instead.
VAGUE = {"migration-plan", "step-template", "catalog"}
def cases():
    for reader in READERS:
        for kind in KINDS:
            yield pytest.param(reader, kind, id=f"{reader}-{kind}")


@pytest.mark.parametrize("reader, kind", list(cases()))
def test_special_and_undecodable_files_are_input_errors(cli, sample, reader, kind):
    rel, argv = READERS[reader]
    replace(sample / rel, kind)
    t0 = time.monotonic()
    r = run(cli, sample, argv)
    assert time.monotonic() - t0 < 20
    assert_input_error(r, Path(rel).name)
    if kind == "not-utf8":
        assert "UTF-8" in r.output
    elif reader not in VAGUE:  # the core reader's words, or an area's own refusal
        assert KINDS[kind] in r.output or "not a regular file" in r.output, r.output
    assert not (sample / "out").exists()  # nothing written on bad input


def test_non_utf8_is_reported_at_its_line(cli, sample):
    f = sample / "inventory/ipam/prefixes/core.yaml"
    f.write_bytes(b"zone: core\nprefixes:\n  - {name: x, purpose: \xb2\xe2\xca\xd4}\n")
    assert_input_error(run(cli, sample, ["ipam", "validate"]), "core.yaml:3:", "not UTF-8")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(cli, sample):
    from cloudctl.core.fileio import MAX_INPUT_BYTES

    f = sample / "inventory/ipam/prefixes/core.yaml"
    with f.open("r+b") as fh:  # sparse: the size is what counts, not the bytes on disk
        fh.truncate(MAX_INPUT_BYTES + 1)
    assert_input_error(run(cli, sample, ["ipam", "validate"]), "core.yaml", "too large")


def test_a_csv_field_over_128_kib_is_an_input_error_at_its_line(cli, sample):
    big = "x" * (128 * 1024 + 1)
    (sample / "import.csv").write_text(CSV + f"10.20.251.0/24,czj-y,czj,{big}\n", encoding="utf-8")
    before = snapshot(sample / "inventory")
    r = run(cli, sample, READERS["csv-import"][1])
    assert_input_error(r, "import.csv:3", "longer than 131,072 characters")
    assert snapshot(sample / "inventory") == before


def test_center_config_unknown_key_and_version_are_errors_at_their_line(cli, sample):
    cfg = sample / "cloudctl.yaml"
    cfg.write_text(
        "version: 1e999\n" + cfg.read_text(encoding="utf-8") + "tenants_dir: x\n", encoding="utf-8"
    )
    n = len(cfg.read_text(encoding="utf-8").splitlines())
    r = run(cli, sample, ["ipam", "validate"])
    assert_input_error(r, "cloudctl.yaml:1: version: '1e999'", f"cloudctl.yaml:{n}: unknown key")
    cfg.write_text("version: 1\nname: ok\n", encoding="utf-8")
    assert run(cli, sample, ["ipam", "validate"]).exit_code == 0


def test_a_directory_without_a_center_config_is_not_a_center(cli, tmp_path):
    r = cli("--center", str(tmp_path), "--lang", "en", "ipam", "validate")
    assert r.exit_code == 2 and "not a cloudctl center" in r.output


# ------------------------------------------------------------------ YAML alias bombs


def laughs(levels: int, width: int = 9) -> str:
    """The classic: each level lists the previous one ``width`` times (width^levels)."""
    refs = lambda n: "[" + ",".join([f"*l{n}"] * width) + "]"  # noqa: E731
    lines = ["l0: &l0 [lol,lol,lol,lol,lol,lol,lol,lol,lol]"]
    lines += [f"l{i}: &l{i} {refs(i - 1)}" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def bomb_in_plan(levels: int) -> str:
    body = laughs(levels).replace("l0: ", "zone: core\nx0: ", 1)  # hidden under unknown keys
    return body + f"prefixes:\n  - {{name: lol, prefix: 10.20.250.0/24, purpose: *l{levels}}}\n"


def bounded_cloudctl(root: Path, argv: list[str], mem: int = 1 << 30, timeout: float = 30):
    """Run the real CLI in a child with an address-space limit: an unbounded expansion
    fails with MemoryError (exit 3) or the timeout instead of eating the machine."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))

    t0 = time.monotonic()
    p = subprocess.run(
        [sys.executable, "-m", "cloudctl", "--center", str(root), "--lang", "en", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit,
        cwd=root,
        check=False,
    )
    return p, time.monotonic() - t0


@pytest.mark.parametrize("levels", [8, 9])
def test_billion_laughs_in_the_address_plan_is_refused_fast_and_small(sample, levels):
    text = bomb_in_plan(levels)
    assert len(text.encode()) < 600  # the file was 468 bytes
    (sample / "inventory/ipam/prefixes/lol.yaml").write_text(text, encoding="utf-8")
    p, took = bounded_cloudctl(sample, ["ipam", "validate"])
    assert p.returncode == 2, p.stderr
    assert "lol.yaml:" in p.stderr and "aliases (*name) expand" in p.stderr
    assert "internal error" not in p.stderr
    assert took < 15


def test_billion_laughs_in_a_migration_plan_parameter_is_refused(sample):
    plan = sample / "migration_plans/xiaogan-2016.yaml"
    plan.write_text(plan.read_text(encoding="utf-8") + laughs(9), encoding="utf-8")
    p, took = bounded_cloudctl(sample, ["migrate", "validate"])
    assert p.returncode == 2 and "aliases (*name) expand" in p.stderr, p.stderr
    assert took < 15


def test_aliases_the_sample_data_uses_still_work(cli, sample):
    """Templates share step vars with ``&app``/``*app``; ``<<`` merges keep working."""
    assert "*app" in (sample / "migration_plans/templates/rehost-web.yaml").read_text("utf-8")
    assert run(cli, sample, ["migrate", "validate"]).exit_code == 0
    f = sample / "inventory/ipam/prefixes/merge.yaml"
    f.write_text(
        "zone: core\nbase: &b {zone: core, status: reserved, purpose: 合并}\n"
        "prefixes:\n  - {<<: *b, name: m1, prefix: 10.20.252.0/24}\n",
        encoding="utf-8",
    )
    r = run(cli, sample, ["ipam", "validate"])
    assert "merge.yaml:2: unknown key 'base'" in r.output  # the merge itself was accepted
    f.write_text(
        "zone: core\nprefixes:\n  - &b {name: m0, prefix: 10.20.253.0/24, status: reserved}\n"
        "  - {<<: *b, name: m1, prefix: 10.20.252.0/24}\n",
        encoding="utf-8",
    )
    r = run(cli, sample, ["ipam", "show", "-z", "core", "-o", "json"])
    assert r.exit_code == 0, r.output
    assert '"name": "m1"' in r.output and r.output.count('"status": "reserved"') >= 2


@pytest.mark.parametrize(
    "text, words",
    [
        ("zone: core\nprefixes: " + "[" * 500 + "]" * 500 + "\n", "nested deeper than 64"),
        ("zone: core\nprefixes: &a [*a]\n", "recursive alias"),
        ("zone: core\nprefixes:\n  - {name: x, purpose: " + "y" * 200_000 + "}\n", "too long"),
    ],
    ids=["deep", "recursive", "long-value"],
)
def test_deep_recursive_and_huge_values_are_input_errors(cli, sample, text, words):
    (sample / "inventory/ipam/prefixes/bad.yaml").write_text(text, encoding="utf-8")
    assert_input_error(run(cli, sample, ["ipam", "validate"]), "bad.yaml:", words)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
