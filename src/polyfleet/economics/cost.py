"""Cost per accelerator-hour and facility power per accelerator.

Owned:  capex · annuity(r, years) / 8760 + capex · maintenance / 8760 + kW_facility · $/MWh / 1000
        annuity(r, n) = r / (1 − (1 + r)^−n), or 1/n when r = 0 (straight-line).
Rented: the price per GPU-hour (power is in the price).
"""

from __future__ import annotations

from polyfleet.catalog import Accelerator
from polyfleet.scenario import Pool

HOURS_PER_YEAR = 8760.0
#: Node watts per accelerator over its TDP when the catalog has no system figure: the DGX H100
#: (10.2 kW / 8 / 700 W = 1.82) and DGX B200 (14.3 kW / 8 / 1000 W = 1.79) ratios, rounded.
DEFAULT_NODE_OVERHEAD = 1.8


def annuity_factor(rate: float, years: float) -> float:
    """Yearly payment per unit of capital repaid over `years` at `rate` (capital recovery factor)."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def facility_kw(acc: Accelerator, pue: float) -> float:
    """kW at the facility meter per accelerator: node share (or TDP × overhead) × PUE."""
    return acc.facility_watts(pue, DEFAULT_NODE_OVERHEAD) / 1000.0


def pool_cost_per_hour(pool: Pool, acc: Accelerator) -> float:
    """USD per accelerator-hour of `pool`: its rent, or its owned cost, else the catalog's rent."""
    cost = pool.cost
    if cost is None:
        if acc.price.per_gpu_hour is None:
            raise ValueError(f"pool {pool.name}: no cost and no catalog price for {acc.id}")
        return acc.price.per_gpu_hour
    if cost.per_gpu_hour is not None:
        return cost.per_gpu_hour
    assert cost.capex_per_gpu is not None  # guaranteed by PoolCost validation
    capital = cost.capex_per_gpu * annuity_factor(cost.cost_of_capital, cost.amortize_years)
    upkeep = cost.capex_per_gpu * cost.maintenance_frac_per_year
    power = facility_kw(acc, pool.pue) * (cost.power_price_per_mwh or 0.0) / 1000.0
    return (capital + upkeep) / HOURS_PER_YEAR + power
