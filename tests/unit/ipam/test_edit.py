"""In-place edits keep every other byte of the file."""

from __future__ import annotations

import yaml

from cloudctl.ipam.edit import insert_entry, remove_entries, render_entry

TEXT = """\
# 核心业务区 — header comment
zone: core
prefixes:
  # 公共服务
  - name: core-lb        # trailing comment kept
    prefix: 10.20.2.0/24
    purpose: "quoted: 内部负载均衡"
    pools: [10.20.2.10-10.20.2.254]

  # 部门应用网段
  - name: czj-app
    prefix: 10.20.18.0/24
    tenant: czj
# end of file comment
"""

ENTRY = {
    "name": "rsj-app",
    "prefix": "10.20.61.0/24",
    "tenant": "rsj",
    "vlan": 1500,
    "purpose": "人社: #1 系统",
    "gateway": "10.20.61.1",
    "pools": ["10.20.61.10-10.20.61.254"],
}


def test_insert_appends_after_the_last_item_and_keeps_everything_else():
    out = insert_entry(TEXT, ENTRY)
    assert out.startswith(TEXT.split("# end of file comment")[0])
    assert out.endswith("# end of file comment\n")
    assert yaml.safe_load(out)["prefixes"][-1] == ENTRY
    assert "  - name: rsj-app\n    prefix: 10.20.61.0/24\n" in out


def test_remove_then_insert_roundtrip_is_byte_identical():
    assert remove_entries(insert_entry(TEXT, ENTRY), ["rsj-app"]) == TEXT


def test_remove_keeps_the_comments_around_the_item():
    out = remove_entries(TEXT, ["core-lb"])
    assert (
        "# 公共服务\n" in out and "# 部门应用网段\n" in out and "# trailing comment kept" not in out
    )
    assert [p["name"] for p in yaml.safe_load(out)["prefixes"]] == ["czj-app"]


def test_flow_style_and_empty_files_go_through_ruamel():
    out = insert_entry("# keep me\nzone: core\nprefixes: []\n", ENTRY)
    assert out.startswith("# keep me\n")
    assert yaml.safe_load(out)["prefixes"] == [ENTRY]
    out = insert_entry("", ENTRY, header="zone: core\n")
    assert yaml.safe_load(out) == {"zone": "core", "prefixes": [ENTRY]}
    flow = "zone: core  # z\nprefixes: [{name: a, prefix: 10.20.0.0/24}]\n"
    assert [p["name"] for p in yaml.safe_load(insert_entry(flow, ENTRY))["prefixes"]] == [
        "a",
        "rsj-app",
    ]
    assert yaml.safe_load(remove_entries(flow, ["a"]))["prefixes"] == []


def test_rendering_quotes_what_needs_quoting():
    block = render_entry({"name": "x", "purpose": "a: b #c", "vlan": 7}, 2)
    assert yaml.safe_load(block) == [{"name": "x", "purpose": "a: b #c", "vlan": 7}]
