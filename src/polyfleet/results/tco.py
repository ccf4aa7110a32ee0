"""The tco record (`polyfleet tco`): one owned accelerator-hour, component by component."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Record
from polyfleet.results.common import Assumption, CostBreakdown

__all__ = ["TcoRecord"]


class TcoRecord(CostBreakdown, Record):
    NAME = "tco"
    format: Literal["polyfleet.tco"] = "polyfleet.tco"
    schema_version: Literal[1] = 1
    accelerator_name: str
    amortize_years: float  # of the GPU, node and network
    cost_of_capital: float
    gpu_price_source: str
    gpu_price_unconfirmed: bool
    catalog_rent_per_gpu_hour: float | None
    assumptions: list[Assumption]
