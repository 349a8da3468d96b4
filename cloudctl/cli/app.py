"""The ``cloudctl`` command: joins the areas and turns errors into ``file:line: message``."""

from __future__ import annotations

import functools
import importlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from cloudctl import __version__
from cloudctl.cli.common import Session, add_output_options, session
from cloudctl.core import i18n
from cloudctl.core.errors import CloudctlError, ConflictError, InputError, ValidationFailed
from cloudctl.core.i18n import _
from cloudctl.core.output import Lang, safe_text

AREAS = {  # English msgids: help is shown in the catalog's language (cloudctl.core.i18n)
    "ipam": "Address plan: zones, prefixes, allocation, validation, export",
    "tenant": "Department tenants on OpenStack: plan, apply, drift",
    "baseline": "MLPS level-3 host baseline: check, remediate, report",
    "migrate": "Migration waves: validate, plan, run, resume, report",
    "capacity": "Capacity planning: when phase 1 runs out, what phase 2 needs",
    "report": "The center report for leadership, one HTML page",
    "domains": "Security domains: zone design, rule checks, live matrix",
    "lab": "Local lab: real OpenStack services and SSH test hosts",
    "audit": "The audit trail of changing commands",
    "state": "Shared state: SQLite or PostgreSQL, schema, migration",
    "schema": "JSON Schema of the center's files, for editors and checks",
}

# Every command is one or the other (a test keeps it so). A run of a CHANGING command
# writes an audit intent before it starts and an outcome when it ends, whatever the end;
# with --dry-run it changes nothing and is not recorded. Exports, evidence collection and
# reports write files of their own but change nothing cloudctl manages: READ_ONLY.
CHANGING = frozenset(
    {
        "ipam allocate",
        "ipam release",
        "ipam import",
        "tenant apply",
        "tenant destroy",
        "tenant adopt",
        "baseline remediate",
        "baseline playbook",
        "migrate run",
        "migrate resume",
        "migrate rollback",
        "migrate abandon",
        "migrate lab-seed",
        "lab up",
        "lab down",
        "lab reset-host",
        "state migrate",
        "state upgrade",
    }
)
READ_ONLY = frozenset(
    {
        "ipam validate",
        "ipam show",
        "ipam free",
        "ipam export",
        "ipam drift",
        "tenant validate",
        "tenant plan",
        "tenant drift",
        "baseline check",
        "baseline report",
        "baseline runs",
        "baseline diff",
        "baseline controls",
        "migrate validate",
        "migrate plan",
        "migrate status",
        "migrate history",
        "migrate report",
        "lab status",
        "domains validate",
        "domains check",
        "domains matrix",
        "capacity",
        "report",
        "audit log",
        "audit verify",
        "state status",
        "schema export",
        "schema validate",
    }
)


def outcome_of(exc: BaseException | None) -> tuple[int, str, str | None]:
    """``(exit code, result, message)`` of a command that returned (None) or raised."""
    if exc is None:
        return 0, "ok", None
    if isinstance(exc, click.exceptions.Exit):
        code = exc.exit_code
        return code, {0: "ok", 1: "findings"}.get(code, "error"), None
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):
        return (130 if isinstance(exc, KeyboardInterrupt) else 1), "aborted", "aborted"
    if isinstance(exc, CloudctlError):
        probs = exc.problems
        msg = str(probs[0]) if probs else exc.message
        if len(probs) > 1:
            msg += f" (and {len(probs) - 1} more)"
        refused = isinstance(exc, (InputError, ValidationFailed, ConflictError))
        return exc.exit_code, "refused" if refused else "error", msg
    if isinstance(exc, click.ClickException):
        return exc.exit_code, "refused", i18n.english_usage_error(exc)
    if isinstance(exc, SystemExit):
        code = exc.code if isinstance(exc.code, int) else 1
        return code, "ok" if code == 0 else "error", None
    return 3, "error", f"internal error: {type(exc).__name__}: {exc}"


def _audited(action: str, callback: Callable[..., Any]) -> Callable[..., Any]:
    """Run a changing command between an intent and an outcome record.

    No intent, no change: when the intent cannot be written the command does not start
    (exit 2). The lab works without a center; then there is no log to write to.
    """

    @functools.wraps(callback)
    def run(**params: Any) -> Any:
        s = session(click.get_current_context())
        if params.get("dry_run") or not _has_log(s, action):
            return callback(**params)
        s.begin(action, params)
        try:
            value = callback(**params)
        except BaseException as e:
            e.__dict__["_cloudctl_audited"] = True
            code, result, error = outcome_of(e)
            try:
                s.end(result, code, error)
            except CloudctlError as audit_err:
                sys.stderr.write(f"cloudctl: {audit_err}\n")
            raise
        code, result, error = outcome_of(None)
        s.end(result, code, error)
        return value

    return run


def _has_log(s: Session, action: str) -> bool:
    if not action.startswith("lab.") or s.center_path is not None:
        return True
    try:
        s.center  # noqa: B018 - loads it
    except CloudctlError:
        return False
    return True


def _record_usage_error(e: click.UsageError) -> None:
    """A changing command refused by its own option parsing is recorded too (best effort:
    nothing was started, so a log that cannot be written changes nothing)."""
    if e.ctx is None or e.__dict__.get("_cloudctl_audited"):
        return
    names, c = [], e.ctx
    while c is not None and c.parent is not None:
        names.append(c.info_name or "")
        c = c.parent
    path = " ".join(reversed(names))
    if path not in CHANGING:
        return
    s = session(e.ctx)
    try:
        if _has_log(s, path.replace(" ", ".", 1)):
            s.begin(path.replace(" ", ".", 1), {})
            s.end("refused", e.exit_code, i18n.english_usage_error(e))
    except CloudctlError:
        pass


def report_error(err: CloudctlError) -> None:
    """Print every problem as ``file:line: message`` on stderr (plain text, no panel), the
    message in the language of the run (translated here, from the catalog)."""
    probs = err.problems
    for p in probs:  # data in messages (names, paths) must not drive the terminal
        text = i18n.tr(p.message)
        sys.stderr.write(f"{safe_text(f'{p.location}: {text}' if p.location else text)}\n")
    if len(probs) > 1:
        sys.stderr.write(f"cloudctl: {safe_text(i18n.tr(err.message))}\n")
    sys.stderr.flush()


class CloudctlGroup(TyperGroup):
    """Root group: every subcommand runs inside this ``invoke``, so one handler covers all.

    Areas are imported only when named (``cloudctl baseline check`` never imports the
    OpenStack or IPAM code): that keeps every command's start-up short.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*AREAS, *(c for c in super().list_commands(ctx) if c not in AREAS)]

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        argv = list(args)  # parsing consumes args; the audit log wants them as typed
        if parent is None:  # help is printed while parsing: choose its language first
            i18n.set_language(i18n.language_from(argv))
            i18n.adapt_click()
            i18n.localize_help(self)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError:
            _usage_error_words()
            raise
        ctx.meta["cloudctl.argv"] = argv
        return ctx

    def resolve_command(self, ctx: click.Context, args: list[str]):
        ctx.meta["cloudctl.rest"] = list(args[1:])  # get_command builds only what runs
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in AREAS:
            mod = importlib.import_module(f"cloudctl.cli.{cmd_name}")
            rest = ctx.meta.pop("cloudctl.rest", None) if ctx is not None else None
            only = _wanted(mod.app, rest)
            cmd = _area_group(mod.app, only)
            cmd.name = cmd_name
            cmd.help = AREAS[cmd_name]
            cmd.short_help = AREAS[cmd_name]
            add_output_options(cmd)
            for name, sub in cmd.commands.items():
                add_output_options(sub)
                if f"{cmd_name} {name}" in CHANGING and sub.callback is not None:
                    sub.callback = _audited(f"{cmd_name}.{name}", sub.callback)
            i18n.localize_help(cmd)
            if only is None:  # a group with one command is for this run only
                self.add_command(cmd, cmd_name)
        return cmd

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            _usage_error_words()
            _record_usage_error(e)
            e.exit_code = _error_exit(ctx, e.exit_code)
            raise
        except CloudctlError as e:
            # Printed here and not through click: typer's rich mode would draw a panel and
            # drop the file:line list.
            if _debug(ctx):
                traceback.print_exc()
            report_error(e)
            raise click.exceptions.Exit(_error_exit(ctx, e.exit_code)) from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, typer.Exit):
            raise
        except KeyboardInterrupt:
            sys.stderr.write(f"cloudctl: {i18n.tr(_('interrupted'))}\n")
            raise click.exceptions.Exit(130) from None
        except BrokenPipeError:
            # the reader went away (`cloudctl ... | head`): stop quietly, as a pipe's writer
            # does on SIGPIPE; stdout goes to /dev/null so the exit's flush cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise click.exceptions.Exit(141) from None
        except Exception as e:
            if _debug(ctx):
                traceback.print_exc()
            msg = _("internal error: {error} (--debug shows more)")
            sys.stderr.write(f"cloudctl: {i18n.tr(msg.format(error=f'{type(e).__name__}: {e}'))}\n")
            raise click.exceptions.Exit(_error_exit(ctx, 3)) from None


def _command_name(info: Any) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def _wanted(area: typer.Typer, rest: list[str] | None) -> str | None:
    """The area command this run invokes (``ipam allocate ...`` -> ``allocate``), when it is
    one of the area's commands; None for help, a typo or a nested group."""
    if not rest or rest[0].startswith("-"):
        return None
    names = {_command_name(c) for c in area.registered_commands}
    return rest[0] if rest[0] in names else None


def _area_group(area: typer.Typer, only: str | None) -> click.Command:
    """The area's click group; with ``only``, holding just that command: typer builds each
    command from its signature (~1.5 ms each, 13 ms for ipam's nine), and one runs."""
    if only is None:
        return typer.main.get_group(area)
    every = area.registered_commands
    area.registered_commands = [c for c in every if _command_name(c) == only]
    try:
        return typer.main.get_group(area)
    finally:
        area.registered_commands = every


def _usage_error_words() -> None:
    """Typer prints a usage error with its rich module (imported only then, ~50 ms): its
    words ("Error", "Try … for help") and click's come from the catalog too."""
    import typer.rich_utils  # noqa: F401 - adapted below

    i18n.adapt_click()


def _error_exit(ctx: click.Context, code: int) -> int:
    """``--detailed-exitcode`` (tenant plan/drift) takes Terraform's meanings, where 2 is
    "changes": every error is 1 then, a usage error too (raised before the option is read)."""
    return 1 if "--detailed-exitcode" in (ctx.meta.get("cloudctl.argv") or ()) else code


def _debug(ctx: click.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(getattr(obj, "debug", False)) or os.environ.get("CLOUDCTL_DEBUG") == "1"


app = typer.Typer(
    cls=CloudctlGroup,
    name="cloudctl",
    help="Operations toolkit of the e-government cloud center",
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
    ctx.obj = Session(
        center_path=center, debug=debug, lang=lang, argv=ctx.find_root().meta.get("cloudctl.argv")
    )


def main() -> None:
    try:
        app(prog_name="cloudctl")
    except SystemExit as e:
        _leave_quickly(e.code)
        raise


def _leave_quickly(code: object) -> None:
    """End a read-only command that asked for it (cloudctl.cli.common.quick_exit_ok) with
    ``os._exit``: freeing a million objects one by one is ~0.1 s of a 1 s ``ipam validate``.
    Only when nothing is left to finish: output flushed, no other thread, no atexit hook
    (temporary directories, logging and the like register one)."""
    import atexit
    import threading

    from cloudctl.cli.common import _QUICK_EXIT

    if not _QUICK_EXIT[0] or not isinstance(code, int | None):
        return
    if threading.active_count() > 1 or atexit._ncallbacks():
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the normal exit reports it
        return
    os._exit(code or 0)


if __name__ == "__main__":
    main()
