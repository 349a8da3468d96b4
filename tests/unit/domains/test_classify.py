"""Coverage-based classification: a remote range is judged by the addresses it admits."""

from __future__ import annotations

import pytest

from cloudctl.domains.classify import UNPLANNED, AddressZones, zone_of_cidr

ZONES = AddressZones.from_supernets(
    {
        "internet": ["10.10.0.0/22", "203.0.113.0/26"],
        "dmz": ["10.11.0.0/16"],
        "core": ["10.20.0.0/16"],
        "data": ["10.30.0.0/16"],
        "ops": ["10.40.0.0/20"],
    }
)


@pytest.mark.parametrize(
    "cidr",
    [
        "0.0.0.0/0",
        "0.0.0.0/1",  # split halves: each still holds public space
        "128.0.0.0/1",
        "::/0",
        "::/1",
        "::ffff:0:0/96",  # IPv4-mapped: all of IPv4
        "::ffff:8.8.8.0/120",
        "64:ff9b::/96",  # NAT64 carries IPv4 too
        "2000::/3",
        "203.0.113.0/24",  # the center's public block and its neighbours
        "8.8.8.8/32",
    ],
)
def test_public_space_counts_as_internet(cidr):
    cov = ZONES.classify(cidr)
    assert cov.internet
    assert "internet" in cov.source_zones("internet")


@pytest.mark.parametrize(
    ("cidr", "zones"),
    [
        ("10.40.1.0/24", {"ops"}),
        ("10.40.2.17/32", {"ops"}),
        ("::ffff:10.40.0.0/116", {"ops"}),  # mapped IPv4 of the ops zone is the ops zone
        ("::ffff:a28:0/116", {"ops"}),  # same range, hex spelling
        ("64:ff9b::a14:1200/120", {"core"}),
        ("10.11.0.0/16", {"dmz"}),
        ("10.20.18.0/24", {"core"}),
    ],
)
def test_private_ranges_map_to_their_zone_only(cidr, zones):
    cov = ZONES.classify(cidr)
    assert set(cov.zones) == zones
    assert not cov.internet and not cov.unplanned


def test_wide_private_range_covers_every_zone_inside_and_unplanned_space():
    cov = ZONES.classify("10.0.0.0/8")
    assert {"dmz", "core", "data", "ops", "internet"} <= set(cov.zones)
    assert cov.unplanned and not cov.internet
    assert UNPLANNED in cov.source_zones("internet")


def test_private_space_outside_the_plan_is_unplanned():
    assert ZONES.classify("172.16.0.0/12").source_zones("internet") == (UNPLANNED,)
    assert ZONES.classify("fd00::/8").source_zones("internet") == (UNPLANNED,)


def test_split_halves_together_cover_what_the_whole_covers():
    a, b = ZONES.classify("0.0.0.0/1"), ZONES.classify("128.0.0.0/1")
    assert (a | b) == ZONES.classify("0.0.0.0/0")


def test_host_bits_are_ignored_like_neutron_does():
    assert ZONES.classify("10.40.1.5/20").zones == {"ops"}


def test_zone_of_a_subnet_and_of_an_address():
    assert zone_of_cidr(ZONES, "10.20.18.0/24") == "core"
    assert zone_of_cidr(ZONES, "10.0.0.0/8") is None  # straddles zones
    assert zone_of_cidr(ZONES, "192.168.1.0/24") is None
    assert ZONES.zone_of_address("10.30.4.130") == "data"
