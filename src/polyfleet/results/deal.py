"""The deal record (`polyfleet deal`): a supply deal's warrant valued by Monte Carlo and netted
against the hardware cost. A plan lists the deals its pools buy under with the same fields."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record, omitted
from polyfleet.results.common import CostBreakdown

__all__ = ["DealRecord", "DealValuation", "Warrant"]


class Tranche(Part):
    shares: float
    vests_at_gw: float
    price_hurdle: float | None
    milestone_date: str | None
    milestone_met: bool
    hurdle_probability: float
    value: float


class SensitivityPoint(Part):
    """The warrant's value at one volatility and spot (common random numbers)."""

    volatility: float
    spot: float
    value: float


class Fan(Part):
    """Quantiles of the simulated share price: `price[q][t]` at `quantiles[q]`, `years[t]`."""

    years: list[float]
    quantiles: list[float]
    price: list[list[float]]


class Warrant(Part):
    value: float
    ci95: tuple[float, float]
    stderr: float
    paths: int
    monitoring_steps: int
    steps_per_year: int
    seed: int
    seconds: float
    rule: str
    tranches: list[Tranche]
    sensitivity: list[SensitivityPoint]
    fan: Fan | None = omitted("The fan chart's data, when asked for.")


class DealValuation(Part):
    """A valued deal: what it delivers, its warrant, and the cost per GPU net of it."""

    deal: str
    vendor: str
    accelerator: str
    valuation_date: str
    committed_gw: float
    deployed_gw: float
    gpus_per_gw: float
    gpus_delivered: float
    price_per_gpu: float
    warrant_value: float
    warrant_per_gpu: float
    warrant_credit_per_mw: float
    net_price_per_gpu: float
    gross_per_gpu_hour: float
    net_per_gpu_hour: float
    cost: CostBreakdown
    assumptions: list[str]
    sources: dict[str, str]
    warrant: Warrant | None = omitted("None when the deal has no warrant.")


class DealRecord(DealValuation, Record):
    NAME = "deal"
    format: Literal["polyfleet.deal"] = "polyfleet.deal"
    schema_version: Literal[1] = 1
