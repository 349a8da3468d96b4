"""Issue 11 §7 / "Done when": a hypothesis fuzz of every file reader.

For each kind of input file, hypothesis feeds its real CLI command (in-process, CliRunner)
with (a) the sample file's bytes mutated — flipped, cut, spliced, YAML syntax sprinkled in
— and (b) structured but wrong documents (the file's own keys with values of any type and
shape). Whatever comes in, the command:

- never fails with an internal error (exit 3) or a traceback: exit 0, 1 or 2 only;
- never writes on bad input: with exit 2 no file of the center changes (the state
  directory — parse cache, audit trail — is cloudctl's own and may change);
- keeps within a deadline per example and a bound on the process's peak memory.

Derandomized (a fixed seed, no example database) so CI sees the same examples each run;
``CLOUDCTL_FUZZ_EXAMPLES=500`` runs a longer search locally.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import resource
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cloudctl.cli.app import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("CLOUDCTL_FUZZ_EXAMPLES", "12"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=timedelta(seconds=15),  # one example; a hang or an alias bomb would blow it
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
EVIDENCE = {
    "schema": "cloudctl.baseline.evidence/1",
    "generated_at": "2026-11-26T10:00:00",
    "hosts": {
        "yun-db01": {"status": "ok", "evidence": {"sshd": {"permitrootlogin": "no"}}},
        "ghost": {"status": "unreachable", "error": "refused"},
    },
}
CSV_TEXT = "网段,名称,租户,安全域,VLAN,用途\n10.20.250.0/24,czj-fuzz,czj,core,1990,测试\n"


def _journal_bytes() -> bytes:
    """A real, empty migration journal (the schema cloudctl writes)."""
    import tempfile

    from cloudctl.migrate.journal import Journal

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "j.db"
        Journal(p).close()
        for side in ("-wal", "-shm"):  # fold the WAL into the file
            Path(f"{p}{side}").unlink(missing_ok=True)
        return p.read_bytes()


# reader: (file, argv with {f} for the file's absolute path, seed bytes or None = the file)
READERS: dict[str, tuple[str, list[str]]] = {
    "address-plan": ("inventory/ipam/prefixes/core.yaml", ["ipam", "validate"]),
    "address-plan-show": ("inventory/ipam/prefixes/dmz.yaml", ["ipam", "show", "--tree"]),
    "departments": ("inventory/departments.yaml", ["ipam", "validate"]),
    "center-config": ("cloudctl.yaml", ["ipam", "validate"]),
    "tenant": ("inventory/tenants/czj.yaml", ["tenant", "validate"]),
    "migration-plan": ("migration_plans/xiaogan-2016.yaml", ["migrate", "validate", "{f}"]),
    "step-template": (
        "migration_plans/templates/rehost-web.yaml",
        ["migrate", "validate", "{plan}"],
    ),
    "waivers": ("policies/waivers.yaml", ["baseline", "controls"]),
    "profile": ("policies/mlps-l3/profile.yaml", ["baseline", "controls"]),
    "catalog": ("policies/mlps-l3/8.1.4.3-audit.yaml", ["baseline", "controls"]),
    "evidence-json": ("ev.json", ["baseline", "report", "{f}", "--html", "{root}/out/r.html"]),
    "csv-import": ("import.csv", ["ipam", "import", "--from-csv", "{f}"]),
    "journal": ("journal.db", ["migrate", "status", "--journal", "{f}"]),
}
STATE = ".cloudctl"  # cloudctl's own: the parse cache and the audit trail change on reads


@pytest.fixture(scope="module")
def center(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz") / "center"
    root.mkdir()
    shutil.copy(ROOT / "cloudctl.yaml", root)
    for d in ("inventory", "policies", "migration_plans", "playbooks"):
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns("lab.yml"))
    if (ROOT / "capacity.yaml").exists():
        shutil.copy(ROOT / "capacity.yaml", root)
    (root / "ev.json").write_text(json.dumps(EVIDENCE, indent=1), encoding="utf-8")
    (root / "import.csv").write_text(CSV_TEXT, encoding="utf-8")
    (root / "journal.db").write_bytes(_journal_bytes())
    return root


@pytest.fixture(scope="module")
def memory_bound():
    """The peak RSS of this process may grow by at most 1 GiB over the whole fuzz (an
    unbounded alias expansion or a /dev/zero read takes gigabytes)."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 1024, f"peak memory grew by {grown_mib:.0f} MiB during the fuzz"


def tree_digest(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if rel.parts[0] == STATE or p.name.endswith(("-wal", "-shm")):  # SQLite's own
            continue
        if p.is_symlink() or not p.is_file():
            out[str(rel)] = "dir" if p.is_dir() else "other"
        else:
            out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


# ------------------------------------------------------------------------- strategies

TOKENS = [
    b"&a ", b"*a", b"<<: *a", b"[", b"]", b"{", b"}", b": ", b"- ", b"\t", b"\x00", b"%YAML 1.1",
    b"!!python/object:os.system", b"!!binary", b"!!set", b"1e999", b"~", b"'", b'"', b"\xff",
    b"\r\n", b"---\n", b"...\n", b"? ", b"|\n", b">-\n", b"#", b"2026-13-45", b"0x1F", b"\xe4\xb8",
    b"[/]", b":100:", b"{{ lookup('pipe', 'id') }}", b"\x1b[2J", b",", b";", b'"",', b"=cmd|x",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "token", "delete", "dup", "cut"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            i = min(at, len(data) - 1)
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "dup":
            n = draw(st.integers(1, 200))
            data[at:at] = data[max(0, at - n) : at]
        else:
            data = data[:at]
    return bytes(data)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=24),
    st.sampled_from(["[/]", "2001:db8:0:100::/64", ":100:", "{{ x }}", "=1+1", "\x1b[31m", "*"]),
)


def values(keys: list[str]):
    key = st.sampled_from(keys) if keys else st.text(max_size=8)
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(key, st.text(max_size=8)), inner, max_size=5),
        ),
        max_leaves=25,
    )


def keys_of(text: str) -> list[str]:
    """Every mapping key of the sample file: wrong values under the right keys go deepest."""
    found: set[str] = set()

    def walk(x) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                found.add(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    with contextlib.suppress(yaml.YAMLError, ValueError):
        walk(yaml.safe_load(text) if text.lstrip()[:1] != "{" else json.loads(text))
    return sorted(found)


def structured(path: Path, original: bytes):
    """Documents that parse but are wrong: the file's own top-level shape and keys with
    values of other types (YAML, JSON or CSV as the file is)."""
    if path.suffix == ".db":
        return st.sampled_from([b"", b"SQLite format 3\x00" + b"\x00" * 84, b"not a db"])
    if path.suffix == ".csv":
        rows = st.lists(st.lists(st.one_of(st.text(max_size=20), SCALARS.map(str)), max_size=8))

        def to_csv(rs: list[list[str]]) -> bytes:
            buf = io.StringIO()
            csv.writer(buf).writerows([["网段", "名称", "租户", "安全域"], *rs])
            return buf.getvalue().encode("utf-8")

        return rows.map(to_csv)
    text = original.decode("utf-8")
    keys = keys_of(text)
    doc = st.dictionaries(st.sampled_from(keys) if keys else st.text(), values(keys), max_size=6)
    if path.suffix == ".json":
        return doc.map(lambda d: json.dumps(d, default=str).encode())
    return doc.map(lambda d: yaml.safe_dump(d, allow_unicode=True).encode())


# ------------------------------------------------------------------------------ test


@pytest.mark.parametrize("reader", list(READERS))
def test_reader_survives_anything(center: Path, memory_bound, reader: str):
    rel, argv = READERS[reader]
    target = center / rel
    original = target.read_bytes()
    plan = str(center / "migration_plans/xiaogan-2016.yaml")
    args = [a.format(f=target, root=center, plan=plan) for a in argv]
    runner = CliRunner()
    count = [0]
    before = tree_digest(center)
    pristine = {
        p: (center / p).read_bytes() for p, d in before.items() if d not in ("dir", "other")
    }

    @FUZZ
    @given(data=st.one_of(mutated(original), structured(target, original)))
    def fuzz(data: bytes) -> None:
        here, argv = target, args
        if reader == "journal":  # a new file each time: no SQLite handle of an earlier run
            count[0] += 1
            here = center / f"journal-{count[0]}.db"
            argv = [str(here) if a == str(target) else a for a in args]
        here.write_bytes(data)
        mine = {**before, str(here.relative_to(center)): hashlib.sha256(data).hexdigest()}
        try:
            r = runner.invoke(
                app, ["--center", str(center), "--lang", "en", *argv], catch_exceptions=True
            )
            out = r.output
            assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
            assert r.exit_code in (0, 1, 2), f"exit {r.exit_code}: {out[-2000:]}"
            assert "internal error" not in out and "Traceback" not in out, out[-2000:]
            if r.exit_code == 2:
                assert tree_digest(center) == mine, "a file changed although the input was bad"
        finally:  # a valid input may be written (an import, a report): back to the start
            after = tree_digest(center)
            for p, digest in after.items():
                if p not in before:
                    f = center / p
                    if f.is_dir() and not f.is_symlink():
                        shutil.rmtree(f)
                    else:
                        f.unlink(missing_ok=True)
                elif digest != before[p]:
                    (center / p).write_bytes(pristine[p])

    fuzz()


def test_a_damaged_journal_is_refused_without_being_written(tmp_path: Path):
    """Found by the fuzz above (CLOUDCTL_FUZZ_EXAMPLES=150): a one-byte journal."""
    (tmp_path / "cloudctl.yaml").write_text("name: t\n", encoding="utf-8")
    journal = tmp_path / "j.db"
    journal.write_bytes(b"S")
    r = CliRunner().invoke(
        app, ["--center", str(tmp_path), "migrate", "status", "--journal", str(journal)]
    )
    assert r.exit_code == 2, r.output
    assert journal.read_bytes() == b"S"
