"""The fast YAML path gives exactly what the line-tracking PyYAML loader gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudctl.core import yamlio
from cloudctl.core.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def slow(text: str, name: str = "f.yaml"):
    return yaml.load(text, Loader=yamlio._make_loader(name))


def fast(text: str, name: str = "f.yaml"):
    return yamlio._load_fast(text, name)


def same(a, b) -> bool:
    """Equal values, equal types, and equal line bookkeeping, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, yamlio.LDict):
        return (
            (a.file, a.line, a.key_lines) == (b.file, b.line, b.key_lines)
            and list(a) == list(b)
            and all(same(a[k], b[k]) for k in a)
        )
    if isinstance(a, yamlio.LList):
        return (a.file, a.line, a.item_lines) == (b.file, b.line, b.item_lines) and all(
            same(x, y) for x, y in zip(a, b, strict=True)
        )
    return a == b or (a != a and b != b)  # NaN


YAML_FILES = sorted(
    p
    for d in ("inventory", "policies", "migration_plans", "playbooks")
    for p in (ROOT / d).rglob("*.y*ml")
)


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_yaml_file_of_the_project_loads_the_same(path):
    text = path.read_text(encoding="utf-8")
    assert same(fast(text), slow(text))


TRICKY = """
base: &base {a: 1, b: [x, y], c: null}
other:
  <<: *base
  b: [z]
  d: [z]
flags: [yes, no, true, False, on, ~, '', "1", 0x1F, 0o17, 1_000, 1.5e3, .inf, -.inf, .nan]
when: 2026-11-26
stamp: 2026-11-26 10:00:00
quoted: "123"
tagged: !!str 123
intkey:
  1: one
  "1": one as string
binary: !!binary aGVsbG8=
multi: |
  line one
  line two
shared: [*base, *base]
"""


def test_tricky_scalars_anchors_and_merge_keys():
    a, b = fast(TRICKY), slow(TRICKY)
    assert same(a, b)
    assert a["other"] == {"a": 1, "b": ["z"], "c": None, "d": ["z"]}  # own key wins
    assert a["other"].key_lines["b"] == 5
    assert a["tagged"] == "123" and a["quoted"] == "123"
    assert a["shared"][0] is a["shared"][1]


def test_explicit_collection_tags_fall_back_to_the_full_loader():
    text = "s: !!set {a, b}\no: !!omap [{x: 1}]\n"
    assert yamlio.load_yaml_text(text, "f") == slow(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("? [1, 2]\n: x\n", "not hashable"),
        ("m: &m {a: 1}\nn:\n  <<: *m\n  a: 2\n  a: 3\n", "duplicate key 'a'"),
    ],
)
def test_bad_keys_are_reported_with_their_line(text, message):
    with pytest.raises(InputError) as e:
        yamlio.load_yaml_text(text, "f.yaml")
    expected_line = text.count("\n") if "duplicate" in message else 1
    assert message in str(e.value) and e.value.problems[0].location.line == expected_line
    with pytest.raises(InputError, match=message):  # the full loader says the same
        slow(text)


def test_a_scalar_that_looks_like_a_date_but_is_not_one_is_an_input_error():
    text = "waivers:\n  - expires: 2027-13-45\n"
    with pytest.raises(InputError, match="'2027-13-45' is not a valid value") as e:
        yamlio.load_yaml_text(text, "w.yaml")
    assert str(e.value.problems[0].location) == "w.yaml:2"
    assert yamlio.load_yaml_text('a: "2027-13-45"\n', "w.yaml") == {"a": "2027-13-45"}


def test_empty_and_malformed_documents():
    assert yamlio.load_yaml_text("", "f") is None
    with pytest.raises(InputError, match="malformed YAML"):
        yamlio.load_yaml_text("a: [1, 2\n", "f")


words = st.sampled_from(["a", "yes", "No", "null", "1", "0x10", "1.5", "-3", "x y", "2026-01-02"])
scalars = st.one_of(
    st.integers(),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    words,
    st.floats(allow_nan=False),
)
docs = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(words, st.text(max_size=5)), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(docs, st.booleans())
def test_any_document_loads_the_same(doc, flow):
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True)
    assert same(fast(text), slow(text))


# ------------------------------------------------- limits for untrusted files (issue 11)

LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize("load", [fast, lambda t: yamlio._load_checked(t, "f.yaml")])
@pytest.mark.parametrize(
    "text, message",
    [
        (LAUGHS, "aliases (*name) expand"),
        ("a: &a [*a]\n", "recursive alias"),
        ("a: &a {b: *a}\n", "recursive alias"),
        ("a: " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64"),
        ("a: " + "[" * 70 + "&x z, *x" + "]" * 70 + "\n", "nested deeper than 64"),
        ("a: " + "x" * (128 * 1024 + 1) + "\n", "too long"),
        ("a: &s " + "x" * 4000 + "\nb: [" + ", ".join(["*s"] * 300) + "]\n", "characters"),
    ],
    ids=["laughs", "self-list", "self-map", "deep", "deep-shared", "long", "alias-text"],
)
def test_limits_hold_on_both_loaders(load, text, message):
    with pytest.raises(InputError) as e:
        load(text)
    assert message in e.value.message and e.value.location.file == "f.yaml"


def test_the_limits_report_where():
    with pytest.raises(InputError) as e:
        yamlio.load_yaml_text(LAUGHS, "p.yaml")
    assert e.value.location.line is not None and 2 <= e.value.location.line <= 9
    with pytest.raises(InputError) as e:
        yamlio.load_yaml_text("a: 1\nb: &a [*a]\n", "p.yaml")
    assert str(e.value).startswith("p.yaml:2: recursive alias")


def test_fallback_path_for_explicit_tags_is_checked_too():
    """``!!set`` makes the fast path hand over to the full loader: same limits there."""
    with pytest.raises(InputError, match="aliases"):
        yamlio.load_yaml_text("s: !!set {k: null}\n" + LAUGHS, "f.yaml")


def test_aliases_within_the_budget_still_load_and_share():
    doc = yamlio.load_yaml_text(
        "base: &b {a: 1}\nx: {<<: *b, c: 2}\nl: [*b, *b]\n"
        + "m: ["
        + ",".join(["*b"] * 500)
        + "]\n",
        "f.yaml",
    )
    assert doc["x"] == {"a": 1, "c": 2} and doc["l"][0] is doc["l"][1]


def test_load_yaml_refuses_special_files(tmp_path):
    (tmp_path / "z.yaml").symlink_to("/dev/zero")
    with pytest.raises(InputError, match="character device"):
        yamlio.load_yaml(tmp_path / "z.yaml")
    (tmp_path / "bad.yaml").write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(InputError) as e:
        yamlio.load_yaml(tmp_path / "bad.yaml")
    assert e.value.location.line == 2 and "not UTF-8" in e.value.message
