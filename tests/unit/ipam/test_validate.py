"""Every validation rule: each bad case gives its own message, at its own file:line."""

from __future__ import annotations

import pytest

from cloudctl.core.center import load_center
from cloudctl.ipam import service

GOOD = """\
zone: core
prefixes:
  - name: core-infra
    prefix: 10.20.0.0/20
    status: container
  - name: core-lb
    prefix: 10.20.1.0/24
    vlan: 1501
    gateway: 10.20.1.1
    pools: [10.20.1.10-10.20.1.254]
  - name: czj-app
    prefix: 10.20.16.0/24
    tenant: czj
    vlan: 1502
    gateway: 10.20.16.1
    pools: [10.20.16.10-10.20.16.254]
"""


def problems(mini):
    loaded = service.load(load_center(mini.root))
    return [str(p) for p in loaded.problems]


def test_good_plan_has_no_problems(mini):
    mini.prefixes(GOOD)
    assert problems(mini) == []


def test_overlap_across_vrfs_is_allowed(mini):
    mini.prefixes(GOOD)
    mini.prefixes(
        """\
        zone: drill
        prefixes:
          - {name: czj-app-dr, prefix: 10.20.16.0/24, tenant: czj, vlan: 3000}
        """,
        name="drill",
    )
    assert problems(mini) == []


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        # invalid prefix: host bits set
        (
            "  - {name: x, prefix: 10.20.16.1/24}\n",
            3,
            "prefix x: '10.20.16.1/24' has host bits set: did you mean 10.20.16.0/24?",
        ),
        # invalid prefix: bad length
        ("  - {name: x, prefix: 10.20.16.0/33}\n", 3, "prefix length /33 is longer than /32"),
        # invalid prefix: not an address
        ("  - {name: x, prefix: 10.20.16/24}\n", 3, "is not an IP address"),
        # overlap between siblings in the same VRF
        (
            "  - {name: a, prefix: 10.20.16.0/23}\n  - {name: b, prefix: 10.20.17.0/24}\n",
            4,
            "prefix b: 10.20.17.0/24 overlaps a 10.20.16.0/23",
        ),
        # the same block twice
        (
            "  - {name: a, prefix: 10.20.16.0/24}\n  - {name: b, prefix: 10.20.16.0/24}\n",
            4,
            "is listed twice in VRF gov",
        ),
        # child outside its parent (the zone's supernets)
        (
            "  - {name: x, prefix: 10.30.0.0/24}\n",
            3,
            "prefix x: 10.30.0.0/24 is outside its zone core (supernets 10.20.0.0/16)",
        ),
        # duplicate names
        (
            "  - {name: x, prefix: 10.20.16.0/24}\n  - {name: x, prefix: 10.20.17.0/24}\n",
            4,
            "duplicate name 'x' (first at ",
        ),
        # gateway outside its subnet
        (
            "  - {name: x, prefix: 10.20.16.0/24, gateway: 10.20.17.1}\n",
            3,
            "gateway 10.20.17.1 is outside 10.20.16.0/24",
        ),
        # gateway = network address
        (
            "  - {name: x, prefix: 10.20.16.0/24, gateway: 10.20.16.0}\n",
            3,
            "gateway 10.20.16.0 is the network address of 10.20.16.0/24",
        ),
        # gateway = broadcast address
        (
            "  - {name: x, prefix: 10.20.16.0/24, gateway: 10.20.16.255}\n",
            3,
            "gateway 10.20.16.255 is the broadcast address of 10.20.16.0/24",
        ),
        # allocation pool outside the subnet
        (
            "  - {name: x, prefix: 10.20.16.0/24, pools: [10.20.16.10-10.20.17.5]}\n",
            3,
            "pool 10.20.16.10-10.20.17.5 is outside 10.20.16.0/24",
        ),
        # allocation pool containing the gateway
        (
            "  - {name: x, prefix: 10.20.16.0/24, gateway: 10.20.16.1,"
            " pools: [10.20.16.1-10.20.16.9]}\n",
            3,
            "pool 10.20.16.1-10.20.16.9 contains the gateway 10.20.16.1",
        ),
        # pool backwards
        (
            "  - {name: x, prefix: 10.20.16.0/24, pools: [10.20.16.90-10.20.16.9]}\n",
            3,
            "pool 10.20.16.90-10.20.16.9 ends before it starts",
        ),
        # reserved range over a pool
        (
            "  - name: x\n    prefix: 10.20.16.0/24\n    pools: [10.20.16.10-10.20.16.99]\n"
            "    reserved: [{range: 10.20.16.2-10.20.16.20}]\n",
            3,
            "reserved range 10.20.16.2-10.20.16.20 overlaps pool 10.20.16.10-10.20.16.99",
        ),
        # unknown zone
        ("  - {name: x, prefix: 10.20.16.0/24, zone: nowhere}\n", 3, "unknown zone 'nowhere'"),
        # unknown tenant
        ("  - {name: x, prefix: 10.20.16.0/24, tenant: nobody}\n", 3, "unknown tenant 'nobody'"),
        # unknown VRF
        ("  - {name: x, prefix: 10.20.16.0/24, vrf: nowhere}\n", 3, "unknown VRF 'nowhere'"),
        # VLAN reused in a zone
        (
            "  - {name: a, prefix: 10.20.16.0/24, vlan: 1600}\n"
            "  - {name: b, prefix: 10.20.17.0/24, vlan: 1600}\n",
            4,
            "prefix b: VLAN 1600 is already used in zone core by a (",
        ),
        # VLAN outside the zone's range
        (
            "  - {name: x, prefix: 10.20.16.0/24, vlan: 42}\n",
            3,
            "VLAN 42 is outside zone core's range 1500-1999",
        ),
        # bad status
        ("  - {name: x, prefix: 10.20.16.0/24, status: live}\n", 3, "status 'live' is not one of"),
        # typo in a key
        ("  - {name: x, prefix: 10.20.16.0/24, gatway: 10.20.16.1}\n", 3, "unknown key 'gatway'"),
    ],
)
def test_each_rule_has_its_message_and_line(mini, body, line, message):
    mini.prefixes("zone: core\nprefixes:\n" + body)
    found = problems(mini)
    where = f"prefixes/core.yaml:{line}: "
    assert any(where in p and message in p for p in found), found


def test_malformed_yaml_is_reported_with_its_line(mini):
    mini.prefixes("zone: core\nprefixes:\n  - {name: x, prefix: [\n")
    found = problems(mini)
    assert len(found) == 1
    assert "prefixes/core.yaml:" in found[0] and "malformed YAML" in found[0]


def test_all_problems_are_reported_at_once(mini):
    mini.prefixes(
        """\
        zone: core
        prefixes:
          - {name: a, prefix: 10.20.16.1/24}
          - {name: b, prefix: 10.20.17.0/24, gateway: 10.20.18.1}
          - {name: c, prefix: 10.20.18.0/24, tenant: nobody}
        """
    )
    mini.prefixes("prefixes:\n  - {name: d, prefix: 10.20.19.0/24, zone: mars}\n", name="other")
    found = problems(mini)
    assert len(found) == 4
    assert [p.split(": ", 1)[0].rsplit("/", 1)[-1] for p in found] == [
        "core.yaml:3",
        "core.yaml:4",
        "core.yaml:5",
        "other.yaml:2",
    ]


def test_zone_supernets_may_overlap_only_across_vrfs(mini):
    mini.write(
        "zones.yaml",
        """\
        zones:
          - {name: core, vrf: gov, supernets: [10.20.0.0/16]}
          - {name: app2, vrf: gov, supernets: [10.20.128.0/17]}
          - {name: drill, vrf: dr, supernets: [10.20.0.0/16]}
        """,
    )
    found = problems(mini)
    assert len(found) == 1
    assert (
        "zones.yaml:3: zone app2: supernet 10.20.128.0/17 overlaps 10.20.0.0/16 of zone core"
        in found[0]
    )


def test_zone_with_unknown_vrf(mini):
    mini.write("zones.yaml", "zones:\n  - {name: core, vrf: mars, supernets: [10.20.0.0/16]}\n")
    assert any("zones.yaml:2: zone core: unknown VRF 'mars'" in p for p in problems(mini))


def test_container_may_hold_prefixes_but_a_subnet_may_not(mini):
    mini.prefixes(GOOD)
    loaded = service.load(load_center(mini.root))
    assert loaded.plan.prefix("core-lb").parent == "core-infra"
    assert loaded.plan.prefix("czj-app").parent is None


def test_sample_center_is_valid(project_root):
    loaded = service.load(load_center(project_root))
    assert [str(p) for p in loaded.problems] == []
    assert len(loaded.departments) == 45


def test_departments_file_problems_are_reported_with_lines(mini):
    (mini.root / "inventory" / "departments.yaml").write_text(
        "departments:\n"
        "  - {code: czj, name_zh: 市财政局}\n"
        "  - {code: czj, name_zh: 又一个}\n"
        "  - {code: Bad-Code, name_zh: 大写}\n"
        "  - {code: rsj, kind: city}\n",
        encoding="utf-8",
    )
    found = problems(mini)
    assert any("departments.yaml:3: duplicate code 'czj'" in p for p in found), found
    assert any("departments.yaml:4: code 'Bad-Code': use 2-16 lowercase" in p for p in found), found
    assert any("departments.yaml:5: kind 'city': expected department or county" in p for p in found)
