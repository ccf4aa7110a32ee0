"""Economics: what an accelerator-hour costs, the power it draws, and what supply deals return."""

from polyfleet.economics.cost import (
    DEFAULT_NODE_OVERHEAD,
    HOURS_PER_YEAR,
    CostBreakdown,
    annuity_factor,
    facility_kw,
    gpus_per_gw,
    owned_cost,
    pool_cost,
    rented_cost,
)

__all__ = [
    "DEFAULT_NODE_OVERHEAD",
    "HOURS_PER_YEAR",
    "CostBreakdown",
    "annuity_factor",
    "facility_kw",
    "gpus_per_gw",
    "owned_cost",
    "pool_cost",
    "rented_cost",
]
