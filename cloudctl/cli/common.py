"""Options and helpers every command module shares."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cloudctl.core.center import Center, load_center
from cloudctl.core.output import Lang, OutputFormat

if TYPE_CHECKING:
    import click

    from cloudctl.core import audit
    from cloudctl.core.output import FitTable

OutputOpt = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="table, json, yaml, value (values only, a row a line) or csv. "
        "-f is the same option where a command has no -f of its own.",
        case_sensitive=False,
    ),
]
LangOpt = Annotated[
    Lang | None,
    typer.Option("--lang", help="Language of text for people: zh (default) or en."),
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
]
# the cloud of every command that reads OpenStack (cloudctl.tenant.openstack_adapter.connect)
OsCloudOpt = Annotated[
    str | None,
    typer.Option("--os-cloud", envvar="OS_CLOUD", help="Cloud name in clouds.yaml (or OS_CLOUD)."),
]
OsConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--os-config-file",
        envvar="OS_CLIENT_CONFIG_FILE",
        help="clouds.yaml to use (or OS_CLIENT_CONFIG_FILE). Default: the standard places.",
    ),
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
            from cloudctl.core import audit  # only changing commands write the trail

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


# A read-only command that loaded a big data set (100k prefixes are ~1M objects) may end
# the process without freeing them one by one (~0.1 s at exit, issue 17); see
# cloudctl.cli.app.main for when that is safe.
_QUICK_EXIT = [False]


def quick_exit_ok() -> None:
    """Called by a read-only command: nothing it made needs a clean interpreter shutdown."""
    _QUICK_EXIT[0] = True


def session(ctx: typer.Context) -> Session:
    root = ctx.find_root()
    if not isinstance(root.obj, Session):
        root.obj = Session()
    return root.obj


def column_table(
    headers: Iterable[str],
    *,
    ids: Iterable[int] = (),
    optional: Iterable[int] = (),
    right: Iterable[int] = (),
    fold: bool = True,
    title: Any = None,
    **table_args: Any,
) -> FitTable:
    """A table for a command's own view that never cuts an identifier.

    ``ids``: indices of the columns whose values people copy (never wrapped or cut); the
    others are prose that wraps. ``optional`` columns are left out first on a narrow
    terminal, ``right`` ones are right-aligned. ``fold`` is kept for old callers (text
    always wraps). rich is imported here, not at start-up.
    """
    from cloudctl.core.output import FitTable

    del fold
    ids, optional, right = set(ids), set(optional), set(right)
    table = FitTable(title=title, table_args=table_args)
    for i, header in enumerate(headers):
        table.add_column(
            header,
            kind="id" if i in ids else "text",
            optional=i in optional,
            justify="right" if i in right else "left",
        )
    return table


def _keep_columns(ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> None:
    ctx.meta["cloudctl.columns"] = tuple(v for item in value or () for v in item.split(",") if v)


def add_output_options(cmd: click.Command) -> None:
    """Give a command that prints data (it has ``--output``) the ``openstack`` habits:
    ``-c/--column`` (repeatable, or comma-separated) and ``-f`` for ``--output``. A short
    name the command already uses keeps its old meaning (``baseline check -c CONTROL``,
    ``ipam export -f netbox``): there only the long ``--column`` / ``--output`` apply."""
    from typer.core import TyperOption

    params = {p.name: p for p in cmd.params}
    out = params.get("output")
    if out is None or "column" in params:
        return
    taken = {o for p in cmd.params for o in getattr(p, "opts", [])}
    if "-f" not in taken:
        out.opts.append("-f")
    cmd.params.insert(
        cmd.params.index(out) + 1,
        TyperOption(
            param_decls=["--column"] if "-c" in taken else ["--column", "-c"],
            multiple=True,
            metavar="COLUMN",
            expose_value=False,
            callback=_keep_columns,
            help="Only this column (key or header; repeatable). Any output format.",
        ),
    )
