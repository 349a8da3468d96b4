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
def tree():
    """The whole command tree, every area loaded, with the English help texts.

    Built in English: click's own texts (the --help option's "Show this message and exit.")
    are translated when they are made, in the language of the moment, and an earlier test
    in this process may have left it at Chinese."""
    from cloudctl.cli.app import app

    saved = i18n.language()
    i18n.set_language("en")
    try:
        group = typer.main.get_command(app)
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            group.get_command(ctx, name)
        yield group
    finally:
        i18n.set_language(saved)


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


# ------------------------------------------- errors of the other areas, click, reports


def _no_cjk(*texts: str) -> bool:
    return not any(CJK.search(t) for t in texts)


def test_baseline_domains_capacity_errors_follow_the_language(cli, center, monkeypatch):
    """zh by default, English with --lang en (no CJK at all), the same file:line."""
    monkeypatch.chdir(center)
    (center / "policies/waivers.yaml").write_text(
        "waivers:\n  - hosts: '*'\n    control: no-such-control\n    justification: x\n"
        "    approver: y\n    expires: 2027-01-01\n"
    )
    ev = center / "ev.json"
    ev.write_text(
        '{"schema": "cloudctl.baseline.evidence/1", "hosts": {"h1": {"status": "unreachable"}}}'
    )
    zh, en = _both(cli, "baseline", "report", str(ev))
    assert zh.exit_code == en.exit_code == 2
    assert "policies/waivers.yaml:3: 未知的控制项 'no-such-control'" in zh.stderr, zh.stderr
    assert "policies/waivers.yaml:3: unknown control 'no-such-control'" in en.stderr
    assert _no_cjk(en.stdout, en.stderr)

    design = center / "policies/security-domains.yaml"
    design.write_text(design.read_text("utf-8").replace("\ndefault: deny", "\ndefault: allow"))
    zh, en = _both(cli, "domains", "validate")
    assert zh.exit_code == en.exit_code == 2
    assert "security-domains.yaml:11: default：只能是 'deny'（默认拒绝，8.1.3.2）" in zh.stderr
    assert "security-domains.yaml:11: default: only 'deny' (default deny, 8.1.3.2)" in en.stderr
    assert _no_cjk(en.stdout, en.stderr), en.stderr

    text = (ROOT / "capacity.yaml").read_text("utf-8")
    (center / "capacity.yaml").write_text(text.replace("    count: 16", "    count: zero", 1))
    zh, en = _both(cli, "capacity", "--usage", "file")
    assert zh.exit_code == en.exit_code == 2
    assert "capacity.yaml:41: 主机类 general.count：应为整数，而不是 'zero'" in zh.stderr, zh.stderr
    assert "capacity.yaml:41: host class general.count: expected a whole number, not 'zero'" in (
        en.stderr
    )
    assert _no_cjk(en.stdout, en.stderr)


def test_audit_verify_of_a_tampered_log_follows_the_language_and_json_stays_english(
    cli, center, monkeypatch
):
    from cloudctl.core import audit

    monkeypatch.chdir(center)
    log = center / ".cloudctl" / "audit.log"
    for name in ("a", "b"):
        audit.record(log, "ipam.allocate", {"name": name})
    lines = log.read_text().splitlines()
    lines[1] = lines[1].replace('"b"', '"evil"')
    log.write_text("\n".join(lines) + "\n")
    zh, en = _both(cli, "audit", "verify")
    assert zh.exit_code == en.exit_code == 1
    assert f"{log}:2: 序号 2 的记录在写入后被改动" in zh.stdout, zh.stdout
    assert "审计记录链已断开" in zh.stdout
    assert f"{log}:2: record seq 2 was changed after it was written" in en.stdout
    assert _no_cjk(en.stdout, en.stderr)
    doc = yaml.safe_load(cli("audit", "verify", "-o", "json", env=NO_LANG).stdout)
    assert doc["broken"]["problem"] == "record seq 2 was changed after it was written"


@pytest.mark.parametrize(
    "args, zh_text, en_text",
    [
        (["ipam", "show", "--nosuch"], "没有选项 '--nosuch'。", "No such option '--nosuch'."),
        (["ipam", "allocate"], "缺少选项 '--zone' / '-z'", "Missing option '--zone' / '-z'."),
        (["ipam", "show", "-o", "xml"], "'--output' / '-o' / '-f' 的值无效", "Invalid value for"),
        (["--bogus"], "没有选项 '--bogus'。", "No such option '--bogus'."),
    ],
)
def test_usage_errors_are_chinese_by_default_and_english_with_lang_en(cli, args, zh_text, en_text):
    zh, en = _both(cli, *args)
    assert zh.exit_code == en.exit_code == 2
    assert "用法：" in zh.stderr and zh_text in zh.stderr, zh.stderr
    assert "查看帮助" in zh.stderr and "错误" in zh.stderr
    assert "Usage:" in en.stderr and en_text in en.stderr and "for help" in en.stderr
    assert _no_cjk(en.stdout, en.stderr), en.stderr


def test_a_usage_error_is_audited_in_english(cli, center, monkeypatch):
    monkeypatch.chdir(center)
    r = cli("ipam", "allocate", "-z", "core", "--nosuch", env=NO_LANG)
    assert r.exit_code == 2 and "没有选项 '--nosuch'" in r.stderr
    recs = [yaml.safe_load(x) for x in (center / ".cloudctl/audit.log").read_text().splitlines()]
    assert recs[-1]["result"] == "refused"
    assert recs[-1]["error"] == "No such option '--nosuch'.", recs[-1]


def test_click_words_in_the_catalog_are_still_click_s_own():
    """A click upgrade that rewords a message would leave the catalog entry unused."""
    found: set[str] = set()
    for name in ("core", "exceptions", "parser", "formatting", "types", "decorators"):
        src = Path(click.__file__).with_name(f"{name}.py").read_text("utf-8")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("_", "ngettext"):
                found |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    assert set(i18n.CLICK_WORDS) <= found, set(i18n.CLICK_WORDS) - found
    zh = i18n.catalog("zh")
    assert all(CJK.search(zh[m]) for m in i18n.CLICK_WORDS)


def test_zh_baseline_report_shows_observed_and_expected_in_chinese(monkeypatch):
    """The evaluation writes English msgids (JSON, the state keep them); the zh HTML report
    and terminal show them in Chinese, the en ones unchanged."""
    import json

    from rich.console import Console

    from cloudctl.baseline import report

    monkeypatch.syspath_prepend(str(ROOT / "tests" / "unit"))
    from baseline.fixtures import good_evidence, mutated
    from baseline.test_controls import BREAK
    from baseline.test_reports import PROFILE

    from cloudctl.baseline.engine import HostEvidence, evaluate_run

    ev = good_evidence()
    for b in ("shell-tmout", "sysctl-ip-forward", "perm-etc-passwd", "sshd-max-auth-tries"):
        ev = mutated(
            lambda e, b=b, base=ev: (e.clear(), e.update(json.loads(json.dumps(base))), BREAK[b](e))
        )
    d = evaluate_run(PROFILE, [HostEvidence("yun-db01", "ok", ev)], run_id="r1")
    by = {r["control"]: r for r in d["results"]}
    failed = {c for c, r in by.items() if r["verdict"] == "fail"}
    assert {"shell-tmout", "sysctl-ip-forward", "perm-etc-passwd"} <= failed, failed
    stored = json.loads(json.dumps(d))  # what JSON and the state keep: English
    assert stored["results"] == json.loads(json.dumps(d["results"]))
    html = {lang: report.html_report(d, lang) for lang in ("zh", "en")}
    wanted = []
    for cid in ("shell-tmout", "sysctl-ip-forward", "perm-etc-passwd"):
        r = by[cid]
        assert not CJK.search(r["observed"] + r["expected"]), r  # English in the document
        zh_obs, zh_exp = tr(r["observed"], "zh"), tr(r["expected"], "zh")
        assert CJK.search(zh_obs) or CJK.search(zh_exp), (cid, zh_obs, zh_exp)
        wanted.append((cid, zh_obs, zh_exp))
        assert str(r["observed"]) in html["en"]
    import html as h

    for cid, zh_obs, zh_exp in wanted:
        assert h.escape(zh_obs, quote=False) in html["zh"], (cid, zh_obs)
        assert h.escape(zh_exp, quote=False) in html["zh"], (cid, zh_exp)
    assert "未在 sysctl.d 中持久化" in html["zh"] or "已持久化" in html["zh"]
    assert "(persisted" not in html["zh"] and "not persisted" not in html["zh"]
    con = Console(record=True, width=200)
    report.terminal(d, "zh", con)
    out = con.export_text()
    assert any(zh_obs[:20] in out for _c, zh_obs, _e in wanted), out
    con = Console(record=True, width=200)
    report.terminal(d, "en", con)
    assert not CJK.search(con.export_text())
