"""The leverage record (`polyfleet leverage`): per vendor, the price rise that moves work away,
the one that drops it, the lock-in premium and the share limits' shadow prices."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record

__all__ = ["LeverageRecord", "VendorLeverage"]


class VendorLeverage(Part):
    vendor: str
    base_work_share: float
    switch_multiplier: float | None
    switch_multiplier_below: float
    switch_reason: str | None
    drop_multiplier: float | None
    drop_multiplier_below: float
    drop_reason: str | None
    single_vendor_cost_per_hour: float | None
    single_vendor_status: str
    single_vendor_why: list[str]
    lock_in_premium_per_hour: float | None
    share_duals_per_point: dict[str, float]
    evaluations: int


class LeverageRecord(Record):
    NAME = "leverage"
    format: Literal["polyfleet.leverage"] = "polyfleet.leverage"
    schema_version: Literal[1] = 1
    cost_per_hour: float
    cost_without_share_limits: float | None
    share_limits_cost_per_hour: float | None
    precision: float
    solves: int
    seconds: float
    vendors: list[VendorLeverage]
