"""The deal file: a supply deal's commitments, price, warrant, stock model and costing terms.

A deal commits gigawatts of a vendor's accelerators at a price and may grant warrants on the
vendor's stock that vest, tranche by tranche, as deployed gigawatts reach milestones and the share
price reaches hurdles. Loading checks the file on its own and against the catalog, and refuses a
warrant whose Monte Carlo would exceed the work limit before anything is simulated; what the deal
is worth is `polyfleet.economics.deal.value_deal`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from polyfleet.catalog import Catalog, load_catalog
from polyfleet.errors import InputError
from polyfleet.inputs.base import (
    LIMITS,
    Flag,
    Fraction,
    Gw,
    GwCommitted,
    InputModel,
    McPaths,
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
)
from polyfleet.inputs.convert import FieldError, relative_file, resolve_name, validate
from polyfleet.inputs.cost import OwnedCost, cost_term
from polyfleet.inputs.reader import dotted, line_of, read_document
from polyfleet.inputs.work import work_problem

__all__ = [
    "SENSITIVITY_RUNS",
    "Deal",
    "load_deal",
    "load_deals",
    "parse_deal",
    "valuation_work",
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
    binding: Flag = False


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


class Deal(InputModel):
    name: str = Field(min_length=1)
    vendor: str
    accelerator: str
    valuation_date: dt.date
    pue: Pue = cost_term("pue")
    capacity: list[CapacityPeriod] = Field(min_length=1)
    price: PriceTerms
    warrant: Warrant | None = None
    stock: StockModel | None = None
    deployment: list[DeploymentStep] = Field(min_length=1)
    monte_carlo: MonteCarlo = MonteCarlo()
    costing: OwnedCost = OwnedCost()
    sources: dict[str, str] = Field(default_factory=dict)
    assumptions: list[str] = Field(default_factory=list)

    @field_validator("vendor")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def committed_gw(self) -> float:
        return sum(p.gw for p in self.capacity)

    @property
    def deployed_gw(self) -> float:
        return max(s.gw for s in self.deployment)

    @property
    def warrant_years(self) -> float:
        """Years from the valuation date to the warrant's expiry (0 without a warrant)."""
        if self.warrant is None:
            return 0.0
        return (self.warrant.expiry - self.valuation_date).days / DAYS_PER_YEAR

    @property
    def monitoring_steps(self) -> int:
        """Dates on which the Monte Carlo watches the share price, to the warrant's expiry."""
        return max(1, round(self.warrant_years * self.monte_carlo.steps_per_year))

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
    deal = validate(Deal, data, file=file, text=text, what="a deal")
    catalog = catalog or load_catalog()
    deal.accelerator = resolve_name(
        catalog, deal.accelerator, ["accelerator"], file=file, text=text
    )
    _check_bounds(deal, catalog, file, text)
    return deal


def _check_bounds(deal: Deal, catalog: Catalog, file: str, text: str | None) -> None:
    """Checks across fields: the vendor makes the accelerator, the warrant's term is a deal's,
    and the Monte Carlo the `deal` command would run fits the work limit."""

    def fail(msg: str, loc: list[str | int], value: Any, hint: str | None = None) -> InputError:
        return InputError(
            msg, file=file, field=dotted(loc), value=value, line=line_of(text, loc), hint=hint
        )

    acc = catalog[deal.accelerator]
    refusal = acc.no_purchase_reason()
    if refusal:
        raise fail(f"a supply deal buys accelerators, and {refusal}", ["accelerator"], acc.id)
    if not acc.power_known:
        raise fail(
            f"a deal is priced per GW, and the catalog has no power figure for {acc.id}",
            ["accelerator"],
            acc.id,
            "Give one in the catalog: tdp_w or node_power_kw",
        )
    maker = acc.vendor
    if deal.vendor != maker:
        raise fail(
            f"the deal's accelerator {deal.accelerator} is made by {maker}, not {deal.vendor}",
            ["vendor"],
            deal.vendor,
        )
    if deal.warrant is None:
        return
    years = deal.warrant_years
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
    steps = deal.monitoring_steps
    runs = [(paths or deal.monte_carlo.paths, steps)]
    if sensitivity:
        runs += [(deal.monte_carlo.sensitivity_paths, steps)] * SENSITIVITY_RUNS
    return runs


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
