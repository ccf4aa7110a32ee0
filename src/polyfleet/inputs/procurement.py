"""The procurement file: years, what can be bought or rented, what can be built, what is
installed, limits, demand and deals.

A procurement plan buys whole nodes of accelerator kinds (whole racks of rack-scale parts) year by
year so that every year's demand is served within that year's capex budget and power envelope
(GW, the fleet's and each site's), vendor-share bounds and deal commitments;
`polyfleet.plan.procure` solves it as a mixed-integer program. Every GPU it buys is
costed with the shared owned-cost terms (`costing`), whose left-out terms take the documented
defaults of inputs/cost.py. An offer of a rent-only part (a TPU), or one given `per_gpu_hour`, is
rented instead: GPUs a year at that price, in the provider's data centres (no capex, outside the
power caps). `builds:` are in-house accelerators (inputs/build.py): a build can be bought from
its ship year only if its NRE is paid, a yes-or-no decision of the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from polyfleet.catalog import Catalog, load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    LIMITS,
    RANGES,
    Budget,
    Count,
    Fraction,
    Growth,
    InputModel,
    LifeYears,
    MipGap,
    NodesPerYear,
    PositiveFraction,
    PowerCapGw,
    PowerPrice,
    PricePerGpu,
    PricePerGpuHour,
    Pue,
    Tier,
    TimeLimitS,
    Year,
)
from polyfleet.inputs.build import Build, add_builds, check_ship_years
from polyfleet.inputs.convert import resolve_name, validate
from polyfleet.inputs.cost import OwnedCost, cost_term
from polyfleet.inputs.deal import Deal, load_deals
from polyfleet.inputs.reader import dotted, line_of, read_document
from polyfleet.inputs.scenario import TierPolicy, VendorShare, Workload
from polyfleet.inputs.site import SiteBase, check_site_names, rack_refusal

__all__ = [
    "LoadedProcurement",
    "Procurement",
    "ProcurementSite",
    "load_procurement",
    "parse_procurement",
]

MAX_YEARS = int(LIMITS["procurement_years"].value)


def _each_year(item: Any) -> Any:
    """A list with a value per year, where one number (not in a list) holds for every year. The
    number is checked on its own, so that its error names the field and not a list index."""
    one = TypeAdapter(item)

    def spread(value: Any) -> Any:
        if isinstance(value, list):
            return value
        try:
            one.validate_python(value)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"]
            raise PydanticCustomError("each_year", "{msg}", {"msg": msg}) from None
        return [value]

    return Annotated[list[item], BeforeValidator(spread)]


#: The owned-cost terms a procurement file gives at its top level.
_COST_TERMS = ("power_price_per_mwh", "utilisation", "maintenance_frac_per_year")
PerYearBudget = _each_year(Budget)
PerYearPowerCapGw = _each_year(PowerCapGw)


class Offer(InputModel):
    """An accelerator kind that can be bought, from a year on, at a price per GPU: whole nodes,
    or whole racks of a rack-scale part; with sites, at every site that can cool it. A rent-only
    part, or one given `per_gpu_hour`, is rented instead (GPUs a year; no site, no capex)."""

    accelerator: str
    price_per_gpu: PricePerGpu | None = None  # None: the deal's, else catalog's
    per_gpu_hour: PricePerGpuHour | None = None  # rented at this price (None: catalog's rent)
    available_from: Year | None = None
    life_years: LifeYears = 5
    max_nodes_per_year: NodesPerYear | None = None  # nodes (racks) a year, all sites together
    deal: str | None = None


class Installed(InputModel):
    """Accelerators already in service; they serve every year before `retire_year`."""

    accelerator: str
    count: Count
    retire_year: Year
    deal: str | None = None  # counts toward that deal's deployed gigawatts
    site: str | None = None  # a name under `sites:`


class ProcurementSite(SiteBase):
    """A site purchases go to: the facility power its installed fleet may draw, year by year (GW;
    one number holds for every year; None: only the fleet's cap), its PUE and cooling."""

    power_cap_gw: PerYearPowerCapGw | None = None


class ProcurementLimits(InputModel):
    budget_per_year: PerYearBudget  # capex, USD
    power_cap_gw: PerYearPowerCapGw  # facility power of the installed fleet
    vendor_share: VendorShare | None = None


class Procurement(InputModel):
    name: str = "procurement"
    years: list[Year] = Field(min_length=1, max_length=MAX_YEARS)
    discount_rate: Fraction = 0.08
    # the owned-cost terms of every GPU bought (OwnedCost's, with its defaults)
    pue: Pue = cost_term("pue")
    power_price_per_mwh: PowerPrice = cost_term("power_price_per_mwh")
    utilisation: PositiveFraction = cost_term("utilisation")
    maintenance_frac_per_year: Fraction = cost_term("maintenance_frac_per_year")
    mip_gap: MipGap = 1e-3
    time_limit_s: TimeLimitS = 60.0
    limits: ProcurementLimits
    tiers: dict[Tier, TierPolicy] = Field(default_factory=dict)
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    sites: list[ProcurementSite] = Field(default_factory=list)
    offers: list[Offer] = Field(default_factory=list)
    builds: list[Build] = Field(default_factory=list)
    installed: list[Installed] = Field(default_factory=list)
    workloads: list[Workload] = Field(min_length=1)
    growth: dict[str, Growth] = Field(default_factory=dict)  # workload -> demand factor per year
    deals: list[str] = Field(default_factory=list)

    def rented(self, offer: Offer, catalog: Catalog) -> bool:
        """Whether an offer is rented: a rent-only part, or a rental price given."""
        return offer.per_gpu_hour is not None or catalog[offer.accelerator].rent_only

    def per_year(self, value: list[float]) -> list[float]:
        """A value for each year: one value (a number in the file) holds for every year."""
        return list(value) if len(value) > 1 else [float(value[0])] * len(self.years)

    @property
    def costing(self) -> OwnedCost:
        """The owned-cost terms of every GPU bought: the file's, the rest defaulted (and known
        as such). Capital is paid when bought and discounted at `discount_rate`, so the
        financing terms (amortize_years, cost_of_capital) play no part."""
        given = {k: getattr(self, k) for k in _COST_TERMS if k in self.model_fields_set}
        return OwnedCost.model_validate(given)


class LoadedProcurement(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    procurement: Procurement
    catalog: Catalog
    file: str
    deals: dict[str, Deal] = Field(default_factory=dict)


def parse_procurement(
    data: Any, *, file: str = "<procurement>", text: str | None = None
) -> LoadedProcurement:

    def fail(msg: str, loc: list[str | int], value: Any) -> InputError:
        return InputError(msg, file=file, field=dotted(loc), value=value, line=line_of(text, loc))

    proc = validate(Procurement, data, file=file, text=text, what="a procurement file")
    _check_shape(proc, fail)
    if not proc.offers and not proc.builds:
        raise fail("nothing to buy: give offers or builds", ["offers"], [])
    catalog = add_builds(load_catalog(proc.catalog, file=file, text=text), proc.builds, fail)
    check_ship_years(proc.builds, proc.years, fail)

    def resolve(name: str, loc: list[str | int]) -> str:
        return resolve_name(catalog, name, loc, file=file, text=text)

    _check_needs(proc, set(catalog.vendors), resolve, fail)

    deals = load_deals(proc.deals, file=file, text=text, catalog=catalog)
    seen: set[str] = set()
    for i, offer in enumerate(proc.offers):
        offer.accelerator = resolve(offer.accelerator, ["offers", i, "accelerator"])
        if catalog[offer.accelerator].relative is not None:
            raise fail(
                "a build is bought through its `builds:` entry, not offered",
                ["offers", i, "accelerator"],
                offer.accelerator,
            )
        if proc.rented(offer, catalog):
            _check_rental(proc, catalog, offer, ["offers", i], fail)
        else:
            _check_buyable(catalog, offer.accelerator, ["offers", i, "accelerator"], fail)
        if offer.accelerator in seen:
            raise fail(
                "an accelerator is offered twice", ["offers", i, "accelerator"], offer.accelerator
            )
        seen.add(offer.accelerator)
        if offer.available_from is not None and offer.available_from > proc.years[-1]:
            raise fail(
                f"the offer is available from {offer.available_from}, after the last year of the "
                f"horizon ({proc.years[-1]}): no year could buy it",
                ["offers", i, "available_from"],
                offer.available_from,
            )
        if offer.deal is not None and offer.deal not in deals:
            raise fail(
                f"unknown deal; deals: {', '.join(deals) or 'none'}",
                ["offers", i, "deal"],
                offer.deal,
            )
        price = offer.price_per_gpu
        if (
            price is None
            and not proc.rented(offer, catalog)
            and offer.deal is None
            and catalog[offer.accelerator].price.purchase is None
        ):
            raise fail(
                f"no price: the catalog has no purchase price for {offer.accelerator}; give price_per_gpu",
                ["offers", i],
                None,
            )
    sites = check_site_names(proc.sites, fail)
    for i, inst in enumerate(proc.installed):
        inst.accelerator = resolve(inst.accelerator, ["installed", i, "accelerator"])
        _check_buyable(catalog, inst.accelerator, ["installed", i, "accelerator"], fail)
        if inst.deal is not None and inst.deal not in deals:
            raise fail("unknown deal", ["installed", i, "deal"], inst.deal)
        if inst.site is not None:
            site = sites.get(inst.site)
            if site is None:
                raise fail(
                    f"unknown site; sites: {', '.join(sites) or 'none'}",
                    ["installed", i, "site"],
                    inst.site,
                )
            refusal = rack_refusal(catalog[inst.accelerator], site)
            if refusal:
                raise fail(
                    f"installed {inst.accelerator} cannot be at site {site.name}: {refusal}",
                    ["installed", i, "site"],
                    inst.site,
                )
    if proc.limits.vendor_share is not None:
        vendors = (
            {catalog[o.accelerator].vendor for o in proc.offers}
            | {catalog[i.accelerator].vendor for i in proc.installed}
            | {b.vendor for b in proc.builds}
        )
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


def _check_rental(
    proc: Procurement, catalog: Catalog, offer: Offer, loc: list[str | int], fail: Any
) -> None:
    """A rented offer has a rental price, no purchase price or deal, and, where the vendor
    shares count power, a power figure."""
    acc = catalog[offer.accelerator]
    if offer.price_per_gpu is not None:
        refusal = acc.no_purchase_reason()
        if refusal:  # it cannot be bought at any price: point at the part, as for any buy
            raise fail(f"{refusal}: rent it (per_gpu_hour)", [*loc, "accelerator"], acc.id)
        raise fail(
            "a rented offer (per_gpu_hour) has no purchase price",
            [*loc, "price_per_gpu"],
            offer.price_per_gpu,
        )
    if offer.deal is not None:
        raise fail("a rented offer cannot be bought under a deal", [*loc, "deal"], offer.deal)
    if offer.per_gpu_hour is None and acc.price.per_gpu_hour is None:
        raise fail(
            f"no price: the catalog has no rental price for {acc.id}; give per_gpu_hour",
            loc,
            None,
        )
    share = proc.limits.vendor_share
    if share is not None and share.measure == "power" and not acc.power_known:
        raise fail(
            f"the catalog has no power figure for {acc.id}, which vendor shares by power count "
            "(give tdp_w or node_power_kw under catalog:)",
            [*loc, "accelerator"],
            acc.id,
        )


def _check_buyable(catalog: Catalog, acc_id: str, loc: list[str | int], fail: Any) -> None:
    """What procurement buys or owns must exist for sale, and have a power figure to count."""
    acc = catalog[acc_id]
    refusal = acc.no_purchase_reason()
    if refusal:
        raise fail(f"procurement buys and owns accelerators, and {refusal}", loc, acc_id)
    if not acc.power_known:
        raise fail(
            f"the catalog has no power figure for {acc_id}, which the power caps need "
            "(give tdp_w or node_power_kw under catalog:)",
            loc,
            acc_id,
        )


def _check_needs(proc: Procurement, vendors: set[str], resolve: Any, fail: Any) -> None:
    """The vendors and accelerators a workload or tier is limited to are ones the catalog knows,
    as in a scenario (accelerators by id or alias): a misspelt one would otherwise leave the work
    nothing to run on, an infeasible plan."""
    known = f"unknown vendor; known: {', '.join(sorted(vendors))}"
    limited: list[tuple[list[str | int], Any]] = [
        (["workloads", i, "needs"], wl.needs) for i, wl in enumerate(proc.workloads)
    ]
    limited += [(["tiers", tier], policy) for tier, policy in proc.tiers.items()]
    for loc, need in limited:
        for j, vendor in enumerate(need.vendors or []):
            if vendor not in vendors:
                raise fail(known, [*loc, "vendors", j], vendor)
        if need.accelerators:
            need.accelerators = [
                resolve(a, [*loc, "accelerators", j]) for j, a in enumerate(need.accelerators)
            ]


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
        if len(value) not in (1, n):
            raise fail(f"{len(value)} values for {n} years", ["limits", key], value)
    for i, site in enumerate(proc.sites):
        cap = site.power_cap_gw
        if cap is not None and len(cap) not in (1, n):
            raise fail(f"{len(cap)} values for {n} years", ["sites", i, "power_cap_gw"], cap)
    names = [w.name for w in proc.workloads]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise fail("duplicate workload name", ["workloads", i, "name"], name)
    top = RANGES["demand"]
    for name, factor in proc.growth.items():
        if name not in names:
            raise fail("growth names an unknown workload", ["growth", name], name)
        demand = proc.workloads[names.index(name)].demand.value
        grown = demand * factor ** (n - 1)
        if not top.contains(grown):
            raise fail(
                f"grows the demand of {name} from {demand:g} to {grown:.3g} by {proc.years[-1]}, "
                f"beyond the {top.rule()} {top.unit} a demand may be",
                ["growth", name],
                factor,
            )


def load_procurement(path: str | Path) -> LoadedProcurement:
    path = Path(path)
    data, text = read_document(path)
    return parse_procurement(data, file=str(path), text=text)
