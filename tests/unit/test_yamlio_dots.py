"""yamlio's line reader takes a plain scalar with two dots (an address, a range, a prefix)
as text without running YAML's implicit-type regexes: none of them (int, float, bool,
null, timestamp, merge, value) can match such a text. This keeps it so."""

from __future__ import annotations

import random

from cloudctl.core import yamlio


def test_no_implicit_type_matches_a_text_with_two_dots():
    rules = [rx for rules in yamlio._IMPLICIT.values() for _, rx in rules]
    rnd = random.Random(2)
    alphabet = "0123456789.:-+_eExXbBoO TtZ"
    for _ in range(30_000):
        chars = [rnd.choice(alphabet) for _ in range(rnd.randint(1, 12))]
        for _ in range(rnd.randint(2, 3)):
            chars.insert(rnd.randint(0, len(chars)), ".")
        text = "".join(chars)
        assert not any(rx.match(text) for rx in rules), text
    for text in ("1.2.3", "10.20.0.0/24", "10.20.0.10-10.20.0.254", "1.5.0", "1.0e+1.2"):
        assert not any(rx.match(text) for rx in rules)
        assert yamlio._plain(text) == text


def test_values_with_one_dot_still_get_their_type():
    assert yamlio.load_yaml_text("a: 1.5\nb: .inf\nc: 1.2.3\n", "f.yaml") == {
        "a": 1.5,
        "b": float("inf"),
        "c": "1.2.3",
    }
