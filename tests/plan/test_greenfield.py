"""The lock-in premium where the fleet can buy or build: a hand-solved case, a vendor that even
buying cannot make feasible, the in-house option lowering switching prices, and the premium
never negative (property test)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyfleet import app as api
from polyfleet.plan.greenfield import greenfield, options_of

from ..conftest import BASE, load, write

EXAMPLES = Path(__file__).parents[2] / "examples"

#: The shared two-pool fleet (tests/conftest.py) plus a rented TPU pool; more demand.
SCENARIO: dict[str, Any] = {
    **BASE,
    "name": "gf",
    "pools": [
        *BASE["pools"],
        {"name": "tpu", "accelerator": "tpu7x", "count": 10, "cost": {"per_gpu_hour": 3.0}},
    ],
    "workloads": [
        {
            "name": "job",
            "kind": "custom",
            "demand": {"value": 300.0, "unit": "jobs/s"},
            "throughput": {"h100-sxm": 2.0, "mi300x": 1.0, "tpu7x": 2.0},
        }
    ],
}

ACORN = {
    "name": "acorn",
    "relative_to": "mi300x",
    "performance": {"serve": 1.0},
    "nre": 1e6,
    "unit_cost": 5_000,
    "power_w": 700,
    "first_ship_year": 2027,
    "count": 500,
}


def test_today_no_vendor_alone_suffices_but_buying_gives_each_a_premium(tmp_path):
    data = copy.deepcopy(SCENARIO)
    data["pools"][2]["purchasable"] = True  # TPUs: rented more, at the pool's rent
    rec = api.leverage(write(tmp_path, data))
    assert all(v.lock_in_premium_per_hour is None for v in rec.vendors)  # the fixed fleet
    by = {g.vendor: g for g in rec.greenfield or []}
    # with all: amd's 100 at $1 (100 jobs/s) + 100 nv at $2 (200 jobs/s) = $300/h;
    # google alone: 300 / 2 = 150 TPUs, 140 more rented at $3: 450 $/h -> premium 150 $/h
    assert rec.greenfield_cost_per_hour == pytest.approx(300.0)
    assert by["google"].greenfield_premium_per_hour == pytest.approx(150.0)
    assert by["google"].greenfield_premium_per_year == pytest.approx(150.0 * 8760)
    # nvidia and amd cannot buy: even buying, they stay infeasible, with the reason
    assert by["nvidia"].greenfield_status == "infeasible"
    assert any("short by 50 accelerators" in w for w in by["nvidia"].greenfield_why)


def test_an_in_house_build_caps_what_each_vendor_can_charge(tmp_path):
    data = copy.deepcopy(SCENARIO)
    # an NRE of $8M is ~$230/h over 5 years at 8 %; 300 acorns ~$110/h to run: building
    # for all the work costs ~$340/h against today's $300/h. NVIDIA's 200 jobs/s cost 200m:
    # work moves to the build at m ~ 1.2, before TPUs take any at m = 1.5
    data["builds"] = [dict(ACORN, nre=8e6)]
    data["workloads"][0]["throughput"]["acorn"] = 1.0
    rec = api.leverage(write(tmp_path, data))
    today = {v.vendor: v for v in rec.vendors}
    by = {g.vendor: g for g in rec.greenfield or []}
    assert today["nvidia"].switch_multiplier == pytest.approx(1.5, rel=0.01)
    with_build = by["nvidia"].switch_multiplier_with_in_house
    assert with_build is not None and 1.0 < with_build < 1.45  # the switching price falls
    for vendor in ("nvidia", "amd"):  # never above the price without the option
        without = today[vendor].switch_multiplier
        assert without is not None
        assert (by[vendor].switch_multiplier_with_in_house or without) <= without * 1.01
    assert by["in-house"].greenfield_premium_per_hour is not None


SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(
    counts=st.lists(st.integers(1, 400), min_size=3, max_size=3),
    rents=st.lists(st.floats(0.5, 5.0), min_size=3, max_size=3),
    rates=st.lists(st.floats(0.5, 4.0), min_size=4, max_size=4),
    buy=st.lists(st.booleans(), min_size=3, max_size=3),
    demand=st.floats(10.0, 900.0),
    nre=st.floats(0.0, 1e8),
    build=st.booleans(),
)
def test_the_greenfield_premium_is_never_negative(counts, rents, rates, buy, demand, nre, build):
    data = copy.deepcopy(SCENARIO)
    for pool, count, rent, purchasable in zip(data["pools"], counts, rents, buy, strict=True):
        pool.update(count=count, purchasable=purchasable, cost={"per_gpu_hour": rent})
    wl = data["workloads"][0]
    wl["demand"]["value"] = demand
    wl["throughput"] = dict(zip(["h100-sxm", "mi300x", "tpu7x", "acorn"], rates, strict=True))
    if build:
        data["builds"] = [dict(ACORN, nre=nre)]
    else:
        wl["throughput"].pop("acorn")
    result = greenfield(options_of(load(data)))
    if result.cost is None:
        return  # nothing can serve all the work, even buying: no premium to compare
    for figures in result.vendors.values():
        premium = figures["greenfield_premium_per_hour"]
        if premium is not None:
            assert premium >= -1e-6 * max(result.cost, 1.0)


@pytest.mark.parametrize(
    "example", ["hyperscaler-2026.yaml", "hyperscaler-sites.yaml", "in-house-option.yaml"]
)
def test_the_bundled_examples_price_lock_in_for_every_vendor(example):
    rec = api.leverage(EXAMPLES / example)
    vendors = {g.vendor for g in rec.greenfield or []}
    assert vendors >= {v.vendor for v in rec.vendors}
    for g in rec.greenfield or []:
        assert g.greenfield_premium_per_hour is not None and g.greenfield_premium_per_hour >= 0
    if example == "in-house-option.yaml":  # the option caps both vendors' prices at today's
        assert "in-house" in vendors
        for g in rec.greenfield or []:
            if g.vendor != "in-house":
                assert g.switch_multiplier_with_in_house == 1.0


def test_a_purchasable_pool_of_none_yet_is_left_out_of_todays_plan(tmp_path):
    data = copy.deepcopy(SCENARIO)
    data["pools"][2].update(count=0, purchasable=True, max_purchase=1000)
    path = write(tmp_path, data)
    plan = api.plan(path)
    assert "tpu" not in {p.pool for p in plan.pools}  # not part of today's fleet
    rec = api.leverage(path)
    assert "google" not in {v.vendor for v in rec.vendors}
    by = {g.vendor: g for g in rec.greenfield or []}
    # google alone rents all 150 TPUs at $3: 450 $/h against 300 with all
    assert by["google"].greenfield_premium_per_hour == pytest.approx(150.0)
