"""The block-YAML subset reader (issue 17): whatever it accepts, it reads exactly as the
line-tracking PyYAML loader does (values, types, lines); everything else goes to libyaml,
so errors and input limits are worded and located as before."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudctl.core import yamlio
from cloudctl.core.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_yamlio import YAML_FILES, same, slow

ROOT = Path(__file__).resolve().parents[2]


def simple(text: str, name: str = "f.yaml"):
    return yamlio._load_simple(text, name)


def accepted(text: str):
    """The subset reader's result, or None when it hands the text over."""
    try:
        return ("ok", simple(text))
    except yamlio._Fallback:
        return None


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_project_files_read_the_same_when_accepted(path):
    text = path.read_text(encoding="utf-8")
    got = accepted(text)
    if got is not None:
        assert same(got[1], slow(text))


def test_generated_address_plan_takes_the_subset_path(tmp_path):
    sys.path.insert(0, str(ROOT / "bench" / "ipam"))
    from genplan import write_plan

    write_plan(tmp_path, 2000, rich=True)
    files = sorted((tmp_path / "prefixes").glob("*.yaml"))
    assert files
    for f in files:
        text = f.read_text(encoding="utf-8")
        got = accepted(text)
        assert got is not None, f  # without the subset reader this is libyaml's slow path
        assert same(got[1], slow(text))


PLAN = """\
# comment
zone: core   # trailing comment
prefixes:
- name: a-1
  prefix: 10.0.0.0/24
  pools: [10.0.0.10-10.0.0.20, 10.0.0.30-10.0.0.40]
  vlan: 10
  dns:
    - 10.0.0.53
  reserved:
  - {range: 10.0.0.2-10.0.0.3, purpose: vrrp}
  purpose: 'quoted: with colon'
  description: "double"
  empty:
  when: 2026-01-02
-   name: wide
    prefix: 10.0.1.0/24
    flags: [yes, no, ~, 0x1F, 1:20, .inf]
nested:
  deeper:
    x: [a:b, c]
  list:
  - - not simple
"""


def test_a_plan_like_document_and_its_handover():
    text = PLAN.split("  list:")[0]
    got = accepted(text)
    assert got is not None and same(got[1], slow(text))
    assert got[1]["prefixes"][1].key_lines["prefix"] == 17
    assert got[1]["prefixes"][0]["reserved"].item_lines == [11]
    assert accepted(PLAN) is None  # "- - x" is left to libyaml
    assert same(yamlio.load_yaml_text(PLAN, "f.yaml"), slow(PLAN))


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\na: 2\n",  # duplicate: the full path words it
        "a: b\n  c\n",  # a multi-line plain scalar
        "a: |\n  x\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a:\tb\n",
        "a: b\r\nc: d\r\n",
        "---\na: 1\n",
        "a: 2027-13-45\n",
        "a: [x, [y]x]\n",
        "a: 'it''s'\n",
        "<<: {a: 1}\n",
        "? a\n: b\n",
        "a: b: c\n",
        "a: [x,]\n",
        "- -\n",
        "plain scalar\n",
    ],
)
def test_what_it_does_not_know_it_hands_over(text):
    assert accepted(text) is None


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a'", 3),
        ("a: 1\nb: 2027-13-45\n", "is not a valid value", 2),
        ("a: 1\nb: [x\n", "malformed YAML", None),
        ("a: " + "x" * (128 * 1024 + 1) + "\n", "too long", 1),
    ],
)
def test_errors_keep_their_words_and_lines(text, message, line):
    with pytest.raises(InputError) as e:
        yamlio.load_yaml_text(text, "f.yaml")
    assert message in e.value.message
    if line is not None:
        assert e.value.location.line == line


def test_deep_block_nesting_still_hits_the_depth_limit():
    text = "".join("  " * i + f"k{i}:\n" for i in range(70)) + "  " * 70 + "v: 1\n"
    with pytest.raises(InputError, match="nested deeper than 64"):
        yamlio.load_yaml_text(text, "f.yaml")


# Differential fuzzing: lines built from YAML's tricky pieces; when the subset reader
# accepts a text, libyaml must accept it too and give the same tree.
pieces = st.sampled_from(
    [
        "a", "b c", "yes", "No", "~", "null", "0x1F", "0o7", "1_0", "1:20", "-3", "-x", "?x",
        ":x", "x:y", "R&D", "a#b", "a, b", "a [b]", "2026-01-02", "2026-13-45", ".inf",
        "'q'", "'a: b'", '"d"', "[]", "{}", "[a, b]", "[a:b]", "[a, 1, yes]", "{k: v}",
        "{k: v, l: 2}", "{k: v, k: w}", "中文", "é", "x ", "*a", "&a x", "!t", "|", ">",
        "%x", "@x", "`x", "[a, [b]]", "'it''s'", '"a\\tb"', "", "{k: [a, b]}", "[{k: v}]",
        "{k: {l: m}}", "[a, ]", "{k: [a]x}", "[a]x", "[a] b", "{k: 22:00-06:00}", "[[]]",
        "{k: [], l: {}}", "[a, {k: v, k: w}]", "{k:v}", "[k: v]", "{[a]: b}", "[a,b,,c]",
    ]
)  # fmt: skip
keys = st.sampled_from(
    ["k", "l", "m", "name", "yes", "1", "a b", "x:y", "<<", "'q'", "-k", "k ", ""]
)


@st.composite
def lines(draw):
    out = []
    for _ in range(draw(st.integers(1, 10))):
        ind = " " * draw(st.sampled_from([0, 0, 0, 2, 2, 2, 4, 4, 6, 1, 3]))
        kind = draw(st.sampled_from(["map", "item", "item-map", "key", "comment", "blank"]))
        k, v = draw(keys), draw(pieces)
        tail = draw(st.sampled_from(["", " # c", "  ", "#c"]))
        if kind == "map":
            out.append(f"{ind}{k}: {v}{tail}")
        elif kind == "item":
            out.append(f"{ind}- {v}{tail}")
        elif kind == "item-map":
            out.append(f"{ind}-{' ' * draw(st.integers(1, 3))}{k}: {v}{tail}")
        elif kind == "key":
            out.append(f"{ind}{'- ' if draw(st.booleans()) else ''}{k}:{tail}")
        elif kind == "comment":
            out.append(f"{ind}# note")
        else:
            out.append(ind)
    return "\n".join(out) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=3000, deadline=None)
@given(lines())
def test_differential_against_libyaml(text):
    got = accepted(text)
    if got is None:
        return
    try:
        expected = slow(text)
    except (yaml.YAMLError, InputError, ValueError) as e:
        pytest.fail(f"subset reader accepted what PyYAML refuses ({e!r}):\n{text}")
    assert same(got[1], expected), text


@settings(max_examples=300, deadline=None)
@given(
    st.recursive(
        st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=8)),
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(max_size=5), inner, max_size=4),
        ),
        max_leaves=25,
    ),
    st.sampled_from([None, False]),
    st.integers(2, 4),
)
def test_dumped_documents_read_the_same(doc, flow, indent):
    text = yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, indent=indent)
    got = accepted(text)
    if got is not None:
        assert same(got[1], slow(text)), text
