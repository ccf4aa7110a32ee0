"""The procurement record (`polyfleet procure`): what to buy, year by year, what it costs, the
GW it deploys, the warrant tranches it vests, and what each binding limit costs."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record, omitted

__all__ = ["ProcurementRecord"]


class Purchase(Part):
    year: int
    accelerator: str
    site: str | None = omitted("The site it is bought for (files with sites).")
    vendor: str
    nodes: int  # units bought: nodes, racks of a rack-scale part, or GPUs rented for the year
    unit: Literal["node", "rack", "gpu"] = "node"
    gpus: int
    capex: float
    deal: str | None


class NotOffered(Part):
    """An offer a site cannot take (a rack too hot for its cooling), and why."""

    accelerator: str
    site: str
    reason: str


class YearCost(Part):
    year: int
    capex: float
    opex: float  # power and upkeep of what is owned, rent of what is rented
    nre: float | None = omitted("In-house builds' NRE paid that year (files with builds).")
    total: float
    discounted: float


class BuildDecision(Part):
    """Whether an in-house build's NRE is paid: its units can be bought only if it is."""

    build: str
    nre: float
    paid: bool


class TrancheVesting(Part):
    deal: str
    tranche: int
    vests_at_gw: float
    value: float
    vested: bool


class Shortfall(Part):
    workload: str
    year: int
    short_fraction: float
    short_units: float
    why: str | None = omitted("Why no offered or installed kind can serve it.")


class Violation(Part):
    limit: str
    by: float
    unit: str


class LimitCost(Part):
    limit: str
    kind: str
    saving_if_lifted: float


class VendorLockIn(Part):
    """What buying from one vendor only would cost more, without share limits."""

    vendor: str
    status: str
    premium: float | None  # discounted USD over the horizon
    premium_by_year: list[float] | None  # USD each year, undiscounted
    why: list[str]


class LockIn(Part):
    base_status: str  # of the procurement with every vendor and no share limits
    base_objective: float | None
    vendors: list[VendorLockIn]


class ProcurementRecord(Record):
    NAME = "procurement"
    format: Literal["polyfleet.procurement"] = "polyfleet.procurement"
    schema_version: Literal[1] = 1
    name: str
    status: str
    solver_status: str
    objective: float | None
    mip_gap: float | None
    seconds: float
    years: list[int]
    schedule: list[Purchase]
    cost_by_year: list[YearCost]
    gw_by_vendor: dict[str, list[float]]
    installed: dict[str, list[float]]  # by kind: the accelerator, or accelerator@site
    mw_by_site: dict[str, list[float]] | None = omitted(
        "Facility MW each site's installed fleet draws, year by year."
    )
    not_offered: list[NotOffered] | None = omitted("Offers a site cannot take, and why.")
    builds: list[BuildDecision] | None = omitted("In-house builds: whether each NRE is paid.")
    tranches: list[TrancheVesting]
    shortfalls: list[Shortfall]
    violations: list[Violation]
    binding_limits: list[LimitCost]
    lock_in: LockIn | None = omitted("Each vendor's lock-in premium (procure --lock-in).")
