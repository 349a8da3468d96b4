"""Message catalogs: English msgids in the code, translations in ``cloudctl/locale``.

Text for people is written once, in English, as a msgid: ``_("unknown zone '{zone}'")
.format(zone=z)``. ``_`` returns a :class:`Msg`, a ``str`` whose value is the English text
(so logs, JSON output and tests that compare English keep working) and that remembers its
msgid and named parameters. The language is chosen where the text meets a person:
:func:`tr` (error rendering, help, messages) looks the msgid up in the catalog of the
current language and fills in the parameters there, translating parameters that are
messages too. Domain code therefore never needs to know the language.

Catalogs are GNU gettext ``.po`` files (``locale/<lang>/LC_MESSAGES/cloudctl.po``) read at
run time by the small parser below (docs/i18n.md says why there is no ``.mo``). English
needs no catalog: a msgid is its own English text.

Help texts of commands and options stay plain strings in the code (Typer reads them when
the command tree is built); :func:`localize_help` rewrites them in the click tree for the
language that the command line asks for, before click parses it.
"""

from __future__ import annotations

import ast
import os
import re
import string
import sys
import types
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

DOMAIN = "cloudctl"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGS = ("zh", "en")
DEFAULT = "zh"
ENV_VAR = "CLOUDCTL_LANG"

_current = DEFAULT


def set_language(lang: Any) -> None:
    """The language of text for people for the rest of this process (``zh`` or ``en``)."""
    global _current
    value = str(getattr(lang, "value", lang))
    _current = value if value in LANGS else DEFAULT


def language() -> str:
    return _current


def language_from(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str:
    """The language a command line asks for, read before click parses it (``--help`` is
    printed during parsing, before any callback sees ``--lang``): the last ``--lang X``
    or ``--lang=X`` anywhere before ``--``, else ``$CLOUDCTL_LANG``, else Chinese."""
    found = None
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg == "--lang" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith("--lang="):
            found = arg.split("=", 1)[1]
    if found in LANGS:
        return found
    env = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return env if env in LANGS else DEFAULT


class Msg(str):
    """A message to translate later: its ``str`` value is the English text.

    Only named placeholders (``{zone}``): the translation may put them in another order.
    """

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None) -> Msg:
        params = dict(params or {})
        obj = super().__new__(cls, _fill(msgid, params, msgid))
        obj.msgid = msgid
        obj.params = params
        return obj

    def format(self, *args: Any, **kwargs: Any) -> Msg:
        if args:
            raise TypeError("messages take named placeholders only: _('...{name}').format(name=x)")
        return Msg(self.msgid, {**self.params, **kwargs})

    def __reduce__(self):  # pickled across forked workers and kept lazy
        return (Msg, (self.msgid, self.params))

    def in_language(self, lang: str | None = None) -> str:
        """The text in ``lang`` (not ``translate``: that is ``str.translate``, which rich
        and others call on any string)."""
        values = {k: _param(v, lang) for k, v in self.params.items()}
        return _fill(gettext(self.msgid, lang), values, _fill(self.msgid, values, self.msgid))


def _fill(text: str, values: Mapping[str, Any], otherwise: str) -> str:
    """``text`` with its placeholders filled (``{{`` is a brace); ``otherwise`` while its
    parameters are still to come (``_("…{x}")`` before ``.format``) or if a translation
    is broken."""
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return otherwise


def _param(value: Any, lang: str | None) -> Any:
    """A parameter in ``lang``: a message, or an error raised with one, is translated too."""
    if isinstance(value, BaseException) and value.args and isinstance(value.args[0], Msg):
        return value.args[0].in_language(lang)
    return tr(value, lang) if isinstance(value, str) else value


def freeze(text: Any) -> Any:
    """``text`` in plain values (``marshal`` caches): a message as (msgid, ((name, value), …))
    with its parameters frozen too, anything else as its ``str``. :func:`thaw` undoes it."""
    if isinstance(text, BaseException) and text.args and isinstance(text.args[0], Msg):
        text = text.args[0]
    if isinstance(text, Msg):
        return (text.msgid, tuple((k, freeze(v)) for k, v in text.params.items()))
    return str(text)


def thaw(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return Msg(value[0], {k: thaw(v) for k, v in value[1]})
    return value


def _(msgid: str) -> Msg:
    """Mark a text for people; it is translated when shown (see :func:`tr`)."""
    return Msg(msgid)


def text_of(error: BaseException) -> str:
    """The message of an error raised with ``ValueError(_("…"))``, still translatable
    (``str(e)`` would be its English text only)."""
    if error.args and isinstance(error.args[0], Msg):
        return error.args[0]
    return str(error)


def join(parts: Iterable[Any], sep: str = "; ") -> Msg:
    """Parts (messages or plain text) joined into one message that stays translatable:
    ``"; ".join(...)`` would freeze them in English."""
    items = list(parts)
    msgid = sep.replace("{", "{{").replace("}", "}}").join(f"{{p{i}}}" for i in range(len(items)))
    return Msg(msgid, {f"p{i}": p for i, p in enumerate(items)})


def tr(text: Any, lang: Any = None) -> str:
    """``text`` in ``lang`` (default: the current language). A :class:`Msg` is translated
    with its parameters; a plain string is looked up whole (a constant message that was
    never wrapped still finds its translation) and otherwise shown as it is."""
    code = str(getattr(lang, "value", lang)) if lang is not None else _current
    if isinstance(text, Msg):
        return text.in_language(code)
    if not isinstance(text, str):
        return str(text)
    return gettext(text, code)


def gettext(msgid: str, lang: str | None = None) -> str:
    code = lang or _current
    if code == "en" or not msgid:
        return msgid
    return catalog(code).get(msgid) or msgid


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid → translation of one language (empty entries and fuzzy ones left out)."""
    path = po_path(lang)
    if not path.is_file():
        return {}
    return {k: v for k, (v, fuzzy) in parse_po(path.read_text("utf-8")).items() if v and not fuzzy}


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


# ---------------------------------------------------------------------------- .po files

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


def _unquote(s: str) -> str:
    body = s.strip()
    if len(body) < 2 or body[0] != '"' or body[-1] != '"':
        raise ValueError(f"not a quoted string: {s!r}")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body[1:-1])


def parse_po(text: str) -> dict[str, tuple[str, bool]]:
    """msgid → (msgstr, fuzzy) of a .po file (msgctxt and plurals are not used here)."""
    out: dict[str, tuple[str, bool]] = {}
    fields: dict[str, str] = {}
    key = ""
    fuzzy = False

    def flush() -> None:
        nonlocal fields, fuzzy
        if fields.get("msgid"):
            out[fields["msgid"]] = (fields.get("msgstr", ""), fuzzy)
        fields, fuzzy = {}, False

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if "msgstr" in fields:
                flush()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        if line.startswith('"'):
            if key not in fields:
                raise ValueError(f"string outside an entry: {line!r}")
            fields[key] += _unquote(line)
            continue
        word, _sep, rest = line.partition(" ")
        if word == "msgid" and "msgstr" in fields:
            flush()
        key = word
        fields[key] = _unquote(rest)
    flush()
    return out


def _quote(s: str) -> str:
    for a, b in (("\\", "\\\\"), ('"', '\\"'), ("\t", "\\t"), ("\n", "\\n")):
        s = s.replace(a, b)
    return f'"{s}"'


def po_string(keyword: str, value: str) -> str:
    """``msgid "…"`` in the gettext layout: a multi-line value one source line a line."""
    if "\n" not in value[:-1]:
        return f"{keyword} {_quote(value)}\n"
    chunks = re.findall(r"[^\n]*\n|[^\n]+", value)
    return f'{keyword} ""\n' + "".join(f"{_quote(c)}\n" for c in chunks)


def write_po(entries: Iterable[tuple[str, str, list[str]]], header: str) -> str:
    """A .po file from (msgid, msgstr, reference comments)."""
    out = [header.rstrip("\n") + "\n"]
    for msgid, msgstr, refs in entries:
        out.append("\n")
        out.extend(f"#: {r}\n" for r in refs)
        out.append(po_string("msgid", msgid))
        out.append(po_string("msgstr", msgstr))
    return "".join(out)


def placeholders(text: str) -> set[str]:
    """Named fields of a format string (``{zone}``, ``{n:,}`` → ``zone``, ``n``)."""
    try:
        return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}
    except ValueError:
        return set()


# ---------------------------------------------------------------------- help texts

_HELP_ATTRS = ("help", "short_help", "epilog")
# Typer's fixed words in help screens (module constants of typer.rich_utils).
_TYPER_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "DEPRECATED_STRING": "(deprecated) ",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}
HELP_OPTION_NAMES = ("-h", "--help")

# click's own texts that people meet: the usage line and the usage errors. click marks them
# with ``gettext`` (``from gettext import gettext as _`` in each module), which reads only
# compiled .mo files of the process-wide domain; :func:`adapt_click` points those names at
# this catalog instead. A test checks that each msgid is still in click's source. Words
# that click translates once, when a command is built (the type names "file", "path"), are
# left out: they would stay in the language of that moment.
CLICK_WORDS = (
    "Usage:",
    "Error: {message}",
    "Try '{command} {option}' for help.",
    "No such option {name!r}.",
    "No such command {name!r}.",
    "Did you mean {possibility}?",
    "(Did you mean one of: {possibilities}?)",
    "Missing argument",
    "Missing option",
    "Missing parameter",
    "Missing command.",
    "Invalid value for {param_hint}: {message}",
    "Invalid value: {message}",
    "Got unexpected extra argument ({args})",
    "Got unexpected extra arguments ({args})",
    "Option {name!r} requires an argument.",
    "Option {name!r} requires {nargs} arguments.",
    "Option {name!r} does not take a value.",
    "Argument {name!r} takes {nargs} values.",
    "{value!r} is not {choice}.",
    "{value!r} is not one of {choices}.",
    "{value!r} is not a valid {number_type}.",
    "{value} is not in the range {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}",
    "{value!r} does not match the format {format}.",
    "{value!r} does not match the formats {formats}.",
    "{name} {filename!r} does not exist.",
    "{name} {filename!r} is a file.",
    "{name} {filename!r} is a directory.",
    "{name} {filename!r} is not readable.",
    "{name} {filename!r} is not writable.",
    "Aborted!",
)
CLICK_MODULES = (
    "click.core",
    "click.exceptions",
    "click.parser",
    "click.formatting",
    "click.types",
    "click.decorators",
    "click.termui",
    "typer.core",
    "typer.rich_utils",
)


class Said(Msg):
    """A message already put into the language of the moment (what gettext would have
    returned) that still knows its msgid, so :func:`tr` can give it in English again."""

    def __new__(cls, msgid: str, params: Mapping[str, Any] | None = None) -> Said:
        params = dict(params or {})
        obj = str.__new__(cls, Msg(msgid, params).in_language())
        obj.msgid = msgid
        obj.params = params
        return obj

    def format(self, *args: Any, **kwargs: Any) -> Said:
        if args:
            raise TypeError("messages take named placeholders only")
        return Said(self.msgid, {**self.params, **kwargs})

    def __reduce__(self):
        return (Said, (self.msgid, self.params))


def _click_gettext(message: str) -> str:
    return Said(message)


def _click_ngettext(singular: str, plural: str, n: int) -> str:
    return Said(singular if n == 1 else plural)


def adapt_click() -> None:
    """click's (and Typer's) usage line and usage errors from this catalog, in the
    language of the moment, like gettext would give them with a zh .mo installed."""
    for name in CLICK_MODULES:
        module = sys.modules.get(name)
        if module is None or getattr(module, "_cloudctl_gettext", False):
            continue
        if hasattr(module, "_"):
            module._ = _click_gettext
        if hasattr(module, "ngettext"):
            module.ngettext = _click_ngettext
        module._cloudctl_gettext = True
    if "typer.rich_utils" in sys.modules:
        _adapt_typer(sys.modules["typer.rich_utils"])


def english_usage_error(error: Any) -> str:
    """A click usage error's message in English (the audit trail keeps English)."""
    saved, message = _current, getattr(error, "message", None)
    set_language("en")
    try:
        if isinstance(message, Msg):
            error.message = message.in_language("en")
        return str(error.format_message())
    finally:
        if message is not None:
            error.message = message
        set_language(saved)


class _HelpCtx:
    help_option_names: ClassVar[list[str]] = list(HELP_OPTION_NAMES)


def localize_help(cmd: Any, lang: str | None = None, *, deep: bool = True) -> None:
    """Put the help texts of ``cmd`` (and of its loaded subcommands, options, arguments and
    ``--help`` option) into ``lang``. The English text is kept on the object, so running
    again in another language (tests run many commands in one process) starts from it."""
    code = lang or _current
    for obj in _help_objects(cmd, deep):
        for attr in _HELP_ATTRS:
            key = f"_i18n_{attr}"
            if key not in obj.__dict__:
                value = getattr(obj, attr, None)
                if not isinstance(value, str) or not value:
                    continue
                obj.__dict__[key] = value.in_language("en") if isinstance(value, Msg) else value
            setattr(obj, attr, gettext(obj.__dict__[key], code))
        if hasattr(obj, "format_help") and "format_help" not in obj.__dict__:
            obj.format_help = types.MethodType(_format_help, obj)


def _format_help(self: Any, ctx: Any, formatter: Any) -> Any:
    """A command's help screen, with Typer's own words in the current language. Typer's
    help module (rich, markdown: ~50 ms) is imported only when help is shown."""
    if "typer.rich_utils" in sys.modules or getattr(self, "rich_markup_mode", None):
        import typer.rich_utils

        _adapt_typer(typer.rich_utils)
    return type(self).format_help(self, ctx, formatter)


def _adapt_typer(module: Any) -> None:
    for name, msgid in _TYPER_WORDS.items():
        if hasattr(module, name):
            setattr(module, name, gettext(msgid))
    # Chinese has no spaces between words: rich would cut a long run of it with "…" in
    # the narrow help column. Folding breaks it between characters instead.
    make = getattr(module, "_make_rich_text", None)
    if make is None or getattr(make, "cloudctl_fold", False):
        return

    def make_folding(*args: Any, **kwargs: Any) -> Any:
        text = make(*args, **kwargs)
        if getattr(text, "overflow", "") is None:
            text.overflow = "fold"
        return text

    make_folding.cloudctl_fold = True  # type: ignore[attr-defined]
    module._make_rich_text = make_folding


def _help_objects(cmd: Any, deep: bool) -> Iterable[Any]:
    yield cmd
    get_help = getattr(cmd, "get_help_option", None)
    opt = get_help(_HelpCtx) if get_help is not None else None
    if opt is not None:  # created now (click caches it) so that it is translated
        yield opt
    yield from (p for p in getattr(cmd, "params", ()) if p is not opt)
    if deep:
        for sub in getattr(cmd, "commands", {}).values():
            yield from _help_objects(sub, deep)


def help_texts(cmd: Any, path: tuple[str, ...] = ()) -> Iterable[tuple[str, str]]:
    """(where, English text) of every help text under ``cmd`` (for tests and extraction)."""
    for obj in _help_objects(cmd, deep=False):
        for attr in _HELP_ATTRS:
            value = obj.__dict__.get(f"_i18n_{attr}", getattr(obj, attr, None))
            if isinstance(value, str) and value:
                name = max(getattr(obj, "opts", None) or [""], key=len) if obj is not cmd else ""
                yield " ".join((*path, name)).strip() + f" {attr}", value
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from help_texts(sub, (*path, name))


# ----------------------------------------------------------------------- extraction


def source_msgids(root: Path) -> dict[str, list[str]]:
    """msgid → ``file:line`` of every ``_("…")`` call with a literal under ``root``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text("utf-8"), str(path))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                rel = path.relative_to(root.parent)
                found.setdefault(node.args[0].value, []).append(f"{rel}:{node.lineno}")
    return found


def _yaml_knows_msg() -> None:
    """yaml's safe dumper refuses str subclasses: a message is dumped as its English text."""
    import yaml

    for dumper in (yaml.SafeDumper, yaml.Dumper):
        dumper.add_representer(Msg, dumper.represent_str)


_yaml_knows_msg()


# ------------------------------------------------------------- catalog maintenance

PO_HEADER = """# Chinese translations of cloudctl's texts for people (docs/i18n.md).
# English msgids come from the help texts of the command tree and from _("...") calls;
# `python -m cloudctl.core.i18n update` adds new ones (empty msgstr) and drops unused ones.
msgid ""
msgstr ""
"Project-Id-Version: cloudctl\\n"
"Language: zh_CN\\n"
"MIME-Version: 1.0\\n"
"Content-Type: text/plain; charset=UTF-8\\n"
"Content-Transfer-Encoding: 8bit\\n"
"""


def all_msgids() -> dict[str, list[str]]:
    """Every text that needs a translation, with where it comes from: the help texts of the
    whole command tree (every area loaded), ``_("…")`` calls in the source, Typer's words."""
    import click
    import typer

    from cloudctl.cli.app import app

    group = typer.main.get_command(app)
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        group.get_command(ctx, name)
    found: dict[str, list[str]] = {}
    for where, text in help_texts(group, ("cloudctl",)):
        found.setdefault(text, []).append(where)
    for msgid, refs in source_msgids(LOCALE_DIR.parent).items():
        found.setdefault(msgid, []).extend(refs)
    for name, msgid in _TYPER_WORDS.items():
        found.setdefault(msgid, []).append(f"typer.rich_utils.{name}")
    for msgid in CLICK_WORDS:
        found.setdefault(msgid, []).append("click")
    return found


def update_po(lang: str = "zh", translations: Mapping[str, str] | None = None) -> list[str]:
    """Rewrite the catalog of ``lang`` with every current msgid (translations kept, new
    ones from ``translations`` or empty); returns the msgids still without a translation."""
    path = po_path(lang)
    old = parse_po(path.read_text("utf-8")) if path.is_file() else {}
    entries, missing = [], []
    for msgid, refs in all_msgids().items():
        text = (translations or {}).get(msgid) or old.get(msgid, ("", False))[0]
        if not text:
            missing.append(msgid)
        entries.append((msgid, text, sorted(set(refs))[:3]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(write_po(entries, PO_HEADER), "utf-8")
    catalog.cache_clear()
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cloudctl.core.i18n update [--merge FILE.json]`` / ``missing``."""
    import json

    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in ("update", "missing"):
        print(main.__doc__)
        return 2
    merge: dict[str, str] = {}
    if "--merge" in args:
        merge = json.loads(Path(args[args.index("--merge") + 1]).read_text("utf-8"))
    if args[0] == "missing":
        have = catalog("zh")
        missing = [m for m in all_msgids() if m not in have]
    else:
        missing = update_po("zh", merge)
    print(json.dumps(missing, ensure_ascii=False, indent=1))
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main())
