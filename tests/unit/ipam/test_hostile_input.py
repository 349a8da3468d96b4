"""Issue 11 §7 in the ipam area: what was accepted silently or written unsafely."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from cloudctl.ipam import exchange


def run(cli, root, *args):
    return cli("--center", str(root), "--lang", "en", *args)


def test_unknown_department_keys_are_errors_at_their_line(cli, mini):
    deps = mini.root / "inventory" / "departments.yaml"
    deps.write_text(
        "departments:\n"
        "  - code: czj\n"
        "    nmae_zh: 市财政局\n"
        "    contacts:\n"
        "      - {name: 王, phnoe: 1}\n"
        "    systems: [a, {b: 1}]\n"
        "  - {code: rsj, kind: [county]}\n"
        "extra: 1\n",
        encoding="utf-8",
    )
    r = run(cli, mini.root, "ipam", "validate")
    assert r.exit_code == 2
    for want in (
        "departments.yaml:3: unknown key 'nmae_zh'",
        "departments.yaml:5: unknown key 'phnoe'",
        "departments.yaml:6: systems: each item must be text",
        "departments.yaml:7: kind: expected text, not a list",
        "departments.yaml:8: unknown key 'extra'",
    ):
        assert want in r.output, r.output


def test_text_fields_of_the_plan_refuse_lists_and_mappings(cli, mini):
    mini.prefixes(
        """\
        zone: core
        prefixes:
          - name: czj-app
            prefix: 10.20.1.0/24
            purpose: [a, b]
            description: {x: 1}
        """
    )
    r = run(cli, mini.root, "ipam", "validate")
    assert r.exit_code == 2
    assert "core.yaml:5: purpose: expected text, not a list" in r.output
    assert "core.yaml:6: description: expected text, not a mapping" in r.output


def test_a_tenant_cannot_go_unchecked_when_the_departments_file_is_missing(cli, mini):
    mini.prefixes(
        "zone: core\nprefixes:\n  - {name: x-app, prefix: 10.20.1.0/24, tenant: nosuch}\n"
    )
    (mini.root / "inventory" / "departments.yaml").unlink()
    r = run(cli, mini.root, "ipam", "validate")
    assert r.exit_code == 2 and "departments file not found" in r.output, r.output


def test_csv_export_neutralises_formulas_but_not_numbers(cli, mini):
    mini.prefixes(
        """\
        zone: core
        prefixes:
          - {name: a, prefix: 10.20.1.0/24, purpose: "=HYPERLINK(\\"http://x\\")"}
          - {name: b, prefix: 10.20.2.0/24, purpose: "+1+cmd|' /C calc'!A0"}
          - {name: c, prefix: 10.20.3.0/24, purpose: "-2+3"}
          - {name: d, prefix: 10.20.4.0/24, purpose: "@SUM(A1)"}
          - {name: e, prefix: 10.20.5.0/24, purpose: "\\tx"}
          - {name: f, prefix: 10.20.6.0/24, purpose: "-5"}
          - {name: g, prefix: 10.20.7.0/24, purpose: "+3.5"}
          - {name: h, prefix: 10.20.8.0/24, purpose: "a=b"}
        """
    )
    r = run(cli, mini.root, "ipam", "export", "-f", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    by = {}
    for row in rows:
        name = next(v for k, v in row.items() if k in ("name", "名称"))
        by[name] = next(v for k, v in row.items() if k in ("purpose", "用途"))
    assert by["a"] == '\'=HYPERLINK("http://x")'
    assert by["b"].startswith("'+1+cmd")
    assert by["c"] == "'-2+3" and by["d"] == "'@SUM(A1)" and by["e"] == "'\tx"
    assert by["f"] == "-5" and by["g"] == "+3.5" and by["h"] == "a=b"  # numbers, plain text


@given(st.text(max_size=30))
def test_import_takes_the_neutralising_quote_off_again(value):
    assert exchange._restore(str(exchange.neutralise(value))) == value


def test_a_broken_csv_quote_or_huge_field_is_reported_at_its_line():
    from cloudctl.ipam.model import AddressPlan

    text = "prefix,name,zone\n10.20.1.0/24,a,core\n10.20.2.0/24,b," + "x" * 140_000 + "\n"
    out = exchange.read_csv(text, "s.csv", AddressPlan(root=None), [])  # type: ignore[arg-type]
    assert [str(p) for p in out.problems] == [
        "s.csv:3: malformed CSV: a field is longer than 131,072 characters"
    ]
