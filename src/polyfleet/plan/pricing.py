"""What one accelerator-hour of each of a scenario's pools costs in a plan: its rent or owned
terms, net of the deal it names, and the documented defaults it took.

Economics prices cost terms; this module hands it each pool's terms and lists what it assumed, so
that a plan says which figures are defaults rather than the scenario's (never a silent zero).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from polyfleet.catalog import Accelerator, Catalog
from polyfleet.economics.cost import CostBreakdown, pool_cost
from polyfleet.economics.deal import DealValuation
from polyfleet.inputs.cost import describe
from polyfleet.inputs.scenario import Pool

__all__ = ["cost_assumptions", "pool_breakdown", "pool_cost_per_hour", "priced_pools"]


def pool_breakdown(pool: Pool, acc: Accelerator) -> CostBreakdown:
    """The cost of one accelerator-hour of `pool` (of `acc`) on its own terms, before any deal."""
    owned = pool.cost is not None and not pool.cost.rented
    assumed_pue = owned and "pue" not in pool.model_fields_set
    return pool_cost(acc, pool.cost, pool.pue, pue_assumed=assumed_pue)


def pool_cost_per_hour(pool: Pool, acc: Accelerator) -> float:
    """USD per accelerator-hour of `pool` before any deal credit."""
    return pool_breakdown(pool, acc).total


def priced_pools(
    pools: Sequence[Pool], catalog: Catalog, valuations: Mapping[str, DealValuation]
) -> list[CostBreakdown]:
    """Each pool's cost per accelerator-hour, with the warrant credit of the deal it names.

    The credit is the deal's value per MW times the MW one of the pool's accelerators draws, spread
    like capital: over an owned pool's amortisation at its cost of capital, or, for a rented pool,
    over the deal's own costing terms.
    """
    out = []
    for pool in pools:
        breakdown = pool_breakdown(pool, catalog[pool.accelerator])
        if pool.deal is not None:
            val = valuations[pool.deal]
            terms = pool.cost if pool.cost is not None and not pool.cost.rented else None
            financing = terms or val.deal.costing
            credit = val.credit_per_gpu_hour(
                breakdown.facility_kw / 1000.0, financing.cost_of_capital, financing.amortize_years
            )
            breakdown = breakdown.with_credit(credit, pool.deal)
        out.append(breakdown)
    return out


def cost_assumptions(pools: Sequence[str], costs: Sequence[CostBreakdown]) -> list[dict[str, Any]]:
    """The documented defaults the pools' costs took, one record per term: its value, unit,
    source and the pools that took it."""
    took: dict[str, list[str]] = {}
    for pool, cost in zip(pools, costs, strict=True):
        for term in cost.assumed:
            took.setdefault(term, []).append(pool)
    return [{**row, "pools": took[row["term"]]} for row in describe(took)]
