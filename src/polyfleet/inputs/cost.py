"""What an accelerator costs to hold: the owned-cost terms, a pool's rent or terms, and the one set
of documented defaults every input that costs owned accelerators shares.

A scenario pool (`cost: {capex_per_gpu: ...}`), a deal (`costing:`), a procurement file (its
top-level cost terms) and `polyfleet tco` (its options) all cost an owned accelerator with the
same `OwnedCost` terms, so the same pool costs the same whichever command prices it. A term an
input leaves out takes its default from `COST_DEFAULTS`, each with its source or marked as an
assumption, and is reported as assumed (`OwnedCost.defaulted`): never a silent zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from polyfleet.inputs.base import (
    Fraction,
    InputModel,
    PositiveFraction,
    PowerPrice,
    PricePerGpu,
    PricePerGpuHour,
    UsdPerGpu,
    UsdPerMw,
    Years,
)
from polyfleet.inputs.convert import FieldError

__all__ = [
    "COST_DEFAULTS",
    "Default",
    "OwnedCost",
    "PoolCost",
    "check_purchasable",
    "cost_term",
    "defaults_markdown",
    "describe",
]


@dataclass(frozen=True)
class Default:
    """The value an owned-cost term takes when an input leaves it out, and why that value."""

    term: str
    value: float
    unit: str
    source: str  # a public source, or "assumption: ..." for a modelling choice

    @property
    def shown(self) -> str:
        """`80.6 USD per MWh`, `0.3 × the GPU price`."""
        return f"{self.value:,.10g}" + (f" {self.unit}" if self.unit else "")


#: The one set of owned-cost defaults: scenario pools, deals, procurement and `tco` read these.
# fmt: off
COST_DEFAULTS: dict[str, Default] = {
    d.term: d
    for d in (
        Default("amortize_years", 5.0, "years",
                "assumption: accelerators serve 4-6 years before a newer part pays off"),
        Default("cost_of_capital", 0.08, "per year",
                "assumption: a typical corporate cost of capital"),
        Default("power_price_per_mwh", 80.6, "USD per MWh",
                "EIA: US industrial average electricity price, 2023 (Electric Power Monthly "
                "Table 5.6.A)"),
        Default("pue", 1.3, "",
                "Uptime Institute 2023: new large builds ~1.3 (the industry average is 1.58)"),
        Default("utilisation", 1.0, "",
                "assumption: full power drawn, the upper bound of the power cost"),
        Default("maintenance_frac_per_year", 0.0, "per year",
                "assumption: none beyond the warranty in the purchase price"),
        Default("node_per_gpu", 0.30, "× the GPU price",
                "assumption: an 8-GPU HGX server sells for roughly 1.2-1.5x its GPUs"),
        Default("network_per_gpu", 0.15, "× the GPU price",
                "assumption: InfiniBand or RoCE back-end fabrics are 10-20 % of cluster capital"),
        Default("facility_per_mw", 10e6, "USD per MW of IT load",
                "assumption: a data-centre build (shell, power, cooling) costs ~$10M per MW"),
        Default("facility_years", 15.0, "years",
                "assumption: buildings are financed over three accelerator generations"),
    )
}
# fmt: on


def cost_term(term: str) -> Any:
    """A field that defaults to the documented value of `term` and says so in its schema."""
    d = COST_DEFAULTS[term]
    return Field(default=d.value, description=f"Default {d.shown} ({d.source}).")


def _adder(term: str) -> Any:
    """A per-GPU adder: None takes the documented default, a fraction of the GPU price."""
    d = COST_DEFAULTS[term]
    return Field(default=None, description=f"Default {d.shown} ({d.source}).")


class OwnedCost(InputModel):
    """How an owned accelerator is costed per hour, beyond its price: financing, power, upkeep
    and the server, network and building it needs. Every term left out takes its default."""

    amortize_years: Years = cost_term("amortize_years")
    cost_of_capital: Fraction = cost_term("cost_of_capital")
    power_price_per_mwh: PowerPrice = cost_term("power_price_per_mwh")
    utilisation: PositiveFraction = cost_term("utilisation")  # average fraction of full power
    maintenance_frac_per_year: Fraction = cost_term("maintenance_frac_per_year")
    node_per_gpu: UsdPerGpu | None = _adder("node_per_gpu")
    network_per_gpu: UsdPerGpu | None = _adder("network_per_gpu")
    facility_per_mw: UsdPerMw | None = _adder("facility_per_mw")
    facility_years: Years = cost_term("facility_years")

    def defaulted(self) -> tuple[str, ...]:
        """The terms that took their documented default (left out, or an adder given as null)."""
        return tuple(
            name
            for name in OwnedCost.model_fields
            if name not in self.model_fields_set or getattr(self, name) is None
        )

    def terms(self) -> OwnedCost:
        """Only the owned-cost terms (a PoolCost's rent and price left out), with what was given
        still known from what was defaulted."""
        given = {k: getattr(self, k) for k in OwnedCost.model_fields if k in self.model_fields_set}
        return OwnedCost.model_validate(given)


class PoolCost(OwnedCost):
    """A scenario pool's cost: a rental price per GPU-hour, or an owned pool's price per GPU
    with its owned-cost terms."""

    per_gpu_hour: PricePerGpuHour | None = None
    capex_per_gpu: PricePerGpu | None = None

    @model_validator(mode="after")
    def _one_model(self) -> PoolCost:
        if self.per_gpu_hour is None and self.capex_per_gpu is None:
            raise ValueError("give either per_gpu_hour (rented) or capex_per_gpu (owned)")
        if self.per_gpu_hour is not None and self.capex_per_gpu is not None:
            raise ValueError("per_gpu_hour and capex_per_gpu are alternatives: give one")
        owned = [k for k in OwnedCost.model_fields if k in self.model_fields_set]
        if self.per_gpu_hour is not None and owned:
            raise FieldError(
                f"{owned[0]} is a term of an owned pool: a rented pool's cost is its "
                "per_gpu_hour alone (power and upkeep are in the price)",
                owned[0],
            )
        return self

    @property
    def rented(self) -> bool:
        return self.per_gpu_hour is not None


def describe(terms: Iterable[str]) -> list[dict[str, Any]]:
    """The documented defaults of `terms`, in the table's order, as records for a report: term,
    value, unit and source."""
    wanted = set(terms)
    return [
        {"term": d.term, "value": d.value, "unit": d.unit, "source": d.source}
        for d in COST_DEFAULTS.values()
        if d.term in wanted
    ]


def defaults_markdown() -> str:
    """The README's table of the owned-cost defaults."""
    rows = ["| term | default | source |", "|---|---|---|"]
    rows += [f"| {d.term} | {d.shown} | {d.source} |" for d in COST_DEFAULTS.values()]
    return "\n".join(rows)


def check_purchasable(pool: Any, acc: Any, loc: list[str | int], fail: Any) -> None:
    """A purchasable pool buys at its own owned terms, or (rented) at the catalog's price; a
    rent-only part's pool rents more at its rent."""
    owned = pool.cost is not None and not pool.cost.rented
    if acc.rent_only:
        return  # an owned rent-only pool is refused above; a rented one rents more
    if not owned and acc.price.purchase is None:
        fail(
            f"pool {pool.name} is rented and the catalog has no purchase price for {acc.id}",
            loc,
            True,
            f"Give one: catalog: [{{id: {acc.id}, price: {{purchase: ...}}}}]",
        )
    if not acc.power_known:
        fail(
            f"the catalog has no power figure for {acc.id}, which bought units' cost needs",
            loc,
            True,
            f"Give one: catalog: [{{id: {acc.id}, tdp_w: ...}}]",
        )
