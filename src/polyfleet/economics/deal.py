"""Supply deals: the deal file, its checks, and what the deal is worth per GPU and per GPU-hour.

A deal commits gigawatts of a vendor's accelerators at a price and may grant warrants on the
vendor's stock that vest, tranche by tranche, as deployed gigawatts reach milestones and the share
price reaches hurdles. `value_deal` prices the warrant (economics/warrant.py) and spreads it over the
gigawatts the deal delivers: a credit per MW, so a pool of any accelerator that names the deal
gets credit in proportion to the power its accelerators draw.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, ValidationError, field_validator, model_validator

from polyfleet.catalog import Accelerator, Catalog, load_catalog
from polyfleet.economics.cost import (
    HOURS_PER_YEAR,
    CostBreakdown,
    OwnedTerms,
    annuity_factor,
    gpus_per_gw,
    owned_cost,
    pool_breakdown,
)
from polyfleet.economics.warrant import (
    FAN_QUANTILES,
    WarrantResult,
    simulate_warrant,
    work_problem,
)
from polyfleet.errors import CatalogError, InputError
from polyfleet.inputs import FieldError, input_error, line_of, read_document, relative_file
from polyfleet.ranges import (
    LIMITS,
    Fraction,
    Gw,
    GwCommitted,
    InputModel,
    McPaths,
    PositiveFraction,
    PowerPrice,
    PricePerGpu,
    PricePerGw,
    Pue,
    Rate,
    Seed,
    SharePrice,
    Shares,
    StepsPerYear,
    Strike,
    Volatility,
    Years,
)

if TYPE_CHECKING:  # the scenario loads deal files, so this module must not import it at run time
    from polyfleet.scenario import Pool

__all__ = [
    "Deal",
    "DealValuation",
    "load_deal",
    "load_deals",
    "parse_deal",
    "priced_pools",
    "simulate_deal",
    "valuation_work",
    "value_deal",
]

DAYS_PER_YEAR = 365.25
#: Price and volatility pairs `value_deal(sensitivity=True)` revalues at.
SENSITIVITY_RUNS = 9
MAX_WARRANT_YEARS = LIMITS["warrant_years"].value
MAX_TRANCHES = int(LIMITS["warrant_tranches"].value)


class CapacityPeriod(InputModel):
    """Gigawatts committed for one period ("2026-H2", "2027", ...)."""

    period: str
    gw: GwCommitted
    binding: bool = False


class DeploymentStep(InputModel):
    """By `date`, `gw` gigawatts (cumulative) of the deal are deployed."""

    date: dt.date
    gw: Gw


class PriceTerms(InputModel):
    """The gross price: per GPU, or per gigawatt (turned into per GPU by the GPUs a GW powers)."""

    per_gpu: PricePerGpu | None = None
    per_gw: PricePerGw | None = None

    @model_validator(mode="after")
    def _one(self) -> PriceTerms:
        if (self.per_gpu is None) == (self.per_gw is None):
            raise ValueError("give exactly one of per_gpu and per_gw")
        return self


class Tranche(InputModel):
    shares: Shares
    vests_at_gw: Gw
    price_hurdle: SharePrice | None = None


class Warrant(InputModel):
    shares: Shares
    strike: Strike
    expiry: dt.date
    tranches: list[Tranche] = Field(min_length=1, max_length=MAX_TRANCHES)

    @model_validator(mode="after")
    def _consistent(self) -> Warrant:
        total = sum(t.shares for t in self.tranches)
        if not math.isclose(total, self.shares, rel_tol=1e-9):
            raise FieldError(
                f"tranche shares sum to {total:,.0f}, not the warrant's {self.shares:,.0f} shares",
                "shares",
            )
        for i in range(1, len(self.tranches)):
            prev, cur = self.tranches[i - 1], self.tranches[i]
            if cur.vests_at_gw < prev.vests_at_gw:
                raise FieldError(
                    f"milestones out of order: tranche {i + 1} vests at {cur.vests_at_gw:g} GW, "
                    f"before tranche {i} at {prev.vests_at_gw:g} GW",
                    "tranches",
                    i,
                    "vests_at_gw",
                )
        return self


class StockModel(InputModel):
    """Geometric Brownian motion under the risk-neutral measure."""

    spot: SharePrice
    volatility: Volatility
    risk_free: Rate
    dividend_yield: Fraction = 0.0


class MonteCarlo(InputModel):
    paths: McPaths = 200_000
    steps_per_year: StepsPerYear = 52
    seed: Seed = 0
    sensitivity_paths: McPaths = 100_000


class OwnedTermsModel(InputModel):
    """How the deal's GPUs are costed per hour (for the gross and net per GPU-hour)."""

    amortize_years: Years = 5.0
    cost_of_capital: Fraction = 0.08
    power_price_per_mwh: PowerPrice = 70.0
    utilisation: PositiveFraction = 1.0


class Deal(InputModel):
    name: str = Field(min_length=1)
    vendor: str
    accelerator: str
    valuation_date: dt.date
    pue: Pue = 1.2
    capacity: list[CapacityPeriod] = Field(min_length=1)
    price: PriceTerms
    warrant: Warrant | None = None
    stock: StockModel | None = None
    deployment: list[DeploymentStep] = Field(min_length=1)
    monte_carlo: MonteCarlo = MonteCarlo()
    costing: OwnedTermsModel = OwnedTermsModel()
    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)

    @field_validator("vendor")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    def price_per_gpu(self, acc: Accelerator) -> float:
        """The gross price of one of `acc`: per GPU, or per GW over the GPUs a GW powers."""
        if self.price.per_gpu is not None:
            return self.price.per_gpu
        return (self.price.per_gw or 0.0) / gpus_per_gw(acc, self.pue)

    @property
    def committed_gw(self) -> float:
        return sum(p.gw for p in self.capacity)

    @property
    def deployed_gw(self) -> float:
        return max(s.gw for s in self.deployment)

    @model_validator(mode="after")
    def _consistent(self) -> Deal:
        for i in range(1, len(self.deployment)):
            a, b = self.deployment[i - 1], self.deployment[i]
            if b.date <= a.date:
                raise FieldError(
                    f"deployment dates must increase: step {i + 1} ({b.date}) is not after "
                    f"step {i} ({a.date})",
                    "deployment",
                    i,
                    "date",
                )
            if b.gw < a.gw:
                raise FieldError(
                    f"deployment is cumulative: step {i + 1} has {b.gw:g} GW, less than "
                    f"step {i}'s {a.gw:g} GW",
                    "deployment",
                    i,
                    "gw",
                )
        if self.deployed_gw > self.committed_gw + 1e-9:
            last_step = max(range(len(self.deployment)), key=lambda i: self.deployment[i].gw)
            raise FieldError(
                f"deployment reaches {self.deployed_gw:g} GW, more than the "
                f"{self.committed_gw:g} GW committed under capacity",
                "deployment",
                last_step,
                "gw",
            )
        if self.warrant is not None:
            if self.stock is None:
                raise FieldError(
                    "a warrant needs a stock model (spot, volatility, risk_free)", "warrant"
                )
            if self.warrant.expiry <= self.valuation_date:
                raise FieldError(
                    f"warrant expiry {self.warrant.expiry} is not after the valuation date "
                    f"{self.valuation_date}",
                    "warrant",
                    "expiry",
                )
            last = self.warrant.tranches[-1].vests_at_gw
            if last > self.committed_gw + 1e-9:
                raise FieldError(
                    f"the last tranche vests at {last:g} GW, more than the "
                    f"{self.committed_gw:g} GW committed: it could never vest",
                    "warrant",
                    "tranches",
                    len(self.warrant.tranches) - 1,
                    "vests_at_gw",
                )
        return self


def parse_deal(
    data: Any, *, file: str = "<deal>", text: str | None = None, catalog: Catalog | None = None
) -> Deal:
    """Validate deal data (and its accelerator against the catalog); errors name the file, line,
    field and value."""
    if not isinstance(data, dict):
        raise InputError("a deal must be a mapping at the top level", file=file, value=data)
    try:
        deal = Deal.model_validate(data)
    except ValidationError as exc:
        raise input_error(exc, file=file, text=text, model=Deal) from None
    catalog = catalog or load_catalog()
    try:
        deal.accelerator = catalog.resolve(deal.accelerator, file=file, field="accelerator")
    except CatalogError as exc:
        exc.line = line_of(text, ["accelerator"])
        raise
    _check_bounds(deal, catalog, file, text)
    return deal


def _check_bounds(deal: Deal, catalog: Catalog, file: str, text: str | None) -> None:
    """Checks across fields: the vendor makes the accelerator, the warrant's term is a deal's,
    and the Monte Carlo the `deal` command would run fits the work limit."""

    def fail(msg: str, loc: list[str | int], value: Any, hint: str | None = None) -> InputError:
        field = ".".join(str(p) for p in loc)
        return InputError(
            msg, file=file, field=field, value=value, line=line_of(text, loc), hint=hint
        )

    maker = catalog[deal.accelerator].vendor
    if deal.vendor != maker:
        raise fail(
            f"the deal's accelerator {deal.accelerator} is made by {maker}, not {deal.vendor}",
            ["vendor"],
            deal.vendor,
        )
    if deal.warrant is None:
        return
    years = _years(deal.valuation_date, deal.warrant.expiry)
    if years > MAX_WARRANT_YEARS:
        raise fail(
            f"the warrant expires {years:,.0f} years after the valuation date; the limit is "
            f"{MAX_WARRANT_YEARS:g} years",
            ["warrant", "expiry"],
            deal.warrant.expiry.isoformat(),
        )
    problem = work_problem(valuation_work(deal, sensitivity=True))
    if problem is not None:
        mc = deal.monte_carlo  # blame what is out of the ordinary: daily monitoring is usual
        field = (
            "paths" if mc.paths >= SENSITIVITY_RUNS * mc.sensitivity_paths else "sensitivity_paths"
        )
        if mc.steps_per_year > 365:
            field = "steps_per_year"
        raise fail(
            problem,
            ["monte_carlo", field],
            getattr(mc, field),
            "Lower monte_carlo.paths, sensitivity_paths or steps_per_year",
        )


def valuation_work(
    deal: Deal, *, paths: int | None = None, sensitivity: bool = False
) -> list[tuple[int, int]]:
    """(paths, monitoring steps) of each Monte Carlo run `value_deal` makes; none without a
    warrant."""
    if deal.warrant is None:
        return []
    steps = _steps(deal)
    runs = [(paths or deal.monte_carlo.paths, steps)]
    if sensitivity:
        runs += [(deal.monte_carlo.sensitivity_paths, steps)] * SENSITIVITY_RUNS
    return runs


def _steps(deal: Deal) -> int:
    assert deal.warrant is not None
    years = _years(deal.valuation_date, deal.warrant.expiry)
    return max(1, round(years * deal.monte_carlo.steps_per_year))


def load_deal(path: str | Path, catalog: Catalog | None = None) -> Deal:
    path = Path(path)
    data, text = read_document(path)
    return parse_deal(data, file=str(path), text=text, catalog=catalog)


def load_deals(
    entries: Sequence[str], *, file: str, text: str | None, catalog: Catalog
) -> dict[str, Deal]:
    """The deal files an input file lists under `deals:` (relative to it), by deal name."""
    deals: dict[str, Deal] = {}
    for i, entry in enumerate(entries):
        deal = load_deal(relative_file(file, entry, ["deals", i], text, "deal file"), catalog)
        deals[deal.name] = deal
    return deals


def _years(a: dt.date, b: dt.date) -> float:
    return (b - a).days / DAYS_PER_YEAR


def milestone_dates(deal: Deal) -> list[dt.date | None]:
    """When deployment first reaches each tranche's gigawatts (None: never, on this schedule)."""
    assert deal.warrant is not None
    out: list[dt.date | None] = []
    for tranche in deal.warrant.tranches:
        reached = next((s.date for s in deal.deployment if s.gw >= tranche.vests_at_gw), None)
        out.append(reached)
    return out


@dataclass(frozen=True)
class DealValuation:
    """What a deal is worth: the warrant, spread per MW, per GPU and per GPU-hour."""

    deal: Deal
    accelerator: str
    gpus_per_gw: float
    gpus: float
    price_per_gpu: float
    cost: CostBreakdown  # gross owned cost per GPU-hour at the deal price
    warrant: WarrantResult | None
    milestones: list[dt.date | None] = field(default_factory=list)
    sensitivity: list[dict[str, float]] = field(default_factory=list)

    @property
    def warrant_value(self) -> float:
        return self.warrant.value if self.warrant is not None else 0.0

    @property
    def credit_per_mw(self) -> float:
        """Warrant value per MW (facility) of the capacity the deal delivers."""
        return self.warrant_value / (self.deal.deployed_gw * 1000.0)

    @property
    def warrant_per_gpu(self) -> float:
        return self.warrant_value / self.gpus if self.gpus else 0.0

    def credit_per_gpu_hour(self, mw_per_gpu: float, rate: float, years: float) -> float:
        """Credit per accelerator-hour for an accelerator drawing `mw_per_gpu`, spread like capital
        over `years` at `rate` (an annuity)."""
        return self.credit_per_mw * mw_per_gpu * annuity_factor(rate, years) / HOURS_PER_YEAR

    @property
    def net_cost(self) -> CostBreakdown:
        c = self.deal.costing
        credit = self.credit_per_gpu_hour(
            self.cost.facility_kw / 1000.0, c.cost_of_capital, c.amortize_years
        )
        return self.cost.with_credit(credit, self.deal.name)

    def to_dict(self) -> dict[str, Any]:
        d = self.deal
        out: dict[str, Any] = {
            "deal": d.name,
            "vendor": d.vendor,
            "accelerator": self.accelerator,
            "valuation_date": d.valuation_date.isoformat(),
            "committed_gw": d.committed_gw,
            "deployed_gw": d.deployed_gw,
            "gpus_per_gw": self.gpus_per_gw,
            "gpus_delivered": self.gpus,
            "price_per_gpu": self.price_per_gpu,
            "warrant_value": self.warrant_value,
            "warrant_per_gpu": self.warrant_per_gpu,
            "warrant_credit_per_mw": self.credit_per_mw,
            "net_price_per_gpu": self.price_per_gpu - self.warrant_per_gpu,
            "gross_per_gpu_hour": self.cost.gross,
            "net_per_gpu_hour": self.net_cost.total,
            "cost": self.net_cost.to_dict(),
            "assumptions": list(d.assumptions),
            "sources": dict(d.sources),
        }
        w = self.warrant
        if w is not None and d.warrant is not None:
            lo, hi = w.ci95
            out["warrant"] = {
                "value": w.value,
                "ci95": [lo, hi],
                "stderr": w.stderr,
                "paths": w.paths,
                "monitoring_steps": w.steps,
                "steps_per_year": d.monte_carlo.steps_per_year,
                "seed": d.monte_carlo.seed,
                "seconds": w.seconds,
                "rule": "European at expiry: shares x max(S_T - strike, 0) if the tranche's "
                "milestone date is on or before expiry and the price touched its hurdle on a "
                "monitoring date (S_0 included) by expiry",
                "tranches": [
                    {
                        "shares": t.shares,
                        "vests_at_gw": t.vests_at_gw,
                        "price_hurdle": t.price_hurdle,
                        "milestone_date": m.isoformat() if m else None,
                        "milestone_met": m is not None and m <= d.warrant.expiry,
                        "hurdle_probability": float(p),
                        "value": float(v),
                    }
                    for t, m, p, v in zip(
                        d.warrant.tranches,
                        self.milestones,
                        w.tranche_hit_probability,
                        w.tranche_values,
                        strict=True,
                    )
                ],
                "sensitivity": self.sensitivity,
            }
            if w.fan.size:
                out["warrant"]["fan"] = {
                    "years": w.fan_times.tolist(),
                    "quantiles": list(FAN_QUANTILES),
                    "price": w.fan.tolist(),
                }
        return out


def value_deal(
    deal: Deal,
    catalog: Catalog | None = None,
    *,
    paths: int | None = None,
    seed: int | None = None,
    fan_points: int = 0,
    sensitivity: bool = False,
) -> DealValuation:
    """Price the deal's warrant and spread it over the capacity the deal delivers. A request
    over the Monte Carlo work limit is an InputError before anything is simulated."""
    problem = work_problem(valuation_work(deal, paths=paths, sensitivity=sensitivity))
    if problem is not None:
        raise InputError(problem, field="paths", value=paths or deal.monte_carlo.paths)
    catalog = catalog or load_catalog()
    acc_id = catalog.resolve(deal.accelerator, field="accelerator")
    acc = catalog[acc_id]
    per_gw = gpus_per_gw(acc, deal.pue)
    gpus = deal.deployed_gw * per_gw
    price = deal.price_per_gpu(acc)
    c = deal.costing
    cost = owned_cost(
        acc,
        OwnedTerms(
            gpu_price=price,
            amortize_years=c.amortize_years,
            cost_of_capital=c.cost_of_capital,
            power_price_per_mwh=c.power_price_per_mwh,
            pue=deal.pue,
            utilisation=c.utilisation,
        ),
    )
    if deal.warrant is None:
        return DealValuation(deal, acc_id, per_gw, gpus, price, cost, None)
    assert deal.stock is not None
    milestones = milestone_dates(deal)
    met = [m is not None and m <= deal.warrant.expiry for m in milestones]
    result = simulate_deal(deal, met, paths=paths, seed=seed, fan_points=fan_points)
    grid: list[dict[str, float]] = []
    if sensitivity:
        for dvol in (-0.1, 0.0, 0.1):
            for spot_mult in (0.8, 1.0, 1.2):
                vol = max(deal.stock.volatility + dvol, 0.01)
                spot = deal.stock.spot * spot_mult
                r = simulate_deal(
                    deal,
                    met,
                    paths=deal.monte_carlo.sensitivity_paths,
                    seed=seed,
                    volatility=vol,
                    spot=spot,
                )
                grid.append({"volatility": vol, "spot": spot, "value": r.value})
    return DealValuation(deal, acc_id, per_gw, gpus, price, cost, result, milestones, grid)


def simulate_deal(
    deal: Deal,
    milestone_met: Sequence[bool],
    *,
    paths: int | None = None,
    seed: int | None = None,
    fan_points: int = 0,
    volatility: float | None = None,
    spot: float | None = None,
) -> WarrantResult:
    """The deal's warrant by Monte Carlo on its own terms and settings, with each tranche's
    milestone taken as met or not (`milestone_met`); paths, seed, volatility and spot can be
    overridden (for sensitivities)."""
    w, s, mc = deal.warrant, deal.stock, deal.monte_carlo
    assert w is not None
    assert s is not None
    years = _years(deal.valuation_date, w.expiry)
    return simulate_warrant(
        spot=spot if spot is not None else s.spot,
        strike=w.strike,
        expiry_years=years,
        rate=s.risk_free,
        dividend_yield=s.dividend_yield,
        volatility=volatility if volatility is not None else s.volatility,
        shares=[t.shares for t in w.tranches],
        hurdles=[t.price_hurdle for t in w.tranches],
        milestone_met=milestone_met,
        paths=paths or mc.paths,
        steps=_steps(deal),
        seed=mc.seed if seed is None else seed,
        fan_points=fan_points,
    )


def priced_pools(
    pools: Sequence[Pool], catalog: Catalog, valuations: Mapping[str, DealValuation]
) -> list[CostBreakdown]:
    """Each pool's cost per accelerator-hour, with the warrant credit of the deal it names.

    The credit is the deal's value per MW times the MW one of the pool's accelerators draws, spread
    like capital: over an owned pool's amortisation at its cost of capital, or, for a rented pool,
    over the deal's own costing terms.
    """
    out = []
    for pool in pools:
        breakdown = pool_breakdown(pool, catalog[pool.accelerator])
        if pool.deal is not None:
            val = valuations[pool.deal]
            if pool.cost is not None and pool.cost.capex_per_gpu is not None:
                rate, years = pool.cost.cost_of_capital, pool.cost.amortize_years
            else:
                rate, years = val.deal.costing.cost_of_capital, val.deal.costing.amortize_years
            credit = val.credit_per_gpu_hour(breakdown.facility_kw / 1000.0, rate, years)
            breakdown = breakdown.with_credit(credit, pool.deal)
        out.append(breakdown)
    return out
