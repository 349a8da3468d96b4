"""``cloudctl ipam``: the address plan (zones, VRFs, prefixes) — validate, show, free,
allocate, release, export, import. Thin: parse, call cloudctl.ipam, render."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cloudctl.cli.common import (
    DryRunOpt,
    LangOpt,
    OsCloudOpt,
    OsConfigOpt,
    OutputOpt,
    quick_exit_ok,
    session,
)
from cloudctl.core.errors import InputError, Location, ValidationFailed
from cloudctl.core.fileio import atomic_write
from cloudctl.core.i18n import _
from cloudctl.core.output import Column, OutputFormat, esc, pick, plain, render, stdout
from cloudctl.core.yamlio import display_path
from cloudctl.ipam import service
from cloudctl.ipam.allocate import AllocationRequest, free_space
from cloudctl.ipam.validate import summary

if TYPE_CHECKING:
    from rich.console import Console
    from rich.tree import Tree

# Start-up counts (issue 17: a warm `ipam allocate` in ≤ 200 ms whole process): what only
# one command needs (export/import formats, reports, rich trees, the tenant CLI) is
# imported inside that command.

app = typer.Typer(no_args_is_help=True, help="Address plan / 地址规划")


PlanOpt = Annotated[
    Path | None,
    typer.Option("--plan", help="Plan directory or file (default: the center's address_plan)."),
]


def _pct(v: float) -> str:
    color = "green" if v < 70 else "yellow" if v < 90 else "red"
    return f"[{color}]{v:.1f}%[/{color}]"


def _blank(v: object) -> object:
    return "" if v is None else v


def _num(v: int | None) -> str:
    return "" if v is None else f"{v:,}"


def _vlans(v: dict | None) -> str:
    return "" if not v else f"{v['first']}-{v['last']}"


# ---------------------------------------------------------------------------------------
# validate


@app.command()
def validate(
    ctx: typer.Context,
    plan: PlanOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Check every rule of the plan.

    Prints all problems as file:line: message and exits 2, else one summary line.
    Rules: syntax, prefix format, overlaps within a VRF, prefixes outside their zone,
    duplicate names, gateways and pools, unknown zones/tenants/VRFs, duplicate VLANs
    within a zone.
    """
    s = session(ctx)
    quick_exit_ok()  # read-only: the loaded plan need not be freed object by object
    loaded = service.load(s.center, plan, dns=False, index_aside=True)  # no DNS shown
    # blocks other clones reserved in the shared state that never landed (docs/state.md)
    root = service.plan_root(s.center, plan)
    warnings = service.reservation_warnings(s.center, loaded.plan, root)
    if output is OutputFormat.table or loaded.problems:
        for w in warnings:
            sys.stderr.write(f"warning: {w['message']}\n")
    if loaded.problems:
        raise ValidationFailed(
            loaded.problems,
            pick(
                s.language(lang),
                f"地址规划有 {len(loaded.problems)} 个问题",
                f"{len(loaded.problems)} problem(s) in the address plan",
            ),
        )
    text = summary(loaded.plan, len(loaded.departments) if loaded.departments else None)
    if output is OutputFormat.table:
        stdout().print(
            pick(
                s.language(lang),
                f"[green]✓[/green] 校验通过：{esc(text)}",
                f"[green]✓[/green] ok: {esc(text)}",
            )
        )
    else:
        render(
            {"ok": True, "summary": text, "problems": [], "warnings": warnings},
            output,
            schema="cloudctl.ipam.validate/1",
        )


# ---------------------------------------------------------------------------------------
# show


def _lines(v: list) -> str:
    """Several CIDRs in one cell: one a line, so none is ever cut."""
    return esc("\n".join(map(str, v)))


def _id(key: str, justify: str = "left", fmt=None, optional: bool = False) -> Column:
    return Column(key, key, justify=justify, fmt=fmt, kind="id", optional=optional)


# ids (prefix, vlan, numbers) are never cut; optional columns go first on a narrow terminal
PREFIX_COLUMNS = [
    _id("name"),
    _id("prefix"),
    _id("zone"),
    _id("vrf", optional=True),
    _id("tenant"),
    _id("vlan", "right"),
    _id("status", optional=True),
    _id("size", "right", _num),
    _id("used", "right", _num, optional=True),  # size - free
    _id("free", "right", _num),
    _id("util", "right", _pct),
    Column("purpose", "purpose", optional=True),
]


def _zone_columns(lg: str) -> list[Column]:
    return [
        _id("zone"),
        Column("name_zh" if lg == "zh" else "name_en", pick(lg, "安全域", "name")),
        _id("vrf"),
        _id("supernets", fmt=_lines),
        _id("vlans", fmt=_vlans, optional=True),
        _id("prefixes", "right", optional=True),
        _id("size", "right", _num),
        _id("used", "right", _num, optional=True),
        _id("free", "right", _num),
        _id("util", "right", _pct),
        Column("purpose", "purpose", optional=True),
    ]


@app.command()
def show(
    ctx: typer.Context,
    zone: Annotated[str | None, typer.Option("--zone", "-z", help="Only this zone.")] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    as_tree: Annotated[bool, typer.Option("--tree", help="Draw the hierarchy as a tree.")] = False,
    plan: PlanOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Zones, prefixes and utilization.

    Zones by default; the prefixes of --zone or --tenant; the whole hierarchy with --tree.
    """
    s = session(ctx)
    quick_exit_ok()  # read-only: the loaded plan need not be freed object by object
    loaded = service.load(s.center, plan)
    p = loaded.plan
    lg = s.language(lang)
    if zone is not None and zone not in p.zones:
        raise InputError(
            _("unknown zone {zone!r} (known: {names})").format(zone=zone, names=", ".join(p.zones))
        )
    if tenant is not None and loaded.departments and tenant not in loaded.tenants:
        raise InputError(
            _("unknown tenant {tenant!r} (not in departments.yaml)").format(tenant=tenant)
        )
    if loaded.problems:
        stdout_err = sys.stderr
        stdout_err.write(
            pick(
                lg,
                f"注意：地址规划有 {len(loaded.problems)} 个问题（cloudctl ipam validate）\n",
                f"note: the plan has {len(loaded.problems)} problem(s) (cloudctl ipam validate)\n",
            )
        )
    from cloudctl.ipam import report  # only show needs it

    if as_tree:
        data = report.tree(p, zone, tenant)
        render(
            data,
            output,
            table=lambda con: con.print(_draw_tree(data, lg)),
            schema="cloudctl.ipam.show.tree/1",
        )
        return
    if zone is None and tenant is None:
        rows = report.zone_rows(p)
        title = pick(lg, "安全域与地址使用率", "zones and utilization")
        render(
            rows,
            output,
            columns=_zone_columns(lg),
            title=title,
            schema="cloudctl.ipam.show.zones/1",
        )
        return
    rows = report.prefix_rows(p, zone, tenant)
    title = " ".join(x for x in (zone and f"zone {zone}", tenant and f"tenant {tenant}") if x)
    shown_once = {"zone"} if zone else set()
    shown_once |= {"tenant"} if tenant else set()  # in the title already
    cols = [c for c in PREFIX_COLUMNS if c.key not in shown_once]
    render(rows, output, columns=cols, title=title, schema="cloudctl.ipam.show.prefixes/1")


def _draw_tree(data: list[dict], lang: str) -> Tree:
    from rich.tree import Tree  # only show --tree draws one

    root = Tree(pick(lang, "[bold]地址规划[/bold]", "[bold]address plan[/bold]"))

    def label(n: dict) -> str:
        bits = [f"[bold]{esc(n['prefix'])}[/bold]"]
        if n.get("name") and n["name"] != n["prefix"]:
            bits.append(esc(n["name"]))
        if n.get("tenant"):
            bits.append(f"[cyan]{esc(n['tenant'])}[/cyan]")
        if n.get("vlan") is not None:
            bits.append(f"vlan {esc(n['vlan'])}")
        if n.get("status") and n["status"] != "active":
            bits.append(f"[dim]{esc(n['status'])}[/dim]")
        bits.append(f"{n['used']:,}/{n['size']:,} {_pct(n['util'])}")
        return "  ".join(bits)

    def add(branch: Tree, n: dict) -> None:
        b = branch.add(label(n))
        for c in n.get("children", ()):
            add(b, c)

    for z in data:
        name = z["name_zh"] if lang == "zh" else z["name_en"]
        zb = root.add(
            f"[bold magenta]{esc(z['zone'])}[/bold magenta] {esc(name)}  vrf {esc(z['vrf'])}  "
            f"vlan {esc(_vlans(z['vlans']))}"
        )
        for sn in z["supernets"]:
            add(zb, sn)
    return root


# ---------------------------------------------------------------------------------------
# free


@app.command()
def free(
    ctx: typer.Context,
    zone: Annotated[
        str | None, typer.Option("--zone", "-z", help="Free space of this zone.")
    ] = None,
    within: Annotated[
        str | None,
        typer.Option("--within", help="Free space inside this container (name or CIDR)."),
    ] = None,
    prefixlen: Annotated[
        int | None,
        typer.Option("--prefixlen", "-l", help="Only blocks that can hold a /N (and how many)."),
    ] = None,
    plan: PlanOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Free blocks of a zone or container, merged."""
    s = session(ctx)
    quick_exit_ok()  # read-only: the loaded plan need not be freed object by object
    loaded = service.load(s.center, plan)
    if loaded.problems:  # free space of a plan that does not load whole would be a lie
        raise ValidationFailed(
            loaded.problems,
            pick(
                s.language(lang),
                f"地址规划有 {len(loaded.problems)} 个问题，无法计算空闲网段",
                f"{len(loaded.problems)} problem(s) in the address plan: free space not computed",
            ),
        )
    space = free_space(loaded.plan, zone, within)
    maxlen = 32 if all(b.version == 4 for b in space.blocks) else 128
    if prefixlen is not None and not 0 < prefixlen <= maxlen:
        raise InputError(
            _("--prefixlen must be 1..{maxlen}, not {prefixlen}").format(
                maxlen=maxlen, prefixlen=prefixlen
            ),
            Location("--prefixlen"),
        )
    rows = []
    for b in space.blocks:
        if prefixlen is not None and b.prefixlen > prefixlen:
            continue
        row = {"block": str(b), "first": str(b.network), "last": str(b[-1]), "size": b.size}
        if prefixlen is not None:  # fixed keys: a script reads "fits", whatever the /N
            row["fits_prefixlen"] = prefixlen
            row["fits"] = 1 << (prefixlen - b.prefixlen)
        rows.append(row)
    cols = [
        Column("block", "free block", kind="id"),
        Column("first", "first", kind="id"),
        Column("last", "last", kind="id"),
        Column("size", "size", justify="right", fmt=_num, kind="id"),
    ]
    if prefixlen is not None:
        cols.append(Column("fits", f"/{prefixlen} blocks", justify="right", fmt=_num, kind="id"))
    lg = s.language(lang)
    where = within or zone
    title = pick(
        lg,
        f"{where} 空闲 {space.free:,} / {space.total:,} 个地址",
        f"{where}: {space.free:,} of {space.total:,} addresses free",
    )
    render(rows, output, columns=cols, title=title, schema="cloudctl.ipam.free/1")


# ---------------------------------------------------------------------------------------
# allocate / release


def _vlan_value(text: str) -> int | str | None:
    if text == "auto":
        return "auto"
    if text == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(
            _("--vlan {text!r}: expected a VLAN id, auto or none").format(text=text)
        ) from None


@app.command()
def allocate(
    ctx: typer.Context,
    zone: Annotated[str, typer.Option("--zone", "-z", help="Security zone to allocate in.")],
    prefixlen: Annotated[int, typer.Option("--prefixlen", "-l", help="Length of the new prefix.")],
    name: Annotated[str, typer.Option("--name", "-n", help="Name, by convention <tenant>-<role>.")],
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Department code.")] = None,
    purpose: Annotated[str, typer.Option("--purpose", "-p", help="What it is for.")] = "",
    within: Annotated[
        str | None, typer.Option("--within", help="Carve from this container (name or CIDR).")
    ] = None,
    vlan: Annotated[
        str, typer.Option("--vlan", help="VLAN id, auto (lowest free in the zone) or none.")
    ] = "auto",
    status: Annotated[
        str, typer.Option("--status", help="active, reserved or container.")
    ] = "active",
    plan: PlanOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Allocate the first free aligned block.

    Writes it into the plan file in place (comments kept), under a lock. Idempotent by
    --name: re-running returns the existing allocation.
    """
    s = session(ctx)
    if status not in ("active", "reserved", "container"):
        raise InputError(
            _("--status {status!r}: expected active, reserved or container").format(status=status)
        )
    req = AllocationRequest(
        zone=zone,
        tenant=tenant,
        prefixlen=prefixlen,
        name=name,
        purpose=purpose,
        within=within,
        vlan=_vlan_value(vlan),
        status=status,
    )
    res = service.allocate(s.center, req, dry_run=dry_run, plan=plan)
    lg = s.language(lang)
    if res.created and not dry_run:
        s.audit("ipam.allocate", {"file": res.file, "added": res.entry})
    data = {
        "created": res.created,
        "dry_run": dry_run,
        "file": res.file,
        "parent": res.parent,
        **{k: v for k, v in res.entry.items() if k != "location"},
    }
    if output is not OutputFormat.table:
        render(data, output, schema="cloudctl.ipam.allocate/1")
        return
    con = stdout()
    if not res.created:
        con.print(
            pick(
                lg,
                f"已存在（未改动）：{esc(name)} = {esc(res.entry['prefix'])}  ({esc(res.file)})",
                f"exists (unchanged): {esc(name)} = {esc(res.entry['prefix'])}  ({esc(res.file)})",
            )
        )
        return
    verb = pick(
        lg,
        "将分配（dry-run，未写入）" if dry_run else "已分配",
        "would allocate (dry run)" if dry_run else "allocated",
    )
    e = res.entry
    con.print(
        f"[green]{verb}[/green] [bold]{esc(e['name'])}[/bold] = [bold]{esc(e['prefix'])}[/bold]"
        f"  → {esc(res.file)}"
    )
    details = [
        f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in e.items()
        if k not in ("name", "prefix")
    ]
    if details:
        con.print(plain("  " + "  ".join(details)))


@app.command()
def release(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Name of the prefix to remove from the plan.")],
    recursive: Annotated[
        bool, typer.Option("--recursive", help="Also release its child prefixes.")
    ] = False,
    plan: PlanOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Release an allocation.

    Refuses while the prefix holds child prefixes, unless --recursive.
    """
    s = session(ctx)
    res = service.release(s.center, name, recursive=recursive, dry_run=dry_run, plan=plan)
    if not dry_run:
        s.audit("ipam.release", {"files": res.files, "removed": res.released})
    lg = s.language(lang)
    if output is not OutputFormat.table:
        render(
            {"dry_run": dry_run, "released": res.released, "files": res.files},
            output,
            schema="cloudctl.ipam.release/1",
        )
        return
    verb = pick(
        lg,
        "将回收（dry-run，未写入）" if dry_run else "已回收",
        "would release (dry run)" if dry_run else "released",
    )
    con = stdout()
    for r in res.released:
        con.print(
            f"[yellow]{verb}[/yellow] "
            + esc(f"{r['name']} {r['prefix']} (zone {r['zone']}, vrf {r['vrf']})")
        )


# ---------------------------------------------------------------------------------------
# export / import


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"
    netbox = "netbox"


class NetboxVersion(StrEnum):
    v3_7 = "3.7"
    v4_0 = "4.0"
    v4_1 = "4.1"
    v4_2 = "4.2"
    v4_3 = "4.3"
    v4_4 = "4.4"
    v4_5 = "4.5"
    v4_6 = "4.6"


class CsvEncoding(StrEnum):
    utf8 = "utf-8"
    utf8_sig = "utf-8-sig"
    gbk = "gbk"


class CsvHeaders(StrEnum):
    en = "en"
    zh = "zh"


@app.command("export")
def export_(
    ctx: typer.Context,
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            "-F",
            "-f",
            help="csv, json or netbox: the export's own format (-F; -f kept for old scripts). "
            "-o is the summary of files written.",
        ),
    ] = ExportFormat.csv,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-O",
            help="File (csv/json) or directory (netbox); default: stdout / ./netbox-import",
        ),
    ] = None,
    netbox_version: Annotated[
        NetboxVersion,
        typer.Option("--netbox-version", help="NetBox the files are for (netbox format)."),
    ] = NetboxVersion.v4_6,
    encoding: Annotated[
        CsvEncoding | None,
        typer.Option(
            "--encoding",
            help="utf-8 (default), utf-8-sig (BOM: Excel 2016+) or gbk (older Excel; csv only).",
        ),
    ] = None,
    headers: Annotated[
        CsvHeaders | None,
        typer.Option("--headers", help="csv header language: en (default) or zh (网段, 名称…)."),
    ] = None,
    excel: Annotated[
        bool,
        typer.Option(
            "--excel", help="For Chinese Excel: UTF-8 with BOM, CRLF, Chinese headers (csv)."
        ),
    ] = False,
    plan: PlanOpt = None,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Export the plan as csv, json or NetBox import CSVs.

    netbox: tags, RIRs, aggregates, roles, tenant groups, tenants, VRFs, VLAN groups, VLANs,
    prefixes, IP ranges, IP addresses — numbered in the order NetBox's bulk import needs
    them, with the columns of --netbox-version's import forms (docs/ipam.md).
    """
    s = session(ctx)
    lg = s.language(lang)
    if fmt is ExportFormat.json and (encoding or headers or excel):
        raise InputError(_("--encoding, --headers and --excel apply to csv and netbox, not json"))
    if fmt is ExportFormat.netbox and headers is CsvHeaders.zh:
        raise InputError(_("NetBox's import takes its own (English) column names: no --headers zh"))
    if output is not OutputFormat.table and out is None and fmt is not ExportFormat.netbox:
        raise InputError(
            _(
                "the export goes to stdout in --format; --output is "
                "for the summary of files written (--out, or "
                "--format netbox)"
            ),
            Location("--output"),
        )
    from cloudctl.ipam import exchange, netbox  # only export needs them

    enc = str(encoding or (CsvEncoding.utf8_sig if excel else CsvEncoding.utf8))
    quick_exit_ok()  # writes only through atomic_write (closed before it returns)
    loaded = service.load_valid(s.center, plan)
    p = loaded.plan
    if fmt is ExportFormat.netbox:
        target = out or Path("netbox-import")
        export = netbox.build(p, loaded.departments, str(netbox_version))
        files = netbox.encode_files(export, enc)  # all encoded before the first write
        for fname, data in files.items():
            atomic_write(target / fname, data)
        for w in export.warnings:
            sys.stderr.write(f"{w.location}: warning: {w.message}\n")
        written = [
            {"file": display_path(target / fname), "rows": len(rows)}
            for fname, rows in export.tables.items()
        ]

        def summary(con: Console) -> None:
            con.print(
                pick(
                    lg,
                    f"已写入 NetBox {netbox_version} 导入文件（按编号顺序导入）："
                    f"{esc(display_path(target))}",
                    f"NetBox {netbox_version} import files written (import in numbered order): "
                    f"{esc(display_path(target))}",
                )
            )
            for fname, rows in export.tables.items():
                con.print(f"  {esc(fname)}  {len(rows)} rows")

        render(written, output, table=summary, schema="cloudctl.ipam.export-files/1")
        return
    if fmt is ExportFormat.json:
        from cloudctl.core.output import document, to_json

        text = to_json(document("cloudctl.ipam.export/1", exchange.to_json_doc(p))) + "\n"
        data = text.encode("utf-8")
    else:
        zh = headers is CsvHeaders.zh or (excel and headers is None)
        data = exchange.encode_table(
            exchange.prefix_records(p, "zh" if zh else "en"),
            exchange.CSV_COLUMNS,
            enc,
            names=exchange.ZH_HEADERS if zh else None,
            crlf=excel,
        )
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        atomic_write(out, data)
        shown = esc(display_path(out))
        render(
            [{"file": display_path(out), "bytes": len(data)}],
            output,
            table=lambda con: con.print(pick(lg, f"已写入 {shown}", f"written: {shown}")),
            schema="cloudctl.ipam.export-files/1",
        )


@app.command("import")
def import_(
    ctx: typer.Context,
    from_csv: Annotated[
        Path, typer.Option("--from-csv", help="Spreadsheet export (UTF-8 or GBK CSV).")
    ],
    plan: PlanOpt = None,
    dry_run: DryRunOpt = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Import prefixes from a spreadsheet CSV.

    Columns 网段/名称/租户/安全域/VLAN/用途 (or prefix/name/tenant/zone/vlan/purpose).
    Every row is validated with the whole plan before anything is written.
    """
    s = session(ctx)
    res = service.import_csv(s.center, from_csv, dry_run=dry_run, plan=plan)
    if res.added and not dry_run:
        s.audit(
            "ipam.import",
            {"source": display_path(from_csv), "files": res.files, "added": res.added},
        )
    lg = s.language(lang)
    if output is not OutputFormat.table:
        render(
            {
                "dry_run": dry_run,
                "added": res.added,
                "unchanged": res.unchanged,
                "files": res.files,
            },
            output,
            schema="cloudctl.ipam.import/1",
        )
        return
    con = stdout()
    verb = pick(
        lg,
        "将导入（dry-run，未写入）" if dry_run else "已导入",
        "would add (dry run)" if dry_run else "added",
    )
    for e in res.added:
        con.print(
            f"[green]{verb}[/green] "
            + esc(f"{e['name']} {e['prefix']} zone {e['zone']} → {e['file']}")
        )
    con.print(
        pick(
            lg,
            f"新增 {len(res.added)} 条，已存在未改动 {len(res.unchanged)} 条",
            f"{len(res.added)} added, {len(res.unchanged)} already present (unchanged)",
        )
    )


@app.command("drift")
def drift(
    ctx: typer.Context,
    os_cloud: OsCloudOpt = None,
    os_config_file: OsConfigOpt = None,
    show_all: Annotated[bool, typer.Option("--all", help="Also list subnets that match.")] = False,
    output: OutputOpt = OutputFormat.table,
    lang: LangOpt = None,
) -> None:
    """Subnets in the cloud unknown to the address plan, or differing from it (exit 1)."""
    # the cloud side lives in the tenant area (cloudctl/tenant/ipam_drift.py); imported only
    # here, so no other ipam command pays for openstacksdk or the tenant models
    from cloudctl.tenant.desired import plan_view_from_center
    from cloudctl.tenant.ipam_drift import ipam_drift
    from cloudctl.tenant.service import open_cloud

    s = session(ctx)
    lg = s.language(lang)
    view = plan_view_from_center(s.center)
    cloud = open_cloud(os_cloud, os_config_file)
    actual = cloud.adapter.read_subnets()
    findings = ipam_drift(view, actual)
    bad = [f for f in findings if f.status != "ok"]
    shown = findings if show_all else bad
    if output is not OutputFormat.table:
        render(
            {
                "subnets": len(findings),
                "drift": len(bad),
                "findings": [f.as_dict() for f in shown],
                "requests": cloud.counter.summary(),
            },
            output,
            schema="cloudctl.ipam.drift/1",
        )
    else:
        style = {
            "ok": "green",
            "unknown": "bold red",
            "mismatch": "yellow",
            "duplicate": "bold red",
        }
        cols = [
            Column("project", pick(lg, "项目", "project")),
            Column("subnet", pick(lg, "子网", "subnet")),
            Column("cidr", "CIDR"),
            Column(
                "status",
                pick(lg, "状态", "status"),
                fmt=lambda v: f"[{style.get(v, '')}]{v}[/]",
            ),
            Column("allocation", pick(lg, "地址规划分配", "allocation")),
            Column("message", pick(lg, "说明", "detail")),
        ]
        rows = [f.as_dict() for f in shown]
        if rows:
            render(rows, output, columns=cols)
        stdout().print(
            pick(
                lg,
                f"云上子网 {len(findings)} 个，与地址规划不一致 {len(bad)} 个",
                f"{len(findings)} subnet(s) in the cloud, {len(bad)} differ from the address plan",
            )
        )
    raise typer.Exit(1 if bad else 0)
