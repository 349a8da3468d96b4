"""Options and helpers every command module shares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cloudctl.core import audit
from cloudctl.core.center import Center, load_center
from cloudctl.core.output import Lang, OutputFormat

if TYPE_CHECKING:
    from rich.table import Table

OutputOpt = Annotated[
    OutputFormat,
    typer.Option("--output", "-o", help="table, json or yaml.", case_sensitive=False),
]
LangOpt = Annotated[
    Lang | None,
    typer.Option("--lang", help="Language of text for people: zh (default) or en."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]


@dataclass
class Session:
    """Global options, and the center loaded lazily (``--help`` needs no center).

    While a changing command runs, ``run`` is its audit run: :meth:`begin` wrote the intent,
    :meth:`audit` adds what changed (linked by the run id), :meth:`end` writes the outcome.
    """

    center_path: Path | None = None
    debug: bool = False
    lang: Lang = Lang.zh
    argv: list[str] | None = None
    _center: Center | None = field(default=None, repr=False)
    _trail: audit.Trail | None = field(default=None, repr=False)
    run: audit.Run | None = field(default=None, repr=False)

    @property
    def center(self) -> Center:
        if self._center is None:
            self._center = load_center(self.center_path)
        return self._center

    def language(self, override: Lang | None = None) -> Lang:
        return override or self.lang

    def trail(self) -> audit.Trail:
        if self._trail is None:
            self._trail = audit.trail_for(self.center, self.argv)
        return self._trail

    def begin(self, action: str, params: dict) -> None:
        """Write the intent of a changing command; AuditError (exit 2) if it cannot be."""
        self.run = self.trail().begin(action, params)

    def end(self, result: str, exit_code: int, error: str | None = None) -> None:
        if self.run is not None:
            run, self.run = self.run, None
            self.trail().end(run, result, exit_code, error)

    def audit(self, action: str, changes: Any = None, result: str = "ok", **extra: Any) -> None:
        """Record what a command changed (linked to the running command's intent)."""
        self.trail().change(action, changes, result, run=self.run, **extra)


def session(ctx: typer.Context) -> Session:
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session()
    return root.obj


def column_table(headers: Iterable[str], *, fold: bool = False, **table_args: Any) -> Table:
    """A bold-headed rich Table with these columns, for a command's own table view.

    ``fold`` wraps long cells instead of cutting them short; ``table_args`` go to ``Table``
    (``title`` and the like). rich is imported here, not at start-up.
    """
    from rich.table import Table

    table = Table(header_style="bold", **table_args)
    for header in headers:
        table.add_column(header, overflow="fold" if fold else "ellipsis")
    return table
