"""``cloudctl lab``: the local rehearsal lab (real OpenStack APIs + SSH hosts)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cloudctl.cli.common import LangOpt, OutputOpt, session
from cloudctl.core.errors import CloudctlError
from cloudctl.core.output import Lang, OutputFormat, esc, pick, render

app = typer.Typer(no_args_is_help=True)


class RichReporter:
    """Progress of the long steps on stderr: a spinner, then a line with the time taken."""

    def __init__(self, lang: Lang):
        self.lang = lang
        self.con = Console(stderr=True)

    @contextlib.contextmanager
    def step(self, zh: str, en: str) -> Iterator[None]:
        text = pick(self.lang, zh, en)
        t0 = time.monotonic()
        try:
            with self.con.status(text + " …"):
                yield
        except BaseException:
            self.con.print(f"[red]✗[/] {text}")
            raise
        self.con.print(f"[green]✓[/] {text} [dim]({time.monotonic() - t0:.1f} s)[/]")

    def note(self, zh: str, en: str) -> None:
        self.con.print(f"[yellow]![/] {pick(self.lang, zh, en)}")


def _center_or_none(ctx: typer.Context):
    """The center when there is one (its lab.hosts and inventory dir); the lab works without."""
    s = session(ctx)
    try:
        return s.center
    except CloudctlError:
        if s.center_path is not None:
            raise
        return None


def _audit(ctx: typer.Context, center, action: str, changes: dict) -> None:
    if center is not None:
        session(ctx).audit(action, changes)


@app.command("up")
def up(
    ctx: typer.Context,
    hosts: Annotated[
        int | None,
        typer.Option("--hosts", "-n", help="Number of SSH hosts (default: as running, else 3)."),
    ] = None,
    without: Annotated[
        list[str] | None,
        typer.Option("--without", help="Optional services to leave out: nova, cinder."),
    ] = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Start the lab (idempotent): Keystone, Neutron, Nova and Cinder APIs, SSH hosts."""
    from cloudctl.lab import manager
    from cloudctl.lab.model import parse_without

    lg = session(ctx).language(lang)
    center = _center_or_none(ctx)
    t0 = time.monotonic()
    info = manager.ensure(center, hosts, sorted(parse_without(without or [])), RichReporter(lg))
    secs = time.monotonic() - t0
    _audit(ctx, center, "lab.up", {"hosts": list(info.hosts), "services": list(info.services)})
    data = {
        "lab_dir": str(info.dir),
        "clouds_yaml": str(info.clouds_yaml),
        "cloud": info.cloud,
        "inventory": str(info.inventory),
        "center_inventory": str(info.center_inventory) if info.center_inventory else None,
        "services": info.services,
        "hosts": {
            n: {"port": h.port, "user": h.user, "groups": list(h.groups)}
            for n, h in info.hosts.items()
        },
        "key_file": str(next(iter(info.hosts.values())).key_file) if info.hosts else None,
        "seconds": round(secs, 1),
    }

    def table(con: Console) -> None:
        con.print(
            pick(
                lg,
                f"[bold green]实验环境已就绪[/]（{secs:.1f} 秒）",
                f"[bold green]lab is up[/] ({secs:.1f} s)",
            )
        )
        t = Table(show_header=True, header_style="bold")
        t.add_column(pick(lg, "名称", "name"))
        t.add_column(pick(lg, "地址", "address"))
        t.add_column(pick(lg, "分组", "groups"))
        for n, port in info.services.items():
            t.add_row(n, f"http://127.0.0.1:{port}", "")
        for n, h in info.hosts.items():
            t.add_row(n, f"ssh {h.user}@127.0.0.1 -p {h.port}", ", ".join(("lab", *h.groups)))
        con.print(t)
        key = data["key_file"]
        con.print(pick(lg, "使用方法：", "How to use it:"))
        con.print(f"  export OS_CLIENT_CONFIG_FILE={info.clouds_yaml} OS_CLOUD={info.cloud}")
        con.print(f"  ansible -i {info.inventory} lab -m ping")
        if info.hosts and key:
            h = next(iter(info.hosts.values()))
            con.print(f"  ssh -i {key} -p {h.port} {h.user}@127.0.0.1")
        if info.center_inventory:
            con.print(
                pick(
                    lg,
                    f"  清单也已写入 {info.center_inventory}",
                    f"  inventory also written to {info.center_inventory}",
                )
            )

    render(data, output, table=table, schema="cloudctl.lab.up/1")


@app.command("status")
def status(
    ctx: typer.Context,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Every service and host: port, PID, health (a real API call / SSH login), memory.

    Exit 0 when everything is healthy, 1 when something is down, unhealthy or stale.
    """
    from cloudctl.lab import manager

    lg = session(ctx).language(lang)
    st = manager.status()

    def table(con: Console) -> None:
        state_txt = {
            "up": pick(lg, "[green]运行中[/]", "[green]up[/]"),
            "down": pick(lg, "[dim]已停止[/]", "[dim]down[/]"),
            "degraded": pick(lg, "[red]异常[/]", "[red]degraded[/]"),
        }[st["state"]]
        con.print(f"{pick(lg, '实验环境', 'lab')} {st['lab_dir']}: {state_txt}")
        t = Table(show_header=True, header_style="bold")
        for h in (
            pick(lg, "名称", "name"),
            pick(lg, "端口", "port"),
            "PID",
            pick(lg, "健康", "health"),
            pick(lg, "内存", "memory"),
            pick(lg, "检查", "check"),
        ):
            t.add_column(h)
        for r in st["services"] + st["hosts"]:
            health = "[green]ok[/]" if r["healthy"] else "[red]fail[/]"
            t.add_row(
                esc(r["name"]),
                str(r["port"]),
                str(r["pid"] or "-"),
                health,
                f"{r['rss_mib']:.0f} MiB",
                esc(r["detail"]),  # text the hosts and services answered
            )
        if st["services"] or st["hosts"]:
            con.print(t)
            con.print(
                pick(
                    lg,
                    f"内存合计 {st['memory_mib']:.0f} MiB",
                    f"memory in all {st['memory_mib']:.0f} MiB",
                )
            )
        for s in st["stale"]:
            con.print(f"[yellow]{pick(lg, '残留', 'stale')}:[/] {s}")
        last = st.get("last_recovery")
        if last:
            con.print(
                pick(
                    lg,
                    f"上次 lab up 在 {last['time']} 清理了残留状态：",
                    f"the last lab up ({last['time']}) cleaned stale state:",
                )
            )
            for s in last["found"]:
                con.print(f"  - {s}")
        bad = [r for r in st["services"] + st["hosts"] if not r["healthy"]]
        for r in bad:
            con.print(pick(lg, f"日志：{r['log']}", f"log: {r['log']}"))

    render(st, output, table=table, schema="cloudctl.lab.status/1")
    if st["state"] != "up" or st["stale"]:
        raise typer.Exit(1)


@app.command("down")
def down(
    ctx: typer.Context,
    purge: Annotated[
        bool, typer.Option("--purge", help="Also delete the lab's data (databases, hosts).")
    ] = False,
    lang: LangOpt = None,
) -> None:
    """Stop the lab's own processes (by recorded PID) and unmount its mounts."""
    from cloudctl.lab import manager

    lg = session(ctx).language(lang)
    center = _center_or_none(ctx)
    stopped = manager.down(purge, RichReporter(lg))
    _audit(ctx, center, "lab.down", {"purge": purge, "stopped": len(stopped)})
    typer.echo(
        pick(
            lg,
            f"实验环境已停止（{len(stopped)} 项）",
            f"lab is down ({len(stopped)} items stopped)",
        )
    )


@app.command("reset-host")
def reset_host(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Host name, e.g. yun-db01.")],
    lang: LangOpt = None,
) -> None:
    """Give one host a pristine copy of its image (all changes on it are lost)."""
    from cloudctl.lab import manager

    lg = session(ctx).language(lang)
    center = _center_or_none(ctx)
    secs = manager.reset_host(name, RichReporter(lg))
    _audit(ctx, center, "lab.reset-host", {"host": name})
    typer.echo(pick(lg, f"{name} 已重置（{secs:.1f} 秒）", f"{name} reset ({secs:.1f} s)"))
