"""Cost per accelerator-hour: a hand-computed case, the defaults, and the pool path."""

from __future__ import annotations

import pytest

from polyfleet.catalog import load_catalog
from polyfleet.economics.cost import annuity_factor, owned_cost
from polyfleet.inputs.cost import COST_DEFAULTS, OwnedCost, PoolCost
from polyfleet.inputs.scenario import Pool
from polyfleet.plan.pricing import pool_breakdown


def test_annuity_is_the_capital_recovery_factor():
    assert annuity_factor(0.0, 4) == 0.25
    # 10 % over 2 years: payment p with p/1.1 + p/1.21 = 1  ->  p = 1.21 / 2.1
    assert annuity_factor(0.10, 2) == pytest.approx(1.21 / 2.1)
    assert annuity_factor(0.08, 4) > 0.25  # financing costs more than straight division


def test_owned_cost_matches_a_hand_computation():
    h100 = load_catalog()["h100-sxm"]  # DGX H100: 10.2 kW per 8 GPUs -> 1.275 kW IT per GPU
    terms = OwnedCost(
        node_per_gpu=6_000,
        network_per_gpu=2_000,
        facility_per_mw=8e6,
        amortize_years=2,
        facility_years=2,
        cost_of_capital=0.10,
        maintenance_frac_per_year=0.05,
        power_price_per_mwh=100,
        utilisation=0.8,
    )
    b = owned_cost(h100, 20_000, terms, 1.5)
    a = 1.21 / 2.1 / 8760  # annuity at 10 % over 2 years, per hour
    assert b.it_kw == pytest.approx(1.275) and b.facility_kw == pytest.approx(1.9125)
    assert b.per_hour["gpu"] == pytest.approx(20_000 * a)
    assert b.per_hour["node"] == pytest.approx(6_000 * a)
    assert b.per_hour["network"] == pytest.approx(2_000 * a)
    assert b.per_hour["facility"] == pytest.approx(8e6 * 1.275e-3 * a)  # $10,200 of building
    assert b.per_hour["maintenance"] == pytest.approx(28_000 * 0.05 / 8760)
    assert b.per_hour["power"] == pytest.approx(1.275 * 1.5 * 0.8 * 100 / 1000)  # $0.153/h
    assert b.total == pytest.approx(38_200 * a + 1400 / 8760 + 0.153)
    assert b.assumed == () and b.gpus_per_gw == pytest.approx(1e6 / 1.9125)


def test_defaults_are_applied_and_reported_as_assumptions():
    acc = load_catalog()["mi300x"]
    terms = OwnedCost(
        cost_of_capital=0.0,
        amortize_years=4,
        power_price_per_mwh=70,
        utilisation=1,
        maintenance_frac_per_year=0,
        facility_years=15,
    )
    b = owned_cost(acc, 10_000, terms, 1.3)
    assert b.capital["node"] == pytest.approx(COST_DEFAULTS["node_per_gpu"].value * 10_000)
    assert b.capital["network"] == pytest.approx(COST_DEFAULTS["network_per_gpu"].value * 10_000)
    assert b.capital["facility"] == pytest.approx(
        COST_DEFAULTS["facility_per_mw"].value * b.it_kw / 1000
    )
    assert set(b.assumed) == {"node_per_gpu", "network_per_gpu", "facility_per_mw"}
    explicit = owned_cost(acc, 10_000, OwnedCost(node_per_gpu=0, network_per_gpu=0), 1.3)
    assert explicit.capital["node"] == 0 and "node_per_gpu" not in explicit.assumed


def test_pool_breakdown_rented_owned_and_catalog():
    cat = load_catalog()
    acc = cat["h200-sxm"]
    rented = Pool(name="r", accelerator=acc.id, count=1, cost=PoolCost(per_gpu_hour=3.0))
    assert pool_breakdown(rented, acc).total == 3.0
    assert pool_breakdown(Pool(name="c", accelerator=acc.id, count=1), acc).total == (
        acc.price.per_gpu_hour
    )
    owned = Pool(
        name="o",
        accelerator=acc.id,
        count=1,
        pue=1.25,
        cost=PoolCost(capex_per_gpu=35_000, cost_of_capital=0.08, power_price_per_mwh=75),
    )
    direct = owned_cost(acc, 35_000, OwnedCost(cost_of_capital=0.08, power_price_per_mwh=75), 1.25)
    assert pool_breakdown(owned, acc).total == pytest.approx(direct.total)
