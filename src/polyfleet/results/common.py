"""Parts several records share: a coupling row's key, an assumed default, a cost breakdown."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, omitted

__all__ = ["Assumption", "CostBreakdown", "RowKey"]


class RowKey(Part):
    """A coupling row's structured key: ("capacity", pool), ("power", None for the fleet or a
    site), ("share_max" | "share_min", vendor). Read by key, never by parsing a display name."""

    kind: str
    subject: str | None


class Assumption(Part):
    """A documented default a cost took because its input left the term out."""

    term: str
    value: float
    unit: str
    source: str
    pools: list[str] | None = omitted("The pools that took it (in a plan).")


class CostBreakdown(Part):
    """USD per accelerator-hour by component (owned: gpu, node, network, facility, maintenance,
    power; rented: rent), net of a deal's warrant credit, and the power behind it."""

    accelerator: str
    basis: Literal["owned", "rented"]
    per_gpu_hour: dict[str, float]
    gross_per_gpu_hour: float
    deal: str | None
    deal_credit_per_gpu_hour: float
    net_per_gpu_hour: float
    per_gpu_year: float
    capital_per_gpu: dict[str, float]
    it_kw_per_gpu: float
    facility_kw_per_gpu: float
    gpus_per_gw: float
    assumed_defaults: list[str]
