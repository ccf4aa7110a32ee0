"""The build-vs-buy record (`polyfleet build-vs-buy`): an in-house accelerator against buying or
renting a catalogued part for the same work: break-even volume, cost by year, and the expected
value with the risk that it ships a year late."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record
from polyfleet.results.common import Assumption

__all__ = ["BuildVsBuyRecord"]


class BuildYear(Part):
    year: int
    units: int  # build units the work needs in service
    buy: float  # USD that year, buying (or renting) the alternative
    build_on_time: float  # building, shipping in the first ship year (bridged by buying)
    build_slipped: float  # building, shipping a year late
    build_expected: float  # weighted by the slip probability


class BuildNpv(Part):
    buy: float
    build_on_time: float
    build_slipped: float
    build_expected: float


class BuildVsBuyRecord(Record):
    NAME = "build-vs-buy"
    format: Literal["polyfleet.build-vs-buy"] = "polyfleet.build-vs-buy"
    schema_version: Literal[1] = 1
    name: str
    accelerator: str  # the build (its catalog id)
    vendor: str
    reference: str  # the catalogued part the build's performance is relative to
    work: str
    instead: str
    instead_basis: Literal["owned", "rented"]
    instead_per_build: float  # units of the alternative that do one build unit's work
    nre: float
    first_ship_year: int
    slip_probability: float
    discount_rate: float
    build_cost_per_unit_year: float
    instead_cost_per_unit_year: float
    bought_cost_per_build_unit_year: float
    saving_per_unit_year: float
    break_even_unit_years: float | None
    break_even_units: float | None  # over the build's service life
    break_even_reason: str | None
    cost_by_year: list[BuildYear]
    npv: BuildNpv
    expected_saving: float  # NPV of buying minus the expected NPV of building
    decision: Literal["build", "buy"]
    assumptions: list[Assumption]
