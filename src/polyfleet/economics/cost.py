"""Cost per accelerator-hour and facility power per accelerator.

Owned accelerators cost, per hour (H = 8760 hours a year, A(r, n) the annuity factor):

    capital      (gpu + node + network) · A(r, years) / H        purchase, server share, fabric share
    facility     facility $/MW · IT MW per GPU · A(r, facility_years) / H     the building, power, cooling
    maintenance  (gpu + node + network) · maintenance fraction / H
    power        IT kW per GPU · PUE · utilisation · $/MWh / 1000

    A(r, n) = r / (1 − (1 + r)^−n), or 1/n when r = 0 (straight-line).

Rented accelerators cost their price per GPU-hour (power is in the price). The per-GPU adders have
documented defaults (`NODE_FRACTION`, `NETWORK_FRACTION`, `FACILITY_PER_MW`); they are assumptions,
shown as such wherever a breakdown is printed, and each can be set per pool or per `polyfleet tco`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from polyfleet.catalog import Accelerator

if TYPE_CHECKING:  # scenario.py loads deal files, which use this module
    from polyfleet.scenario import Pool

HOURS_PER_YEAR = 8760.0
#: Node watts per accelerator over its TDP when the catalog has no system figure: the DGX H100
#: (10.2 kW / 8 / 700 W = 1.82) and DGX B200 (14.3 kW / 8 / 1000 W = 1.79) ratios, rounded.
DEFAULT_NODE_OVERHEAD = 1.8
#: Assumption: the server's share per GPU (CPUs, memory, chassis, NICs, storage) as a fraction of
#: the GPU's price; an 8-GPU HGX server sells for roughly 1.2-1.5x its GPUs.
NODE_FRACTION = 0.30
#: Assumption: the scale-out fabric (switches, optics, cables) per GPU as a fraction of its price,
#: the 10-20 % of cluster capital commonly quoted for InfiniBand or RoCE back-end networks.
NETWORK_FRACTION = 0.15
#: Assumption: data-centre construction (shell, power, cooling) per MW of IT load, in USD.
FACILITY_PER_MW = 10e6
#: Assumption: years over which the facility is financed (buildings outlive three GPU generations).
FACILITY_YEARS = 15.0
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
class OwnedTerms:
    """What an owned accelerator costs to buy, house and run; None adders take the defaults."""

    gpu_price: float
    amortize_years: float = 4.0
    cost_of_capital: float = 0.0
    power_price_per_mwh: float = 0.0
    pue: float = 1.3
    utilisation: float = 1.0
    maintenance_frac_per_year: float = 0.0
    node_per_gpu: float | None = None
    network_per_gpu: float | None = None
    facility_per_mw: float | None = None
    facility_years: float = FACILITY_YEARS


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


def owned_cost(acc: Accelerator, terms: OwnedTerms) -> CostBreakdown:
    """The owned cost of one accelerator-hour of `acc` under `terms`."""
    defaults = {
        "node_per_gpu": NODE_FRACTION * terms.gpu_price,
        "network_per_gpu": NETWORK_FRACTION * terms.gpu_price,
        "facility_per_mw": FACILITY_PER_MW,
    }
    assumed = tuple(k for k in defaults if getattr(terms, k) is None)
    node, network, per_mw = (
        defaults[k] if getattr(terms, k) is None else float(getattr(terms, k)) for k in defaults
    )
    kw = it_kw(acc)
    building = per_mw * kw / 1000.0
    equipment = terms.gpu_price + node + network
    a = annuity_factor(terms.cost_of_capital, terms.amortize_years) / HOURS_PER_YEAR
    per_hour = {
        "gpu": terms.gpu_price * a,
        "node": node * a,
        "network": network * a,
        "facility": building
        * annuity_factor(terms.cost_of_capital, terms.facility_years)
        / HOURS_PER_YEAR,
        "maintenance": equipment * terms.maintenance_frac_per_year / HOURS_PER_YEAR,
        "power": kw * terms.pue * terms.utilisation * terms.power_price_per_mwh / 1000.0,
    }
    return CostBreakdown(
        accelerator=acc.id,
        basis="owned",
        per_hour=per_hour,
        it_kw=kw,
        facility_kw=kw * terms.pue,
        capital={"gpu": terms.gpu_price, "node": node, "network": network, "facility": building},
        assumed=assumed,
    )


def rented_cost(acc: Accelerator, per_gpu_hour: float, pue: float) -> CostBreakdown:
    return CostBreakdown(
        accelerator=acc.id,
        basis="rented",
        per_hour={"rent": per_gpu_hour},
        it_kw=it_kw(acc),
        facility_kw=facility_kw(acc, pue),
    )


def pool_breakdown(pool: Pool, acc: Accelerator) -> CostBreakdown:
    """The cost of one accelerator-hour of `pool`: its rent, its owned terms, or catalog rent."""
    cost = pool.cost
    if cost is None:
        if acc.price.per_gpu_hour is None:
            raise ValueError(f"pool {pool.name}: no cost and no catalog price for {acc.id}")
        return rented_cost(acc, acc.price.per_gpu_hour, pool.pue)
    if cost.per_gpu_hour is not None:
        return rented_cost(acc, cost.per_gpu_hour, pool.pue)
    assert cost.capex_per_gpu is not None  # guaranteed by PoolCost validation
    terms = OwnedTerms(
        gpu_price=cost.capex_per_gpu,
        amortize_years=cost.amortize_years,
        cost_of_capital=cost.cost_of_capital,
        power_price_per_mwh=cost.power_price_per_mwh or 0.0,
        pue=pool.pue,
        utilisation=cost.utilisation,
        maintenance_frac_per_year=cost.maintenance_frac_per_year,
        node_per_gpu=cost.node_per_gpu,
        network_per_gpu=cost.network_per_gpu,
        facility_per_mw=cost.facility_per_mw,
        facility_years=cost.facility_years,
    )
    return owned_cost(acc, terms)


def pool_cost_per_hour(pool: Pool, acc: Accelerator) -> float:
    """USD per accelerator-hour of `pool` before any deal credit."""
    return pool_breakdown(pool, acc).total
