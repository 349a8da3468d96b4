"""Language (issue 14 §2): help, errors and messages in Chinese by default and in English
with ``--lang en`` / ``CLOUDCTL_LANG=en``, from the catalog cloudctl/locale/zh/…/cloudctl.po.

A text for people that has no translation fails here: a help text of any command or option
(the whole click tree), any ``_("…")`` msgid in the source, either side of a ``pick()`` pair.
"""

from __future__ import annotations

import ast
import pickle
import re
import shutil
from pathlib import Path

import click
import pytest
import typer
import yaml

from cloudctl.core import i18n
from cloudctl.core.errors import InputError, Location, Problem, ValidationFailed
from cloudctl.core.i18n import _, tr

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
NO_LANG = {"CLOUDCTL_LANG": None}


@pytest.fixture(scope="module")
def tree() -> click.Group:
    """The whole command tree, every area loaded, with the English help texts."""
    from cloudctl.cli.app import app

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        group.get_command(ctx, name)
    return group


# ------------------------------------------------------------------ catalog coverage


def test_every_help_text_of_every_command_and_option_has_a_chinese_translation(tree):
    zh = i18n.catalog("zh")
    texts = list(i18n.help_texts(tree, ("cloudctl",)))
    assert len(texts) > 150  # the walk reached the areas' commands and options
    missing = sorted({f"{where}: {text!r}" for where, text in texts if not zh.get(text)})
    assert not missing, "help without a zh translation (python -m cloudctl.core.i18n update):\n" + (
        "\n".join(missing)
    )
    for _where, text in texts:
        assert CJK.search(zh[text]), f"not Chinese: {zh[text]!r}"
        assert not CJK.search(text) or "网段" in text, f"msgid not English: {text!r}"


def test_every_msgid_in_the_source_has_a_chinese_translation_with_the_same_placeholders():
    zh = i18n.catalog("zh")
    found = i18n.source_msgids(ROOT / "cloudctl")
    assert len(found) > 250
    missing = [f"{refs[0]}: {m!r}" for m, refs in found.items() if not zh.get(m)]
    assert not missing, "no zh translation (python -m cloudctl.core.i18n update):\n" + "\n".join(
        missing
    )
    for msgid, refs in found.items():
        assert i18n.placeholders(zh[msgid]) == i18n.placeholders(msgid), (refs[0], msgid)
        assert not CJK.search(msgid), f"{refs[0]}: the msgid is the English text: {msgid!r}"


def test_the_catalog_holds_no_unused_entries(tree):
    del tree  # loaded: all_msgids walks the same tree
    used = i18n.all_msgids()
    stale = sorted(set(i18n.catalog("zh")) - set(used))
    assert not stale, f"unused catalog entries (python -m cloudctl.core.i18n update): {stale}"


def test_a_message_without_a_catalog_entry_is_caught(tmp_path):
    src = tmp_path / "pkg"
    src.mkdir()
    (src / "m.py").write_text('from x import _\nraise E(_("no such {thing}").format(thing=1))\n')
    found = i18n.source_msgids(src)
    assert found == {"no such {thing}": ["pkg/m.py:2"]}
    assert "no such {thing}" not in i18n.catalog("zh")


def test_both_sides_of_every_pick_pair_are_given():
    bad = []
    for path in sorted((ROOT / "cloudctl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("pick", "t")
                and len(node.args) == 3
            ):
                for arg in node.args[1:]:
                    if isinstance(arg, ast.Constant) and not (arg.value or "").strip():
                        bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


# ---------------------------------------------------------------------- the mechanism


def test_a_message_is_english_text_translated_where_it_is_shown():
    m = _("unknown zone '{zone}' (known: {known})").format(zone="nosuch", known="core, dmz")
    assert m == "unknown zone 'nosuch' (known: core, dmz)"  # logs, JSON, tests see English
    assert tr(m, "en") == m
    assert tr(m, "zh") == "未知的安全域 'nosuch'（已知：core, dmz）"
    assert tr(pickle.loads(pickle.dumps(m)), "zh") == tr(m, "zh")  # forked workers, caches
    assert tr(i18n.thaw(i18n.freeze(m)), "zh") == tr(m, "zh")  # marshal caches
    assert yaml.safe_load(yaml.safe_dump({"m": m})) == {"m": str(m)}
    nested = _("{what}: {e}").format(what="x", e=ValueError(_("file not found")))
    assert tr(nested, "zh") == "x：文件不存在"
    with pytest.raises(TypeError):
        _("a {x}").format(1)


def test_language_is_read_from_the_command_line_before_click_parses_it():
    assert i18n.language_from([], {}) == "zh"
    assert i18n.language_from([], {"CLOUDCTL_LANG": "en"}) == "en"
    assert i18n.language_from(["ipam", "show", "--lang", "en"], {}) == "en"
    assert i18n.language_from(["--lang=en", "ipam"], {"CLOUDCTL_LANG": "zh"}) == "en"
    assert i18n.language_from(["ipam", "--", "--lang", "en"], {}) == "zh"


def test_po_files_round_trip():
    entries = [('one\n\ntwo "q" \\ {x}', "一\n\n二 “q” \\ {x}", ["a.py:1"]), ("b", "乙", [])]
    parsed = i18n.parse_po(i18n.write_po(entries, i18n.PO_HEADER))
    assert {k: v for k, (v, _fuzzy) in parsed.items()} == {e[0]: e[1] for e in entries}
    fuzzy = i18n.parse_po('#, fuzzy\nmsgid "a"\nmsgstr "甲"\n\nmsgid "b"\nmsgstr "乙"\n')
    assert fuzzy == {"a": ("甲", True), "b": ("乙", False)}


# ------------------------------------------------------------------- through the CLI


def test_help_is_chinese_by_default_and_english_with_lang_en(cli):
    for args in ([], ["ipam"], ["ipam", "allocate"], ["migrate", "validate"], ["audit", "log"]):
        zh = cli(*args, "--help", env=NO_LANG)
        assert zh.exit_code == 0 and CJK.search(zh.output), zh.output
        assert "显示本帮助并退出" in zh.output and "选项" in zh.output
        ens = [
            cli("--lang", "en", *args, "--help", env=NO_LANG),
            cli(*args, "--help", env={"CLOUDCTL_LANG": "en"}),
        ]
        if args == ["ipam", "allocate"]:  # a command's own --lang, after --help
            ens.append(cli(*args, "--help", "--lang", "en", env=NO_LANG))
        for en in ens:
            assert en.exit_code == 0 and "Show this message and" in en.output
            assert not CJK.search(en.output.replace("网段, 名称…", "")), en.output
    r = cli("ipam", "allocate", "--help", env=NO_LANG)
    assert "分配第一个空闲且对齐的网段" in r.output and "在此安全域中分配" in r.output
    assert "…" not in r.output  # Chinese is folded, never cut


@pytest.mark.parametrize(
    "args",
    [
        ["ipam", "show"],
        ["ipam", "validate"],
        ["tenant", "validate"],
        ["migrate", "validate"],
        ["migrate", "plan"],
        ["baseline", "controls"],
        ["audit", "log"],
    ],
)
def test_lang_en_output_has_no_chinese(cli, args):
    r = cli("--center", str(ROOT), "--lang", "en", *args, env=NO_LANG)
    assert r.exit_code == 0, r.output
    assert r.output.strip() and not CJK.search(r.output), r.output


@pytest.fixture
def center(tmp_path: Path) -> Path:
    root = tmp_path / "c"
    root.mkdir()
    shutil.copy(ROOT / "cloudctl.yaml", root)
    for d in ("inventory", "migration_plans", "playbooks", "policies"):
        shutil.copytree(ROOT / d, root / d, ignore=shutil.ignore_patterns(".cloudctl"))
    return root


def _both(cli, *args: str):
    zh = cli(*args, env=NO_LANG)
    en = cli("--lang", "en", *args, env=NO_LANG)
    return zh, en


def test_errors_are_chinese_by_default_and_english_with_lang_en(cli, center, monkeypatch):
    monkeypatch.chdir(center)
    zh, en = _both(cli, "ipam", "allocate", "-z", "nosuch", "-l", "24", "-n", "x-y", "--dry-run")
    assert zh.exit_code == en.exit_code == 2
    assert "未知的安全域 'nosuch'（已知：" in zh.stderr, zh.stderr
    assert "unknown zone 'nosuch' (known: " in en.stderr

    core = center / "inventory/ipam/prefixes/core.yaml"
    good = core.read_text("utf-8")
    core.write_text(good.replace("prefix: 10.20.19.0/24", "prefix: 10.20.18.0/24"))
    zh, en = _both(cli, "ipam", "validate")
    assert zh.exit_code == en.exit_code == 2
    line = "inventory/ipam/prefixes/core.yaml:48: "
    assert f"{line}网段 rsj-app：10.20.18.0/24 在 VRF gov 中列出了两次" in zh.stderr, zh.stderr
    assert f"{line}prefix rsj-app: 10.20.18.0/24 is listed twice in VRF gov" in en.stderr
    assert not CJK.search(en.stderr) and zh.stderr.count("\n") == en.stderr.count("\n")
    core.write_text(good)

    plan = center / "migration_plans/xiaogan-2016.yaml"
    plan.write_text("[]\n")
    zh, en = _both(cli, "migrate", "validate")
    assert zh.exit_code == en.exit_code == 2
    assert "migration_plans/xiaogan-2016.yaml:1: 迁移计划必须是一个映射" in zh.stderr, zh.stderr
    assert "migration_plans/xiaogan-2016.yaml:1: a migration plan must be a mapping" in en.stderr

    (center / "inventory/tenants/czj.yaml").write_text("code: czj\nversion: 99\n")
    zh, en = _both(cli, "tenant", "validate")
    assert zh.exit_code == en.exit_code == 2
    assert re.search(r"czj\.yaml:2: 不支持版本 99", zh.stderr), zh.stderr
    assert re.search(r"czj\.yaml:2: version 99 is not supported", en.stderr), en.stderr


def test_no_center_error_follows_the_language(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLOUDCTL_CENTER", raising=False)
    zh, en = _both(cli, "audit", "log")
    assert zh.exit_code == en.exit_code == 2
    assert "及其上级目录中都没有 cloudctl.yaml" in zh.stderr
    assert "no cloudctl.yaml in" in en.stderr and not CJK.search(en.stderr)


def test_report_error_translates_every_problem_and_the_summary(capsys):
    from cloudctl.cli.app import report_error

    err = ValidationFailed(
        [Problem(Location("a.yaml", 3), _("file not found")), Problem(None, _("name is empty"))],
        _("{len} problem(s) in the address plan").format(len=2),
    )
    i18n.set_language("zh")
    report_error(err)
    want = "名称为空\na.yaml:3: 文件不存在\ncloudctl: 地址规划有 2 个问题\n"
    assert capsys.readouterr().err == want
    i18n.set_language("en")
    try:
        report_error(InputError(_("file not found"), Location("b.yaml", 1)))
    finally:
        i18n.set_language("zh")
    assert capsys.readouterr().err == "b.yaml:1: file not found\n"


def test_baseline_terminal_report_has_no_chinese_in_english(monkeypatch):
    """`⚠高风险` and the other flags of a failing high-risk control follow --lang."""
    from rich.console import Console

    from cloudctl.baseline import report

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "unit"))
    from baseline.test_reports import doc  # the evidence builder of the report tests

    d = doc()
    risky = [c["id"] for c in d["controls"] if c["high_risk"]]
    assert "sshd-permit-root-login" in risky  # the run fails a high-risk control
    out = {}
    for lang in ("zh", "en"):
        con = Console(record=True, width=200)
        report.terminal(d, lang, con)
        out[lang] = con.export_text()
    assert "⚠高风险" in out["zh"]
    assert "⚠high risk" in out["en"]
    assert not CJK.search(out["en"]), out["en"]
