"""One place that renders results: ``--output table|json|yaml``.

Commands hand over plain data (dicts/lists of JSON-able values); tables are drawn with
rich, json and yaml are printed verbatim so pipelines can consume them.

Data comes from files other people write, so in terminal output it is never markup: a
purpose ``[/]`` would crash rich, ``2001:db8:0:100::/64`` would show an emoji (``:100:``),
and an escape sequence would drive the operator's terminal. ``esc()`` is for data placed
inside our own markup, ``plain()`` for a cell or line that is data only; the consoles
here never replace emoji codes, and ``table_of`` treats every cell as data.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from cloudctl.core.yamlio import to_plain


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


def pick(lang: Lang | str, zh: str, en: str) -> str:
    """Text for people comes in Chinese (default) and English."""
    return en if str(lang) == "en" else zh


@dataclass(frozen=True)
class Column:
    """``fmt`` returns markup (e.g. a colour): it must ``esc()`` any data it puts in."""

    key: str
    header: str
    justify: str = "left"
    style: str | None = None
    fmt: Callable[[Any], str] | None = None


# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a CSI on some terminals)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(value: Any) -> str:
    """``str(value)`` with control characters shown as ``\\xNN`` instead of sent to the
    terminal (no escape sequences from data)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def esc(value: Any) -> str:
    """Data to put inside a markup string: ``f"[green]{esc(name)}[/green]"``."""
    return escape(safe_text(value))


def plain(value: Any, style: str = "") -> Text:
    """Data as a rich Text: printed as it is, never parsed as markup or emoji codes."""
    return Text(safe_text(value), style=style)


def stdout() -> Console:
    return Console(soft_wrap=False, emoji=False)


def stderr() -> Console:
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
    return yaml.safe_dump(
        json.loads(to_json(data)), allow_unicode=True, sort_keys=False, default_flow_style=False
    )


def table_of(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> Table:
    t = Table(title=plain(title) if title else None, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c.header, justify=c.justify, style=c.style)  # type: ignore[arg-type]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            cells.append(c.fmt(v) if c.fmt else plain("" if v is None else v))
        t.add_row(*cells)
    return t


def render(
    data: Any,
    fmt: OutputFormat | str = OutputFormat.table,
    *,
    columns: Sequence[Column] | None = None,
    title: str | None = None,
    table: Callable[[Console], None] | None = None,
    schema: str | None = None,
) -> None:
    """Print ``data`` in the chosen format. ``table`` draws a custom terminal view;
    ``schema`` names the json/yaml document (see :func:`document`)."""
    fmt = OutputFormat(fmt)
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
