"""The forecast math: run-out month, overcommit, compounding growth, racks/kW rounding."""

from __future__ import annotations

import math

import pytest

from cloudctl.capacity.model import (
    HostClass,
    Month,
    Rack,
    Resource,
    ServerProfile,
    StoragePool,
    block_for,
    forecast_resource,
    pack_racks,
    servers_for,
)

COMPUTE = ServerProfile("c", threads=40, ram_gb=256, units=2, kw=0.5)


def test_month_arithmetic_crosses_years():
    m = Month.parse("2016-11")
    assert str(m.plus(2)) == "2017-01"
    assert str(m.plus(-11)) == "2015-12"
    assert Month.parse("2018-03").minus(m) == 16
    assert Month.parse("2016-06-15") == Month(2016, 6)
    for bad in ("2016-13", "16-06", "June", "2016/06"):
        with pytest.raises(ValueError):
            Month.parse(bad)


def test_overcommit_is_per_class_after_the_hosts_reserve():
    general = HostClass("general", COMPUTE, count=10, cpu_ratio=4.0, reserved_vcpu=4)
    db = HostClass("db", COMPUTE, count=2, cpu_ratio=1.0, ram_ratio=1.0, reserved_ram_gb=32)
    assert general.vcpu == 10 * (40 - 4) * 4.0
    assert db.vcpu == 2 * 40
    assert db.ram_gb == 2 * (256 - 32)


def test_replicated_pool_usable_space():
    node = ServerProfile("s", disk_tb=48)
    pool = StoragePool("p", node, count=6, replicas=3, max_fill=0.8)
    assert pool.usable_gb == pytest.approx(6 * 48_000 / 3 * 0.8)


def test_growth_compounds_monthly():
    r = Resource("vcpu", "", "", "", capacity=1e9, used=100, growth_pct=10)
    fc = forecast_resource(r, 12, 0.25)
    assert fc.series[1] == pytest.approx(110)
    assert fc.series[12] == pytest.approx(100 * 1.1**12)  # not 100 + 12 * 10


def test_arrivals_land_in_their_month_and_then_grow():
    r = Resource("vcpu", "", "", "", capacity=1e9, used=100, growth_pct=10, arrivals={2: 50})
    fc = forecast_resource(r, 3, 0.0)
    assert fc.series[:3] == pytest.approx([100, 110, 121 + 50])
    assert fc.series[3] == pytest.approx((121 + 50) * 1.1)


def test_overdue_demand_counts_now():
    r = Resource("vcpu", "", "", "", capacity=1000, used=100, arrivals={-3: 20, 0: 5})
    assert forecast_resource(r, 1, 0.0).used_now == 125


def test_run_out_is_the_first_month_over_capacity_and_plan_by_over_the_threshold():
    # 100 + 10/month: month 6 = 160 > 150 (75 % of 200) = plan by; month 11 = 210 > 200 = out
    r = Resource("x", "", "", "", capacity=200, used=100, steady_per_month=10)
    fc = forecast_resource(r, 24, 0.25)
    assert fc.plan_by == 6
    assert fc.runs_out == 11
    # exactly at capacity is not over it
    r2 = Resource("x", "", "", "", capacity=200, used=100, steady_per_month=10)
    assert forecast_resource(r2, 10, 0.25).runs_out is None


def test_nothing_runs_out_without_growth():
    r = Resource("x", "", "", "", capacity=200, used=100)
    fc = forecast_resource(r, 36, 0.25)
    assert fc.runs_out is None and fc.plan_by is None and fc.shortfall == 0


def test_required_keeps_the_headroom_free():
    r = Resource("x", "", "", "", capacity=100, used=150)
    fc = forecast_resource(r, 1, 0.25)
    assert fc.required == pytest.approx(200)
    assert fc.shortfall == pytest.approx(100)


def test_servers_round_up_and_zero_needs_none():
    assert servers_for(0, 100) == 0
    assert servers_for(100, 100) == 1
    assert servers_for(100.5, 100) == 2
    assert servers_for(1e-12, 100) == 0


def test_racks_limited_by_power_before_space():
    rack = Rack(units=42, reserved_units=4, kw=6.6, overhead_kw=0.6)  # 38 U, 6 kW for servers
    # 12 servers of 0.5 kW = 6 kW fill one rack by power (24 U of 38)
    assert pack_racks([COMPUTE] * 12, rack).racks == 1
    plan = pack_racks([COMPUTE] * 13, rack)
    assert plan.racks == 2
    assert plan.server_kw == pytest.approx(6.5)
    assert plan.total_kw == pytest.approx(6.5 + 2 * 0.6)


def test_racks_limited_by_space_when_power_is_ample():
    rack = Rack(units=42, reserved_units=2, kw=20, overhead_kw=0)  # 40 U
    plan = pack_racks([COMPUTE] * 21, rack)  # 42 U
    assert plan.racks == 2
    assert [r["servers"] for r in plan.per_rack] == [20, 1]


def test_a_server_bigger_than_a_rack_is_refused():
    with pytest.raises(ValueError):
        pack_racks([ServerProfile("hot", units=2, kw=9)], Rack(kw=6, overhead_kw=0.5))


def test_public_block_is_the_smallest_cidr_that_holds_them():
    assert block_for(0) is None
    assert block_for(1) == 32
    assert block_for(16) == 28
    assert block_for(17) == 27
    assert block_for(23) == 27


def test_horizon_must_be_positive():
    with pytest.raises(ValueError):
        forecast_resource(Resource("x", "", "", "", 1, 0), 0, 0.2)
    assert not math.isnan(forecast_resource(Resource("x", "", "", "", 0, 0), 1, 0.2).required)


def test_smaller_servers_fill_what_bigger_ones_left():
    rack = Rack(units=42, reserved_units=2, kw=6.0, overhead_kw=0.0)
    storage = ServerProfile("s", units=2, kw=0.4, disk_tb=48)
    assert pack_racks([COMPUTE] * 11 + [storage], rack).racks == 1  # 5.9 kW
    two = pack_racks([COMPUTE] * 12 + [storage] * 2, rack)
    assert two.racks == 2 and [r["servers"] for r in two.per_rack] == [12, 2]
