"""Issue 11 §7: text from files is data, never rich markup, emoji codes or terminal control
sequences. Driven through the real commands at 80 columns (CliRunner)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from cloudctl.core.output import Column, esc, plain, safe_text, table_of

HOSTILE = "[/] [bold]x[/bold] :100: \x1b[2J\x1b]0;pwned\x07"
ENV = {"COLUMNS": "80", "TERM": "xterm-256color"}

ZONES = """\
zones:
  - name: v6
    vrf: gov
    supernets: ["2001:db8::/48"]
    vlans: 1500-1999
    purpose: "zone [/] purpose"
"""


@pytest.fixture
def center(tmp_path: Path) -> Path:
    (tmp_path / "cloudctl.yaml").write_text("name: escape\n", encoding="utf-8")
    plan = tmp_path / "inventory" / "ipam"
    (plan / "prefixes").mkdir(parents=True)
    (plan / "vrfs.yaml").write_text("vrfs:\n  - {name: gov}\n", encoding="utf-8")
    (plan / "zones.yaml").write_text(ZONES, encoding="utf-8")
    (plan / "prefixes" / "v6.yaml").write_text(
        "zone: v6\nprefixes:\n"
        '  - {name: "c[/]", prefix: "2001:db8:0:100::/64", tenant: czj, status: reserved,\n'
        '     purpose: "[/] [bold]x[/bold] :100: \\e[2J\\e]0;pwned\\a"}\n',
        encoding="utf-8",
    )
    (tmp_path / "inventory" / "departments.yaml").write_text(
        "departments:\n  - {code: czj, name_zh: '市财政局 [/]'}\n", encoding="utf-8"
    )
    return tmp_path


def run(cli, center: Path, *args: str):
    return cli("--center", str(center), "--lang", "en", *args, env=ENV)


def assert_shown_as_data(out: str) -> None:
    assert "💯" not in out  # ":100:" is not an emoji code here
    assert "\x1b" not in out and "\x07" not in out  # no escape sequence reaches the terminal
    assert "Traceback" not in out and "internal error" not in out


def test_ipv6_prefix_is_not_turned_into_an_emoji(cli, center):
    r = run(cli, center, "ipam", "show", "-z", "v6")
    assert r.exit_code == 0, r.output
    assert "2001:db8:0:100::/64" in r.output.replace("\n", "")
    assert_shown_as_data(r.output)


@pytest.mark.parametrize(
    "args", [("ipam", "show"), ("ipam", "show", "-z", "v6"), ("ipam", "show", "--tree")]
)
def test_markup_in_plan_data_neither_crashes_nor_styles_show(cli, center, args):
    r = run(cli, center, *args)
    assert r.exit_code == 0, r.output
    assert_shown_as_data(r.output)
    if args[-1] == "--tree":
        assert "c[/]" in r.output and "2001:db8:0:100::/64" in r.output
    if "-z" in args:  # the purpose column shows on a wide terminal
        env = {**ENV, "COLUMNS": "250"}
        wide = cli("--center", str(center), "--lang", "en", *args, env=env)
        assert wide.exit_code == 0 and "[/] [bold]x[/bold] :100: \\x1b[2J" in wide.output
        assert_shown_as_data(wide.output)


def test_allocate_prints_a_hostile_purpose_after_writing(cli, center):
    args = ["ipam", "allocate", "-z", "v6", "-l", "64", "-n", "czj-app", "-t", "czj"]
    args += ["--vlan", "none", "-p", "x [/] :100: \x1b[2J"]
    r = run(cli, center, *args)
    assert r.exit_code == 0, r.output
    assert_shown_as_data(r.output)
    assert "x [/] :100: \\x1b[2J" in r.output
    again = run(cli, center, *args)  # the idempotent answer prints the entry too
    assert again.exit_code == 0 and "exists (unchanged)" in again.output
    assert_shown_as_data(again.output)


def test_import_messages_escape_names(cli, center):
    sheet = center / "s.csv"
    sheet.write_text("prefix,name,zone\n2001:db8:0:200::/64,[bold]n[/bold],v6\n", "utf-8")
    r = run(cli, center, "ipam", "import", "--from-csv", str(sheet), "--dry-run")
    assert r.exit_code == 0, r.output
    assert "[bold]n[/bold]" in r.output


def test_table_of_and_helpers_treat_every_cell_as_text():
    con = Console(width=80, record=True, color_system=None)
    con.print(table_of([{"a": HOSTILE, "b": 1}], [Column("a", "a"), Column("b", "b")], "t [/]"))
    text = con.export_text()
    assert "[/]" in text and ":100:" in text and "\x1b" not in text
    assert safe_text("a\x1bb\x9bc\td\ne") == "a\\x1bb\\x9bc\td\ne"
    assert esc("[/]") == "\\[/]" and plain("[b]x[/b]").plain == "[b]x[/b]"


def test_error_messages_do_not_carry_escape_sequences_from_data(cli, center):
    f = center / "inventory" / "ipam" / "prefixes" / "bad.yaml"
    f.write_text('zone: v6\nprefixes:\n  - {name: "n\\e[2J\\a", prefix: nonsense}\n', "utf-8")
    r = run(cli, center, "ipam", "validate")
    assert r.exit_code == 2
    assert "prefix n\\x1b[2J\\x07:" in r.output
    assert_shown_as_data(r.output)
