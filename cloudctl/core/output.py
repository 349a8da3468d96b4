"""One place that renders results: ``--output table|json|yaml|value|csv`` and ``-c COLUMN``.

Commands hand over plain data (dicts/lists of JSON-able values); tables are drawn with
rich, json and yaml are printed verbatim so pipelines can consume them; ``value`` (one row a
line, values separated by spaces, no header) and ``csv`` (header of column keys) print the
command's listing as the ``openstack`` client does, for ``cut``/``while read`` and
spreadsheets. ``-c`` picks columns of that listing in every format.

Identifiers are never cut: a column is an ``id`` (prefix, run id, control id, path, number
people copy: never wrapped, never shortened) or ``text`` (prose that wraps and gives way).
:class:`FitTable` fits the text columns into what is left of the terminal, leaves out
``optional`` columns first, and shows one record per block when even the ids do not fit.

Data comes from files other people write, so in terminal output it is never markup: a
purpose ``[/]`` would crash rich, ``2001:db8:0:100::/64`` would show an emoji (``:100:``),
and an escape sequence would drive the operator's terminal. ``esc()`` is for data placed
inside our own markup, ``plain()`` for a cell or line that is data only; the consoles
here never replace emoji codes, and ``table_of`` treats every cell as data.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from cloudctl.core.yamlio import to_plain

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
    from rich.text import Text

# rich and yaml are imported where a table, markup or YAML is made (issue 17: every
# command's start-up imports this module; json, csv and value output need neither).


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    value = "value"
    csv = "csv"


MACHINE = (OutputFormat.value, OutputFormat.csv)


class Lang(StrEnum):
    zh = "zh"
    en = "en"


def pick(lang: Lang | str, zh: str, en: str) -> str:
    """Text for people comes in Chinese (default) and English."""
    return en if str(lang) == "en" else zh


@dataclass(frozen=True)
class Column:
    """``fmt`` returns markup (e.g. a colour): it must ``esc()`` any data it puts in.

    ``kind``: ``id`` for values people copy (never wrapped or cut), ``text`` for prose that
    wraps; ``optional`` columns are left out first on a narrow terminal (``-c`` or
    ``-o csv`` still show them)."""

    key: str
    header: str
    justify: str = "left"
    style: str | None = None
    fmt: Callable[[Any], str] | None = None
    kind: str = "text"
    optional: bool = False


def ident(key: str, header: str | None = None, **kw: Any) -> Column:
    """An ``id`` column: shown whole on one line whatever the terminal width."""
    return Column(key, key if header is None else header, kind="id", **kw)


# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a CSI on some terminals)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(value: Any) -> str:
    """``str(value)`` with control characters shown as ``\\xNN`` instead of sent to the
    terminal (no escape sequences from data)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def esc(value: Any) -> str:
    """Data to put inside a markup string: ``f"[green]{esc(name)}[/green]"``."""
    from rich.markup import escape

    return escape(safe_text(value))


def plain(value: Any, style: str = "") -> Text:
    """Data as a rich Text: printed as it is, never parsed as markup or emoji codes."""
    from rich.text import Text

    return Text(safe_text(value), style=style)


def stdout() -> Console:
    from rich.console import Console

    console = Console(soft_wrap=False, emoji=False)
    console.on_broken_pipe = _reader_gone  # type: ignore[method-assign]
    return console


def _reader_gone() -> None:
    """rich's own answer to a closed pipe is exit 1 (= findings here): hand it to the CLI,
    which ends every command the same way when its reader goes away (cloudctl.cli.app)."""
    raise BrokenPipeError


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, emoji=False)


# Fields that may differ between two identical runs (docs/conventions.md): timings and
# API request statistics. Everything else in a document is a function of the inputs.
TIMING_KEYS = frozenset({"elapsed_s", "generated_at", "requests"})


def document(schema: str, data: Any) -> dict:
    """The JSON/YAML document a command prints: ``schema`` first (``cloudctl.<area>.<verb>/N``,
    N bumped when a field changes meaning or goes away), then the data; a list goes under
    ``items`` so every document is an object scripts can check the version of."""
    if isinstance(data, dict):
        if "schema" in data:
            raise ValueError(f"{schema}: the data has a key 'schema' of its own")
        return {"schema": schema, **data}
    return {"schema": schema, "items": data}


def _json_default(value: Any) -> Any:
    """Datetimes as ISO-8601 with their time zone (a naive one is local time)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.astimezone()).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_json(data: Any) -> str:
    return json.dumps(to_plain(data), ensure_ascii=False, indent=2, default=_json_default)


def to_yaml(data: Any) -> str:
    import yaml

    return yaml.safe_dump(
        json.loads(to_json(data)), allow_unicode=True, sort_keys=False, default_flow_style=False
    )


@dataclass
class _Col:
    header: RenderableType
    kind: str = "text"
    justify: str = "left"
    style: str | None = None
    optional: bool = False


@dataclass
class FitTable:
    """A table that fits the terminal without cutting an identifier.

    ``id`` columns keep their whole width on one line; ``text`` columns wrap (long words
    fold) into what is left, each at least ``min_text`` cells. When that is not enough,
    ``optional`` columns go first (rightmost first, named in the caption); when even the
    ids do not fit, each row is shown as a block of ``header: value`` lines.
    Same ``add_column``/``add_row`` calls as rich's Table; cells may be markup or Text.
    """

    title: RenderableType | None = None
    caption: str | None = None
    min_text: int = 6
    table_args: dict = field(default_factory=dict)
    columns: list[_Col] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)

    def add_column(
        self,
        header: RenderableType,
        *,
        kind: str = "text",
        justify: str = "left",
        style: str | None = None,
        optional: bool = False,
    ) -> None:
        if kind not in ("id", "text"):
            raise ValueError(f"column kind {kind!r}: id or text")
        self.columns.append(_Col(header, kind, justify, style, optional))

    def add_row(self, *cells: RenderableType | None) -> None:
        self.rows.append(tuple("" if c is None else c for c in cells))

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def layout(self, console: Console, width: int) -> tuple[list[int], dict[int, int], bool]:
        """Columns shown, the fixed width of each id column (empty: nothing to fix), and
        whether they fit as a table (else: records).

        In order: everything at its natural width; ids whole with their headers, text
        squeezed; ids whole but long headers wrapped; then optional columns left out."""
        from rich.measure import Measurement

        opts = console.options.update_width(max(width, 1))

        def span(r: RenderableType) -> int:
            return Measurement.get(console, opts, r).maximum

        values, headers = [], []
        for i, c in enumerate(self.columns):
            values.append(max([1, *(span(row[i]) for row in self.rows if i < len(row))]))
            headers.append(span(c.header))

        def need(shown: list[int], ids: dict[int, int]) -> int:
            cells = sum(
                ids[i] if i in ids else min(max(values[i], headers[i]), self.min_text)
                for i in shown
            )
            return cells + 3 * len(shown) + 1  # padding 1+1 a column, borders

        shown = list(range(len(self.columns)))
        natural = {i: max(values[i], headers[i]) for i in shown}
        if sum(natural.values()) + 3 * len(shown) + 1 <= width:
            return shown, {}, True
        if all(c.kind == "text" for c in self.columns):
            return shown, {}, True  # nothing to keep whole: the text wraps as narrow as it must
        with_headers = {i: natural[i] for i in shown if self.columns[i].kind == "id"}
        if need(shown, with_headers) <= width:
            return shown, with_headers, True
        # a header may wrap, down to two wide characters a line
        ids = {i: max(values[i], min(headers[i], 4)) for i in shown if self.columns[i].kind == "id"}
        for i in reversed(range(len(self.columns))):
            if need(shown, ids) <= width:
                break
            if self.columns[i].optional:
                shown.remove(i)
                ids.pop(i, None)
                with_headers.pop(i, None)
                if need(shown, with_headers) <= width:
                    return shown, with_headers, True
        return shown, ids, need(shown, ids) <= width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        shown, ids, fits = self.layout(console, options.max_width)
        hidden = [c for i, c in enumerate(self.columns) if i not in shown]
        caption = self.caption
        if hidden:
            names = ", ".join(str(c.header) for c in hidden)
            note = pick(
                current_lang(),
                f"终端太窄未显示：{names}（-c 或 -o csv 可显示）",
                f"not shown at this width: {names} (-c or -o csv shows them)",
            )
            caption = f"{caption} · {note}" if caption else note
        if not fits:
            yield from self._records(console, shown, caption)
            return
        from rich.table import Table

        t = Table(
            title=self.title,
            caption=plain(caption, "dim") if caption else None,
            header_style="bold",
            **self.table_args,
        )
        for i in shown:
            c = self.columns[i]
            if i in ids:  # the values fit the width exactly; only a long header wraps
                t.add_column(
                    c.header, justify=c.justify, style=c.style, width=ids[i], overflow="fold"
                )  # type: ignore[arg-type]
            elif c.kind == "id":
                t.add_column(c.header, justify=c.justify, style=c.style, no_wrap=True)  # type: ignore[arg-type]
            else:
                t.add_column(c.header, justify=c.justify, style=c.style, overflow="fold")  # type: ignore[arg-type]
        for row in self.rows:
            t.add_row(*[row[i] if i < len(row) else "" for i in shown])
        yield t

    def _records(self, console: Console, shown: list[int], caption: str | None) -> RenderResult:
        """Too narrow for the ids side by side: one block per row, one line per value."""
        from rich.console import Group
        from rich.table import Table

        if self.title is not None:
            yield self.title
        for row in self.rows:
            grid = Table.grid(padding=(0, 1))
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(overflow="fold")
            for i in shown:
                grid.add_row(self.columns[i].header, row[i] if i < len(row) else "")
            yield Group(grid, "")
        if caption:
            yield plain(caption, "dim")


def table_of(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> FitTable:
    """The rows as a :class:`FitTable`; every cell is data (``fmt`` may add markup)."""
    t = FitTable(title=plain(title) if title else None)
    for c in columns:
        t.add_column(c.header, kind=c.kind, justify=c.justify, style=c.style, optional=c.optional)
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            if c.fmt:
                cells.append(c.fmt(v))
            else:
                cells.append(
                    plain(cell_text(v) if isinstance(v, (list, tuple, dict, type(None))) else v)
                )
        t.add_row(*cells)
    return t


# ------------------------------------------------------------------ -c, value and csv


def current_lang() -> str:
    """The running command's ``--lang`` (else the global one, else zh)."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "zh"
    lang = ctx.params.get("lang") or getattr(ctx.find_root().obj, "lang", None)
    return str(lang or "zh")


def chosen_columns() -> tuple[str, ...]:
    """The ``-c/--column`` names given to the running command (none: all columns)."""
    import click

    ctx = click.get_current_context(silent=True)
    return tuple(ctx.meta.get("cloudctl.columns", ())) if ctx is not None else ()


def _listing(data: Any, rows: Sequence[dict] | None) -> tuple[list[dict], bool]:
    """The rows ``value``/``csv``/``-c`` show, and whether they are one record (a dict)."""
    if rows is not None:
        return [r if isinstance(r, dict) else {"value": r} for r in rows], False
    if isinstance(data, dict):
        return [data], True
    if isinstance(data, (list, tuple)):
        return [r if isinstance(r, dict) else {"value": r} for r in data], False
    return [{"value": data}], True


def _keys(rows: Iterable[dict], columns: Sequence[Column] | None) -> list[str]:
    if columns:
        return [c.key for c in columns]
    keys: dict[str, None] = {}
    for r in rows:
        keys.update(dict.fromkeys(r))
    return list(keys)


def select_columns(
    names: Sequence[str], keys: Sequence[str], columns: Sequence[Column] | None = None
) -> list[str]:
    """Resolve ``-c`` names (a key or a header, any case) to keys, in the order given."""
    by_name: dict[str, str] = {}
    for k in keys:
        by_name.setdefault(k.casefold(), k)
    for c in columns or ():
        by_name.setdefault(str(c.header).casefold(), c.key)
    out = []
    for n in names:
        k = by_name.get(n.casefold())
        if k is None:
            from cloudctl.core.errors import InputError, Location

            raise InputError(
                f"unknown column {n!r} (columns: {', '.join(keys) or 'none'})",
                Location("--column"),
            )
        out.append(k)
    return out


def cell_text(value: Any) -> str:
    """A value as one field of ``value``/``csv`` output: lists joined by commas, objects as
    compact JSON, no control characters."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)) and all(
        not isinstance(v, (dict, list, tuple)) for v in value
    ):
        return ",".join(cell_text(v) for v in value)
    if isinstance(value, (dict, list, tuple)):
        return safe_text(json.dumps(to_plain(value), ensure_ascii=False, default=_json_default))
    if isinstance(value, (datetime, date)):
        return str(_json_default(value))
    return safe_text(value).replace("\n", " ")


def machine_text(
    fmt: OutputFormat, rows: Sequence[dict], keys: Sequence[str], one_record: bool = False
) -> str:
    """``value``: one row a line, values separated by a space (one record: a value a
    line, as ``openstack ... show -f value``); ``csv``: a header of keys, then the rows."""
    if fmt is OutputFormat.value:
        if one_record and rows:
            return "".join(cell_text(rows[0].get(k)) + "\n" for k in keys)
        return "".join(" ".join(cell_text(r.get(k)) for k in keys) + "\n" for r in rows)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow([cell_text(r.get(k)) for k in keys])
    return buf.getvalue()


def render(
    data: Any,
    fmt: OutputFormat | str = OutputFormat.table,
    *,
    columns: Sequence[Column] | None = None,
    title: str | None = None,
    table: Callable[[Console], None] | None = None,
    schema: str | None = None,
    rows: Sequence[dict] | None = None,
) -> None:
    """Print ``data`` in the chosen format. ``table`` draws a custom terminal view;
    ``schema`` names the json/yaml document (see :func:`document`).

    ``rows`` is the listing ``value``, ``csv`` and ``-c`` show when ``data`` is a document
    around it (default: ``data`` itself, a dict being one record); ``columns`` name its
    columns (default: the keys of the rows). With ``-c`` the table shows those columns
    of the listing instead of the custom view."""
    fmt = OutputFormat(fmt)
    chosen = chosen_columns()
    if chosen or fmt in MACHINE:
        listing, one = _listing(data, rows)
        keys = _keys(listing, columns)
        if chosen:
            keys = select_columns(chosen, keys, columns)
        if fmt in MACHINE:
            sys.stdout.write(machine_text(fmt, listing, keys, one))
            return
        if fmt is OutputFormat.table:
            by_key = {c.key: c for c in columns or ()}
            cols = [by_key.get(k) or Column(k, k, kind="id") for k in keys]
            if one and rows is None:
                recs = [{"field": k, "value": cell_text(listing[0].get(k))} for k in keys]
                cols = [Column("field", "field", kind="id"), Column("value", "value")]
                stdout().print(table_of(recs, cols, title))
            else:
                stdout().print(table_of(listing, cols, title))
            return
        if rows is not None and rows is not data:
            raise _column_error("json/yaml print the whole document here: use -o value or csv")
        data = _pick_keys(data, keys)
    if schema is not None and fmt in (OutputFormat.json, OutputFormat.yaml):
        data = document(schema, data)
    if fmt is OutputFormat.json:
        sys.stdout.write(to_json(data) + "\n")
        return
    if fmt is OutputFormat.yaml:
        sys.stdout.write(to_yaml(data))
        return
    con = stdout()
    if table is not None:
        table(con)
    elif columns is not None:
        rows = data if isinstance(data, list) else [data]
        con.print(table_of(rows, columns, title))
    else:
        con.print(plain(data) if isinstance(data, str) else data)


def _column_error(message: str) -> Exception:
    from cloudctl.core.errors import InputError, Location

    return InputError(message, Location("--column"))


def _pick_keys(data: Any, keys: Sequence[str]) -> Any:
    """``-c`` with json/yaml: only these keys of each item (or of the one record)."""
    if isinstance(data, dict):
        return {k: data.get(k) for k in keys}
    return [{k: r.get(k) for k in keys} if isinstance(r, dict) else r for r in data]
