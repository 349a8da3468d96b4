"""The ``cloudctl`` command: joins the areas and turns errors into ``file:line: message``."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from cloudctl import __version__
from cloudctl.cli.common import Session
from cloudctl.core.errors import CloudctlError
from cloudctl.core.output import Lang

AREAS = {
    "ipam": "Address plan: zones, prefixes, allocation, validation, export / 地址规划",
    "tenant": "Department tenants on OpenStack: plan, apply, drift / 租户开通",
    "baseline": "MLPS level-3 host baseline: check, remediate, report / 等保三级基线",
    "migrate": "Migration waves: validate, plan, run, resume, report / 应用迁移",
    "lab": "Local lab: real OpenStack services and SSH test hosts / 本地实验环境",
    "audit": "The audit trail of changing commands / 审计记录",
}


def report_error(err: CloudctlError) -> None:
    """Print every problem as ``file:line: message`` on stderr (plain text, no panel)."""
    probs = err.problems
    for p in probs:
        sys.stderr.write(f"{p}\n")
    if len(probs) > 1:
        sys.stderr.write(f"cloudctl: {err.message}\n")
    sys.stderr.flush()


class CloudctlGroup(TyperGroup):
    """Root group: every subcommand runs inside this ``invoke``, so one handler covers all.

    Areas are imported only when named (``cloudctl baseline check`` never imports the
    OpenStack or IPAM code): that keeps every command's start-up short.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*AREAS, *(c for c in super().list_commands(ctx) if c not in AREAS)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in AREAS:
            mod = importlib.import_module(f"cloudctl.cli.{cmd_name}")
            cmd = typer.main.get_group(mod.app)
            cmd.name = cmd_name
            cmd.help = AREAS[cmd_name]
            cmd.short_help = AREAS[cmd_name]
            self.add_command(cmd, cmd_name)
        return cmd

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CloudctlError as e:
            # Printed here and not through click: typer's rich mode would draw a panel and
            # drop the file:line list.
            if _debug(ctx):
                traceback.print_exc()
            report_error(e)
            raise click.exceptions.Exit(e.exit_code) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, typer.Exit):
            raise
        except KeyboardInterrupt:
            sys.stderr.write("cloudctl: interrupted\n")
            raise click.exceptions.Exit(130) from None
        except Exception as e:
            if _debug(ctx):
                traceback.print_exc()
            sys.stderr.write(
                f"cloudctl: internal error: {type(e).__name__}: {e} (--debug shows more)\n"
            )
            raise click.exceptions.Exit(3) from None


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or os.environ.get("CLOUDCTL_DEBUG") == "1"


app = typer.Typer(
    cls=CloudctlGroup,
    name="cloudctl",
    help="Operations toolkit of the e-government cloud center / 政务云中心运维工具",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cloudctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    center: Annotated[
        Path | None,
        typer.Option(
            "--center",
            "-C",
            envvar="CLOUDCTL_CENTER",
            help="The center directory (holds cloudctl.yaml). Default: search upwards.",
        ),
    ] = None,
    lang: Annotated[
        Lang, typer.Option("--lang", envvar="CLOUDCTL_LANG", help="zh or en for text for people.")
    ] = Lang.zh,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = Session(center_path=center, debug=debug, lang=lang)


def main() -> None:
    app(prog_name="cloudctl")


if __name__ == "__main__":
    main()
