"""The procurement file: years, what can be bought, what is installed, limits, demand and deals.

A procurement plan buys whole nodes of accelerator kinds year by year so that every year's demand
is served within that year's capex budget and power envelope (GW), vendor-share bounds and deal
commitments; `polyfleet.plan.procure` solves it as a mixed-integer program.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polyfleet.catalog import Catalog, load_catalog
from polyfleet.economics.deal import Deal, load_deals
from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs import dotted, field_path, input_error, line_of, read_document
from polyfleet.scenario import TierPolicy, VendorShare, Workload

__all__ = ["LoadedProcurement", "Procurement", "load_procurement", "parse_procurement"]

PerYear = float | list[float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Offer(_Model):
    """An accelerator kind that can be bought, from a year on, at a price per GPU."""

    accelerator: str
    price_per_gpu: float | None = Field(default=None, gt=0)  # None: the deal's, else catalog's
    available_from: int | None = None
    life_years: int = Field(default=5, gt=0)
    max_nodes_per_year: int | None = Field(default=None, ge=0)
    deal: str | None = None


class Installed(_Model):
    """Accelerators already in service; they serve every year before `retire_year`."""

    accelerator: str
    count: int = Field(ge=0)
    retire_year: int
    deal: str | None = None  # counts toward that deal's deployed gigawatts


class ProcurementLimits(_Model):
    budget_per_year: PerYear  # capex, USD
    power_cap_gw: PerYear  # facility power of the installed fleet
    vendor_share: VendorShare | None = None

    @field_validator("budget_per_year", "power_cap_gw")
    @classmethod
    def _positive(cls, value: PerYear) -> PerYear:
        values = value if isinstance(value, list) else [value]
        if any(v <= 0 for v in values):
            raise ValueError("must be positive")
        return value


class Procurement(_Model):
    name: str = "procurement"
    years: list[int] = Field(min_length=1)
    discount_rate: float = Field(default=0.08, ge=0, le=1)
    pue: float = Field(default=1.2, ge=1.0, le=3.0)
    power_price_per_mwh: float = Field(default=70.0, ge=0)
    utilisation: float = Field(default=1.0, gt=0, le=1)
    maintenance_frac_per_year: float = Field(default=0.0, ge=0, le=1)
    mip_gap: float = Field(default=1e-3, gt=0, le=0.5)
    time_limit_s: float = Field(default=60.0, gt=0)
    limits: ProcurementLimits
    tiers: dict[Literal[1, 2], TierPolicy] = Field(default_factory=dict)
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    offers: list[Offer] = Field(min_length=1)
    installed: list[Installed] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)
    growth: dict[str, float] = Field(default_factory=dict)  # workload -> demand factor per year
    deals: list[str] = Field(default_factory=list)

    def per_year(self, value: PerYear) -> list[float]:
        return list(value) if isinstance(value, list) else [float(value)] * len(self.years)


class LoadedProcurement(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    procurement: Procurement
    catalog: Catalog
    file: str
    deals: dict[str, Deal] = Field(default_factory=dict)


def parse_procurement(
    data: Any, *, file: str = "<procurement>", text: str | None = None
) -> LoadedProcurement:
    if not isinstance(data, dict):
        raise InputError("a procurement file must be a mapping", file=file, value=data)

    def fail(msg: str, loc: list[str | int], value: Any) -> InputError:
        return InputError(msg, file=file, field=dotted(loc), value=value, line=line_of(text, loc))

    try:
        proc = Procurement.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, model=Procurement) from None
    _check_shape(proc, fail)
    try:
        catalog = load_catalog(proc.catalog, file=file)
    except CatalogError as exc:
        if exc.field:
            exc.line = line_of(text, field_path(exc.field))
        raise

    def resolve(name: str, loc: list[str | int]) -> str:
        try:
            return catalog.resolve(name, file=file, field=dotted(loc))
        except CatalogError as exc:
            exc.line = line_of(text, loc)
            raise

    deals = load_deals(proc.deals, file=file, text=text, catalog=catalog)
    seen: set[str] = set()
    for i, offer in enumerate(proc.offers):
        offer.accelerator = resolve(offer.accelerator, ["offers", i, "accelerator"])
        if offer.accelerator in seen:
            raise fail(
                "an accelerator is offered twice", ["offers", i, "accelerator"], offer.accelerator
            )
        seen.add(offer.accelerator)
        if offer.deal is not None and offer.deal not in deals:
            raise fail(
                f"unknown deal; deals: {', '.join(deals) or 'none'}",
                ["offers", i, "deal"],
                offer.deal,
            )
        price = offer.price_per_gpu
        if (
            price is None
            and offer.deal is None
            and catalog[offer.accelerator].price.purchase is None
        ):
            raise fail(
                f"no price: the catalog has no purchase price for {offer.accelerator}; give price_per_gpu",
                ["offers", i],
                None,
            )
    for i, inst in enumerate(proc.installed):
        inst.accelerator = resolve(inst.accelerator, ["installed", i, "accelerator"])
        if inst.deal is not None and inst.deal not in deals:
            raise fail("unknown deal", ["installed", i, "deal"], inst.deal)
    if proc.limits.vendor_share is not None:
        vendors = {catalog[o.accelerator].vendor for o in proc.offers} | {
            catalog[i.accelerator].vendor for i in proc.installed
        }
        share = proc.limits.vendor_share
        if share.measure == "spend":
            raise fail(
                "a procurement share is by count or power",
                ["limits", "vendor_share", "measure"],
                "spend",
            )
        for bound in ("max", "min"):
            for vendor in getattr(share, bound):
                if vendor not in vendors:
                    raise fail(
                        f"no offered or installed accelerator is from {vendor}",
                        ["limits", "vendor_share", bound, vendor],
                        vendor,
                    )
    return LoadedProcurement(procurement=proc, catalog=catalog, file=file, deals=deals)


def _check_shape(proc: Procurement, fail: Any) -> None:
    """Checks across fields, each naming the field at fault."""
    for i in range(1, len(proc.years)):
        if proc.years[i] != proc.years[i - 1] + 1:
            raise fail(
                f"years must be consecutive: {proc.years[i]} follows {proc.years[i - 1]}",
                ["years", i],
                proc.years[i],
            )
    n = len(proc.years)
    for key in ("budget_per_year", "power_cap_gw"):
        value = getattr(proc.limits, key)
        if isinstance(value, list) and len(value) != n:
            raise fail(f"{len(value)} values for {n} years", ["limits", key], value)
    names = [w.name for w in proc.workloads]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail("duplicate workload name", ["workloads", i, "name"], name)
    for name, factor in proc.growth.items():
        if name not in names:
            raise fail("growth names an unknown workload", ["growth", name], name)
        if factor <= 0:
            raise fail("growth must be positive", ["growth", name], factor)


def load_procurement(path: str | Path) -> LoadedProcurement:
    path = Path(path)
    data, text = read_document(path)
    return parse_procurement(data, file=str(path), text=text)
