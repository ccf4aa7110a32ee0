"""The leverage record (`polyfleet leverage`): per vendor, the price rise that moves work away,
the one that drops it, the lock-in premium and the share limits' shadow prices."""

from __future__ import annotations

from typing import Literal

from polyfleet.results.base import Part, Record, omitted

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


class GreenfieldVendor(Part):
    """A vendor's lock-in premium if the fleet bought (and built) accordingly: least cost with
    only its pools, bought and built ones included, minus least cost with all."""

    vendor: str
    greenfield_cost_per_hour: float | None
    greenfield_premium_per_hour: float | None
    greenfield_premium_per_year: float | None
    greenfield_status: str
    greenfield_why: list[str]
    switch_multiplier_with_in_house: float | None = omitted(
        "The multiplier on its prices at which work moves away when the fleet may also build "
        "(null inside the record: no work moves up to x1000)."
    )
    switch_with_in_house_reason: str | None = omitted("Why, where it is 1 or never.")


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
    greenfield_cost_per_hour: float | None = omitted(
        "Least cost with every pool, bought and built ones included, without share limits."
    )
    greenfield_builds_used: list[str] | None = omitted("The builds that least-cost plan uses.")
    greenfield: list[GreenfieldVendor] | None = omitted(
        "Per vendor, the lock-in premium where the scenario can buy (purchasable pools) or "
        "build (builds:)."
    )
    greenfield_note: str | None = omitted("Why there is no greenfield premium.")
