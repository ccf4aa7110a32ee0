"""The procurement record (`polyfleet procure`): what to buy, year by year, what it costs, the
GW it deploys, the warrant tranches it vests, and what each binding limit costs."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record, omitted

__all__ = ["ProcurementRecord"]


class Purchase(Part):
    year: int
    accelerator: str
    vendor: str
    nodes: int
    gpus: int
    capex: float
    deal: str | None


class YearCost(Part):
    year: int
    capex: float
    opex: float
    total: float
    discounted: float


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
    installed: dict[str, list[float]]
    tranches: list[TrancheVesting]
    shortfalls: list[Shortfall]
    violations: list[Violation]
    binding_limits: list[LimitCost]
