"""Export the plan (csv, json) and import a spreadsheet export; the encodings both take.

The NetBox files are built by ``cloudctl.ipam.netbox`` and written through ``encode_table``
here. A spreadsheet export may carry Chinese headers and status words (``headers="zh"``):
exactly the names ``read_csv`` maps back, so an export imports again unchanged.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from cloudctl.core.errors import InputError, Location, Problem
from cloudctl.core.i18n import _
from cloudctl.ipam.model import AddressPlan, Department, Prefix, parse_cidr

CSV_COLUMNS = [
    "prefix",
    "name",
    "zone",
    "vrf",
    "tenant",
    "vlan",
    "status",
    "purpose",
    "gateway",
    "pools",
    "dns",
]

# header aliases a spreadsheet may use (lower-cased, spaces removed)
HEADER_ALIASES = {
    "prefix": ["prefix", "cidr", "network", "subnet", "网段", "地址段", "子网", "ip段", "网络地址"],
    "name": ["name", "名称", "网段名称", "名字"],
    "tenant": ["tenant", "租户", "单位", "部门", "使用单位", "所属单位"],
    "zone": ["zone", "安全域", "区域", "所属区域", "安全区域"],
    "vlan": ["vlan", "vlanid", "vlan号", "vlan_id"],
    "purpose": ["purpose", "用途", "说明", "描述", "description", "备注"],
    "gateway": ["gateway", "网关", "网关地址"],
    "status": ["status", "状态"],
    "vrf": ["vrf", "路由域"],
}
STATUS_ALIASES = {
    "在用": "active",
    "使用中": "active",
    "预留": "reserved",
    "容器": "container",
    "废弃": "deprecated",
    "停用": "deprecated",
}


# Chinese headers of the spreadsheet export; each is an alias ``read_csv`` knows
ZH_HEADERS = {
    "prefix": "网段",
    "name": "名称",
    "zone": "安全域",
    "vrf": "VRF",
    "tenant": "租户",
    "vlan": "VLAN",
    "status": "状态",
    "purpose": "用途",
    "gateway": "网关",
    "pools": "地址池",
    "dns": "DNS服务器",
}
ZH_STATUS = {"active": "在用", "reserved": "预留", "container": "容器", "deprecated": "废弃"}
ENCODINGS = ("utf-8", "utf-8-sig", "gbk")
LOC = "_location"  # a row's key for where it comes from (not a column)


def prefix_records(plan: AddressPlan, headers: str = "en") -> list[dict]:
    """One row per prefix; ``headers="zh"`` writes status words in Chinese as well."""
    status = ZH_STATUS if headers == "zh" else {}
    return [
        {
            LOC: p.location,
            "prefix": p.cidr,
            "name": p.name,
            "zone": p.zone,
            "vrf": p.vrf,
            "tenant": p.tenant or "",
            "vlan": "" if p.vlan is None else p.vlan,
            "status": status.get(p.status, p.status),
            "purpose": p.purpose,
            "gateway": p.gateway or "",
            "pools": " ".join(f"{a}-{b}" for a, b in p.allocation_pools),
            "dns": " ".join(p.dns_nameservers),
        }
        for p in plan.prefixes
    ]


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralise(value: object) -> object:
    """OWASP's CSV-injection advice: a text cell that starts with ``= + - @``, a tab or a
    CR gets a leading ``'``, so Excel/WPS show it as text instead of running it. A cell
    that is a plain number (``-5``, ``+3.5``) is left alone: it cannot be a formula, and
    numbers must stay numbers. ``read_csv`` takes the ``'`` off again (a round trip)."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def _restore(value: str) -> str:
    """Undo ``neutralise`` on import."""
    if value.startswith("'") and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


def to_csv(
    rows: list[dict], columns: list[str], names: dict[str, str] | None = None, crlf: bool = False
) -> str:
    """CSV text; ``names`` renames header cells (``ZH_HEADERS``); ``crlf`` ends lines the
    way RFC 4180 and Excel do."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow([(names or {}).get(c, c) for c in columns])
    w.writerows([neutralise(r.get(c, "")) for c in columns] for r in rows)
    return buf.getvalue()


def encode_table(
    rows: list[dict],
    columns: list[str],
    encoding: str = "utf-8",
    names: dict[str, str] | None = None,
    crlf: bool = False,
) -> bytes:
    """The CSV in ``encoding`` (``utf-8-sig`` adds the BOM Excel looks for). A character
    the encoding lacks is an input error at the plan line of its row, not a ``?``."""
    text = to_csv(rows, columns, names, crlf)
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as e:
        bad = e.object[e.start]
    for r in rows:
        for c in columns:
            value = str(r.get(c, ""))
            if bad in value:
                raise InputError(
                    _(
                        "{c} {value!r}: {bad!r} (U+{ord:04X}) cannot be "
                        "written in {upper}; use --encoding utf-8-sig (Excel "
                        "2016 and later)"
                    ).format(c=c, value=value, bad=bad, ord=ord(bad), upper=encoding.upper()),
                    r.get(LOC),
                )
    raise InputError(
        _("{bad!r} (U+{ord:04X}) cannot be written in {upper}").format(
            bad=bad, ord=ord(bad), upper=encoding.upper()
        )
    )


def to_json_doc(plan: AddressPlan) -> dict:
    return {
        "vrfs": [
            {"name": v.name, "rd": v.rd, "name_zh": v.name_zh, "description": v.description}
            for v in plan.vrfs.values()
        ],
        "zones": [
            {
                "name": z.name,
                "name_zh": z.name_zh,
                "name_en": z.name_en,
                "vrf": z.vrf,
                "supernets": list(z.supernets),
                "vlans": list(z.vlan_range) if z.vlan_range else None,
                "purpose": z.purpose,
            }
            for z in plan.zones.values()
        ],
        "prefixes": [
            {k: v for k, v in p.as_dict().items() if k != "location"} for p in plan.prefixes
        ],
    }


# ---------------------------------------------------------------------------------------
# import


@dataclass
class ImportedRow:
    entry: dict
    zone: str
    location: Location


@dataclass
class CsvImport:
    rows: list[ImportedRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _norm(h: str) -> str:
    return "".join(h.strip().lower().split()).lstrip("\ufeff")


def read_csv(
    text: str, filename: str, plan: AddressPlan, departments: list[Department]
) -> CsvImport:
    """Rows → plan entries. Tenants and zones may be given by code or by Chinese name."""
    out = CsvImport()
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = next(reader)
    except StopIteration:
        out.problems.append(Problem(Location(filename, 1), _("empty CSV file")))
        return out
    except csv.Error as e:
        out.problems.append(_csv_problem(filename, reader.line_num or 1, e))
        return out
    columns: dict[str, int] = {}
    for i, h in enumerate(header):
        key = _norm(h)
        for field_name, aliases in HEADER_ALIASES.items():
            if key in aliases and field_name not in columns:
                columns[field_name] = i
    for needed in ("prefix", "name", "zone"):
        if needed not in columns:
            names = "/".join(HEADER_ALIASES[needed][:2] + HEADER_ALIASES[needed][4:5])
            out.problems.append(
                Problem(
                    Location(filename, 1),
                    _("no {needed} column (header {names})").format(needed=needed, names=names),
                )
            )
    if out.problems:
        return out
    tenant_by_name = {}
    for d in departments:
        tenant_by_name[d.code] = d.code
        tenant_by_name[d.name_zh] = d.code
    zone_by_name = {}
    for z in plan.zones.values():
        zone_by_name[z.name] = z.name
        if z.name_zh:
            zone_by_name[z.name_zh] = z.name
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:  # a field over csv.field_size_limit(), a broken quote ...
            out.problems.append(_csv_problem(filename, reader.line_num, e))
            break
        line = reader.line_num
        if not any(c.strip() for c in row):
            continue
        loc = Location(filename, line)

        def cell(name: str, row=row) -> str:
            i = columns.get(name)
            return _restore(row[i].strip()) if i is not None and i < len(row) else ""

        entry: dict = {"name": cell("name"), "prefix": cell("prefix")}
        if not entry["name"]:
            out.problems.append(Problem(loc, _("name is empty")))
        zone_text = cell("zone")
        zone = zone_by_name.get(zone_text, zone_text)
        tenant_text = cell("tenant")
        if tenant_text:
            entry["tenant"] = tenant_by_name.get(tenant_text, tenant_text)
        vlan = cell("vlan")
        if vlan:
            try:
                entry["vlan"] = int(vlan)
            except ValueError:
                out.problems.append(
                    Problem(loc, _("VLAN {vlan!r} is not a number").format(vlan=vlan))
                )
        status = cell("status")
        if status:
            entry["status"] = STATUS_ALIASES.get(status, status.lower())
        if cell("vrf"):
            entry["vrf"] = cell("vrf")
        if cell("purpose"):
            entry["purpose"] = cell("purpose")
        if cell("gateway"):
            entry["gateway"] = cell("gateway")
        out.rows.append(ImportedRow(entry, zone, loc))
    return out


def _csv_problem(filename: str, line: int, e: csv.Error) -> Problem:
    what = str(e)
    if "field larger than field limit" in what:
        what = f"a field is longer than {csv.field_size_limit():,} characters"
    return Problem(Location(filename, line), _("malformed CSV: {what}").format(what=what))


def row_prefix(row: ImportedRow) -> Prefix:
    """The row as a Prefix located at its CSV line (for validation with the plan)."""
    e = row.entry
    p = Prefix(
        name=e.get("name") or f"<row {row.location.line}>",
        cidr=e.get("prefix", ""),
        zone=row.zone,
        tenant=e.get("tenant"),
        vrf=e.get("vrf", ""),
        vlan=e.get("vlan"),
        purpose=e.get("purpose", ""),
        status=e.get("status", "active"),
        gateway=e.get("gateway"),
        allocation_pools=[tuple(x.split("-", 1)) for x in e.get("pools", [])],  # type: ignore[misc]
        dns_nameservers=[],
        reserved=[],
        description="",
        file=row.location.file,
        line=row.location.line,
    )
    return p


def parse_row_prefix(p: Prefix, problems: list[Problem]) -> None:
    from cloudctl.ipam.model import STATUSES, AddressError, check_addresses

    try:
        p.version, p.first, p.prefixlen = parse_cidr(p.cidr)
        p.last = p.first + (1 << ((32 if p.version == 4 else 128) - p.prefixlen)) - 1
    except AddressError as e:
        problems.append(Problem(p.location, _("prefix {name}: {e}").format(name=p.name, e=e)))
        p.valid = False
    if not p.zone:
        problems.append(Problem(p.location, _("prefix {name}: zone is empty").format(name=p.name)))
    if p.valid and (p.gateway is not None or p.allocation_pools):
        check_addresses(p, problems)
    if p.status not in STATUSES:
        problems.append(
            Problem(
                p.location,
                _("prefix {name}: status {status!r} is not one of {names}").format(
                    name=p.name, status=p.status, names=", ".join(STATUSES)
                ),
            )
        )
