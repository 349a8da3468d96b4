"""One place that renders results: ``--output table|json|yaml``.

Commands hand over plain data (dicts/lists of JSON-able values); tables are drawn with
rich, json and yaml are printed verbatim so pipelines can consume them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

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
    key: str
    header: str
    justify: str = "left"
    style: str | None = None
    fmt: Callable[[Any], str] | None = None


def stdout() -> Console:
    return Console(soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True)


def to_json(data: Any) -> str:
    return json.dumps(to_plain(data), ensure_ascii=False, indent=2, default=str)


def to_yaml(data: Any) -> str:
    return yaml.safe_dump(
        json.loads(to_json(data)), allow_unicode=True, sort_keys=False, default_flow_style=False
    )


def table_of(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> Table:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c.header, justify=c.justify, style=c.style)  # type: ignore[arg-type]
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c.key)
            cells.append(c.fmt(v) if c.fmt else ("" if v is None else str(v)))
        t.add_row(*cells)
    return t


def render(
    data: Any,
    fmt: OutputFormat | str = OutputFormat.table,
    *,
    columns: Sequence[Column] | None = None,
    title: str | None = None,
    table: Callable[[Console], None] | None = None,
) -> None:
    """Print ``data`` in the chosen format. ``table`` draws a custom terminal view."""
    fmt = OutputFormat(fmt)
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
        con.print(data)
