"""What a supply deal is worth: its warrant priced by Monte Carlo and spread per MW, per GPU and
per GPU-hour, and the gross and net cost of an accelerator-hour under the deal.

The warrant (economics/warrant.py) is spread over the gigawatts the deal delivers: a credit per MW,
so a pool of any accelerator that names the deal gets credit in proportion to the power its
accelerators draw. The deal file itself is read by `polyfleet.inputs.deal`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from polyfleet.catalog import Accelerator, Catalog, load_catalog
from polyfleet.economics.cost import (
    HOURS_PER_YEAR,
    CostBreakdown,
    annuity_factor,
    gpus_per_gw,
    owned_cost,
)
from polyfleet.economics.warrant import FAN_QUANTILES, WarrantResult, simulate_warrant
from polyfleet.errors import InputError
from polyfleet.inputs.deal import Deal, valuation_work
from polyfleet.inputs.work import work_problem

__all__ = [
    "DealValuation",
    "milestone_dates",
    "price_per_gpu",
    "simulate_deal",
    "value_deal",
]


def price_per_gpu(deal: Deal, acc: Accelerator) -> float:
    """The gross price of one of `acc` under `deal`: per GPU, or per GW over the GPUs a GW
    powers."""
    if deal.price.per_gpu is not None:
        return deal.price.per_gpu
    return (deal.price.per_gw or 0.0) / gpus_per_gw(acc, deal.pue)


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
    price = price_per_gpu(deal, acc)
    cost = owned_cost(
        acc, price, deal.costing, deal.pue, pue_assumed="pue" not in deal.model_fields_set
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
    return simulate_warrant(
        spot=spot if spot is not None else s.spot,
        strike=w.strike,
        expiry_years=deal.warrant_years,
        rate=s.risk_free,
        dividend_yield=s.dividend_yield,
        volatility=volatility if volatility is not None else s.volatility,
        shares=[t.shares for t in w.tranches],
        hurdles=[t.price_hurdle for t in w.tranches],
        milestone_met=milestone_met,
        paths=paths or mc.paths,
        steps=deal.monitoring_steps,
        seed=mc.seed if seed is None else seed,
        fan_points=fan_points,
    )
