"""``ipam export --format netbox`` against the facts of NetBox's own source, and the spreadsheet
export's encodings.

NetBox cannot run here. What is checked instead, per supported version:
- the header of every file against that version's import form (columns it accepts and the
  ones it requires), extracted from the tagged source into data/netbox_import_forms.json
  (data/extract_netbox_forms.py; the tag and commit are recorded there);
- that importing the files in their numbered order resolves every reference;
- NetBox's utilisation rule, re-implemented below from ``Prefix.get_utilization`` in
  netbox/ipam/models/ip.py (v3.7.8 to v4.2.9: every child IP range counts as used;
  v4.3.7 to v4.6.8: only ranges with ``mark_utilized``, IP addresses inside those not
  counted twice; IPv4 shorter than /31 without ``is_pool``: size - 2; a container: its
  child prefixes in the same VRF; ``mark_utilized``: 100 %), applied to the exported rows,
  gives cloudctl's utilisation for every prefix of the sample.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from fractions import Fraction
from pathlib import Path

import netaddr
import pytest

from cloudctl.core.center import load_center
from cloudctl.ipam import netbox, report, service

DATA = json.loads(
    (Path(__file__).with_name("data") / "netbox_import_forms.json").read_text(encoding="utf-8")
)
VERSIONS = sorted(netbox.PROFILES)


def run(cli, center: Path, *args: str):
    return cli("--center", str(center), "ipam", *args)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """The sample center's plan and departments, loaded from a copy (the cache goes there)."""
    project_root = Path(__file__).resolve().parents[3]
    root = tmp_path_factory.mktemp("center")
    shutil.copy(project_root / "cloudctl.yaml", root / "cloudctl.yaml")
    shutil.copytree(project_root / "inventory" / "ipam", root / "inventory" / "ipam")
    shutil.copy(project_root / "inventory" / "departments.yaml", root / "inventory")
    return service.load_valid(load_center(root))


def exported(sample, version: str) -> dict[str, list[dict]]:
    """The files as NetBox reads an upload: decoded as utf-8-sig, csv, cells stripped."""
    exp = netbox.build(sample.plan, sample.departments, version)
    tables = {}
    for name, data in netbox.encode_files(exp).items():
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig").strip()))
        header = [h.strip() for h in next(reader)]
        tables[name] = [dict(zip(header, (c.strip() for c in row), strict=True)) for row in reader]
        tables[name + ":header"] = header  # type: ignore[assignment]
    return tables


# ---------------------------------------------------------------------------------------
# columns


def test_every_supported_version_was_extracted_from_its_tag():
    for v, profile in netbox.PROFILES.items():
        facts = DATA["versions"][profile.checked]
        assert len(facts["commit"]) == 40, v
        assert set(facts["forms"]) == set(netbox.FILE_MODELS.values())
    assert max(netbox.PROFILES, key=lambda v: tuple(map(int, v.split(".")))) == netbox.LATEST


@pytest.mark.parametrize("version", VERSIONS)
def test_headers_are_the_import_forms_columns(sample, version):
    forms = DATA["versions"][netbox.PROFILES[version].checked]["forms"]
    tables = exported(sample, version)
    for name, model in netbox.FILE_MODELS.items():
        header = tables[name + ":header"]
        form = forms[model]
        unknown = [c for c in header if c not in form["columns"]]
        assert not unknown, f"{version} {name}: NetBox refuses header(s) {unknown}"
        missing = [c for c in form["required"] if c not in header]
        assert not missing, f"{version} {name}: required column(s) {missing} missing"
        assert len(set(header)) == len(header)


def test_the_reported_failures_are_gone(sample):
    """Issue 14: roles without weight (4.6 requires it); vid_ranges only from 4.2."""
    assert exported(sample, "4.6")["04-roles.csv"][0]["weight"]
    assert "vid_ranges" in exported(sample, "4.2")["08-vlan-groups.csv:header"]
    for v in ("3.7", "4.0"):
        header = exported(sample, v)["08-vlan-groups.csv:header"]
        assert "vid_ranges" not in header and {"min_vid", "max_vid"} <= set(header)
        core = next(g for g in exported(sample, v)["08-vlan-groups.csv"] if g["name"] == "core")
        assert (core["min_vid"], core["max_vid"]) == ("1500", "1999")
    # mark_populated exists from 4.3 on
    assert "mark_populated" not in exported(sample, "4.2")["11-ip-ranges.csv:header"]


# ---------------------------------------------------------------------------------------
# import order

# (file, column) → (file that must define the value, its column); values may be lists
REFERENCES = {
    ("03-aggregates.csv", "rir"): ("02-rirs.csv", "name"),
    ("06-tenants.csv", "group"): ("05-tenant-groups.csv", "name"),
    ("09-vlans.csv", "group"): ("08-vlan-groups.csv", "name"),
    ("09-vlans.csv", "tenant"): ("06-tenants.csv", "name"),
    ("09-vlans.csv", "role"): ("04-roles.csv", "name"),
    ("10-prefixes.csv", "vrf"): ("07-vrfs.csv", "name"),
    ("10-prefixes.csv", "tenant"): ("06-tenants.csv", "name"),
    ("10-prefixes.csv", "vlan_group"): ("08-vlan-groups.csv", "name"),
    ("10-prefixes.csv", "role"): ("04-roles.csv", "name"),
    ("11-ip-ranges.csv", "vrf"): ("07-vrfs.csv", "name"),
    ("11-ip-ranges.csv", "tenant"): ("06-tenants.csv", "name"),
    ("11-ip-ranges.csv", "role"): ("04-roles.csv", "name"),
    ("12-ip-addresses.csv", "vrf"): ("07-vrfs.csv", "name"),
    ("12-ip-addresses.csv", "tenant"): ("06-tenants.csv", "name"),
}


@pytest.mark.parametrize("version", VERSIONS)
def test_file_order_resolves_every_reference(sample, version):
    tables = exported(sample, version)
    order = list(netbox.FILE_MODELS)
    checked = 0
    for name in order:
        for row in tables[name]:
            for column, value in row.items():
                if not value:
                    continue
                if column == "tags":
                    target, key = "01-tags.csv", "slug"
                elif (name, column) in REFERENCES:
                    target, key = REFERENCES[(name, column)]
                else:
                    continue
                assert order.index(target) < order.index(name), (name, column)
                for v in value.split(","):
                    assert v in {r[key] for r in tables[target]}, (name, column, v)
                    checked += 1
    assert checked > 1000
    # a prefix's VLAN is looked up by vid inside its vlan_group (PrefixImportForm.__init__)
    vlans = {(v["group"], v["vid"]) for v in tables["09-vlans.csv"]}
    for p in tables["10-prefixes.csv"]:
        if p["vlan"]:
            assert (p["vlan_group"], p["vlan"]) in vlans
    # NetBox refuses the same prefix twice in a VRF with enforce_unique, overlapping
    # aggregates, overlapping ranges in a VRF, the same IP twice in a VRF
    keys = [(p["vrf"], p["prefix"]) for p in tables["10-prefixes.csv"]]
    assert len(keys) == len(set(keys))
    aggs = netaddr.IPSet()
    for a in tables["03-aggregates.csv"]:
        assert not aggs & netaddr.IPSet([a["prefix"]]), a
        aggs.add(a["prefix"])
    by_vrf: dict[str, netaddr.IPSet] = {}
    for r in tables["11-ip-ranges.csv"]:
        rng = netaddr.IPSet(
            netaddr.IPRange(
                r["start_address"][: r["start_address"].index("/")],
                r["end_address"][: r["end_address"].index("/")],
            )
        )
        assert rng.size >= 2  # before 4.6.1 a range must span two addresses
        seen = by_vrf.setdefault(r["vrf"], netaddr.IPSet())
        assert not seen & rng, r
        seen |= rng
    ips = [(a["vrf"], a["address"].split("/")[0]) for a in tables["12-ip-addresses.csv"]]
    assert len(ips) == len(set(ips))


# ---------------------------------------------------------------------------------------
# utilisation as NetBox computes it


def _net(text: str) -> netaddr.IPNetwork:
    return netaddr.IPNetwork(text)


def _host(text: str) -> netaddr.IPAddress:
    return netaddr.IPAddress(text.split("/")[0])


def netbox_utilization(prefix: dict, tables: dict, flags: bool) -> Fraction:
    """Prefix.get_utilization (netbox/ipam/models/ip.py) as a fraction."""
    if prefix["mark_utilized"] == "true":
        return Fraction(1)
    net = _net(prefix["prefix"])
    vrf = prefix["vrf"]
    if prefix["status"] == "container":
        children = netaddr.IPSet(
            _net(p["prefix"])
            for p in tables["10-prefixes.csv"]
            if p["vrf"] == vrf and _net(p["prefix"]) in net and _net(p["prefix"]) != net
        )
        return min(Fraction(children.size, net.size), Fraction(1))
    ranges = [
        r
        for r in tables["11-ip-ranges.csv"]
        if r["vrf"] == vrf and _host(r["start_address"]) in net and _host(r["end_address"]) in net
    ]
    if flags:  # 4.3+: only mark_utilized ranges
        ranges = [r for r in ranges if r["mark_utilized"] == "true"]
    used = netaddr.IPSet()
    for r in ranges:
        used.add(netaddr.IPRange(_host(r["start_address"]), _host(r["end_address"])))
    for a in tables["12-ip-addresses.csv"]:
        if a["vrf"] == vrf and _host(a["address"]) in net:
            used.add(_host(a["address"]))  # a set: an address inside a range counts once
    size = net.size
    if net.version == 4 and net.prefixlen < 31 and prefix["is_pool"] != "true":
        size -= 2
    return min(Fraction(used.size, size), Fraction(1))


@pytest.mark.parametrize("version", VERSIONS)
def test_netbox_utilization_equals_cloudctls_for_every_prefix(sample, version):
    tables = exported(sample, version)
    # from NetBox's source (data/extract_netbox_forms.py), not from the profile under test
    flags = DATA["versions"][netbox.PROFILES[version].checked][
        "utilization_ranges_need_mark_utilized"
    ]
    nb = {(p["vrf"], p["prefix"]): p for p in tables["10-prefixes.csv"]}
    kids = report._children(sample.plan)
    partial = 0
    for p in sample.plan.prefixes:
        used, free = report._usage(p, kids)
        ours = Fraction(used, used + free)
        theirs = netbox_utilization(nb[(p.vrf, p.cidr)], tables, flags)
        assert theirs == ours, f"{version} {p.name} {p.cidr}: NetBox {theirs} cloudctl {ours}"
        assert round(float(theirs) * 100, 1) == report.prefix_row(p, kids)["util"]
        partial += 0 < ours < 1
    assert partial >= 130  # the subnets that read 0 % in NetBox before (issue 14)
    # zone supernets: the container prefixes read what `ipam show --tree` shows
    for zone in report.tree(sample.plan):
        for sn in zone["supernets"]:
            row = nb[(sample.plan.zones[zone["zone"]].vrf, sn["prefix"])]
            if row["description"] != f"zone {zone['zone']}":
                continue  # the plan has this very block (203.0.113.0/26): compared above
            assert row["status"] == "container"
            theirs = netbox_utilization(row, tables, flags)
            assert theirs == Fraction(sn["used"], sn["size"]), sn["prefix"]


def test_pools_take_ip_addresses_in_netbox(sample):
    """4.3+ refuses an IP address inside a range with mark_populated (IPAddress.clean)."""
    tables = exported(sample, "4.6")
    ranges = tables["11-ip-ranges.csv"]
    assert all(r["mark_populated"] == "false" for r in ranges)
    pools = {
        (p.vrf, f"{a}/{p.prefixlen}", f"{b}/{p.prefixlen}")
        for p in sample.plan.prefixes
        for a, b in p.allocation_pools
    }
    exported_pools = {
        (r["vrf"], r["start_address"], r["end_address"])
        for r in ranges
        if r["description"].endswith("allocation pool")
    }
    assert exported_pools == pools and len(pools) > 130
    assert all(
        r["mark_utilized"] == "false" and r["status"] == "active"
        for r in ranges
        if r["description"].endswith("allocation pool")
    )
    # ≤4.2 counts every range as used: pools are not ranges there, they are in comments
    old = exported(sample, "4.2")
    assert not [r for r in old["11-ip-ranges.csv"] if r["description"].endswith("pool")]
    czj = next(p for p in old["10-prefixes.csv"] if p["description"] == "czj-app")
    assert "10.20.18.10-10.20.18.254" in czj["comments"]


def test_subnet_pieces_cover_the_usable_addresses_once(sample):
    for p in sample.plan.prefixes:
        if p.status != "active" or not p.allocation_pools:
            continue
        pieces = netbox.subnet_pieces(p, [])
        lo, hi = netbox.usable_bounds(p)
        spans = sorted((x.first, x.last) for x in pieces)
        assert spans[0][0] == lo and spans[-1][1] == hi, p.name
        for (_a, b), (c, _d) in itertools.pairwise(spans):
            assert c == b + 1, p.name  # no gap, no overlap


# ---------------------------------------------------------------------------------------
# what the plan says, where NetBox keeps it


def test_supernets_are_aggregates_and_containers(sample):
    t = exported(sample, "4.6")
    aggs = {a["prefix"]: a for a in t["03-aggregates.csv"]}
    assert aggs["10.20.0.0/16"]["rir"] == "RFC 1918"  # core and drill share it: once
    assert aggs["10.20.0.0/16"]["description"] == "zones core, drill"
    assert aggs["203.0.113.0/26"]["rir"] == "RFC 5737"
    rirs = {r["name"]: r for r in t["02-rirs.csv"]}
    assert rirs["RFC 1918"]["is_private"] == "true"
    containers = {
        (p["vrf"], p["prefix"]): p
        for p in t["10-prefixes.csv"]
        if p["description"].startswith("zone ")
    }
    assert containers[("gov", "10.20.0.0/16")]["role"] == "core"
    assert containers[("dr", "10.20.0.0/16")]["role"] == "drill"
    # every supernet, but 203.0.113.0/26: the plan has that block itself (inet-nat)
    assert len(containers) == sum(len(z.supernets) for z in sample.plan.zones.values()) - 1
    assert ("gov", "203.0.113.0/26") not in containers


def test_gateways_and_dns_servers_are_ip_addresses(sample):
    t = exported(sample, "4.6")
    ips = {(a["vrf"], a["address"]): a for a in t["12-ip-addresses.csv"]}
    for p in sample.plan.prefixes:
        if p.gateway:
            assert ips[(p.vrf, f"{p.gateway}/{p.prefixlen}")]["status"] in ("active", "reserved")
    assert "DNS server" in ips[("gov", "10.40.1.53/24")]["description"]
    assert "DNS server" in ips[("gov", "10.40.1.54/24")]["description"]


def test_names_tenants_and_groups(sample):
    t = exported(sample, "4.6")
    czj = next(
        p for p in t["10-prefixes.csv"] if p["prefix"] == "10.20.18.0/24" and p["vrf"] == "gov"
    )
    assert czj["description"] == "czj-app"  # the name alone: ?description=czj-app finds it
    assert czj["comments"] == "市财政局 业务系统应用层"
    assert czj["tenant"] == "市财政局" and czj["vlan_group"] == "core" and czj["vlan"] == "1522"
    names = [p["description"] for p in t["10-prefixes.csv"]]
    assert {p.name for p in sample.plan.prefixes} <= set(names)
    groups = {g["name"] for g in t["05-tenant-groups.csv"]}
    assert groups == {"市直部门", "县市区"}
    tenants = {x["slug"]: x for x in t["06-tenants.csv"]}
    kind = {d.code: d.kind for d in sample.departments}
    for code, row in tenants.items():
        assert row["group"] == ("市直部门" if kind[code] == "department" else "县市区")
    assert [r["weight"] for r in t["04-roles.csv"]] == [str(100 * (i + 1)) for i in range(8)]


# ---------------------------------------------------------------------------------------
# warnings and refusals


def test_invalid_prefix_is_a_located_warning(mini):
    from cloudctl.ipam.model import load_plan

    path = mini.prefixes(
        """\
        zone: core
        prefixes:
          - {name: ok, prefix: 10.20.1.0/24, gateway: 10.20.1.1, pools: [10.20.1.10-10.20.1.254]}
          - {name: broken, prefix: 10.20.2.1/24}
        """
    )
    plan = load_plan(mini.plan)
    exp = netbox.build(plan, [], "4.6")
    descriptions = [p["description"] for p in exp.tables["10-prefixes.csv"]]
    assert "ok" in descriptions and "broken" not in descriptions
    (w,) = [w for w in exp.warnings if "broken" in w.message]
    assert w.location.file.endswith(path.name) and w.location.line == 4
    assert "not exported" in w.message


def test_cli_refuses_an_invalid_plan_with_file_and_line(cli, mini, tmp_path):
    mini.prefixes("zone: core\nprefixes:\n  - {name: broken, prefix: 10.20.2.1/24}\n")
    r = cli(
        "--center", str(mini.root), "--lang", "en", "ipam", "export", "-f", "netbox", "-O",
        str(tmp_path / "nb"),
    )
    assert r.exit_code == 2
    assert "core.yaml:3:" in r.stderr and "host bits" in r.stderr
    assert not (tmp_path / "nb").exists()


def test_reservation_over_the_network_address_is_clipped_with_a_warning(mini):
    from cloudctl.ipam.model import load_plan

    mini.prefixes(
        """\
        zone: core
        prefixes:
          - name: edge
            prefix: 10.20.1.0/24
            gateway: 10.20.1.1
            pools: [10.20.1.100-10.20.1.254]
            reserved: [{range: 10.20.1.0-10.20.1.9, purpose: fw}]
            dns: [10.20.1.150]
        """
    )
    plan = load_plan(mini.plan)
    exp = netbox.build(plan, [], "4.6")
    ranges = {(r["start_address"], r["end_address"]) for r in exp.tables["11-ip-ranges.csv"]}
    assert ("10.20.1.1/24", "10.20.1.9/24") in ranges  # the usable part (with the gateway)
    assert ("10.20.1.10/24", "10.20.1.99/24") in ranges  # the gap, mark_utilized
    msgs = " | ".join(w.message for w in exp.warnings)
    assert "network or broadcast" in msgs
    assert "DNS server 10.20.1.150 is inside allocation pool" in msgs


def test_netbox_files_are_utf8_only(cli, sample_center, tmp_path):
    out = tmp_path / "nb"
    r = run(cli, sample_center, "export", "-f", "netbox", "--encoding", "gbk", "-O", str(out))
    assert r.exit_code == 2 and "UTF-8" in r.stderr and not out.exists()
    r = run(cli, sample_center, "export", "-f", "netbox", "--headers", "zh", "-O", str(out))
    assert r.exit_code == 2 and not out.exists()
    r = run(
        cli,
        sample_center,
        "export",
        "-f",
        "netbox",
        "--netbox-version",
        "3.7",
        "--encoding",
        "utf-8-sig",
        "-O",
        str(out),
    )
    assert r.exit_code == 0, r.output
    raw = (out / "08-vlan-groups.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.decode("utf-8-sig").startswith(
        "name,slug,min_vid,max_vid,"
    )
    r = run(cli, sample_center, "export", "-f", "netbox", "--netbox-version", "5.0")
    assert r.exit_code == 2


def test_formula_cells_stay_neutralised_in_netbox_files(sample_center, cli, tmp_path):
    core = sample_center / "inventory/ipam/prefixes/core.yaml"
    text = core.read_text(encoding="utf-8")
    core.write_text(text.replace("purpose: 市财政局 业务系统应用层", "purpose: '=HYPERLINK(1)'"))
    out = tmp_path / "nb"
    assert run(cli, sample_center, "export", "-f", "netbox", "-O", str(out)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO((out / "10-prefixes.csv").read_text("utf-8"))))
    czj = next(p for p in rows if p["description"] == "czj-app")
    assert czj["comments"] == "'=HYPERLINK(1)"


# ---------------------------------------------------------------------------------------
# spreadsheets for Chinese Excel


@pytest.mark.parametrize(
    ("options", "encoding", "bom"),
    [
        (["--encoding", "gbk", "--headers", "zh"], "gbk", b""),
        (["--excel"], "utf-8-sig", b"\xef\xbb\xbf"),
    ],
)
def test_spreadsheet_export_round_trips_through_import(
    cli, sample_center, tmp_path, options, encoding, bom
):
    before = json.loads(run(cli, sample_center, "export", "-f", "json").stdout)
    sheet = tmp_path / "地址表.csv"
    r = run(cli, sample_center, "export", "-f", "csv", *options, "-O", str(sheet))
    assert r.exit_code == 0, r.output
    raw = sheet.read_bytes()
    assert raw.startswith(bom)
    text = raw.decode(encoding)
    assert text.splitlines()[0].split(",")[:3] == ["网段", "名称", "安全域"]
    assert ",在用," in text and ",容器," in text
    if "--excel" in options:
        assert b"\r\n" in raw
    # the same plan: nothing new
    r = run(cli, sample_center, "import", "--from-csv", str(sheet), "-o", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == []
    assert len(json.loads(r.stdout)["unchanged"]) == 146
    # a plan without the secmgmt zone's prefixes gets them back as they were
    (sample_center / "inventory/ipam/prefixes/secmgmt.yaml").unlink()
    r = run(cli, sample_center, "import", "--from-csv", str(sheet), "-o", "json")
    assert r.exit_code == 0, r.output
    assert sorted(a["name"] for a in json.loads(r.stdout)["added"]) == [
        "sec-av",
        "sec-scan",
        "sec-soc",
    ]
    after = json.loads(run(cli, sample_center, "export", "-f", "json").stdout)

    def pick(doc):
        keep = (
            "name",
            "prefix",
            "zone",
            "vrf",
            "tenant",
            "vlan",
            "status",
            "purpose",
            "gateway",
            "pools",
        )
        return sorted(({k: p[k] for k in keep} for p in doc["prefixes"]), key=lambda p: p["name"])

    assert pick(after) == pick(before)


def test_gbk_refuses_a_character_it_cannot_encode(cli, sample_center, tmp_path):
    core = sample_center / "inventory/ipam/prefixes/core.yaml"
    text = core.read_text(encoding="utf-8")
    core.write_text(text.replace("purpose: 市财政局 业务系统应用层", "purpose: 𠮷野家食堂"))
    sheet = tmp_path / "s.csv"
    r = run(cli, sample_center, "export", "--encoding", "gbk", "-O", str(sheet))
    assert r.exit_code == 2
    assert "core.yaml:" in r.stderr and "U+20BB7" in r.stderr and "utf-8-sig" in r.stderr
    assert not sheet.exists()
    r = run(cli, sample_center, "export", "--encoding", "utf-8-sig", "-O", str(sheet))
    assert r.exit_code == 0 and "𠮷" in sheet.read_text(encoding="utf-8-sig")
