"""Cost per accelerator-hour and facility power per accelerator.

Owned accelerators cost, per hour (H = 8760 hours a year, A(r, n) the annuity factor):

    capital      (gpu + node + network) · A(r, years) / H        purchase, server share, fabric share
    facility     facility $/MW · IT MW per GPU · A(r, facility_years) / H     the building, power, cooling
    maintenance  (gpu + node + network) · maintenance fraction / H
    power        IT kW per GPU · PUE · utilisation · $/MWh / 1000

    A(r, n) = r / (1 − (1 + r)^−n), or 1/n when r = 0 (straight-line).

Rented accelerators cost their price per GPU-hour (power is in the price). Economics takes cost
terms (`polyfleet.inputs.cost.OwnedCost`, a pool's `PoolCost`), never a scenario's pool; every
term an input left out took its documented default (`COST_DEFAULTS`), and a breakdown lists those
under `assumed` wherever it is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from polyfleet.catalog import Accelerator
from polyfleet.inputs.cost import COST_DEFAULTS, OwnedCost, PoolCost

__all__ = [
    "COMPONENTS",
    "DEFAULT_NODE_OVERHEAD",
    "HOURS_PER_YEAR",
    "CostBreakdown",
    "annuity_factor",
    "facility_kw",
    "gpus_per_gw",
    "it_kw",
    "owned_cost",
    "pool_cost",
    "rented_cost",
]

HOURS_PER_YEAR = 8760.0
#: Node watts per accelerator over its TDP when the catalog has no system figure: the DGX H100
#: (10.2 kW / 8 / 700 W = 1.82) and DGX B200 (14.3 kW / 8 / 1000 W = 1.79) ratios, rounded.
DEFAULT_NODE_OVERHEAD = 1.8
#: The components of an owned accelerator-hour, in the order reports show them.
COMPONENTS = ("gpu", "node", "network", "facility", "maintenance", "power")


def annuity_factor(rate: float, years: float) -> float:
    """Yearly payment per unit of capital repaid over `years` at `rate` (capital recovery factor)."""
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


def it_kw(acc: Accelerator) -> float:
    """IT kW per accelerator: its share of the node's power (or TDP × the default overhead)."""
    return acc.facility_watts(1.0, DEFAULT_NODE_OVERHEAD) / 1000.0


def facility_kw(acc: Accelerator, pue: float) -> float:
    """kW at the facility meter per accelerator: node share (or TDP × overhead) × PUE."""
    return acc.facility_watts(pue, DEFAULT_NODE_OVERHEAD) / 1000.0


def gpus_per_gw(acc: Accelerator, pue: float) -> float:
    """Accelerators one gigawatt at the facility meter powers."""
    return 1e6 / facility_kw(acc, pue)


@dataclass(frozen=True)
class CostBreakdown:
    """USD per accelerator-hour by component, what it assumed, and the power behind it."""

    accelerator: str
    basis: str  # "owned" or "rented"
    per_hour: dict[str, float]
    it_kw: float
    facility_kw: float
    capital: dict[str, float] = field(default_factory=dict)  # USD per GPU, by item
    assumed: tuple[str, ...] = ()  # inputs that took a documented default
    credit_per_hour: float = 0.0  # deal credit (warrants) netted from the total
    deal: str | None = None

    @property
    def gross(self) -> float:
        return sum(self.per_hour.values())

    @property
    def total(self) -> float:
        return self.gross - self.credit_per_hour

    @property
    def gpus_per_gw(self) -> float:
        return 1e6 / self.facility_kw

    def with_credit(self, credit_per_hour: float, deal: str) -> CostBreakdown:
        return replace(self, credit_per_hour=credit_per_hour, deal=deal)

    def to_dict(self) -> dict[str, object]:
        return {
            "accelerator": self.accelerator,
            "basis": self.basis,
            "per_gpu_hour": dict(self.per_hour),
            "gross_per_gpu_hour": self.gross,
            "deal": self.deal,
            "deal_credit_per_gpu_hour": self.credit_per_hour,
            "net_per_gpu_hour": self.total,
            "per_gpu_year": self.total * HOURS_PER_YEAR,
            "capital_per_gpu": dict(self.capital),
            "it_kw_per_gpu": self.it_kw,
            "facility_kw_per_gpu": self.facility_kw,
            "gpus_per_gw": self.gpus_per_gw,
            "assumed_defaults": list(self.assumed),
        }


def owned_cost(
    acc: Accelerator, price: float, terms: OwnedCost, pue: float, *, pue_assumed: bool = False
) -> CostBreakdown:
    """The owned cost of one accelerator-hour of `acc` bought at `price` and held under `terms`
    in a facility of `pue` (`pue_assumed`: the PUE is the documented default, not given)."""
    node = _adder(terms.node_per_gpu, "node_per_gpu", price)
    network = _adder(terms.network_per_gpu, "network_per_gpu", price)
    per_mw = _adder(terms.facility_per_mw, "facility_per_mw", 1.0)
    kw = it_kw(acc)
    building = per_mw * kw / 1000.0
    equipment = price + node + network
    a = annuity_factor(terms.cost_of_capital, terms.amortize_years) / HOURS_PER_YEAR
    per_hour = {
        "gpu": price * a,
        "node": node * a,
        "network": network * a,
        "facility": building
        * annuity_factor(terms.cost_of_capital, terms.facility_years)
        / HOURS_PER_YEAR,
        "maintenance": equipment * terms.maintenance_frac_per_year / HOURS_PER_YEAR,
        "power": kw * pue * terms.utilisation * terms.power_price_per_mwh / 1000.0,
    }
    return CostBreakdown(
        accelerator=acc.id,
        basis="owned",
        per_hour=per_hour,
        it_kw=kw,
        facility_kw=kw * pue,
        capital={"gpu": price, "node": node, "network": network, "facility": building},
        assumed=terms.defaulted() + (("pue",) if pue_assumed else ()),
    )


def _adder(given: float | None, term: str, scale: float) -> float:
    """A per-GPU adder as given, else its documented default (a fraction of `scale`)."""
    return float(given) if given is not None else COST_DEFAULTS[term].value * scale


def rented_cost(acc: Accelerator, per_gpu_hour: float, pue: float) -> CostBreakdown:
    return CostBreakdown(
        accelerator=acc.id,
        basis="rented",
        per_hour={"rent": per_gpu_hour},
        it_kw=it_kw(acc),
        facility_kw=facility_kw(acc, pue),
    )


def pool_cost(
    acc: Accelerator, cost: PoolCost | None, pue: float, *, pue_assumed: bool = False
) -> CostBreakdown:
    """The cost of one accelerator-hour of a pool of `acc` with `cost` terms: its rent, its owned
    terms, or (no terms) the catalog's rent."""
    if cost is None:
        if acc.price.per_gpu_hour is None:
            raise ValueError(f"no cost given and the catalog has no rental price for {acc.id}")
        return rented_cost(acc, acc.price.per_gpu_hour, pue)
    if cost.per_gpu_hour is not None:
        return rented_cost(acc, cost.per_gpu_hour, pue)
    assert cost.capex_per_gpu is not None  # guaranteed by PoolCost validation
    return owned_cost(acc, cost.capex_per_gpu, cost.terms(), pue, pue_assumed=pue_assumed)
