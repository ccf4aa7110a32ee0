"""Economics: what an accelerator-hour costs, and the power it draws."""

from polyfleet.economics.cost import (
    DEFAULT_NODE_OVERHEAD,
    HOURS_PER_YEAR,
    annuity_factor,
    facility_kw,
    pool_cost_per_hour,
)

__all__ = [
    "DEFAULT_NODE_OVERHEAD",
    "HOURS_PER_YEAR",
    "annuity_factor",
    "facility_kw",
    "pool_cost_per_hour",
]
